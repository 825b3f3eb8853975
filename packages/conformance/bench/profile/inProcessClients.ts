/**
 * The clients of `inProcess.ts` and `compare.ts --in-process`: the layers users run and their floors,
 * on a stub `globalThis.fetch` (which builds a real `Request` from what it is given, as Node's fetch
 * does, and answers a `Response`) and on an undici `MockAgent`: no network. Importing this module
 * replaces `globalThis.fetch` with the stub.
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
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
import { apiPath, apiVersion, grant } from "../lib/clients.js"

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

/** Core's layers as `CriteoFetch.layer` wires them, without an attempt timeout. */
const coreLayers = Layer.provideMerge(
  CriteoHttpClient.layer({ baseUrl: options.apiUrl, apiVersion: options.apiVersion }),
  CriteoAuth.layer(options)
)

/**
 * `CriteoFetch`'s bound before issue 14's change (commit 454ee92): a `fetch` that arms a `setTimeout`
 * per API attempt on an `AbortController` of its own, tied to the request's signal by a listener.
 */
const timerFetch = (millis: number, tokenUrl: string): typeof globalThis.fetch => (input, init) => {
  if ((input instanceof URL ? input.href : String(input)).startsWith(tokenUrl)) {
    return globalThis.fetch(input, { ...init, redirect: "manual" })
  }
  const controller = new AbortController()
  const caller = init?.signal
  if (caller != null) {
    if (caller.aborted) controller.abort(caller.reason)
    else caller.addEventListener("abort", () => controller.abort(caller.reason), { once: true })
  }
  const timer = setTimeout(() => controller.abort(new DOMException("timeout", "TimeoutError")), millis)
  return globalThis.fetch(input, { ...init, redirect: "manual", signal: controller.signal }).finally(() =>
    clearTimeout(timer)
  )
}

const withFetch = (fetch: typeof globalThis.fetch) =>
  ManagedRuntime.make(FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch))))
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

export const clients: Record<string, (count: number) => Promise<void>> = {
  "fetch-floor": caller(ManagedRuntime.make(FetchHttpClient.layer), bearer),
  "fetch-signal": caller(
    withFetch((input, init) => stubFetch(input, { ...init, signal: new AbortController().signal })),
    bearer
  ),
  "criteo-fetch": caller(ManagedRuntime.make(CriteoFetch.layer(options)), CriteoHttpClient.CriteoHttpClient),
  "criteo-fetch-untimed": caller(
    ManagedRuntime.make(coreLayers.pipe(Layer.provide(CriteoFetch.layerHttpClient))),
    CriteoHttpClient.CriteoHttpClient
  ),
  "criteo-fetch-timer": caller(
    ManagedRuntime.make(
      coreLayers.pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(Layer.succeed(FetchHttpClient.Fetch, timerFetch(30_000, options.tokenUrl)))
      )
    ),
    CriteoHttpClient.CriteoHttpClient
  ),
  "undici-floor": caller(
    ManagedRuntime.make(NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(dispatcher))),
    bearer
  ),
  "undici-timeouts": caller(
    ManagedRuntime.make(
      NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, CriteoNode.withApiTimeouts(agent, options)))
      )
    ),
    bearer
  ),
  "criteo-node-untimed": caller(
    ManagedRuntime.make(
      coreLayers.pipe(Layer.provide(NodeHttpClient.layerUndiciWithoutDispatcher), Layer.provide(dispatcher))
    ),
    CriteoHttpClient.CriteoHttpClient
  ),
  "criteo-node": caller(
    ManagedRuntime.make(CriteoNode.layerWithoutDispatcher(options).pipe(Layer.provide(dispatcher))),
    CriteoHttpClient.CriteoHttpClient
  ),
  ...promiseClients()
}

/** Closes the mock agent. */
export const close = (): Promise<void> => agent.close()
