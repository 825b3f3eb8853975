/**
 * The WireMock admin API, as the simulator uses it: JSON calls through the `HttpClient`, each bounded by
 * `adminTimeout` and failing with `SimulatorAdminError`. What is posted (stub mappings) is built by
 * `internal/mappings.ts`.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SimulatorError from "../SimulatorError.js"

/** Every admin call is bounded by this. */
export const adminTimeout = Duration.seconds(10)

const adminError = (operation: string, detail: string, status?: number) =>
  new SimulatorError.SimulatorAdminError({ operation, detail, ...(status === undefined ? {} : { status }) })

export interface Admin {
  readonly send: (
    operation: string,
    request: HttpClientRequest.HttpClientRequest,
    options?: { readonly allowStatus?: ReadonlyArray<number> }
  ) => Effect.Effect<{ readonly status: number; readonly json: unknown }, SimulatorError.SimulatorAdminError>
  readonly decode: <A, I>(
    operation: string,
    schema: Schema.Schema<A, I>,
    value: unknown
  ) => Effect.Effect<A, SimulatorError.SimulatorAdminError>
  readonly waitHealthy: (timeout: Duration.Duration) => Effect.Effect<void, string>
}

export const make = (baseUrl: string): Effect.Effect<Admin, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const admin = client.pipe(HttpClient.mapRequest(HttpClientRequest.prependUrl(`${baseUrl}/__admin`)))

    const send: Admin["send"] = (operation, request, options) =>
      admin.execute(request).pipe(
        Effect.flatMap((response) =>
          Effect.flatMap(Effect.orElseSucceed(response.text, () => ""), (text) => {
            const ok = (response.status >= 200 && response.status < 300) ||
              (options?.allowStatus ?? []).includes(response.status)
            if (!ok) return Effect.fail(adminError(operation, text.slice(0, 300) || "no body", response.status))
            const json: unknown = text.length === 0
              ? undefined
              : Either.getOrElse(Either.try(() => JSON.parse(text) as unknown), () => text)
            return Effect.succeed({ status: response.status, json })
          })
        ),
        Effect.scoped,
        Effect.catchTags({
          RequestError: (error) => Effect.fail(adminError(operation, error.message)),
          ResponseError: (error) => Effect.fail(adminError(operation, error.message))
        }),
        Effect.timeoutFail({
          duration: adminTimeout,
          onTimeout: () => adminError(operation, `no answer within ${Duration.format(adminTimeout)}`)
        }),
        Effect.withSpan(`CriteoSimulator.${operation}`)
      )

    const decode: Admin["decode"] = (operation, schema, value) =>
      Effect.mapError(
        Schema.decodeUnknown(schema)(value),
        (error) => adminError(operation, `unexpected answer: ${error.message.slice(0, 300)}`)
      )

    const waitHealthy = (timeout: Duration.Duration) =>
      client.get(`${baseUrl}/__admin/health`).pipe(
        Effect.flatMap(HttpClientResponse.filterStatusOk),
        Effect.scoped,
        Effect.timeout(Duration.seconds(2)),
        Effect.retry(Schedule.spaced(Duration.millis(50))),
        Effect.mapError((error) => `the health check failed: ${error.message}`),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => `the health check did not answer within ${Duration.format(timeout)}`
        }),
        Effect.asVoid
      )

    return { send, decode, waitHealthy }
  })
