/**
 * A Promise-facing client for applications that do not use Effect, on Node.js (undici): `make(options)` or
 * `fromEnvironment()` gives a client whose `get`, `post`, ... answer with a `Promise` of a small response
 * (status, headers, `json()`, `text()`), and reject with the typed errors of `CriteoHttpClient`.
 *
 * The common request — a fresh token in the provider's cache, an answer other than 401, 403, 410, 429 or
 * 5xx, without a deprecation header — is sent with undici's `request` on the dispatcher `CriteoNode` uses
 * (its `headersTimeout`/`bodyTimeout` bound each attempt), without Effect. Every other outcome (no fresh
 * token, a rate limit known to the provider, one of those statuses, a network failure) is handed to
 * `CriteoHttpClient`, `CriteoNode`'s Effect client, together with the answer already received: its first
 * attempt is served that answer instead of being sent again, so the 401 replay (one token request, one
 * replay, the cooldown), the retries, the 429 waits, the typed errors and the redaction are the Effect
 * client's own, and no request is sent twice.
 *
 * @since 0.2.0
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as CriteoConfig from "./CriteoConfig.js"
import * as CriteoNode from "./CriteoNode.js"
import * as internal from "./internal/layers.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The options of `make`: those of `CriteoNode.layer`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends CriteoConfig.Options {}

/**
 * @since 0.2.0
 * @category models
 */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"

/**
 * What a request may carry besides its method and path.
 *
 * @since 0.2.0
 * @category models
 */
export interface RequestInit {
  /** Query parameters, appended to those of the path; an array repeats the name, `undefined` is left out. */
  readonly query?: Readonly<Record<string, QueryValue | ReadonlyArray<QueryValue> | undefined>> | undefined
  /** Headers of the request (names in any case). `Authorization` is the client's: one given here is replaced. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A body sent as JSON (`JSON.stringify`, `content-type: application/json`). */
  readonly json?: unknown
  /** A body sent as it is, with `contentType` (default `text/plain` for a string, `application/octet-stream` for bytes). */
  readonly body?: string | Uint8Array | undefined
  /** The content type of `body`. */
  readonly contentType?: string | undefined
  /**
   * Aborts the call (and the reading of its body): it then rejects with `signal.reason`, as `fetch` does
   * (an `AbortError` unless you gave another reason), and is not retried.
   */
  readonly signal?: AbortSignal | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export type QueryValue = string | number | boolean

/**
 * An answer of the API: any status the client does not turn into an error (2xx, 3xx — redirects are
 * not followed —, 4xx other than 401, 403 and a 410 of a decommissioned version (see
 * `CriteoHttpClient.withCriteoAuth`), and a 5xx or 429 still answered after the retries).
 * Read the body once with `json()` or `text()` (either may be called again: the text is kept), or call
 * `discard()`: a body neither read nor discarded holds its connection until `close()`. The API timeout
 * does not release it: undici's `bodyTimeout` is suspended while the unread body holds back the socket.
 *
 * @since 0.2.0
 * @category models
 */
export interface Response {
  readonly status: number
  /** Lower-case names; a repeated header's values joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>
  /** The body as text; rejects with `TransportError` (reason `Decode`) when it cannot be read. */
  readonly text: () => Promise<string>
  /** The body parsed as JSON (`null` when empty); rejects with `TransportError` (reason `Decode`). */
  readonly json: () => Promise<unknown>
  /** Releases the connection without reading the body. */
  readonly discard: () => Promise<void>
}

/**
 * How the client is wired, beside its options.
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /**
   * An undici dispatcher of the application's (a `ProxyAgent` with credentials, an `Agent` with a custom
   * CA, a `MockAgent` in tests), as `CriteoNode.layerWithoutDispatcher` takes it: given the same
   * per-attempt bounds (`CriteoNode.withApiTimeouts`), and not closed by `close()`. Default: the
   * dispatcher of `CriteoNode.layer` (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` honoured), closed by `close()`.
   */
  readonly dispatcher?: Undici.Dispatcher | undefined
}

/**
 * The client. Close it (`await client.close()`, or `await using client = ...`) to stop the background
 * token refresh and close the connections: the process can then exit.
 *
 * @since 0.2.0
 * @category models
 */
