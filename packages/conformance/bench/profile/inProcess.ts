/**
 * `node --import tsx bench/profile/inProcess.ts [REQUESTS] [ROUNDS]`: what the layers users run add over
 * their floors with the network taken out, so that the few µs criteo-auth adds are not lost in the
 * loopback's noise. The fetch clients call a stub `globalThis.fetch` that builds a real `Request` from
 * what it is given (as Node's fetch does: its own abort signal, tied to the one given) and answers a
 * `Response`; the undici clients a `MockAgent`. In one process, after a warm-up, ROUNDS rounds (default
 * 15) in which each client makes REQUESTS calls (default 4,000, 32 in flight, every body read), in an
 * order reversed every other round; the medians of the per-round CPU differences are printed.
 *
 * - `criteo-fetch` (`CriteoFetch.layer`) against `fetch-floor` (`FetchHttpClient.layer`, fixed bearer
 *   header), and `fetch-signal`: the floor with a `Fetch` that only adds one `AbortController` per
 *   request — the one thing `CriteoFetch`'s bounded fetch cannot do without.
 * - `criteo-node` (`CriteoNode.layerWithoutDispatcher`) against `undici-floor`
 *   (`NodeHttpClient.layerUndiciWithoutDispatcher`, fixed bearer header), on the same `MockAgent`.
 * - The Promise path (issue 14), on the same `MockAgent`, each call a Promise, 32 in flight:
 *   `criteo-promise` (`CriteoPromise`, undici's `request` on its common path) against `criteo-node-promise`
 *   (`CriteoNode.layerWithoutDispatcher` through `ManagedRuntime.runPromise` per call, what it replaces) and
 *   `undici-request` (undici's own `request` with a fixed bearer header: its floor).
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as CriteoFetch from "@criteo-auth/platform/CriteoFetch"
import * as CriteoNode from "@criteo-auth/platform/CriteoNode"
import * as CriteoPromise from "@criteo-auth/platform/CriteoPromise"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import Undici from "@effect/platform-node/Undici"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Os from "node:os"
import { apiPath, apiVersion, grant } from "../lib/clients.js"
import { interleave, median } from "../lib/stats.js"

const origin = "http://127.0.0.1:9"
const tokenBody = JSON.stringify({ access_token: "bench.0.in-process", token_type: "Bearer", expires_in: 3600 })
const headers = { "content-type": "application/json" }
const apiBody = "{\"advertisers\":[]}"

globalThis.fetch = async (input, init) => {
  const request = new Request(input, init)
  return new Response(request.url.endsWith("/oauth2/token") ? tokenBody : apiBody, { status: 200, headers })
}
const stubFetch = globalThis.fetch
const agent = new Undici.MockAgent()
agent.disableNetConnect()
const pool = agent.get(origin)
pool.intercept({ path: "/oauth2/token", method: "POST" }).reply(200, tokenBody, { headers }).persist()
pool.intercept({ path: `/${apiVersion}${apiPath}`, method: "GET" }).reply(200, apiBody, { headers }).persist()
const dispatcher = Layer.succeed(NodeHttpClient.Dispatcher, agent)

const options = { grant, tokenUrl: `${origin}/oauth2/token`, apiUrl: origin, apiVersion }
const prefix = `${origin}/${apiVersion}`
const bearer = Effect.map(
  HttpClient.HttpClient,
  HttpClient.mapRequest((request) =>
    HttpClientRequest.bearerToken(HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)), "fixed")
  )
)
const caller = <R, E>(
  runtime: ManagedRuntime.ManagedRuntime<R, E>,
  client: Effect.Effect<HttpClient.HttpClient.With<unknown>, never, R>
) =>
(count: number) =>
  runtime.runPromise(Effect.gen(function*() {
    const http = yield* client
    let failures = 0
    yield* Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      () =>
        Effect.flatMap(http.get(apiPath), (response) => Effect.as(response.json, response.status)).pipe(
          Effect.match({ onFailure: () => failures++, onSuccess: (status) => status === 200 || failures++ })
        ),
      { concurrency: 32, discard: true }
    )
    if (failures > 0) throw new Error(`${failures} calls failed`)
  }))

/** `count` calls of `call`, 32 in flight, as a non-Effect application makes them. */
const promisePool = (call: () => Promise<number>) => async (count: number) => {
  let next = 0
  let failures = 0
  const worker = async () => {
    while (next < count) {
      next++
      if ((await call()) !== 200) failures++
    }
  }
  await Promise.all(Array.from({ length: 32 }, worker))
  if (failures > 0) throw new Error(`${failures} calls failed`)
}

