/**
 * The authenticated client: an `HttpClient` that sends the bearer token from `CriteoAuth`, answers a
 * 401 by invalidating the token that failed, getting a new one and replaying the request once, never
 * refreshes on a 403, and retries 5xx and 429 within bounds.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import type * as UrlParams from "@effect/platform/UrlParams"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AccessToken from "./AccessToken.js"
import * as CriteoAuth from "./CriteoAuth.js"
import * as CriteoAuthError from "./CriteoAuthError.js"
import * as CriteoAuthMetrics from "./CriteoAuthMetrics.js"
import { backoff } from "./internal/backoff.js"
import { readCapped } from "./internal/body.js"
import { describeTransport, transportError } from "./internal/errors.js"
import * as RateLimit from "./internal/rateLimit.js"
import * as WaitLog from "./internal/waitLog.js"
import * as Redaction from "./Redaction.js"

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

/**
 * The defaults of the options of this module, in one place.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaults = {
  /** Requests made for one call, the first included. */
  maxAttempts: 3,
  /** The first backoff delay, doubled on each retry, with jitter. */
  baseDelay: Duration.millis(500),
  /** The cap of one backoff delay. */
  maxDelay: Duration.seconds(10),
  /** The longest wait honoured for a 429's `x-ratelimit-reset` / `Retry-After`. */
  maxRateLimitWait: Duration.seconds(60),
  /**
   * After a new token is answered 401 (the API refuses the client, or the token was revoked in a race),
   * how long the client invalidates no token on a 401: see `AuthOptions.unauthorizedCooldown`.
   */
  unauthorizedCooldown: Duration.seconds(10)
} as const

// -----------------------------------------------------------------------------
// the 401 / 403 policy
// -----------------------------------------------------------------------------

/**
 * The error body of the Criteo API (`{"errors": [{"code", "title", "traceIdentifier", ...}]}`), as far
 * as clients read it.
 *
 * @since 0.2.0
 * @category models
 */
export const ErrorBody = Schema.Struct({
  errors: Schema.NonEmptyArray(
    Schema.Struct({
      code: Schema.optional(Schema.String),
      title: Schema.optional(Schema.String),
      traceId: Schema.optional(Schema.String),
      traceIdentifier: Schema.optional(Schema.String)
    })
  )
})

/**
 * @since 0.2.0
 * @category models
 */
export type ErrorBody = typeof ErrorBody.Type

/**
 * Criteo's error body from the text of a response, when it is one.
 *
 * @since 0.2.0
 * @category models
 */
export const decodeErrorBody: (text: string) => Option.Option<ErrorBody> = Schema.decodeUnknownOption(
  Schema.parseJson(ErrorBody)
)

/**
 * How long a response asks the client to wait before the next request: `Retry-After` (seconds or an
 * HTTP date) or Criteo's `x-ratelimit-reset` (seconds, or an epoch instant), whichever says more;
 * none when neither is usable. The parsing the token provider and the API retries use.
 *
 * @since 0.2.0
 * @category rate limits
 */
export const retryAfter: (headers: Headers.Headers, now: DateTime.Utc) => Option.Option<Duration.Duration> =
  RateLimit.retryAfter

/**
 * What went wrong on the wire for a `RequestError` or `ResponseError` of an API call: the error's
 * description and its cause's message and code (`ECONNREFUSED`), at most 300 characters, never the
 * request. The detail core's `TransportError` carries for the token endpoint.
 *
 * @since 0.2.0
 * @category errors
 */
export const describeTransportFailure: (error: HttpClientError.HttpClientError) => string = describeTransport

/** The most of a 401, 403 or 410 body read (64 KiB): Criteo's error bodies are well under 1 KB. */
const maxErrorBodySize = 64 * 1024

/** The longest a 401, 403 or 410 body is waited for (5 s), the transport's own bounds aside. */
const errorBodyTimeout = Duration.seconds(5)

/**
 * The body of a 401, 403 or 410, read only to summarize it: at most `maxErrorBodySize` bytes within
 * `errorBodyTimeout`, else nothing. Beyond either bound the body stream is abandoned, which aborts the
 * request (the connection is closed, not left half-read). Never fails.
 */
const errorBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string> =>
  readCapped(response, maxErrorBodySize).pipe(
    Effect.timeout(errorBodyTimeout),
    Effect.map(Option.getOrElse(() => "")),
    Effect.orElseSucceed(() => "")
  )