export interface CriteoPromiseClient {
  /** The OAuth client id the client acts for. */
  readonly clientId: string
  /** A call of `path`, relative to the API version (`/advertisers/me`); a query string may follow. */
  readonly request: (method: Method, path: string, init?: RequestInit) => Promise<Response>
  readonly get: (path: string, init?: RequestInit) => Promise<Response>
  readonly post: (path: string, init?: RequestInit) => Promise<Response>
  readonly put: (path: string, init?: RequestInit) => Promise<Response>
  readonly patch: (path: string, init?: RequestInit) => Promise<Response>
  readonly delete: (path: string, init?: RequestInit) => Promise<Response>
  /**
   * Stops the background refresh and closes the dispatcher; later calls, and calls it interrupts (one
   * awaiting its token), reject with `ClientClosedError`.
   */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/**
 * How a call of the client can fail: the errors of `CriteoHttpClient`, and a request this module
 * refuses before sending it, or a call after `close()`.
 *
 * @since 0.2.0
 * @category errors
 */
export type CallError = CriteoHttpClient.Error | InvalidRequestError | ClientClosedError

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/platform/CriteoPromise")

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * `make` was given options it cannot use (no grant, a duration that is not one), named by `option`.
 * URLs are checked as `CriteoNode.layer` checks them (`CriteoConfig.InsecureUrlError`, `InvalidUrlError`).
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidOptionsError extends Schema.TaggedError<InvalidOptionsError>(
  "@criteo-auth/platform/CriteoPromise/InvalidOptionsError"
)("InvalidOptionsError", {
  option: Schema.String,
  reason: Schema.String
}) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `Invalid CriteoPromise option ${this.option}: ${this.reason}`
  }
}

/**
 * A request refused before it was sent: an unknown method, a path that does not start with `/`, a body
 * that cannot be serialized. Nothing was sent.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>(
  "@criteo-auth/platform/CriteoPromise/InvalidRequestError"
)("InvalidRequestError", {
  reason: Schema.String
}) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `Invalid request: ${this.reason}`
  }
}

/**
 * A call made after `close()`.
 *
 * @since 0.2.0
 * @category errors
 */
