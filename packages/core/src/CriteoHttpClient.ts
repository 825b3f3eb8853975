/**
 * The authenticated client: an `HttpClient` that sends the bearer token from `CriteoAuth`, answers a
 * 401 by invalidating the token that failed, getting a new one and replaying the request once, never
 * refreshes on a 403, and retries 5xx and 429 within bounds.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as AccessToken from "./AccessToken.js"
import * as CriteoAuth from "./CriteoAuth.js"
import * as CriteoAuthError from "./CriteoAuthError.js"
import * as CriteoAuthMetrics from "./CriteoAuthMetrics.js"
import { backoff } from "./internal/backoff.js"
import { transportError } from "./internal/errors.js"
import * as RateLimit from "./internal/rateLimit.js"

/**
 * Criteo's API host.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.criteo.com"

/**
 * A stable API version Criteo supports at the end of 2026 (versions live 12 months).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultApiVersion = "2026-07"

/**
 * The failures the authenticated client adds to those of the underlying `HttpClient`.
 *
 * @since 0.1.0
 * @category errors
 */
export type Error = CriteoAuthError.CriteoAuthError

// -----------------------------------------------------------------------------
// the 401 / 403 policy
// -----------------------------------------------------------------------------

const CriteoErrorBody = Schema.Struct({
  errors: Schema.NonEmptyArray(
    Schema.Struct({
      code: Schema.optional(Schema.String),
      traceId: Schema.optional(Schema.String),
      traceIdentifier: Schema.optional(Schema.String)
    })
  )
})

const decodeCriteoError = Schema.decodeUnknownOption(Schema.parseJson(CriteoErrorBody))

const summarize = (request: HttpClientRequest.HttpClientRequest, response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    Effect.orElseSucceed(response.text, () => ""),
    (text) => {
      const first = Option.map(decodeCriteoError(text), (body) => body.errors[0])
      const code = Option.flatMapNullable(first, (error) => error.code)
      const traceId = Option.flatMapNullable(first, (error) => error.traceId ?? error.traceIdentifier)
      return {
        method: request.method,
        url: request.url.split("?")[0],
        ...(Option.isSome(code) ? { code: code.value.slice(0, 100) } : {}),
        ...(Option.isSome(traceId) ? { traceId: traceId.value.slice(0, 100) } : {})
      }
    }
  )

const authorize = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken) =>
  HttpClientRequest.bearerToken(request, token.value)

/**
 * The response as the caller sees it, pointing at the request as the caller built it: without the
 * `Authorization` header. Errors made from the response later (a body that fails to decode) carry the
 * request, and `JSON.stringify` of a request shows its headers, so the body accessors are re-wrapped
 * to build their errors on the clean request. Everything else is the platform's response.
 */
const withoutCredentials = (
  response: HttpClientResponse.HttpClientResponse,
  request: HttpClientRequest.HttpClientRequest
): HttpClientResponse.HttpClientResponse => {
  const rewrap = (error: HttpClientError.ResponseError) =>
    new HttpClientError.ResponseError({
      request,
      response: clean,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    })
  const body = <A>(effect: Effect.Effect<A, HttpClientError.ResponseError>) => Effect.mapError(effect, rewrap)
  const clean: HttpClientResponse.HttpClientResponse = Object.create(response, {
    request: { value: request, enumerable: true },
    text: { get: () => body(response.text) },
    json: { get: () => body(response.json) },
    arrayBuffer: { get: () => body(response.arrayBuffer) },
    formData: { get: () => body(response.formData) },
    urlParamsBody: { get: () => body(response.urlParamsBody) },
    stream: { get: () => Stream.mapError(response.stream, rewrap) },
    toJSON: { value: () => ({ ...(response.toJSON() as object), request: request.toJSON() }) }
  })
  return clean
}

/**
 * Adds Criteo authentication to a client: the bearer token of `CriteoAuth` on every request; on a 401,
 * the token that was sent is invalidated (compare-and-swap), a new one obtained (single flight) and
 * the request replayed once; a second 401 fails with `UnauthorizedError`. A 403 fails with
 * `ForbiddenError` at once: a new token would not change a revoked consent.
 *
 * A replayed request is sent again as it was built: stream bodies cannot be replayed.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withCriteoAuth = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | Error, R | CriteoAuth.CriteoAuth> => {
  const send = (auth: CriteoAuth.Service, request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(auth.token, (token) =>
      Effect.map(
        self.execute(authorize(request, token)),
        (response) => [token, withoutCredentials(response, request)] as const
      ))

  /** The rare path: a 401 (replay once) or a 403. */
  const refused = (
    auth: CriteoAuth.Service,
    request: HttpClientRequest.HttpClientRequest,
    sent: AccessToken.AccessToken,
    first: HttpClientResponse.HttpClientResponse
  ) =>
    Effect.gen(function*() {
      if (first.status === 403) {
        return yield* new CriteoAuthError.ForbiddenError(yield* summarize(request, first))
      }
      yield* Effect.orElseSucceed(first.text, () => "")
      yield* auth.invalidate(sent)
      yield* Metric.increment(CriteoAuthMetrics.unauthorizedReplays)
      const [, second] = yield* send(auth, request)
      if (second.status === 401) {
        return yield* new CriteoAuthError.UnauthorizedError(yield* summarize(request, second))
      }
      if (second.status === 403) {
        return yield* new CriteoAuthError.ForbiddenError(yield* summarize(request, second))
      }
      return second
    })

  return HttpClient.makeWith(
    (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(
        requestEffect,
        (request) =>
          Effect.flatMap(CriteoAuth.CriteoAuth, (auth) =>
            Effect.flatMap(send(auth, request), ([sent, first]) =>
              first.status === 401 || first.status === 403
                ? refused(auth, request, sent, first)
                : Effect.succeed(first)))
      ),
    Effect.succeed
  )
}

