import { CriteoSimulator, type Report } from "@criteo-auth/conformance"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Either, Layer, Redacted, Schedule } from "effect"

/** A simulator and the undici HttpClient, both live, for `it.layer(..., { excludeTestServices: true })`. */
export const simulatorLayer = (options: CriteoSimulator.Options) =>
  CriteoSimulator.layer(options).pipe(Layer.provideMerge(NodeHttpClient.layerUndici))

/** A simulator (JVM), the undici HttpClient and Node's services (adapters are subprocesses), all live. */
export const conformanceLayer = simulatorLayer({ runtime: "process" }).pipe(Layer.provideMerge(NodeContext.layer))

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
  readonly json: any
}

/** Sends a request and reads the whole answer (10 s at most). */
export const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(request)
    const text = yield* response.text
    const json = Either.getOrUndefined(Either.try(() => JSON.parse(text)))
    return { status: response.status, headers: response.headers, text, json } satisfies Answer
  }).pipe(Effect.scoped, Effect.timeout(Duration.seconds(10)))

export const demo = CriteoSimulator.demoCredentials
export const demoSecret = Redacted.value(demo.clientSecret)
export const demoCode = Redacted.value(demo.authorizationCode)

/** `POST /oauth2/token` with a form, as Criteo documents it. */
export const tokenRequest = (sim: CriteoSimulator.Service, form: Record<string, string>) =>
  send(HttpClientRequest.post(sim.tokenUrl).pipe(HttpClientRequest.acceptJson, HttpClientRequest.bodyUrlParams(form)))

export const clientCredentials = (clientId: string = demo.clientId) => ({
  grant_type: "client_credentials",
  client_id: clientId,
  client_secret: demoSecret
})

/** A fresh access token (client_credentials). */
export const accessToken = (sim: CriteoSimulator.Service, clientId?: string) =>
  Effect.flatMap(tokenRequest(sim, clientCredentials(clientId)), (answer) =>
    answer.status === 200
      ? Effect.succeed(answer.json.access_token as string)
      : Effect.dieMessage(`token request failed: ${answer.status} ${answer.text}`))

/** `GET <baseUrl>/<path>` with an optional bearer token. */
export const apiGet = (sim: CriteoSimulator.Service, path: string, token?: string) =>
  send(
    HttpClientRequest.get(`${sim.baseUrl}${path}`).pipe(
      HttpClientRequest.acceptJson,
      token === undefined ? (request) => request : HttpClientRequest.bearerToken(token)
    )
  )

export const criteoErrorCode = (answer: Answer): string | undefined => answer.json?.errors?.[0]?.code

/** Polls `effect` every 100 ms until `done` holds, for at most `timeout`. */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeout: Duration.DurationInput = Duration.seconds(10)
) =>
  effect.pipe(
    Effect.filterOrFail(done, () => "not yet" as const),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), while: (error) => error === "not yet" }),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error("condition not reached in time") })
  )

/** The failed checks and errors, for the assertion message. */
export const explain = (run: Report.AdapterRun): string =>
  run.results
    .filter((r) => r.verdict !== "PASS")
    .map((r) =>
      `${r.id} ${r.verdict}: ${
        r.error ?? r.checks.filter((c) => !c.passed).map((c) => `${c.name} (${c.detail})`).join("; ")
      }`
    )
    .join("\n")

/** The verdict of each case of a run, by id. */
export type Verdicts = Readonly<Record<string, string>>

/** The verdicts of one run. */
export const verdictsOf = (run: Report.AdapterRun): Verdicts =>
  Object.fromEntries(run.results.map((r) => [r.id, r.verdict]))

/**
 * Runs `run` `times` times, one after the other, and returns the verdicts of each run: the kit's verdicts for
 * a client must not depend on the run.
 */
export const repeatVerdicts = <E, R>(times: number, run: Effect.Effect<Report.AdapterRun, E, R>) =>
  Effect.forEach(Array.from({ length: times }), () => Effect.map(run, verdictsOf))

/**
 * The cases whose verdict differed between runs, each with its verdicts in run order
 * (`expiry.refresh-ahead: WARN, PASS, WARN, WARN, WARN`); empty when every run agreed.
 */
export const unstable = (runs: ReadonlyArray<Verdicts>): ReadonlyArray<string> => {
  const ids = Array.from(new Set(runs.flatMap((r) => Object.keys(r))))
  return ids.flatMap((id) => {
    const seen = runs.map((r) => r[id] ?? "missing")
    return new Set(seen).size === 1 ? [] : [`${id}: ${seen.join(", ")}`]
  })
}