export class ClientClosedError extends Schema.TaggedError<ClientClosedError>(
  "@criteo-auth/platform/CriteoPromise/ClientClosedError"
)("ClientClosedError", {}) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.2.0
   */
  get message(): string {
    return "The CriteoPromise client is closed"
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isCriteoPromiseError = (u: unknown): u is InvalidOptionsError | InvalidRequestError | ClientClosedError =>
  Predicate.hasProperty(u, TypeId)

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const durationOptions = ["timeout", "refreshLeadTime", "refreshJitter", "failureCooldown", "apiTimeout"] as const
const retryDurations = ["baseDelay", "maxDelay", "maxRateLimitWait"] as const

/** What a JavaScript caller (no type checker) may get wrong, said before anything is built. */
const checkOptions = (options: unknown): Effect.Effect<Options, InvalidOptionsError> =>
  Effect.suspend(() => {
    const invalid = (option: string, reason: string) => Effect.fail(new InvalidOptionsError({ option, reason }))
    if (typeof options !== "object" || options === null) return invalid("options", "expected an object")
    const given = options as Record<string, unknown>
    if (!Schema.is(Grant.Grant)(given.grant)) {
      return invalid(
        "grant",
        "expected Grant.clientCredentials(...), Grant.authorizationCode(...) or Grant.refreshToken(...)"
      )
    }
    const isDuration = (value: unknown) => value === undefined || Option.isSome(Duration.decodeUnknown(value))
    for (const name of durationOptions) {
      if (!isDuration(given[name])) return invalid(name, "expected a duration such as \"30 seconds\" or 30000 (ms)")
    }
    for (const group of ["retry", "apiRetry"] as const) {
      const retry = given[group]
      if (retry === undefined) continue
      if (typeof retry !== "object" || retry === null) return invalid(group, "expected an object")
      for (const name of retryDurations) {
        const value = (retry as Record<string, unknown>)[name]
        if (!isDuration(value)) return invalid(`${group}.${name}`, "expected a duration such as \"500 millis\"")
      }
      const attempts = (retry as Record<string, unknown>).maxAttempts
      if (attempts !== undefined && (typeof attempts !== "number" || !(attempts >= 1))) {
        return invalid(`${group}.maxAttempts`, "expected a number of at least 1")
      }
    }
    return Effect.succeed(given as unknown as Options)
  })

// -----------------------------------------------------------------------------
// the hand-over of a first answer to the Effect client
// -----------------------------------------------------------------------------

/** The key under which a hand-over rides in `NodeHttpClient.UndiciRequestOptions` (never sent). */
const handoverKey = Symbol.for("@criteo-auth/platform/CriteoPromise/handover")

/**
 * The first attempt of a call, made on the common path, for the Effect client's first attempt of the
 * same request: served once, if that attempt is the same request with the same token (a token refreshed
 * meanwhile means a new request), else discarded when the call ends.
 */
class Handover {
  #outcome: Promise<Undici.Dispatcher.ResponseData> | undefined
  #data: Undici.Dispatcher.ResponseData | undefined
  constructor(
    readonly method: string,
    readonly origin: string,
    readonly path: string,
    readonly authorization: string,
    outcome: Promise<Undici.Dispatcher.ResponseData>,
    data: Undici.Dispatcher.ResponseData | undefined
  ) {
    this.#outcome = outcome
    this.#data = data
  }
  claim(options: Undici.Dispatcher.RequestOptions<unknown>): Promise<Undici.Dispatcher.ResponseData> | undefined {
    const outcome = this.#outcome
    if (
      outcome === undefined || options.method !== this.method || options.path !== this.path ||
      String(options.origin) !== this.origin ||
      (options.headers as Record<string, string | undefined> | undefined)?.["authorization"] !== this.authorization
    ) return undefined
    this.#outcome = undefined
    this.#data = undefined
    return outcome
  }
  /**
   * The answer nobody claimed: its body is dropped, so its connection is released. Nothing is kept either
   * way (a fiber forked during the call may keep this object in its context).
   */
  discard(): void {
    const data = this.#data
    this.#outcome = undefined
    this.#data = undefined
    data?.body.dump().catch(noop)
  }
}

/**
 * The dispatcher under the Effect client: the common path's dispatcher, except that a request carrying a
 * hand-over it matches is answered with the hand-over's outcome instead of being sent.
 */
class HandingOver extends Undici.Dispatcher {
  constructor(readonly inner: Undici.Dispatcher) {
    super()
  }
  override dispatch(options: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    return this.inner.dispatch(options, handler)
  }
  override request<TOpaque = null>(
    options: Undici.Dispatcher.RequestOptions<TOpaque>
  ): Promise<Undici.Dispatcher.ResponseData<TOpaque>>
  override request<TOpaque = null>(
    options: Undici.Dispatcher.RequestOptions<TOpaque>,
    callback: (err: Error | null, data: Undici.Dispatcher.ResponseData<TOpaque>) => void
  ): void
  override request(
    options: Undici.Dispatcher.RequestOptions<unknown>,
    callback?: (err: Error | null, data: Undici.Dispatcher.ResponseData<unknown>) => void
  ): Promise<Undici.Dispatcher.ResponseData<unknown>> | void {
    const handover = (options as { [handoverKey]?: Handover })[handoverKey]
    if (handover === undefined) {
      return callback === undefined ? this.inner.request(options) : this.inner.request(options, callback)
    }
    // the Effect client's requests only (promises); the key is not passed on
    const { [handoverKey]: _, ...rest } = options as Undici.Dispatcher.RequestOptions<unknown> & {
      [handoverKey]?: Handover
    }
    return handover.claim(rest) ?? this.inner.request(rest)
  }
  override close(): Promise<void> {
    return this.inner.close()
  }
  override destroy(): Promise<void> {
    return this.inner.destroy()
  }
}

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

const describe = (cause: unknown): string => {
  const message = Predicate.hasProperty(cause, "message") && typeof cause.message === "string" ? cause.message : ""
  const code = Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : ""
  const detail = [message, message.includes(code) ? "" : code].filter((part) => part !== "").join(": ")
  return (detail === "" ? "the body could not be read" : detail).slice(0, 300)
}

const decodeFailure = (detail: string) =>
  new CriteoAuthError.TransportError({ endpoint: "api", reason: "Decode", detail })

/** As `@effect/platform`'s responses parse JSON: an empty body is `null`. */
const parseJson = (text: string): unknown => {
  try {
    return text === "" ? null : JSON.parse(text)
  } catch (cause) {
    throw decodeFailure(describe(cause))
  }
}

function noop() {}

/** An answer of the common path: undici's response, read without Effect. */
class DirectResponse implements Response {
  #text: Promise<string> | undefined
  #headers: Readonly<Record<string, string>> | undefined
  constructor(readonly data: Undici.Dispatcher.ResponseData, readonly signal: AbortSignal | undefined) {
    // as @effect/platform-node does: a body that fails unread must not be an unhandled 'error'
    data.body.on("error", noop)
  }
  get status(): number {
    return this.data.statusCode
  }
  get headers(): Readonly<Record<string, string>> {
    return this.#headers ??= Headers.fromInput(this.data.headers as Headers.Input)
  }
  readonly text = (): Promise<string> =>
    this.#text ??= this.data.body.text().catch((cause: unknown) =>
      Promise.reject(this.signal?.aborted === true ? this.signal.reason : decodeFailure(describe(cause)))
    )
  readonly json = (): Promise<unknown> => this.text().then(parseJson)
  readonly discard = (): Promise<void> => this.data.body.dump().catch(noop)
}