/**
 * What an error keeps of a refused call. `code` and `traceId` come from the server: they are scrubbed
 * of the bearer token that was sent (every spelling), control characters escaped, and cut short.
 */
const summarize = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  sent: AccessToken.AccessToken
) =>
  Effect.map(
    errorBody(response),
    (text) => {
      const first = Option.map(decodeErrorBody(text), (body) => body.errors[0])
      const code = Option.flatMapNullable(first, (error) => error.code)
      const traceId = Option.flatMapNullable(first, (error) => error.traceId ?? error.traceIdentifier)
      const secrets = [sent.value]
      return {
        method: request.method,
        url: request.url.split("?")[0],
        ...(Option.isSome(code) ? { code: Redaction.sanitize(code.value, secrets, 100) } : {}),
        ...(Option.isSome(traceId) ? { traceId: Redaction.sanitize(traceId.value, secrets, 100) } : {})
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
  // the platform's responses convert their headers on every read: read once, here and for the caller
  #headers: Headers.Headers | undefined
  get headers() {
    return this.#headers ??= this.#response.headers
  }
  get cookies() {
    return this.#response.cookies
  }
  get remoteAddress() {
    return this.#response.remoteAddress
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.text, (error) => this.rewrap(error))
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.json, (error) => this.rewrap(error))
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.arrayBuffer, (error) => this.rewrap(error))
  }
  get formData(): HttpClientResponse.HttpClientResponse["formData"] {
    return Effect.mapError(this.#response.formData, (error) => this.rewrap(error))
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.mapError(this.#response.urlParamsBody, (error) => this.rewrap(error))
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.mapError(this.#response.stream, (error) => this.rewrap(error))
  }
  rewrap(error: HttpClientError.ResponseError): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: error.reason,
      cause: error.cause,
      ...(error.description === undefined ? {} : { description: error.description })
    })
  }
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
 * The API version a request's path names (`/2026-07/...`, `/preview/...`; after a base URL's own path,
 * as in `https://gateway.example/criteo/2026-07/...`), if any: its first segment of that form.
 */
