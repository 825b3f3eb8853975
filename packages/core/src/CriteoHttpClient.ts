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
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as UrlParams from "@effect/platform/UrlParams"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Inspectable from "effect/Inspectable"
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
 * request, and `JSON.stringify` of a request shows its headers, so the body accessors build their
 * errors on the clean request. Everything else is read from the platform's response.
 *
 * A class rather than `Object.create(response, descriptors)`: an object given eight property
 * descriptors is slow to build and slow to read, and one is built for every response.
 */
class ResponseWithoutCredentials extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  // private: the platform's response points at the request with the bearer token
  readonly #response: HttpClientResponse.HttpClientResponse
  constructor(response: HttpClientResponse.HttpClientResponse, readonly request: HttpClientRequest.HttpClientRequest) {
    super()
    this.#response = response
  }
  get status() {
    return this.#response.status
  }
  get headers() {
    return this.#response.headers
  }
  get cookies() {
    return this.#response.cookies
  }
  get remoteAddress() {
    return this.#response.remoteAddress
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.text, this.rewrap)
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.json, this.rewrap)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.arrayBuffer, this.rewrap)
  }
  get formData(): HttpClientResponse.HttpClientResponse["formData"] {
    return Effect.mapError(this.#response.formData, this.rewrap)
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.urlParamsBody, this.rewrap)
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.mapError(this.#response.stream, this.rewrap)
  }
  readonly rewrap = (error: HttpClientError.ResponseError): HttpClientError.ResponseError =>
    new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    })
  toJSON(): unknown {
    return { ...(this.#response.toJSON() as object), request: this.request.toJSON() }
  }
}

const withoutCredentials = (
  response: HttpClientResponse.HttpClientResponse,
  request: HttpClientRequest.HttpClientRequest
): HttpClientResponse.HttpClientResponse => new ResponseWithoutCredentials(response, request)

/**
 * A platform error, as the caller may see it: a `RequestError` or `ResponseError` of the client below
 * holds the request it was given, bearer header included, and `JSON.stringify`, `util.inspect` and
 * Node's report of an unhandled rejection print it. The same error is rebuilt on the request as the
 * caller built it (and, for a `ResponseError`, on the response that points at it). Other errors pass.
 */
const errorWithoutCredentials = <E>(error: E, request: HttpClientRequest.HttpClientRequest): E => {
  if (!HttpClientError.isHttpClientError(error)) return error
  const description = error.description === undefined ? {} : { description: error.description }
  const rebuilt: HttpClientError.HttpClientError = error._tag === "RequestError"
    ? new HttpClientError.RequestError({ request, reason: error.reason, cause: error.cause, ...description })
    : new HttpClientError.ResponseError({
      request,
      response: withoutCredentials(error.response, request),
      reason: error.reason,
      cause: error.cause,
      ...description
    })
  // the same class with the same tag and fields as the error it replaces: a value of E
  return rebuilt as E
}

/**
 * The middleware on a given provider. The common case (a token in the cache, an answer other than
 * 401 or 403) is a chain of `flatMap`s; the 401 replay and the 403 summary are separate functions.
 */
const authenticated = <E, R>(self: HttpClient.HttpClient.With<E, R>, auth: CriteoAuth.Service) => {
  const send = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken) =>
    Effect.matchEffect(self.execute(authorize(request, token)), {
      onFailure: (error) => Effect.fail(errorWithoutCredentials(error, request)),
      onSuccess: (response) => Effect.succeed(withoutCredentials(response, request))
    })

  const forbidden = (request: HttpClientRequest.HttpClientRequest, response: HttpClientResponse.HttpClientResponse) =>
    Effect.flatMap(summarize(request, response), (summary) => new CriteoAuthError.ForbiddenError(summary))

  const replay = (
    request: HttpClientRequest.HttpClientRequest,
    sent: AccessToken.AccessToken,
    first: HttpClientResponse.HttpClientResponse
  ) =>
    Effect.gen(function*() {
      yield* Effect.orElseSucceed(first.text, () => "")
      yield* auth.invalidate(sent)
      yield* Metric.increment(CriteoAuthMetrics.unauthorizedReplays)
      const second = yield* Effect.flatMap(auth.token, (token) => send(request, token))
      if (second.status === 401) {
        return yield* new CriteoAuthError.UnauthorizedError(yield* summarize(request, second))
      }
      if (second.status === 403) return yield* forbidden(request, second)
      return second
    })

  // the common case in two steps: the token, then the answer (wrapped once, whatever its status); a
  // failure of the client below is rebuilt without the bearer token
  return (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(auth.token, (token) =>
      Effect.matchEffect(self.execute(authorize(request, token)), {
        onFailure: (error) => Effect.fail(errorWithoutCredentials(error, request)),
        onSuccess: (answer) => {
          const response = withoutCredentials(answer, request)
          return response.status === 401
            ? replay(request, token, response)
            : response.status === 403
            ? forbidden(request, response)
            : Effect.succeed(response)
        }
      }))
}

/**
 * Adds Criteo authentication to a client: the bearer token of `CriteoAuth` on every request; on a 401,
 * the token that was sent is invalidated (compare-and-swap), a new one obtained (single flight) and
 * the request replayed once; a second 401 fails with `UnauthorizedError`. A 403 fails with
 * `ForbiddenError` at once: a new token would not change a revoked consent.
 *
 * A replayed request is sent again as it was built: stream bodies cannot be replayed. No response or
 * error it returns holds the request with the `Authorization` header: a `RequestError` or
 * `ResponseError` of the client below is rebuilt on the request as the caller built it.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withCriteoAuth = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | Error, R | CriteoAuth.CriteoAuth> =>
  HttpClient.makeWith(
    (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => Effect.flatMap(requestEffect, authenticated(self, auth))),
    Effect.succeed
  )

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

/** RFC 9110 §9.2.2: requests a client may send again on its own after a network failure. */
const isIdempotent = (method: HttpClientRequest.HttpClientRequest["method"]) =>
  method === "GET" || method === "HEAD" || method === "OPTIONS" || method === "PUT" || method === "DELETE"

const isPlatformTransportFailure = (error: unknown) =>
  HttpClientError.isHttpClientError(error) && error._tag === "RequestError" && error.reason === "Transport"

/**
 * Retries requests answered 500, 502, 503, 504 or 429 with exponential backoff and jitter, waiting at
 * least until `x-ratelimit-reset` (or `Retry-After`) on a 429. After the last attempt the last
 * response is returned as it is. A network failure (a `RequestError` with reason `Transport`, a
 * timeout included) is retried within the same bounds for idempotent methods only (GET, HEAD,
 * OPTIONS, PUT, DELETE): a POST may have been processed.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withRetries: {
  (options?: RetryOptions): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R>
} = (options = {}) => {
  const retry = retrying(options)
  return (self) => HttpClient.transform(self, (effect, request) => retry(effect, request, isPlatformTransportFailure))
}

/**
 * The retries of `withRetries` around one attempt: the attempt is run, and run again while its
 * response is transient (or, for an idempotent request, while it fails on the network) and the
 * schedule allows. The schedule is driven only once an attempt needs a retry: most do not, and a
 * schedule driver built and stepped for each response would cost more than the rest of the client.
 * The schedule's input is the response, or `undefined` for a network failure.
 */
const retrying = (options: RetryOptions) => {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3))
  const baseDelay = Duration.decode(options.baseDelay ?? Duration.millis(500))
  const maxDelay = Duration.decode(options.maxDelay ?? Duration.seconds(10))
  const maxRateLimitWait = Duration.decode(options.maxRateLimitWait ?? Duration.seconds(60))
  const waitFor = (response: HttpClientResponse.HttpClientResponse | undefined) =>
    response !== undefined && response.status === 429
      ? Effect.map(DateTime.now, (now) => RateLimit.retryAfter(response.headers, now))
      : Effect.succeedNone
  const policy = backoff<HttpClientResponse.HttpClientResponse | undefined>({
    base: baseDelay,
    max: maxDelay,
    attempts: maxAttempts
  }).pipe(
    Schedule.modifyDelayEffect(([, response], delay) =>
      Effect.map(
        waitFor(response),
        Option.match({ onNone: () => delay, onSome: (wait) => Duration.max(delay, wait) })
      )
    ),
    Schedule.checkEffect((response: HttpClientResponse.HttpClientResponse | undefined) =>
      Effect.map(
        waitFor(response),
        Option.match({ onNone: () => true, onSome: (wait) => Duration.lessThanOrEqualTo(wait, maxRateLimitWait) })
      )
    )
  )
  return <E, R, E2 = E>(
    attempt: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    request: HttpClientRequest.HttpClientRequest,
    isTransportFailure: (error: E) => boolean,
    mapError: (error: E) => E2 = identity as (error: E) => E2
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> => {
    const retriesFailures = isIdempotent(request.method)
    const fail = (error: E) => Effect.fail(mapError(error))
    /** Drives a new schedule from the first outcome that asks for a retry. */
    const retry = (first: HttpClientResponse.HttpClientResponse | E, failed: boolean) =>
      Effect.flatMap(Schedule.driver(policy), (driver) => {
        const onResponse = (
          response: HttpClientResponse.HttpClientResponse
        ): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> =>
          isTransientStatus(response.status)
            ? Effect.matchEffect(driver.next(response), {
              onFailure: () => Effect.succeed(response),
              onSuccess: () => next
            })
            : Effect.succeed(response)
        const onFailure = (error: E): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> =>
          retriesFailures && isTransportFailure(error)
            ? Effect.matchEffect(driver.next(undefined), {
              onFailure: () => fail(error),
              onSuccess: () => next
            })
            : fail(error)
        const next: Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> = Effect.suspend(() =>
          Effect.matchEffect(attempt, { onFailure, onSuccess: onResponse })
        )
        return failed ? onFailure(first as E) : onResponse(first as HttpClientResponse.HttpClientResponse)
      })
    return Effect.matchEffect(attempt, {
      onFailure: (error) => retriesFailures && isTransportFailure(error) ? retry(error, true) : fail(error),
      onSuccess: (response) => isTransientStatus(response.status) ? retry(response, false) : Effect.succeed(response)
    })
  }
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

/**
 * A platform error becomes a `TransportError`: a platform `RequestError` holds the request, bearer
 * header included, so only a redacted summary is kept.
 */
const toCriteoError = (error: Error | HttpClientError.HttpClientError): Error =>
  error._tag === "RequestError" || error._tag === "ResponseError" ? transportError("api", error) : error

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
    const send = authenticated(client, auth)
    const retry = retrying(options.retry ?? {})
    // The same as `client.pipe(withCriteoAuth, HttpClient.mapRequest(...), HttpClient.catchTags(...),
    // withRetries(...))` with the provider at hand, composed as one middleware: each HttpClient layer
    // costs a few microseconds per request, as much as the authentication itself.
    return HttpClient.makeWith(
      (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
        Effect.flatMap(requestEffect, (request) =>
          retry(
            send(request),
            request,
            isPlatformTransportFailure,
            toCriteoError
          )),
      // in the preprocessing, as `HttpClient.mapRequest` did: a `mapRequest` added by the caller sees the full URL
      (request) => Effect.succeed(HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)))
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