/** An answer of the Effect client, read through the runtime. */
class EffectResponse implements Response {
  #text: Promise<string> | undefined
  constructor(
    readonly response: HttpClientResponse.HttpClientResponse,
    readonly run: <A, E>(effect: Effect.Effect<A, E>, signal: AbortSignal | undefined) => Promise<A>,
    readonly signal: AbortSignal | undefined
  ) {}
  get status(): number {
    return this.response.status
  }
  get headers(): Readonly<Record<string, string>> {
    return this.response.headers
  }
  readonly text = (): Promise<string> =>
    this.#text ??= this.run(
      Effect.mapError(this.response.text, (error) => decodeFailure(CriteoHttpClient.describeTransportFailure(error))),
      this.signal
    )
  readonly json = (): Promise<unknown> => this.text().then(parseJson)
  readonly discard = (): Promise<void> => this.text().then(noop, noop)
}

// -----------------------------------------------------------------------------
// the client
// -----------------------------------------------------------------------------

const methods: ReadonlySet<string> = new Set<Method>(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])

/** Answers the common path returns itself; the others go to the Effect client with the answer. */
const isCommon = (data: Undici.Dispatcher.ResponseData): boolean => {
  const status = data.statusCode
  return status !== 401 && status !== 403 && status !== 410 && status !== 429 && status < 500 &&
    data.headers["deprecation"] === undefined && data.headers["sunset"] === undefined
}

interface Wiring {
  readonly auth: CriteoAuth.Service
  readonly http: Effect.Effect.Success<typeof CriteoHttpClient.CriteoHttpClient>
  readonly dispatcher: Undici.Dispatcher
  readonly clock: Clock.Clock
  readonly prefix: string
}

class WiringTag extends Context.Tag("@criteo-auth/platform/CriteoPromise/Wiring")<WiringTag, Wiring>() {}

/**
 * `CriteoNode.layer`'s services, on the client's dispatcher (`CriteoNode.makeDispatcher`'s, or the one given,
 * with the same per-attempt bounds) that the Effect client sees through `HandingOver`.
 */
const wire = <E>(options: Effect.Effect<Options, E>, given: Undici.Dispatcher | undefined) =>
  Layer.scoped(
    WiringTag,
    Effect.gen(function*() {
      const validated = yield* options
      const dispatcher = given === undefined
        ? yield* CriteoNode.makeDispatcher(validated)
        : CriteoNode.withApiTimeouts(given, validated)
      const context = yield* Layer.build(
        internal.services(validated, "transport").pipe(
          Layer.provide(NodeHttpClient.layerUndiciWithoutDispatcher),
          Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, new HandingOver(dispatcher)))
        )
      )
      return {
        auth: Context.get(context, CriteoAuth.CriteoAuth),
        http: Context.get(context, CriteoHttpClient.CriteoHttpClient),
        dispatcher,
        clock: yield* Effect.clock,
        prefix: CriteoHttpClient.apiUrl({ baseUrl: validated.apiUrl, apiVersion: validated.apiVersion })
      }
    })
  )