const versionOf = (url: string): string | undefined => {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(?:\/[^/?#]*)*?\/(\d{4}-(?:0[1-9]|1[0-2])|preview)(?:[/?#]|$)/i.exec(url)
  return match === null ? undefined : match[1]
}

/**
 * An open cooldown window: the token whose refusal opened it (invalidated then), until when it lasts, and
 * whether the probe (the token obtained after it) has been refused too.
 */
interface Cooling {
  readonly refused: AccessToken.AccessToken
  readonly untilMillis: number
  probeRefused: boolean
}

/** Whether an answer announces its API version's end (`Deprecation`, `Sunset`). */
const announces = (headers: Headers.Headers) => headers["deprecation"] !== undefined || headers["sunset"] !== undefined

/**
 * Whether a 410 says the API version is decommissioned, from Criteo's signals: the path names a version
 * (Criteo documents 410 Gone for every call of a decommissioned version), or the answer carries
 * `Deprecation` or `Sunset`. Any other 410 (no version in the path: a proxy's, a resource's) is passed
 * through as a response, its body unread. The body is not a signal: Criteo documents none for this
 * 410, and reading it would consume the body of a response that may be passed through.
 */
const isDecommissioned = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
) => response.status === 410 && (versionOf(request.url) !== undefined || announces(response.headers))

/**
 * The middleware on a given provider. The common case (a token in the cache, an answer other than
 * 401 or 403) is a chain of two steps; the 401 replay and the 403 summary are separate functions.
 */
const authenticated = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  auth: CriteoAuth.Service,
  unauthorizedCooldown: Duration.Duration
) => {
  const cooldownMillis = Duration.toMillis(unauthorizedCooldown)
  /**
   * The token the latest replay obtained, until a replay with it succeeds: a 401 to it before then means
   * the API refuses the client's new tokens. Written only on the 401 path; one per client, like the
   * provider's fast-path mirror.
   */
  let renewed: AccessToken.AccessToken | undefined
  /** The open cooldown window (see `AuthOptions.unauthorizedCooldown`), if any. */
  let cooling: Cooling | undefined

  const execute = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken) =>
    Effect.matchEffect(self.execute(authorize(request, token)), {
      onFailure: (error) => Effect.fail(errorWithoutCredentials(error, request)),
      onSuccess: (response) => Effect.succeed(withoutCredentials(response, request))
    })

  const forbidden = (
    request: HttpClientRequest.HttpClientRequest,
    response: HttpClientResponse.HttpClientResponse,
    sent: AccessToken.AccessToken
  ) => Effect.flatMap(summarize(request, response, sent), (summary) => new CriteoAuthError.ForbiddenError(summary))

  const unauthorized = (
    request: HttpClientRequest.HttpClientRequest,
    response: HttpClientResponse.HttpClientResponse,
    sent: AccessToken.AccessToken
  ) => Effect.flatMap(summarize(request, response, sent), (summary) => new CriteoAuthError.UnauthorizedError(summary))

  /** The window opens on `token`, refused although it was new: invalidated, so that the next caller gets the probe. */
  const open = (token: AccessToken.AccessToken, now: number) => {
    cooling = { refused: token, untilMillis: now + cooldownMillis, probeRefused: false }
    renewed = undefined
    return auth.invalidate(token)
  }

  /**
   * The end of a replay: a 401 is an `UnauthorizedError` (never a second replay), 403 and a decommissioned
   * version's 410 their errors.
   */
  const concluded = (
    request: HttpClientRequest.HttpClientRequest,
    second: HttpClientResponse.HttpClientResponse,
    token: AccessToken.AccessToken
  ) =>
    second.status === 403
      ? forbidden(request, second, token)
      : isDecommissioned(request, second)
      ? gone(request, second, token)
      : Effect.succeed(second)

  /**
   * A 401 while the window is open: the client invalidates nothing. A 401 to the current token (the
   * probe), or any 401 once the probe has been refused, fails at once; a 401 to an older token (the refused
   * one, or one sent before it) is replayed once on the current token.
   */
  const whileCooling = (
    request: HttpClientRequest.HttpClientRequest,
    sent: AccessToken.AccessToken,
    first: HttpClientResponse.HttpClientResponse,
    window: Cooling
  ) =>
    Effect.gen(function*() {
      const current = yield* auth.token
      if (window.probeRefused || AccessToken.sameValue(current, sent)) {
        window.probeRefused = true
        return yield* unauthorized(request, first, sent)
      }
      yield* errorBody(first)
      yield* Metric.increment(CriteoAuthMetrics.unauthorizedReplays)
      const second = yield* execute(request, current)
      if (second.status === 401) {
        if (!AccessToken.sameValue(current, window.refused)) window.probeRefused = true
        return yield* unauthorized(request, second, current)
      }
      return yield* concluded(request, second, current)
    })

  /** The window open at `now`, if any (one that has ended is forgotten). */
  const openAt = (now: number): Cooling | undefined => {
    if (cooling !== undefined && now >= cooling.untilMillis) cooling = undefined
    return cooling
  }

  const replay = (
    request: HttpClientRequest.HttpClientRequest,
    sent: AccessToken.AccessToken,
    first: HttpClientResponse.HttpClientResponse
  ) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (openAt(now) === undefined && renewed !== undefined && AccessToken.sameValue(sent, renewed)) {
        // the token a replay obtained is refused before any replay with it succeeded: as a refused replay
        yield* open(sent, now)
      }
      const window = openAt(now)
      if (window !== undefined) return yield* whileCooling(request, sent, first, window)
      yield* errorBody(first)
      yield* auth.invalidate(sent)
      yield* Metric.increment(CriteoAuthMetrics.unauthorizedReplays)
      const token = yield* auth.token
      // a window opened meanwhile (by another call) has its own probe: this token is not a renewal after it
      if (openAt(yield* Clock.currentTimeMillis) === undefined) renewed = token
      const second = yield* execute(request, token)
      if (second.status === 401) {
        const at = yield* Clock.currentTimeMillis
        const current = openAt(at)
        if (current === undefined) yield* open(token, at)
        else if (!AccessToken.sameValue(token, current.refused)) current.probeRefused = true
        return yield* unauthorized(request, second, token)
      }
      if (renewed !== undefined && AccessToken.sameValue(token, renewed)) renewed = undefined
      return yield* concluded(request, second, token)
    })

  const gone = (
    request: HttpClientRequest.HttpClientRequest,
    response: HttpClientResponse.HttpClientResponse,
    sent: AccessToken.AccessToken
  ) =>
    Effect.flatMap(summarize(request, response, sent), (summary) => {
      const version = versionOf(request.url)
      return new CriteoAuthError.ApiVersionDecommissionedError({
        ...summary,
        ...(version === undefined ? {} : { version }),
        ...(version === defaultApiVersion ? {} : { currentVersion: defaultApiVersion })
      })
    })

  /** API versions whose deprecation was already logged: once per version and client. */
  const announced = new Set<string>()
  const deprecated = (
    request: HttpClientRequest.HttpClientRequest,
    response: HttpClientResponse.HttpClientResponse
  ) => {
    const version = versionOf(request.url) ?? "unversioned"
    const count = Metric.increment(Metric.tagged(CriteoAuthMetrics.deprecatedResponses, "version", version))
    if (announced.has(version)) return Effect.as(count, response)
    announced.add(version)
    const sunset = response.headers["sunset"]
    const deprecation = response.headers["deprecation"]
    return count.pipe(
      Effect.zipRight(
        Effect.logWarning(
          `Criteo API version ${version} is deprecated${
            sunset === undefined ? "" : ` and will be decommissioned on ${sunset} (410 Gone afterwards)`
          }: move to a newer apiVersion (this release of criteo-auth targets ${defaultApiVersion})`
        ).pipe(
          Effect.annotateLogs({
            "criteo.api_version": version,
            ...(deprecation === undefined ? {} : { "criteo.deprecation": deprecation }),
            ...(sunset === undefined ? {} : { "criteo.sunset": sunset })
          })
        )
      ),
      Effect.as(response)
    )
  }

  const answer = (
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken,
    response: HttpClientResponse.HttpClientResponse
  ) =>
    response.status === 401
      ? replay(request, token, response)
      : response.status === 403
      ? forbidden(request, response, token)
      : isDecommissioned(request, response)
      ? gone(request, response, token)
      : announces(response.headers)
      ? deprecated(request, response)
      : Effect.succeed(response)

  // the answer, wrapped once whatever its status; a failure of the client below is rebuilt without the
  // bearer token
  const send = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken) =>
    Effect.matchEffect(self.execute(authorize(request, token)), {
      onFailure: (error) => Effect.fail(errorWithoutCredentials(error, request)),
      onSuccess: (response) => answer(request, token, withoutCredentials(response, request))
    })
  // the token: the provider's fresh cached one read in place when it can say (`cached`, one step where
  // `token` costs three), otherwise `token`
  const cached = auth.cached
  return (request: HttpClientRequest.HttpClientRequest) =>
    cached === undefined
      ? Effect.flatMap(auth.token, (token) => send(request, token))
      : Effect.clockWith((clock) => {
        const token = cached(clock.unsafeCurrentTimeMillis())
        return token === undefined ? Effect.flatMap(auth.token, (token) => send(request, token)) : send(request, token)
      })
}

