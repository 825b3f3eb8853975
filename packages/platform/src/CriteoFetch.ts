/**
 * `CriteoAuth` and `CriteoHttpClient` over the `fetch` API (`FetchHttpClient`): browsers, Bun, Deno,
 * edge workers, or Node.js without undici as a direct dependency.
 *
 * Redirects are never followed (`redirect: "manual"`, as undici does by default): a redirected token
 * request would otherwise send the client secret again to wherever `Location` points, possibly over
 * plain http. Each API attempt is bounded by `apiTimeout` up to the response headers, on the `Clock`,
 * by one fiber per layer that sweeps the attempts in flight (no timer, no fiber and no `AbortController`
 * of its own per request); token requests keep `TokenEndpoint`'s timeout.
 *
 * @since 0.1.0
 */
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CriteoConfig from "./CriteoConfig.js"
import type * as CriteoLayer from "./CriteoLayer.js"
import * as internal from "./internal/layers.js"

/** An API attempt in flight: a node of `Deadlines`' list. */
interface Attempt {
  readonly deadline: number
  readonly fire: () => void
  previous: Attempt | undefined
  next: Attempt | undefined
  armed: boolean
}

/**
 * The deadlines of the API attempts in flight, swept by one fiber of the layer's scope on its `Clock`
 * (so the `TestClock` drives it). Every attempt has the same timeout, so the order in which attempts
 * are armed is the order of their deadlines: a doubly linked list with O(1) arm and disarm, whose head
 * is the next to expire. The sweeper sleeps until the head's deadline (an attempt disarmed meanwhile
 * costs one early wake-up), fires what has expired, and waits on a latch while nothing is in flight.
 * Per attempt this costs a clock read and a list node, where a timer of its own cost a `setTimeout`
 * and an `AbortController` tied to the request's signal by a listener.
 */
class Deadlines {
  private head: Attempt | undefined = undefined
  private tail: Attempt | undefined = undefined
  private readonly millis: number
  /** The timeout error's description, as core's attempt timeout words it. */
  readonly description: string
  constructor(
    private readonly clock: Clock.Clock,
    timeout: Duration.Duration,
    private readonly wake: Effect.Latch
  ) {
    this.millis = Duration.toMillis(timeout)
    this.description = `no response within ${Duration.format(timeout)}`
  }

  private now(): number {
    // monotonic (a wall-clock jump neither fires nor delays a deadline); the TestClock's in tests
    return Number(this.clock.unsafeCurrentTimeNanos()) / 1_000_000
  }

  /** Calls `fire` once the timeout has passed, unless `disarm` is called before. */
  arm(fire: () => void): Attempt {
    const attempt: Attempt = {
      deadline: this.now() + this.millis,
      fire,
      previous: this.tail,
      next: undefined,
      armed: true
    }
    if (this.tail === undefined) {
      this.head = attempt
      this.wake.unsafeOpen()
    } else {
      this.tail.next = attempt
    }
    this.tail = attempt
    return attempt
  }

  disarm(attempt: Attempt): void {
    if (!attempt.armed) return
    attempt.armed = false
    if (attempt.previous === undefined) this.head = attempt.next
    else attempt.previous.next = attempt.next
    if (attempt.next === undefined) this.tail = attempt.previous
    else attempt.next.previous = attempt.previous
    attempt.previous = attempt.next = undefined
  }

  /** One step of the sweeper: fire what has expired, then wait for the next deadline or attempt. */
  readonly sweep: Effect.Effect<void> = Effect.suspend(() => {
    if (this.head === undefined) {
      this.wake.unsafeClose()
      return this.wake.await
    }
    const now = this.now()
    if (this.head.deadline > now) return this.clock.sleep(Duration.millis(this.head.deadline - now))
    // one attempt whose timeout cannot be delivered must not leave the others unbounded: the sweeper goes on
    let undelivered: unknown = undefined
    while (this.head !== undefined && this.head.deadline <= now) {
      const expired = this.head
      this.disarm(expired)
      try {
        expired.fire()
      } catch (error) {
        undelivered = error
      }
    }
    return undelivered === undefined
      ? Effect.void
      : Effect.logError("CriteoFetch: an API attempt's timeout could not be delivered", Cause.die(undelivered))
  })
}

/** The layer's sweeper, forked in its scope; the attempts of a client built with it are bounded. */
const makeDeadlines = (timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const deadlines = new Deadlines(yield* Effect.clock, timeout, yield* Effect.makeLatch(false))
    yield* Effect.forkScoped(
      Effect.forever(deadlines.sweep).pipe(
        Effect.catchAllCause((cause) => Effect.logError("CriteoFetch: the API timeout sweeper stopped", cause))
      )
    )
    return deadlines
  })

/**
 * The request as a timeout error keeps it: same method and URL, no `Authorization` header and no body
 * (as core's attempt timeout does), so that no rendering of the error can show the bearer token.
 */
const withoutCredentials = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.get(request.url, {
    headers: Headers.remove(request.headers, ["authorization", "cookie"]),
    urlParams: request.urlParams
  }).pipe(HttpClientRequest.setMethod(request.method))