/** The error a failed run rejects with: the typed failure itself, never a wrapper around it. */
const rejection = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrElse(Cause.failureOption(cause), () => Cause.squash(cause))

const build = async <E>(
  options: Effect.Effect<Options, E>,
  settings: Settings | undefined
): Promise<CriteoPromiseClient> => {
  const runtime = ManagedRuntime.make(wire(options, settings?.dispatcher))
  const built = await runtime.runPromiseExit(WiringTag)
  if (Exit.isFailure(built)) {
    await runtime.dispose()
    throw rejection(built.cause)
  }
  const { auth, clock, dispatcher, http, prefix } = built.value
  const limit = auth.apiRateLimit
  const cached = auth.cached
  let closed: Promise<void> | undefined

  /**
   * A run of the runtime; aborted by `signal`, it rejects with the signal's reason. A run that `close()`
   * interrupted (its token request, forked in the runtime's scope, was interrupted) rejects with
   * `ClientClosedError`, never with Effect's own interruption.
   */
  const run = <A, E>(effect: Effect.Effect<A, E>, signal: AbortSignal | undefined): Promise<A> =>
    runtime.runPromiseExit(effect, signal === undefined ? undefined : { signal }).then((exit) =>
      Exit.isSuccess(exit)
        ? exit.value
        : Promise.reject(
          signal?.aborted === true
            ? signal.reason
            : closed !== undefined && Option.isNone(Cause.failureOption(exit.cause))
            ? new ClientClosedError()
            : rejection(exit.cause)
        )
    )

  /** The Effect client, for everything but the common case; with the first answer when there is one. */
  const viaEffect = (
    request: HttpClientRequest.HttpClientRequest,
    signal: AbortSignal | undefined,
    handover?: Handover
  ): Promise<Response> => {
    // a call that met close() on the common path: the runtime is gone
    if (closed !== undefined) {
      handover?.discard()
      return Promise.reject(new ClientClosedError())
    }
    const call = Effect.map(http.execute(request), (response): Response => new EffectResponse(response, run, signal))
    return handover === undefined
      ? run(call, signal)
      : run(
        call.pipe(
          Effect.provideService(
            NodeHttpClient.UndiciRequestOptions,
            { [handoverKey]: handover } as unknown as Undici.Dispatcher.RequestOptions<null>
          ),
          Effect.ensuring(Effect.sync(() => handover.discard()))
        ),
        signal
      )
  }

  const request = (method: Method, path: string, init?: RequestInit): Promise<Response> => {
    if (closed !== undefined) return Promise.reject(new ClientClosedError())
    let request: HttpClientRequest.HttpClientRequest
    try {
      request = makeRequest(method, path, init)
    } catch (error) {
      return Promise.reject(error)
    }
    const signal = init?.signal
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const token = cached?.(clock.unsafeCurrentTimeMillis())
    if (token === undefined || (limit !== undefined && limit.untilMillis() !== 0)) return viaEffect(request, signal)
    // the URL the Effect client would build (it prepends the prefix as `prependUrl` does)
    const url = UrlParams.makeUrl(join(prefix, request.url), request.urlParams, request.hash)
    if (url._tag === "Left") return viaEffect(request, signal)
    const authorization = `Bearer ${Redacted.value(token.value)}`
    const origin = url.right.origin
    const target = url.right.pathname + url.right.search + url.right.hash
    const body = request.body._tag === "Uint8Array" ? request.body.body : null
    const sent = dispatcher.request({
      method,
      origin,
      path: target,
      headers: { ...request.headers, accept: "application/json", authorization },
      body,
      signal
    })
    return sent.then(
      (data) =>
        isCommon(data)
          ? new DirectResponse(data, signal)
          : viaEffect(request, signal, new Handover(method, origin, target, authorization, sent, data)),
      // aborted by the caller: not a network failure to retry
      () =>
        signal?.aborted === true
          ? Promise.reject(signal.reason)
          : viaEffect(request, signal, new Handover(method, origin, target, authorization, sent, undefined))
    )
  }

  const close = (): Promise<void> => closed ??= runtime.dispose()
  return {
    clientId: auth.clientId,
    request,
    get: (path, init) => request("GET", path, init),
    post: (path, init) => request("POST", path, init),
    put: (path, init) => request("PUT", path, init),
    patch: (path, init) => request("PATCH", path, init),
    delete: (path, init) => request("DELETE", path, init),
    close,
    [Symbol.asyncDispose]: close
  }
}