/**
 * The options of the authentication itself (`make`'s; `withCriteoAuth` uses the defaults).
 *
 * @since 0.2.0
 * @category models
 */
export interface AuthOptions {
  /**
   * The 401 cooldown, default `defaults.unauthorizedCooldown` (10 s). A 401 is answered by invalidating
   * the token sent, obtaining a new one and replaying once. When a new token is answered 401 too (on the
   * replay, or on another call before any replay with it succeeded), the API refuses the client (no
   * access) or revoked that token in a race; a window opens for this long:
   *
   * - the call whose replay was refused fails with `UnauthorizedError` (a request is replayed once), and
   *   the refused token is invalidated (compare-and-swap), so that the next caller obtains one new token,
   *   the probe;
   * - during the window the client invalidates nothing. A 401 to a token older than the current one (the
   *   refused token, or one sent before it) is replayed once on the current token, the probe (cached or
   *   joining its single flight: no new request). A 401 to the probe itself, or any 401 once the probe has
   *   been refused, fails at once with `UnauthorizedError`, without a replay or a token request.
   *
   * After the window, a 401 is answered as before it. So a token revoked in a race costs the calls whose
   * replay it refused (one per call then in its replay), and the calls sent with it meanwhile are replayed
   * on the probe. An API that refuses every token of the client costs at most two token requests per
   * window, however many calls: the token of the replay that opens it, and the probe (nothing is
   * invalidated until the window ends, so nothing else is requested). Windows do not overlap: over a time
   * `d`, at most `floor(d / cooldown) + 1` open, and the 401s cost at most twice that many token requests
   * beside the first token (the refresh ahead of expiry aside).
   * The window is not closed early by a success: a token revoked again inside it (a second race within
   * the window) fails the calls that send the probe until it ends.
   */
  readonly unauthorizedCooldown?: Duration.DurationInput | undefined
}