// -----------------------------------------------------------------------------
// retries of 5xx and 429
// -----------------------------------------------------------------------------

/**
 * Bounds of the retries of API requests answered 5xx or 429.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Requests made for one call, the first included. Default 3. */
  readonly maxAttempts?: number | undefined
  /** The first backoff delay, doubled on each retry, with jitter. Default 500 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The cap of one backoff delay. Default 10 s. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /**
   * The longest wait honoured for a 429's `x-ratelimit-reset` / `Retry-After`. When the server asks
   * for more, the 429 response is returned at once. Default 60 s.
   */
  readonly maxRateLimitWait?: Duration.DurationInput | undefined
}

const isTransientStatus = (status: number) =>
  status === 429 || status === 500 || status === 502 || status === 503 || status === 504

/**
 * Retries requests answered 500, 502, 503, 504 or 429 with exponential backoff and jitter, waiting at
 * least until `x-ratelimit-reset` (or `Retry-After`) on a 429. After the last attempt the last
 * response is returned as it is. Network errors are not retried here: a POST may have been processed.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withRetries: {
  (options?: RetryOptions): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
} = (options = {}) => (self) => {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3))
  const baseDelay = Duration.decode(options.baseDelay ?? Duration.millis(500))
  const maxDelay = Duration.decode(options.maxDelay ?? Duration.seconds(10))
  const maxRateLimitWait = Duration.decode(options.maxRateLimitWait ?? Duration.seconds(60))
  const waitFor = (response: HttpClientResponse.HttpClientResponse) =>
    Effect.map(
      DateTime.now,
      (now) => response.status === 429 ? RateLimit.retryAfter(response.headers, now) : Option.none()
    )
  const policy = backoff<HttpClientResponse.HttpClientResponse>({
    base: baseDelay,
    max: maxDelay,
    attempts: maxAttempts
  })
    .pipe(
      Schedule.modifyDelayEffect(([, response], delay) =>
        Effect.map(
          waitFor(response),
          Option.match({ onNone: () => delay, onSome: (wait) => Duration.max(delay, wait) })
        )
      ),
      Schedule.checkEffect((response: HttpClientResponse.HttpClientResponse) =>
        Effect.map(
          waitFor(response),
          Option.match({ onNone: () => true, onSome: (wait) => Duration.lessThanOrEqualTo(wait, maxRateLimitWait) })
        )
      ),
      Schedule.map(([, response]) => response)
    )
  // the hot path pays one status check; the schedule's driver is only built once a retry is due
  const retryFrom = <E, R>(
    effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    first: HttpClientResponse.HttpClientResponse
  ) =>
    Effect.gen(function*() {
      const driver = yield* Schedule.driver(policy)
      let response = first
      while (isTransientStatus(response.status)) {
        const next = yield* Effect.either(driver.next(response))
        if (next._tag === "Left") break
        response = yield* effect
      }
      return response
    })
  return HttpClient.transformResponse(
    self,
    (effect) =>
      Effect.flatMap(
        effect,
        (response) => isTransientStatus(response.status) ? retryFrom(effect, response) : Effect.succeed(response)
      )
  )
}

// -----------------------------------------------------------------------------
// the client service
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category tags
 */
export class CriteoHttpClient extends Context.Tag("@criteo-auth/core/CriteoHttpClient")<
  CriteoHttpClient,
  HttpClient.HttpClient.With<Error>
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The API host. Default `https://api.criteo.com`. */
  readonly baseUrl?: string | undefined
  /**
   * The version prefixed to every path (`/2026-07/advertisers/me`). Default `2026-07`; `null` sends
   * paths as they are.
   */
  readonly apiVersion?: string | null | undefined
  /** Retry bounds for 5xx and 429 answers. */
  readonly retry?: RetryOptions | undefined
}

const trimSlashes = (value: string) => value.replace(/\/+$/, "")

/**
 * The URL prefix requests get: base URL and API version.
 *
 * @since 0.1.0
 * @category constructors
 */
export const apiUrl = (options: Pick<Options, "baseUrl" | "apiVersion"> = {}): string => {
  const base = trimSlashes(options.baseUrl ?? defaultBaseUrl)
  const version = options.apiVersion === undefined ? defaultApiVersion : options.apiVersion
  return version === null || version === "" ? base : `${base}/${version.replace(/^\/+|\/+$/g, "")}`
}

/**
 * Builds the authenticated client on the `HttpClient` and the `CriteoAuth` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  HttpClient.HttpClient.With<Error>,
  never,
  HttpClient.HttpClient | CriteoAuth.CriteoAuth
> =>
  Effect.gen(function*() {
    const auth = yield* CriteoAuth.CriteoAuth
    const client = yield* HttpClient.HttpClient
    const prefix = apiUrl(options)
    return client.pipe(
      withCriteoAuth,
      HttpClient.mapRequest((request) => HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix))),
      // a platform RequestError holds the request, bearer header included: keep a redacted summary
      HttpClient.catchTags({
        RequestError: (error) => Effect.fail(transportError("api", error)),
        ResponseError: (error) => Effect.fail(transportError("api", error))
      }),
      withRetries(options.retry),
      (authenticated) => HttpClient.transformResponse(authenticated, Effect.provideService(CriteoAuth.CriteoAuth, auth))
    )
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CriteoHttpClient, never, HttpClient.HttpClient | CriteoAuth.CriteoAuth> =>
  Layer.effect(CriteoHttpClient, make(options))