/** `prependUrl`'s joint: one slash between the prefix and the path. */
const join = (prefix: string, url: string) =>
  prefix.endsWith("/") && url.startsWith("/") ? prefix + url.slice(1) : prefix + url

/** The request as the Effect client is given it (before its prefix): also what the common path sends. */
const makeRequest = (
  method: Method,
  path: string,
  init: RequestInit | undefined
): HttpClientRequest.HttpClientRequest => {
  if (!methods.has(method)) throw new InvalidRequestError({ reason: `unknown method ${String(method).slice(0, 20)}` })
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new InvalidRequestError({ reason: "the path must start with / (relative to the API version)" })
  }
  if (init === undefined) return HttpClientRequest.make(method)(path)
  let request = HttpClientRequest.make(method)(path, {
    ...(init.headers === undefined ? {} : { headers: init.headers }),
    ...(init.query === undefined ? {} : { urlParams: init.query as UrlParams.Input })
  })
  if (init.json !== undefined) {
    let text: string | undefined
    try {
      text = JSON.stringify(init.json)
    } catch (cause) {
      throw new InvalidRequestError({ reason: `the json body cannot be serialized: ${describe(cause)}` })
    }
    if (text === undefined) throw new InvalidRequestError({ reason: "the json body cannot be serialized" })
    request = HttpClientRequest.bodyText(request, text, "application/json")
  } else if (typeof init.body === "string") {
    request = HttpClientRequest.bodyText(request, init.body, init.contentType ?? "text/plain")
  } else if (init.body instanceof Uint8Array) {
    request = HttpClientRequest.bodyUint8Array(request, init.body, init.contentType ?? "application/octet-stream")
  }
  return request
}

/**
 * A client from explicit options (those of `CriteoNode.layer`). Rejects with
 * `CriteoConfig.InsecureUrlError` or `InvalidUrlError` for a URL `CriteoNode.layer` refuses, and with
 * `InvalidOptionsError` for options it cannot use.
 *
 * @example
 * ```ts
 * import { Grant } from "@criteo-auth/core"
 * import * as CriteoPromise from "@criteo-auth/platform/CriteoPromise"
 * import { Redacted } from "effect"
 *
 * export const advertisers = async (): Promise<unknown> => {
 *   const criteo = await CriteoPromise.make({
 *     grant: Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") })
 *   })
 *   try {
 *     // GET https://api.criteo.com/2026-07/advertisers/me; rejects with the typed errors of CriteoHttpClient
 *     const response = await criteo.get("/advertisers/me")
 *     return await response.json()
 *   } finally {
 *     await criteo.close()
 *   }
 * }
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options, settings?: Settings): Promise<CriteoPromiseClient> =>
  build(Effect.flatMap(checkOptions(options), CriteoConfig.validate), settings)

/**
 * A client from configuration: by default the `CRITEO_*` environment variables (`CriteoConfig.config`),
 * as `CriteoNode.layerConfig`. Rejects with a `ConfigError` naming the variable at fault.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromConfig = (
  config?: Config.Config.Wrap<Options>,
  settings?: Settings
): Promise<CriteoPromiseClient> => build<ConfigError.ConfigError>(internal.validatedConfig(config), settings)

/**
 * Whether a value is a failure of a call: one of `CallError`'s tagged errors.
 *
 * @since 0.2.0
 * @category guards
 */
export const isCallError = (u: unknown): u is CallError =>
  CriteoAuthError.isCriteoAuthError(u) || isCriteoPromiseError(u)