/**
 * Adds Criteo authentication to a client: the bearer token of `CriteoAuth` on every request; on a 401,
 * the token that was sent is invalidated (compare-and-swap), a new one obtained (single flight) and
 * the request replayed once; a second 401 fails with `UnauthorizedError` and opens the 401 cooldown for
 * `defaults.unauthorizedCooldown` (see `AuthOptions.unauthorizedCooldown`): the refused token is
 * invalidated, the calls sent with an older token are replayed on the next one (the probe), and once the
 * probe is refused too every 401 fails at once, so that an API that refuses the client costs at most two
 * token requests per window, not one per call. A 403 fails with `ForbiddenError` at once: a new token
 * would not change a revoked consent.
 * A 410 fails with `ApiVersionDecommissionedError` when its path names an API version (`/2026-07/...`,
 * after the base URL's own path if it has one) or it carries `Deprecation` or `Sunset`; any other 410 is
 * returned as a response, its body unread.
 *
 * The body of a 401, 403 or 410 is read only for the error's `code` and `traceId`: at most 64 KiB,
 * waited for at most 5 s (beside the transport's own bounds). A larger, endless or stalled body is
 * abandoned there, which aborts its request (the connection is closed), and the error comes without
 * them.
 *
 * A replayed request is sent again as it was built: stream bodies cannot be replayed. No response or
 * error it returns holds the request with the `Authorization` header: a `RequestError` or
 * `ResponseError` of the client below is rebuilt on the request as the caller built it.
 *
 * `make` is this middleware with `withApiUrl`, `withAttemptTimeout` and `withRetries`, its platform
 * errors mapped to `TransportError`.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withCriteoAuth = <E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | Error, R | CriteoAuth.CriteoAuth> => authenticating(self, {})

const authenticating = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  options: AuthOptions
): HttpClient.HttpClient.With<E | Error, R | CriteoAuth.CriteoAuth> => {
  const cooldown = Duration.decode(options.unauthorizedCooldown ?? defaults.unauthorizedCooldown)
  // one middleware per provider (a client is usually used with one): the cooldown is kept per provider
  const byProvider = new WeakMap<
    CriteoAuth.Service,
    (request: HttpClientRequest.HttpClientRequest) => Effect.Effect<
      HttpClientResponse.HttpClientResponse,
      E | Error,
      R
    >
  >()
  const forProvider = (auth: CriteoAuth.Service) => {
    let send = byProvider.get(auth)
    if (send === undefined) {
      send = authenticated(self, auth, cooldown)
      byProvider.set(auth, send)
    }
    return send
  }
  return HttpClient.makeWith(
    (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => Effect.flatMap(requestEffect, forProvider(auth))),
    Effect.succeed
  )
}

// -----------------------------------------------------------------------------
// the attempt timeout
// -----------------------------------------------------------------------------

/**
 * The request as an error may keep it: same method and URL, no `Authorization` header and no body, so
 * that no rendering of the error (`JSON.stringify` included) can show the bearer token.
 */
const requestWithoutCredentials = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.get(request.url, {
    headers: Headers.remove(request.headers, ["authorization", "cookie"]),
    urlParams: request.urlParams
  }).pipe(HttpClientRequest.setMethod(request.method))

/**
 * Limits each attempt of a request to `timeout`, up to the response headers, with Effect's timer (so
 * the `Clock` drives it). A late answer fails with a `RequestError` (reason `Transport`, a description
 * saying how long it waited) on the request without its `Authorization` header, which `withRetries`
 * replays for idempotent methods only. Put it below `withCriteoAuth` (first in the pipe): each attempt
 * and each replay get their own time.
 *
 * Each attempt forks a fiber for the timer: where the transport can bound the wait itself (undici's
 * `headersTimeout`, as `CriteoNode` does), that costs less.
 *
 * @since 0.2.0
 * @category middleware
 */