/**
 * `@effect/platform`'s fetch client (`FetchHttpClient`: the same `Fetch` and `RequestInit` from the
 * context, the same conversions), with `redirect: "manual"` and, when `deadlines` is given, each API
 * attempt bounded by them.
 *
 * The `AbortSignal` that `HttpClient.make` hands to `fetch` is the only one: its controller aborts the
 * request (body included) when the fiber is interrupted, and on nothing else. So a timed-out attempt
 * fails with its error *and* an interruption in one cause: `HttpClient.make` sees the interruption,
 * aborts the request, and passes the cause on. This client is only ever under core's middleware
 * (`layerFetch` with `deadlines` is provided to `CriteoHttpClient` and to nothing else), whose first
 * step on an answer (`Effect.matchEffect`) takes the error alone: the caller's cause holds no
 * interruption, with no per-response `catchAllCause` here to strip it. The tests (`CriteoFetch.test.ts`)
 * check both halves: the `fetch` is aborted, the caller's cause is the typed error alone.
 */
const makeClient = (deadlines: Deadlines | undefined, tokenUrl: string): HttpClient.HttpClient =>
  HttpClient.make((request, url, signal, fiber) => {
    const context = fiber.getFiberRef(FiberRef.currentContext)
    const fetch = Context.getOrElse(context, FetchHttpClient.Fetch, () => globalThis.fetch)
    const options = Context.getOrElse(context, FetchHttpClient.RequestInit, () => noOptions)
    let headers = options.headers
      ? Headers.merge(Headers.fromInput(options.headers as Headers.Input), request.headers)
      : request.headers
    if (headers["content-length"]) headers = Headers.remove(headers, "content-length")
    // token requests keep TokenEndpoint's own timeout: TokenEndpoint posts to `tokenUrl` as it is given, so
    // the URL is compared whole (an API URL that merely starts with it, a gateway's `/criteo-api` under a
    // token URL `/criteo`, is an API attempt)
    const bounded = deadlines !== undefined && request.url !== tokenUrl ? deadlines : undefined
    const send = (body: RequestInit["body"]) =>
      Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
        const attempt = bounded?.arm(() => {
          const error = new HttpClientError.RequestError({
            request: withoutCredentials(request),
            reason: "Transport",
            description: bounded.description
          })
          resume(Effect.failCause(Cause.parallel(Cause.fail(error), Cause.interrupt(FiberId.none))))
        })
        fetch(url, {
          ...options,
          method: request.method,
          headers,
          body,
          duplex: request.body._tag === "Stream" ? "half" : undefined,
          signal,
          redirect: "manual"
        } as RequestInit).then(
          (response) => {
            if (attempt !== undefined) bounded!.disarm(attempt)
            resume(Effect.succeed(HttpClientResponse.fromWeb(request, response)))
          },
          (cause) => {
            if (attempt !== undefined) bounded!.disarm(attempt)
            resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
          }
        )
        // no canceler: an interruption makes HttpClient.make abort the signal, so fetch settles and disarms
      })
    switch (request.body._tag) {
      case "Raw":
      case "Uint8Array":
        return send(request.body.body as RequestInit["body"])
      case "FormData":
        return send(request.body.formData)
      case "Stream":
        return Effect.flatMap(Stream.toReadableStreamEffect(request.body.stream), send)
    }
    return send(undefined)
  })

const noOptions: RequestInit = {}

/**
 * The client as a layer, as `FetchHttpClient.layer` builds it (the layer's context merged into each
 * request's, so that a `RequestInit` or `Fetch` provided to the layer reaches `fetch`).
 */
const layerFetch = (timeout?: Duration.Duration, tokenUrl: string = TokenEndpoint.defaultTokenUrl) =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const context = Context.omit(Scope.Scope)(yield* Effect.context<never>())
      const deadlines = timeout === undefined ? undefined : yield* makeDeadlines(timeout)
      return HttpClient.transformResponse(
        makeClient(deadlines, tokenUrl),
        Effect.mapInputContext((input: Context.Context<never>) => Context.merge(context, input))
      )
    })
  )

/**
 * The fetch `HttpClient` with redirects disabled: every request is sent with `redirect: "manual"`,
 * whatever `RequestInit` the application provides, to whatever `FetchHttpClient.Fetch` it provides
 * (by default `globalThis.fetch`). No attempt timeout: `CriteoLayer` adds core's.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = layerFetch()

/** The client of the layers: API attempts bounded by the layer's sweeper, token requests by core. */
const onFetch = (options: CriteoConfig.Options) => {
  const timeout = Duration.decode(options.apiTimeout ?? CriteoConfig.defaultApiTimeout)
  return internal.services(options, "transport").pipe(Layer.provide(layerFetch(timeout, options.tokenUrl)))
}

/**
 * From explicit options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: CriteoConfig.Options
) => Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError> = internal.fromOptions(onFetch)

/**
 * From configuration: by default the `CRITEO_*` environment variables (see `CriteoConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<CriteoConfig.Options>
) => Layer.Layer<CriteoLayer.Services, ConfigError.ConfigError> = internal.fromConfig(onFetch)