/** The Promise path's clients (issue 14), on the same MockAgent. */
function promiseClients(): Record<string, (count: number) => Promise<void>> {
  const criteo = CriteoPromise.make(options, { dispatcher: agent })
  const node = ManagedRuntime.make(CriteoNode.layerWithoutDispatcher(options).pipe(Layer.provide(dispatcher)))
  const nodeCall = Effect.flatMap(
    CriteoHttpClient.CriteoHttpClient,
    (http) => Effect.flatMap(http.get(apiPath), (response) => Effect.as(response.json, response.status))
  )
  const headers = { accept: "application/json", authorization: "Bearer fixed" }
  return {
    "criteo-promise": promisePool(async () => {
      const response = await (await criteo).get(apiPath)
      await response.json()
      return response.status
    }),
    "criteo-node-promise": promisePool(() => node.runPromise(nodeCall)),
    "undici-request": promisePool(async () => {
      const response = await agent.request({ origin, path: `/${apiVersion}${apiPath}`, method: "GET", headers })
      await response.body.json()
      return response.statusCode
    })
  }
}

/** The Promise path's lines: CriteoPromise against what it replaces and against its floor. */
function promiseLines(
  ratio: (name: string, floor: string) => number,
  cpu: (name: string) => number,
  over: (name: string, floor: string) => number
): Array<string> {
  return ([["criteo-promise", "criteo-node-promise"], ["criteo-promise", "undici-request"], [
    "criteo-node-promise",
    "undici-request"
  ]] as const).map(([name, floor]) =>
    `${name} ÷ ${floor}: ${ratio(name, floor).toFixed(3)}; CPU ${cpu(name).toFixed(1)} against ${
      cpu(floor).toFixed(1)
    } µs/call: ${over(name, floor) >= 0 ? "+" : ""}${over(name, floor).toFixed(1)} µs`
  )
}

const withFetch = (fetch: typeof globalThis.fetch) =>
  ManagedRuntime.make(FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch))))
const clients: Record<string, (count: number) => Promise<void>> = {
  "fetch-floor": caller(ManagedRuntime.make(FetchHttpClient.layer), bearer),
  "fetch-signal": caller(
    withFetch((input, init) => stubFetch(input, { ...init, signal: new AbortController().signal })),
    bearer
  ),
  "criteo-fetch": caller(ManagedRuntime.make(CriteoFetch.layer(options)), CriteoHttpClient.CriteoHttpClient),
  "undici-floor": caller(
    ManagedRuntime.make(NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(dispatcher))),
    bearer
  ),
  "criteo-node": caller(
    ManagedRuntime.make(CriteoNode.layerWithoutDispatcher(options).pipe(Layer.provide(dispatcher))),
    CriteoHttpClient.CriteoHttpClient
  ),
  ...promiseClients()
}
const names = Object.keys(clients)
const requests = Number(process.argv[2] ?? 4_000)
const load = Os.loadavg()[0]!.toFixed(1)
const rounds = (await interleave({
  clients: names,
  rounds: Number(process.argv[3] ?? 15),
  warmUp: (name) => clients[name]!(2 * requests),
  batch: (name) => clients[name]!(requests),
  schedule: (r) => [r % 2 === 0 ? names : [...names].reverse()]
})).map(([round]) => round!)
const cpu = (name: string) => median(rounds.map((round) => (round[name]!.cpuMs * 1000) / requests))
const over = (name: string, floor: string) =>
  median(rounds.map((round) => ((round[name]!.cpuMs - round[floor]!.cpuMs) * 1000) / requests))
const ratio = (name: string, floor: string) => median(rounds.map((round) => round[floor]!.ms / round[name]!.ms))
const lines = [
  `Node.js ${process.version}, ${rounds.length} rounds of ${requests} calls, load average ${load} before, ${
    Os.loadavg()[0]!.toFixed(1)
  } after`
]
for (
  const [name, floor] of [["criteo-fetch", "fetch-floor"], ["fetch-signal", "fetch-floor"], [
    "criteo-node",
    "undici-floor"
  ]] as const
) {
  lines.push(
    `${name} ÷ ${floor}: ${ratio(name, floor).toFixed(3)}; CPU ${cpu(name).toFixed(1)} against ${
      cpu(floor).toFixed(1)
    } µs/call: ${over(name, floor) >= 0 ? "+" : ""}${over(name, floor).toFixed(1)} µs`
  )
}
for (const line of promiseLines(ratio, cpu, over)) lines.push(line)
process.stdout.write(`${lines.join("\n")}\n`)
await agent.close()
process.exit(0)