export const withAttemptTimeout: {
  (timeout: Duration.DurationInput): <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ) => HttpClient.HttpClient.With<E | HttpClientError.RequestError, R>
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>,
    timeout: Duration.DurationInput
  ): HttpClient.HttpClient.With<E | HttpClientError.RequestError, R>
} = dual(2, <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  timeout: Duration.DurationInput
): HttpClient.HttpClient.With<E | HttpClientError.RequestError, R> => {
  const duration = Duration.decode(timeout)
  const description = `no response within ${Duration.format(duration)}`
  return HttpClient.transform(self, (effect, request) =>
    Effect.timeoutFail(effect, {
      duration,
      onTimeout: () =>
        new HttpClientError.RequestError({
          request: requestWithoutCredentials(request),
          reason: "Transport",
          description
        })
    }))
})

// -----------------------------------------------------------------------------
// retries of 5xx, 429 and network failures
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

/** How one attempt ended: the schedule sees this, and decides from it whether to try again. */
type Outcome<E> =
  & (
    | { readonly _tag: "Answered"; readonly response: HttpClientResponse.HttpClientResponse }
    | { readonly _tag: "Failed"; readonly error: E }
  )
  & { readonly request: HttpClientRequest.HttpClientRequest }

/** What a retry log line says about the outcome that caused it. */
const why = (outcome: Outcome<unknown>, serverAsked: boolean): string =>
  outcome._tag === "Answered"
    ? outcome.response.status === 429
      ? `rate limited (HTTP 429${serverAsked ? ", waiting as long as the server asks" : ""})`
      : `HTTP ${outcome.response.status}`
    : "a network failure or timeout"

/** One log line per retry: what failed, how long the wait is and until when; never a header or query. */
const logRetry = (
  outcome: Outcome<unknown>,
  retry: number,
  retries: number,
  delay: Duration.Duration,
  serverAsked: boolean
) =>
  Effect.flatMap(WaitLog.describeWait(delay), (wait) => {
    const url = outcome.request.url.split("?")[0]
    const message = `${outcome.request.method} ${url}: ${
      why(outcome, serverAsked)
    }; retry ${retry} of ${retries} ${wait.text}`
    const reason = outcome._tag === "Failed"
      ? "transport"
      : outcome.response.status === 429
      ? "rate_limited"
      : "server_error"
    return Effect.zipRight(
      Metric.increment(Metric.tagged(CriteoAuthMetrics.apiRetries, "reason", reason)),
      WaitLog.logWait(delay, message).pipe(
        Effect.annotateLogs({
          "http.request.method": outcome.request.method,
          "url.full": url,
          "criteo.retry": retry,
          "criteo.retry_delay_ms": Duration.toMillis(delay),
          "criteo.retry_reason": reason
        })
      )
    )
  })

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
  return (self) =>
    HttpClient.transform(
      self,
      (effect, request) => retry(effect, request, isPlatformTransportFailure, (error) => error)
    )
}

/**
 * The retries of `withRetries` around one attempt. The attempt is run; while its outcome is worth
 * another try (a transient status; a network failure of an idempotent request) and the schedule
 * allows, it is run again. The schedule is driven only once an attempt needs a retry: most do not, and
 * a schedule driver built and stepped for each response would cost more than the rest of the client.
 * `mapError` turns the final failure into what the caller sees (identity for `withRetries`).
 */
const retrying = (options: RetryOptions, limit?: CriteoAuth.ApiRateLimit) => {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? defaults.maxAttempts))
  const maxRateLimitWait = Duration.decode(options.maxRateLimitWait ?? defaults.maxRateLimitWait)
  const serverWait = (outcome: Outcome<unknown>) =>
    outcome._tag === "Answered" && outcome.response.status === 429
      ? Effect.map(DateTime.now, (now) => RateLimit.retryAfter(outcome.response.headers, now))
      : Effect.succeedNone
  const policy = backoff<Outcome<unknown>>({
    base: Duration.decode(options.baseDelay ?? defaults.baseDelay),
    max: Duration.decode(options.maxDelay ?? defaults.maxDelay),
    attempts: maxAttempts
  }).pipe(
    // a 429 is not retried when the server asks for a longer wait than maxRateLimitWait ...
    Schedule.checkEffect((outcome: Outcome<unknown>) =>
      Effect.map(
        serverWait(outcome),
        Option.match({ onNone: () => true, onSome: (wait) => Duration.lessThanOrEqualTo(wait, maxRateLimitWait) })
      )
    ),
    // ... and otherwise waits at least as long as it asks; each retry is logged with its wait
    Schedule.modifyDelayEffect(([[, recurrence], outcome], delay) =>
      Effect.flatMap(serverWait(outcome), (wait) => {
        const final = Option.match(wait, { onNone: () => delay, onSome: (wait) => Duration.max(delay, wait) })
        return Effect.as(logRetry(outcome, recurrence + 1, maxAttempts - 1, final, Option.isSome(wait)), final)
      })
    )
  )

  /** A 429's reset instant goes to the provider's rate-limit knowledge (shared with the fleet by its store). */
  const share = (outcome: Outcome<unknown>) =>
    limit === undefined || outcome._tag !== "Answered" || outcome.response.status !== 429
      ? Effect.void
      : Effect.flatMap(DateTime.now, (now) =>
        Option.match(RateLimit.retryAfter(outcome.response.headers, now), {
          onNone: () => Effect.void,
          onSome: (wait) => limit.record(now.epochMillis + Duration.toMillis(wait))
        }))

  /**
   * The loop, from the first outcome worth a retry: ask the schedule, run again, look again. Built only
   * then: the closures and the schedule driver are not allocated for the calls that need no retry.
   */
  const retryFrom = <E, R, E2>(
    attempt: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    request: HttpClientRequest.HttpClientRequest,
    isTransportFailure: (error: E) => boolean,
    mapError: (error: E) => E2,
    first: Outcome<E>
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> => {
    const retriesFailures = isIdempotent(request.method)
    const worthRetrying = (outcome: Outcome<E>) =>
      outcome._tag === "Answered"
        ? isTransientStatus(outcome.response.status)
        : retriesFailures && isTransportFailure(outcome.error)
    const conclude = (outcome: Outcome<E>): Effect.Effect<HttpClientResponse.HttpClientResponse, E2> =>
      outcome._tag === "Answered" ? Effect.succeed(outcome.response) : Effect.fail(mapError(outcome.error))
    const run = Effect.match(attempt, {
      onFailure: (error): Outcome<E> => ({ _tag: "Failed", error, request }),
      onSuccess: (response): Outcome<E> => ({ _tag: "Answered", response, request })
    })
    return Effect.flatMap(Schedule.driver(policy), (driver) => {
      const loop = (outcome: Outcome<E>): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> =>
        worthRetrying(outcome)
          ? Effect.zipRight(
            share(outcome),
            Effect.matchEffect(driver.next(outcome), {
              onFailure: () => conclude(outcome),
              onSuccess: () => Effect.flatMap(run, loop)
            })
          )
          : conclude(outcome)
      return loop(first)
    })
  }

  // the common case, an answer that needs no retry, without building an outcome
  return <E, R, E2>(
    attempt: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
    request: HttpClientRequest.HttpClientRequest,
    isTransportFailure: (error: E) => boolean,
    mapError: (error: E) => E2
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E2, R> =>
    Effect.matchEffect(attempt, {
      onFailure: (error) =>
        isIdempotent(request.method) && isTransportFailure(error)
          ? retryFrom(attempt, request, isTransportFailure, mapError, { _tag: "Failed", error, request })
          : Effect.fail(mapError(error)),
      onSuccess: (response) =>
        isTransientStatus(response.status)
          ? retryFrom(attempt, request, isTransportFailure, mapError, { _tag: "Answered", response, request })
          : Effect.succeed(response)
    })
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
export interface Options extends AuthOptions {
  /** The API host. Default `https://api.criteo.com`. */
  readonly baseUrl?: string | undefined
  /**
   * The version prefixed to every path (`/2026-07/advertisers/me`). Default `2026-07`; `null` sends
   * paths as they are.
   */
  readonly apiVersion?: string | null | undefined
  /** Retry bounds for 5xx and 429 answers and network failures. */
  readonly retry?: RetryOptions | undefined
  /**
   * How long one attempt may wait for the response headers before it fails as a network failure
   * (retried for idempotent methods), as `withAttemptTimeout` does. Beside `TokenEndpoint`'s
   * `timeout`, which bounds a token request. Default none: the `HttpClient`'s own limits.
   */
  readonly attemptTimeout?: Duration.DurationInput | undefined
  /**
   * Allow plain `http:` to a host other than the local machine. Off by default: the base URL must be
   * `https:`, or `http:` to a loopback address, without user info, query or fragment (see `CriteoUrl`).
   */
  readonly allowInsecureHttp?: boolean | undefined
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
 * Prefixes every request's URL with `apiUrl(options)` and asks for JSON: what `make` does before the
 * caller's own `mapRequest`s see the request.
 *
 * @since 0.2.0
 * @category middleware
 */
export const withApiUrl = (
  options: Pick<Options, "baseUrl" | "apiVersion"> = {}
): <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R> => {
  const prefix = apiUrl(options)
  return HttpClient.mapRequest((request) => HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)))
}

/**
 * `attempt` once the known reset instant has passed. A wait longer than `maxWaitMillis` is not made: the
 * request goes, and the server's 429 is answered as it comes (as `withRetries` does).
 */
const afterRateLimit = <A, E, R>(
  limit: CriteoAuth.ApiRateLimit,
  maxWaitMillis: number,
  attempt: Effect.Effect<A, E, R>
) =>
  Effect.clockWith((clock) => {
    const left = limit.untilMillis() - clock.unsafeCurrentTimeMillis()
    return left > 0 && left <= maxWaitMillis ? Effect.zipRight(Effect.sleep(Duration.millis(left)), attempt) : attempt
  })

/**
 * Builds the authenticated client on the `HttpClient` and the `CriteoAuth` in context. It behaves as
 *
 * ```ts
 * client.pipe(
 *   withAttemptTimeout(options.attemptTimeout), // when set
 *   withCriteoAuth(options),
 *   withApiUrl(options),
 *   withRetries(options.retry)
 * ) // with RequestError and ResponseError mapped to TransportError
 * ```
 *
 * composed as one middleware: each `HttpClient` layer costs a few microseconds per request, as much as
 * the authentication itself. A test runs one scripted server through both. Fails with
 * `RefusedUrlError` when the base URL breaks the rules of `CriteoUrl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  HttpClient.HttpClient.With<Error>,
  CriteoAuthError.RefusedUrlError,
  HttpClient.HttpClient | CriteoAuth.CriteoAuth
> =>
  Effect.gen(function*() {
    yield* CriteoAuthError.checkUrl("baseUrl", options.baseUrl ?? defaultBaseUrl, options)
    const auth = yield* CriteoAuth.CriteoAuth
    const client = yield* HttpClient.HttpClient
    const prefix = apiUrl(options)
    const timed = options.attemptTimeout === undefined ? client : withAttemptTimeout(client, options.attemptTimeout)
    const send = authenticated(
      timed,
      auth,
      Duration.decode(options.unauthorizedCooldown ?? defaults.unauthorizedCooldown)
    )
    const limit = auth.apiRateLimit
    const retry = retrying(options.retry ?? {}, limit)
    const maxRateLimitWaitMillis = Duration.toMillis(options.retry?.maxRateLimitWait ?? defaults.maxRateLimitWait)
    return HttpClient.makeWith(
      (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
        Effect.flatMap(requestEffect, (request) => {
          const attempt = retry(send(request), request, isPlatformTransportFailure, toCriteoError)
          // a rate limit known here (met by this process, or another sharing the store): wait for its reset
          // rather than meet it; the common case, none known, is one comparison
          return limit === undefined || limit.untilMillis() === 0
            ? attempt
            : afterRateLimit(limit, maxRateLimitWaitMillis, attempt)
        }),
      // in the preprocessing, as `HttpClient.mapRequest` did: a `mapRequest` added by the caller sees the full URL
      (request) => Effect.succeed(HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)))
    )
  })

/**
 * @example
 * ```ts
 * import { CriteoAuth, CriteoHttpClient, Grant } from "@criteo-auth/core"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const CriteoLive = CriteoHttpClient.layer({ apiVersion: "2026-07" }).pipe(
 *   Layer.provideMerge(CriteoAuth.layer({
 *     grant: Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") })
 *   }))
 * )
 *
 * // GET https://api.criteo.com/2026-07/advertisers/me with the bearer token; a 401 renews it and replays once.
 * export const advertisers = Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) =>
 *   client.get("/advertisers/me")).pipe(Effect.provide(CriteoLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CriteoHttpClient, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient | CriteoAuth.CriteoAuth> =>
  Layer.effect(CriteoHttpClient, make(options))
