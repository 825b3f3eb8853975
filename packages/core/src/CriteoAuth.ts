/**
 * The token provider: one cached token per grant, obtained once however many fibers ask
 * (single flight), refreshed in the background ahead of expiry on a `Schedule`, invalidated by
 * compare-and-swap when the API refuses it.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as AccessToken from "./AccessToken.js"
import * as CriteoAuthError from "./CriteoAuthError.js"
import * as CriteoAuthMetrics from "./CriteoAuthMetrics.js"
import type * as Grant from "./Grant.js"
import { backoff } from "./internal/backoff.js"
import * as TokenState from "./internal/tokenState.js"
import * as WaitLog from "./internal/waitLog.js"
import * as TokenEndpoint from "./TokenEndpoint.js"
import * as TokenStore from "./TokenStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The OAuth client id this provider obtains tokens for. */
  readonly clientId: string
  /**
   * A token that stays valid for at least the lead time. Served from the cache when it can be;
   * otherwise every concurrent caller waits on the same single token request.
   */
  readonly token: Effect.Effect<AccessToken.AccessToken, CriteoAuthError.TokenError>
  /**
   * A new token, whatever the cache holds (joining a request already in flight).
   */
  readonly refresh: Effect.Effect<AccessToken.AccessToken, CriteoAuthError.TokenError>
  /**
   * Drops `token` from the cache if, and only if, it is still the cached one (compare-and-swap), so a
   * late 401 for an old token never discards a fresh one. Returns whether it dropped it.
   */
  readonly invalidate: (token: AccessToken.AccessToken) => Effect.Effect<boolean>
  /**
   * What this provider knows of the API's rate limit for its key (since 0.2.0): `CriteoHttpClient` records
   * every 429's reset instant here and waits for it before the next requests. With a shared `tokenStore`
   * the knowledge is the fleet's: recorded in the store (`TokenStore.apiRateLimitKey`), and learnt from it
   * as other processes record theirs, so they wait instead of each meeting the limit.
   */
  readonly apiRateLimit?: ApiRateLimit | undefined
  /**
   * The cached token if it may be handed out at `nowMillis` (epoch ms, on the provider's `Clock`), read
   * without running an effect; `undefined` otherwise (since 0.2.0). It is what `token` serves without a
   * request: code outside Effect (`@criteo-auth/platform/CriteoPromise`) reads it on its common path and
   * runs `token` for anything else. Providers that cannot answer synchronously leave it out.
   */
  readonly cached?: ((nowMillis: number) => AccessToken.AccessToken | undefined) | undefined
}

/**
 * A provider's knowledge of the API's rate limit (`Service.apiRateLimit`).
 *
 * @since 0.2.0
 * @category models
 */
export interface ApiRateLimit {
  /**
   * The instant (epoch ms) until which the API asked this key's client to wait, as known here; 0 when
   * none is known or it has passed. A plain read, no effect: the hot path calls it on every request.
   */
  readonly untilMillis: () => number
  /** Records a 429's reset instant: known here at once, and recorded in a shared store for the others. */
  readonly record: (untilMillis: number) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class CriteoAuth extends Context.Tag("@criteo-auth/core/CriteoAuth")<CriteoAuth, Service>() {}

/**
 * Bounds of the retries of one token acquisition.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Requests made for one acquisition, the first included. Default 4. */
  readonly maxAttempts?: number | undefined
  /** The first backoff delay, doubled on each retry, with jitter. Default 250 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The cap of one backoff delay. Default 10 s. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /**
   * The longest wait honoured when the server sends `Retry-After` / `x-ratelimit-reset`. A longer
   * demand fails at once with `RateLimitedError`, and is answered from memory for this long at most:
   * then the server is asked again (a far-future demand never blocks until a restart). Default 60 s.
   */
  readonly maxRateLimitWait?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends TokenEndpoint.Options {
  /** The grant to obtain tokens with. */
  readonly grant: Grant.Grant
  /**
   * `token` never hands out a token with less time left than this; the background refresh runs
   * ahead of it. Default 20 s, at most a quarter of a token's lifetime (so 4 s tokens work too).
   */
  readonly refreshLeadTime?: Duration.DurationInput | undefined
  /**
   * The background refresh starts at a random instant up to this long before the lead time, so that
   * many processes sharing credentials do not refresh together. Default 20 s, at most a quarter of a
   * token's lifetime. With 900 s tokens the defaults refresh on average 30 s before expiry.
   */
  readonly refreshJitter?: Duration.DurationInput | undefined
  /** Retry bounds for each acquisition. */
  readonly retry?: RetryOptions | undefined
  /**
   * How long a permanent failure (`invalid_client`, `invalid_grant`) is answered from memory instead
   * of asking the server again, so a broken credential does not hammer the token endpoint. Default 5 s.
   */
  readonly failureCooldown?: Duration.DurationInput | undefined
  /**
   * Called with every new refresh token, before it is used, so the application can persist it.
   * Criteo rotates refresh tokens: the previous one stops working.
   */
  readonly onRefreshToken?:
    | ((refreshToken: Redacted.Redacted<string>, token: AccessToken.AccessToken) => Effect.Effect<void>)
    | undefined
  /**
   * Where the tokens live (since 0.2.0): the access token and the current refresh token of `storeKey`.
   * Default: a store private to this provider, in memory (behaviour as before 0.2.0). A store shared by
   * several providers (processes, a fleet) makes them share one token: a fresh token in the store is
   * served without a request, one requester at a time holds the store's lease and exchanges while the
   * others wait for its result, and a rotated refresh token is compare-and-set in the store before the
   * new access token is handed out. A refresh token in the store supersedes the grant's. The hot path
   * never touches the store while the local copy is fresh. If the store fails, the provider carries on
   * without it (a warning, once, and `CriteoAuthMetrics.storeDegraded`).
   */
  readonly tokenStore?: TokenStore.Service | undefined
  /** The account key of this provider's entry in `tokenStore` (since 0.2.0). Default: the client id. */
  readonly storeKey?: string | undefined
}

/**
 * Every policy constant of the provider. The first seven are the defaults of `Options`; the
 * `background*` ones bound the retries of a failed background refresh (it keeps serving the current
 * token meanwhile, and stops once that token is no longer fresh: callers then ask themselves).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  refreshLeadTime: Duration.seconds(20),
  refreshJitter: Duration.seconds(20),
  failureCooldown: Duration.seconds(5),
  maxAttempts: 4,
  baseDelay: Duration.millis(250),
  maxDelay: Duration.seconds(10),
  maxRateLimitWait: Duration.seconds(60),
  /** The first delay before a failed background refresh is tried again, doubled on each retry, with jitter. */
  backgroundRetryBaseDelay: Duration.seconds(1),
  /** The cap of one delay between background refresh attempts. */
  backgroundRetryMaxDelay: Duration.seconds(30),
  /** Retries of one background refresh, at most. */
  backgroundRetries: 20,
  /**
   * The least time between two background refreshes, whatever the tokens' lifetime: a server that
   * issues tokens of a millisecond cannot make the refresh loop back to back (callers still refresh a
   * token that is not fresh themselves).
   */
  minRefreshInterval: Duration.seconds(1),
  /**
   * Rounds of "read the store, take its lease or wait for its holder" one acquisition makes at most
   * before it exchanges without the store (each wait lasts one lease at most).
   */
  storeRounds: 3,
  /**
   * Conflicting compare-and-sets (someone invalidated the entry meanwhile) retried at once, at most,
   * before a token just obtained is served without being stored.
   */
  storeWriteAttempts: 3,
  /**
   * The longest an operation of a store that does not bound its own (`boundsItsOperations` not set: a
   * store brought by the application) may take (`awaitChange`: on top of its own wait) before it counts
   * as failed, and the provider carries on without the store.
   */
  storeTimeout: Duration.seconds(5)
} as const

/** `store` with every operation bounded by `timeout`: a store that hangs fails like one that errs. */
const bounded = (store: TokenStore.Service, timeout: Duration.Duration): TokenStore.Service => {
  const bound = <A>(
    operation: string,
    key: string,
    effect: Effect.Effect<A, TokenStore.TokenStoreError>,
    extra: Duration.Duration = Duration.zero
  ) =>
    Effect.timeoutFail(effect, {
      duration: Duration.sum(timeout, extra),
      onTimeout: () =>
        new TokenStore.TokenStoreError({
          store: store.name,
          operation,
          key,
          reason: `no answer within ${Duration.format(Duration.sum(timeout, extra))}`
        })
    })
  const { rateLimitedUntil, recordRateLimit } = store
  return {
    ...store,
    get: (key) => bound("get", key, store.get(key)),
    compareAndSet: (key, version, write) => bound("compareAndSet", key, store.compareAndSet(key, version, write)),
    invalidate: (key, fingerprint) => bound("invalidate", key, store.invalidate(key, fingerprint)),
    acquireLease: (key, ttl) => bound("acquireLease", key, store.acquireLease(key, ttl)),
    releaseLease: (lease) => bound("releaseLease", lease.key, store.releaseLease(lease)),
    awaitChange: (key, version, wait) =>
      bound("awaitChange", key, store.awaitChange(key, version, wait), Duration.decode(wait)),
    remove: (key) => bound("remove", key, store.remove(key)),
    recordRateLimit: recordRateLimit === undefined
      ? undefined
      : (key, untilMillis) => bound("recordRateLimit", key, recordRateLimit(key, untilMillis)),
    rateLimitedUntil: rateLimitedUntil === undefined
      ? undefined
      : (key) => bound("rateLimitedUntil", key, rateLimitedUntil(key))
  }
}

/**
 * How long one acquisition may take at most, retries included: the time-to-live of the store's lease,
 * so that a holder that died is taken over, and the longest a waiter waits for its result.
 */
const acquisitionBound = (
  timeout: Duration.Duration,
  maxAttempts: number,
  maxDelay: Duration.Duration,
  maxRateLimitWait: Duration.Duration
): Duration.Duration =>
  Duration.sum(
    Duration.times(timeout, maxAttempts),
    // a backoff delay is jittered up to x1.2; a server-demanded wait is honoured up to maxRateLimitWait
    Duration.times(Duration.max(Duration.times(maxDelay, 1.2), maxRateLimitWait), Math.max(0, maxAttempts - 1))
  )

/** The lock-free copy of the current token that `token` reads, and the instant (epoch ms) it stops being fresh. */
interface FastPath {
  readonly token: AccessToken.AccessToken
  readonly freshUntil: number
}

/** The reason label of a token-request retry (as the middleware's `criteo.retry_reason`). */
const retryReason = (error: CriteoAuthError.TokenError): string =>
  error._tag === "RateLimitedError"
    ? "rate_limited"
    : error._tag === "TransportError"
    ? "transport"
    : "server_error"

/** What a token-request retry line says about the failure that caused it. */
const retryWhy = (error: CriteoAuthError.TokenError): string =>
  error._tag === "RateLimitedError"
    ? `rate limited (HTTP 429${error.retryAfter === undefined ? "" : ", waiting as long as the server asks"})`
    : error._tag === "TransportError"
    ? `failed: a network failure or timeout (${error.reason})`
    : "status" in error && typeof error.status === "number"
    ? `failed (${error._tag}, HTTP ${error.status})`
    : `failed (${error._tag})`

type Inflight = Deferred.Deferred<AccessToken.AccessToken, CriteoAuthError.TokenError>

/**
 * Builds the provider on an existing `TokenEndpoint` service. Background work belongs to the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWith = (
  endpoint: TokenEndpoint.Service,
  options: Omit<Options, keyof TokenEndpoint.Options>
): Effect.Effect<Service, never, Scope.Scope> => makeProvider(endpoint, options, TokenEndpoint.defaultTimeout)

const makeProvider = (
  endpoint: TokenEndpoint.Service,
  options: Omit<Options, keyof TokenEndpoint.Options>,
  requestTimeout: Duration.Duration
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const clientId = options.grant.clientId
    const policy: TokenState.Policy = {
      leadTime: Duration.decode(options.refreshLeadTime ?? defaults.refreshLeadTime),
      jitter: Duration.decode(options.refreshJitter ?? defaults.refreshJitter),
      failureCooldownMillis: Duration.toMillis(options.failureCooldown ?? defaults.failureCooldown),
      maxRateLimitWaitMillis: Duration.toMillis(options.retry?.maxRateLimitWait ?? defaults.maxRateLimitWait),
      minRefreshIntervalMillis: Duration.toMillis(defaults.minRefreshInterval)
    }
    const maxAttempts = Math.max(1, Math.floor(options.retry?.maxAttempts ?? defaults.maxAttempts))
    const baseDelay = Duration.decode(options.retry?.baseDelay ?? defaults.baseDelay)
    const maxDelay = Duration.decode(options.retry?.maxDelay ?? defaults.maxDelay)
    const maxRateLimitWait = Duration.millis(policy.maxRateLimitWaitMillis)
    // A store that bounds its operations itself (Redis, in real time; memory) is used as it is: a bound on
    // the Clock would fail healthy operations whenever a TestClock jumps while it answers in real time. Any
    // other store (the application's own) is bounded here, so that a store that hangs never hangs a caller.
    const given: TokenStore.Service = options.tokenStore ?? (yield* TokenStore.makeMemory)
    const store: TokenStore.Service = given.boundsItsOperations === true ? given : bounded(given, defaults.storeTimeout)
    const key = options.storeKey ?? clientId
    const leaseTtl = acquisitionBound(requestTimeout, maxAttempts, maxDelay, maxRateLimitWait)

    const state = yield* SynchronizedRef.make(TokenState.initial<Inflight>(options.grant))
    // The lock-free fast path of `token`: the current token and the instant (epoch ms) until which it
    // may be handed out. Written only by `transition`, inside the updates of `state`, so it never
    // disagrees with `state`. Reading it costs a variable read where `Ref.get` and `Effect.zip` with the
    // clock cost microseconds per request.
    let fast: FastPath | undefined
    const mirror = (s: TokenState.State<Inflight>): TokenState.State<Inflight> => {
      fast = s.current === undefined
        ? undefined
        : { token: s.current, freshUntil: TokenState.freshUntil(s.current, policy) }
      return s
    }
    /** Applies a transition under the lock, keeping the fast path in step. */
    const transition = (f: (s: TokenState.State<Inflight>) => TokenState.State<Inflight>) =>
      SynchronizedRef.update(state, (s) => mirror(f(s)))
    const nowMillis = Effect.clockWith((clock) => clock.currentTimeMillis)

    const installed = yield* Queue.sliding<AccessToken.AccessToken>(1)
    yield* Effect.addFinalizer(() => Queue.shutdown(installed))

    // -------------------------------------------------------------------------
    // one acquisition: the exchange, retried within bounds
    // -------------------------------------------------------------------------

    /** One log line per token-request retry: why, retry n of m, how long and until when; never a secret. */
    const logRetry = (error: CriteoAuthError.TokenError, retry: number, delay: Duration.Duration) =>
      Effect.flatMap(WaitLog.describeWait(delay), (wait) => {
        const reason = retryReason(error)
        const status = error._tag === "RateLimitedError"
          ? 429
          : "status" in error && typeof error.status === "number"
          ? error.status
          : undefined
        return WaitLog.logWait(
          delay,
          `CriteoAuth: token request ${retryWhy(error)}; retry ${retry} of ${maxAttempts - 1} (attempt ${
            retry + 1
          } of ${maxAttempts}) ${wait.text}`
        ).pipe(
          Effect.annotateLogs({
            "criteo.client_id": clientId,
            "criteo.retry": retry,
            "criteo.retry_delay_ms": Duration.toMillis(delay),
            "criteo.retry_until": wait.until,
            "criteo.retry_reason": reason,
            "error.type": error._tag,
            ...(status === undefined ? {} : { "http.response.status_code": status })
          })
        )
      })

    // the bound on a 429's wait is checked before the delay is computed (and logged): a 429 handed back
    // is not logged as a retry
    const retryPolicy = backoff<CriteoAuthError.TokenError>({ base: baseDelay, max: maxDelay, attempts: maxAttempts })
      .pipe(
        Schedule.whileInput((error: CriteoAuthError.TokenError) =>
          CriteoAuthError.isRetryable(error) &&
          !(error._tag === "RateLimitedError" && error.retryAfter !== undefined &&
            Duration.greaterThan(error.retryAfter, maxRateLimitWait))
        ),
        Schedule.modifyDelayEffect(([[, recurrence], error], delay) => {
          const final = error._tag === "RateLimitedError" && error.retryAfter !== undefined
            ? Duration.max(delay, error.retryAfter)
            : delay
          return Effect.as(logRetry(error, recurrence + 1, final), final)
        })
      )

    const exchange = (grant: Grant.Grant) =>
      Effect.gen(function*() {
        const attempts = yield* Ref.make(0)
        return yield* Ref.update(attempts, (n) => n + 1).pipe(
          Effect.zipRight(endpoint.request(grant)),
          Effect.retry(retryPolicy),
          Effect.catchTag("TokenEndpointUnavailableError", (error) =>
            Effect.flatMap(
              Ref.get(attempts),
              (n) => Effect.fail(new CriteoAuthError.TokenEndpointUnavailableError({ ...error, attempts: n }))
            )),
          Effect.tap(() => Effect.flatMap(Ref.get(attempts), (n) => Effect.annotateCurrentSpan("attempts", n)))
        )
      }).pipe(
        Effect.tapBoth({
          onFailure: (error) => Effect.annotateCurrentSpan("outcome", error._tag),
          onSuccess: () => Effect.annotateCurrentSpan("outcome", "success")
        }),
        Effect.withSpan("CriteoAuth.acquire", {
          attributes: { "criteo.client_id": clientId, "oauth.grant_type": grant.grantType }
        })
      )

    const notifyRefreshToken = (token: AccessToken.AccessToken) =>
      token.refreshToken === undefined || options.onRefreshToken === undefined
        ? Effect.void
        : options.onRefreshToken(token.refreshToken, token).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logError("CriteoAuth: onRefreshToken failed", cause).pipe(
              Effect.annotateLogs("criteo.client_id", clientId)
            )
          )
        )

    // -------------------------------------------------------------------------
    // the store: a fresh token there serves; one lease holder exchanges, the others wait for it
    // -------------------------------------------------------------------------

    // a store that reports its own outages (once for all its providers and keys) is not warned about again here
    let warnedDegraded: boolean = store.reportsOutages === true
    /** The store failed: count it, warn once (unless the store reports its outages), and carry on without it. */
    const degraded = (error: TokenStore.TokenStoreError) =>
      Effect.zipRight(
        Metric.increment(Metric.tagged(CriteoAuthMetrics.storeDegraded, "operation", error.operation)),
        Effect.suspend(() => {
          if (warnedDegraded) return Effect.logDebug(`CriteoAuth: ${error.message}`)
          warnedDegraded = true
          return Effect.logWarning(
            `CriteoAuth: ${error.message}; tokens are obtained without the store until it answers again`
          )
        }).pipe(Effect.annotateLogs({ "criteo.client_id": clientId, "criteo.store_key": key }))
      )

    /** The token of `entry` if it can be served: fresh, and not the one the acquisition replaces. */
    const servable = (
      entry: Option.Option<TokenStore.Entry>,
      replacing: AccessToken.AccessToken | undefined,
      now: number
    ): AccessToken.AccessToken | undefined => {
      const token = Option.getOrUndefined(entry)?.accessToken
      return token !== undefined && TokenState.isFresh(token, now, policy) &&
          (replacing === undefined || !AccessToken.sameValue(token, replacing))
        ? token
        : undefined
    }

    /**
     * Exchanges the grant (a refresh token from the store supersedes the provider's; an authorization
     * code at most once). Answers the token and the refresh token to keep: the rotated one, else the one
     * used.
     */
    const exchangeWith = (storedRefreshToken: Redacted.Redacted<string> | undefined) =>
      Effect.gen(function*() {
        const grant = TokenState.grantFor(yield* SynchronizedRef.get(state), storedRefreshToken)
        if (Either.isLeft(grant)) return yield* Effect.fail(grant.left)
        if (grant.right._tag === "AuthorizationCode") yield* transition(TokenState.codeSent)
        const token = yield* exchange(grant.right).pipe(Effect.tapError(shareRateLimit))
        const used = grant.right._tag === "RefreshToken" ? grant.right.refreshToken : undefined
        return { token, refreshToken: token.refreshToken ?? used, used } as const
      })

    /** A 429 with a wait is recorded in the store, for the other processes that share it. */
    const shareRateLimit = (error: CriteoAuthError.TokenError) =>
      error._tag === "RateLimitedError" && error.retryAfter !== undefined && store.recordRateLimit !== undefined
        ? Effect.flatMap(nowMillis, (now) =>
          store.recordRateLimit!(
            key,
            now + Math.min(Duration.toMillis(error.retryAfter!), policy.maxRateLimitWaitMillis)
          )).pipe(Effect.catchAll(degraded))
        : Effect.void

    /** Fails with the rate limit another process recorded in the store, if it is still ahead. */
    const checkSharedRateLimit = store.rateLimitedUntil === undefined
      ? Effect.void
      : Effect.flatMap(store.rateLimitedUntil(key), (until) =>
        Option.isNone(until) ? Effect.void : Effect.flatMap(nowMillis, (now) =>
          until.value > now
            ? Effect.fail(
              new CriteoAuthError.RateLimitedError({
                endpoint: "token",
                clientId,
                retryAfter: Duration.millis(until.value - now)
              })
            )
            : Effect.void))

    /**
     * Without the store's lease (the store failed, or no round got a token): the exchange as the provider
     * knows it, with the refresh token last read from the store, if any. When the store still answers
     * (`writeBack`), it gets the token if its refresh token is still the one used (else the next
     * acquisition would read a refresh token this exchange revoked); a store that failed is not waited on.
     */
    const alone = (storedRefreshToken: Redacted.Redacted<string> | undefined, writeBack: boolean) =>
      Effect.gen(function*() {
        const { refreshToken, token, used } = yield* exchangeWith(storedRefreshToken)
        const written = writeBack && (yield* Effect.flatMap(store.get(key), (entry) => {
          const read = Option.getOrUndefined(entry)
          return sameSecret(read?.refreshToken, used)
            ? Effect.as(store.compareAndSet(key, read?.version, { accessToken: token, refreshToken }), true)
            : Effect.succeed(true)
        }).pipe(Effect.catchAll((error) =>
          Effect.as(degraded(error), false)
        )))
        if (!written) yield* keepForWriteBack(used, token, refreshToken)
        yield* notifyRefreshToken(token)
        return token
      })

    // -------------------------------------------------------------------------
    // the write-back of a refresh token rotated while the store failed
    // -------------------------------------------------------------------------

    /**
     * A refresh token this provider rotated while the store did not answer (its exchange went around the
     * store), and `used`, the one the store still holds (the first used since the store last had ours).
     * Until it is written back, another process reading the store would send `used`, which the rotation
     * revoked: `invalid_grant`. So it is written back as soon as the store answers again — by a background
     * fiber (retried, bounded), and before any acquisition through the store.
     */
    let pendingWriteBack:
      | {
        readonly used: Redacted.Redacted<string> | undefined
        readonly token: AccessToken.AccessToken
        readonly refreshToken: Redacted.Redacted<string>
      }
      | undefined
    let writeBackRunning = false

    /**
     * Writes the pending refresh token back if the store's entry still holds the one used (or none: Redis
     * restarted empty, or the entry was evicted). An entry holding another refresh token means the chain
     * went on without us (a consent connected again elsewhere): the store's is kept, ours forgotten.
     */
    const writeBackPending: Effect.Effect<void, TokenStore.TokenStoreError> = Effect.gen(function*() {
      for (let attempt = 0; attempt < defaults.storeWriteAttempts; attempt++) {
        const pending = pendingWriteBack
        if (pending === undefined) return
        const forget = Effect.sync(() => {
          if (pendingWriteBack === pending) pendingWriteBack = undefined
        })
        const read = Option.getOrUndefined(yield* store.get(key))
        if (read !== undefined && sameSecret(read.refreshToken, pending.refreshToken)) return yield* forget
        if (read?.refreshToken !== undefined && !sameSecret(read.refreshToken, pending.used)) {
          yield* Effect.logWarning(
            "CriteoAuth: the store holds another refresh token than the one rotated while it did not answer; " +
              "the store's is kept"
          ).pipe(Effect.annotateLogs({ "criteo.client_id": clientId, "criteo.store_key": key }))
          return yield* forget
        }
        const result = yield* store.compareAndSet(key, read?.version, {
          accessToken: pending.token,
          refreshToken: pending.refreshToken
        })
        if (result._tag === "Written") {
          yield* Effect.logInfo("CriteoAuth: the refresh token rotated while the store did not answer is written back")
            .pipe(Effect.annotateLogs({ "criteo.client_id": clientId, "criteo.store_key": key }))
          return yield* forget
        }
      }
    })

    /** Retries of the background write-back: every 0.5 s, doubling to 5 s, for about 15 minutes at most. */
    const writeBackPolicy = Schedule.exponential(Duration.millis(500), 2).pipe(
      Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(5))),
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(180))
    )

    /** Remembers a refresh token rotated without the store, and starts writing it back. */
    const keepForWriteBack = (
      used: Redacted.Redacted<string> | undefined,
      token: AccessToken.AccessToken,
      refreshToken: Redacted.Redacted<string> | undefined
    ) =>
      Effect.suspend(() => {
        if (refreshToken === undefined || sameSecret(refreshToken, used)) return Effect.void
        pendingWriteBack = { used: pendingWriteBack === undefined ? used : pendingWriteBack.used, token, refreshToken }
        if (writeBackRunning) return Effect.void
        writeBackRunning = true
        return writeBackPending.pipe(
          Effect.tapError(degraded),
          Effect.retry(writeBackPolicy),
          Effect.catchAll(() => Effect.void),
          Effect.ensuring(Effect.sync(() => (writeBackRunning = false))),
          Effect.interruptible,
          Effect.forkIn(scope),
          Effect.asVoid
        )
      })

    /**
     * Holding the lease: re-read; serve a token someone wrote meanwhile, else exchange and compare-and-set
     * the access token with the rotated refresh token before handing it out. `None`: someone else rotated
     * the refresh token first (our exchange was refused, or our write was): the next round reads theirs.
     */
    const underLease = (replacing: AccessToken.AccessToken | undefined) =>
      Effect.gen(function*() {
        const entry = yield* store.get(key)
        const theirs = servable(entry, replacing, yield* nowMillis)
        if (theirs !== undefined) {
          return Option.some(theirs)
        }
        yield* checkSharedRateLimit
        const read = Option.getOrUndefined(entry)
        const exchanged = yield* exchangeWith(read?.refreshToken).pipe(
          Effect.map(Option.some),
          Effect.catchTag("InvalidGrantError", (error) =>
            // refused because another process rotated the refresh token meanwhile? then it is not ours to fail
            Effect.flatMap(store.get(key), (now) =>
              Option.getOrUndefined(now)?.version !== read?.version
                ? Effect.succeed(Option.none())
                : Effect.fail(error)))
        )
        if (Option.isNone(exchanged)) {
          return Option.none()
        }
        const { refreshToken, token } = exchanged.value
        let version = read?.version
        for (let attempt = 0; attempt < defaults.storeWriteAttempts; attempt++) {
          const result = yield* store.compareAndSet(key, version, { accessToken: token, refreshToken }).pipe(
            Effect.catchAll((error) => Effect.as(degraded(error), undefined))
          )
          if (result === undefined || result._tag === "Written") {
            // the rotated refresh token is kept (or the store is down: it is written back when it answers)
            if (result === undefined) yield* keepForWriteBack(read?.refreshToken, token, refreshToken)
            // only now is the token handed out
            yield* notifyRefreshToken(token)
            return Option.some(token)
          }
          const current = Option.getOrUndefined(result.current)
          const written = servable(result.current, replacing, yield* nowMillis)
          if (written !== undefined) return Option.some(written)
          // an invalidation bumped the version, the refresh token is still the one we used: write over it
          if (current === undefined || !sameSecret(current.refreshToken, read?.refreshToken)) return Option.none()
          version = current.version
        }
        yield* notifyRefreshToken(token)
        return Option.some(token)
      })

    const sameSecret = (a: Redacted.Redacted<string> | undefined, b: Redacted.Redacted<string> | undefined) =>
      a === b || (a !== undefined && b !== undefined && Redacted.value(a) === Redacted.value(b))

    /**
     * One acquisition through the store, in bounded rounds: serve a fresh token the store holds; else take
     * the lease and exchange (`underLease`); else wait (at most one lease) for the holder's result.
     */
    const throughStore = (replacing: AccessToken.AccessToken | undefined) =>
      Effect.gen(function*() {
        let lastRefreshToken: Redacted.Redacted<string> | undefined
        // a refresh token rotated while the store failed goes there first, or this acquisition would read the
        // one it revoked
        yield* writeBackPending
        for (let round = 0; round < defaults.storeRounds; round++) {
          const entry = yield* store.get(key)
          lastRefreshToken = Option.getOrUndefined(entry)?.refreshToken
          const stored = servable(entry, replacing, yield* nowMillis)
          if (stored !== undefined) return stored
          const lease = yield* store.acquireLease(key, leaseTtl)
          if (Option.isSome(lease)) {
            const obtained = yield* underLease(replacing).pipe(
              Effect.ensuring(store.releaseLease(lease.value).pipe(Effect.catchAll(degraded)))
            )
            if (Option.isSome(obtained)) return obtained.value
          } else {
            const seen = yield* store.awaitChange(key, Option.getOrUndefined(entry)?.version, leaseTtl)
            const written = servable(seen, replacing, yield* nowMillis)
            if (written !== undefined) return written
            lastRefreshToken = Option.getOrUndefined(seen)?.refreshToken ?? lastRefreshToken
          }
        }
        yield* Effect.logWarning(
          `CriteoAuth: no token through the store after ${defaults.storeRounds} rounds; obtaining one without it`
        ).pipe(Effect.annotateLogs({ "criteo.client_id": clientId, "criteo.store_key": key }))
        return yield* alone(lastRefreshToken, true)
      })

    /** One acquisition: through the store; if the store fails, without it (the caller is served all the same). */
    const obtain = (replacing: AccessToken.AccessToken | undefined) =>
      throughStore(replacing).pipe(
        Effect.catchTag("TokenStoreError", (error) => Effect.zipRight(degraded(error), alone(undefined, false)))
      )

    /** Settles the state after an acquisition: install the token, or remember the failure. */
    const settle = (exit: Exit.Exit<AccessToken.AccessToken, CriteoAuthError.TokenError>) =>
      Effect.gen(function*() {
        if (exit._tag === "Success") {
          const token = exit.value
          yield* transition((s) => TokenState.installed(s, token))
          yield* Queue.offer(installed, token)
          yield* Effect.logDebug("CriteoAuth: new token").pipe(
            Effect.annotateLogs({
              "criteo.client_id": clientId,
              "token.fingerprint": token.fingerprint,
              "token.expires_at": DateTime.formatIso(token.expiresAt)
            })
          )
          return
        }
        const now = yield* nowMillis
        const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
        yield* transition((s) => TokenState.failed(s, error, now, policy))
        if (error?._tag === "RateLimitedError" && error.retryAfter !== undefined) {
          // remembered: until then every acquisition fails with RateLimitedError without a request
          const wait = Duration.millis(TokenState.cooldownMillis(error, policy) ?? 0)
          // Info, not Warning: the callers it answers get a RateLimitedError that says the same, and the retry
          // lines before it already warned of the long waits
          yield* Effect.flatMap(WaitLog.describeWait(wait), (described) =>
            Effect.logInfo(
              `CriteoAuth: rate limited by the token endpoint (HTTP 429); token requests are answered from memory with RateLimitedError, without a request, for ${
                Duration.format(wait)
              } (until ${described.until})`
            ).pipe(
              Effect.annotateLogs({
                "criteo.client_id": clientId,
                "criteo.rate_limited_ms": Duration.toMillis(wait),
                "criteo.rate_limited_until": described.until
              })
            ))
        }
      })

    /** Starts an acquisition in the layer's scope, so that no caller's interruption cancels a shared request. */
    const start = (
      s: TokenState.State<Inflight>,
      replacing: AccessToken.AccessToken | undefined,
      background: boolean
    ) =>
      Effect.gen(function*() {
        const deferred = yield* Deferred.make<AccessToken.AccessToken, CriteoAuthError.TokenError>()
        yield* obtain(replacing).pipe(
          Effect.onExit((exit) =>
            Effect.all([
              settle(exit),
              background
                ? Metric.increment(
                  Metric.tagged(
                    CriteoAuthMetrics.backgroundRefreshes,
                    "outcome",
                    exit._tag === "Success" ? "success" : "failure"
                  )
                )
                : Effect.void,
              Deferred.done(deferred, exit)
            ], { discard: true })
          ),
          Effect.interruptible,
          Effect.forkIn(scope)
        )
        return [Deferred.await(deferred), TokenState.started(s, deferred)] as const
      })

    /** The slow path: decide under the lock whether to serve, join, fail, or start an acquisition. */
    const acquire = (intent: TokenState.Intent) =>
      SynchronizedRef.modifyEffect(state, (s) =>
        Effect.gen(function*() {
          const decision = TokenState.decide(s, intent, yield* nowMillis, policy)
          switch (decision._tag) {
            case "Serve":
              return [Effect.succeed(decision.token), s] as const
            case "Join":
              return [Deferred.await(decision.inflight), s] as const
            case "Fail":
              return [Effect.fail(decision.error), s] as const
            case "Start":
              return yield* start(s, decision.replacing, decision.background)
          }
        })).pipe(Effect.flatten)

    const slow = acquire(TokenState.Token)
    const token: Effect.Effect<AccessToken.AccessToken, CriteoAuthError.TokenError> = Effect.clockWith((clock) => {
      const cached = fast
      return cached !== undefined && clock.unsafeCurrentTimeMillis() < cached.freshUntil
        ? Effect.succeed(cached.token)
        : slow
    })

    const cached = (nowMillis: number): AccessToken.AccessToken | undefined => {
      const current = fast
      return current !== undefined && nowMillis < current.freshUntil ? current.token : undefined
    }

    const refresh = acquire(TokenState.Refresh)

    // the store first: once the local copy is dropped, the next acquisition must not find it there
    const invalidate = (token: AccessToken.AccessToken) =>
      store.invalidate(key, token.fingerprint).pipe(
        Effect.catchAll((error) => Effect.as(degraded(error), false)),
        Effect.zipRight(SynchronizedRef.modify(state, (s) => {
          const [dropped, next] = TokenState.invalidated(s, token)
          return [dropped, dropped ? mirror(next) : next] as const
        })),
        Effect.tap((dropped) =>
          dropped
            ? Effect.logDebug("CriteoAuth: token invalidated").pipe(
              Effect.annotateLogs({ "criteo.client_id": clientId, "token.fingerprint": token.fingerprint })
            )
            : Effect.void
        )
      )

    // -------------------------------------------------------------------------
    // the background refresh ahead of expiry
    // -------------------------------------------------------------------------

    const backgroundPolicy = Schedule.exponential(defaults.backgroundRetryBaseDelay, 2).pipe(
      Schedule.modifyDelay((_, delay) => Duration.min(delay, defaults.backgroundRetryMaxDelay)),
      Schedule.jittered,
      Schedule.intersect(Schedule.recurs(defaults.backgroundRetries)),
      Schedule.whileInput(CriteoAuthError.isRetryable)
    )

    /** Refreshes `token` unless something else already replaced it, while it is worth trying. */
    const refreshAhead = (token: AccessToken.AccessToken) =>
      acquire(TokenState.RefreshAhead(token)).pipe(
        Effect.retry(
          backgroundPolicy.pipe(
            Schedule.checkEffect(() => Effect.map(nowMillis, (now) => TokenState.isFresh(token, now, policy)))
          )
        ),
        Effect.tapError((error) =>
          Effect.logWarning(`CriteoAuth: background refresh failed: ${error.message}`).pipe(
            Effect.annotateLogs({ "criteo.client_id": clientId, "token.fingerprint": token.fingerprint })
          )
        ),
        Effect.ignore
      )

    /**
     * The instant (whole epoch ms) to refresh `token` at: expiry - lead - U(0, jitter), and not sooner
     * than the minimum interval after the previous background refresh (`last`).
     */
    const refreshInstant = (token: AccessToken.AccessToken, last: number | undefined) => {
      const jitter = TokenState.jitterMillis(token, policy)
      return Effect.map(
        jitter > 0 ? Random.nextRange(0, jitter) : Effect.succeed(0),
        (offset) => TokenState.refreshAt(token, policy, offset, last)
      )
    }

    /**
     * One fiber, no fork per token: waits for a token, sleeps until its refresh instant and refreshes it.
     * A newer token installed meanwhile (a 401 replacement, a forced refresh) is picked up when the fiber
     * wakes: it then sleeps until the newer token's instant. Each sleep lasts at most the lead time (20 s
     * by default; but at least the minimum interval between refreshes), so a newer token that must be
     * refreshed sooner (a shorter lifetime) is seen in time; if it is not (a lifetime under twice the lead time), callers refresh it, never sending it expired.
     * (Racing the sleep against the queue would fork two fibers for every token, and every fiber costs
     * the scheduler an entry until the next full garbage collection.)
     */
    const loop = Effect.gen(function*() {
      let last: number | undefined
      let token = yield* Queue.take(installed)
      let at = yield* refreshInstant(token, last)
      while (true) {
        const now = yield* Clock.currentTimeMillis
        if (now >= at) {
          last = now
          yield* refreshAhead(token)
          token = yield* Queue.take(installed)
          at = yield* refreshInstant(token, last)
          continue
        }
        // in steps of the lead time, but not shorter than the minimum interval (a token of a millisecond
        // would make it a busy wait)
        const step = Math.max(TokenState.leadMillis(token, policy), policy.minRefreshIntervalMillis)
        yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(at - now, step))))
        const newer = yield* Queue.poll(installed)
        if (Option.isSome(newer)) {
          token = newer.value
          at = yield* refreshInstant(token, last)
        }
      }
    })

    yield* loop.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.logError("CriteoAuth: the background refresh stopped", cause)
      ),
      Effect.interruptible,
      Effect.forkScoped
    )

    // -------------------------------------------------------------------------
    // the API's rate limit, shared through the store
    // -------------------------------------------------------------------------

    const apiKey = TokenStore.apiRateLimitKey(key)
    /** The latest reset instant a 429 of the API announced for this key, here or in the fleet; 0: none. */
    let apiLimitedUntil = 0
    const learnApiLimit = (untilMillis: number) =>
      Effect.suspend(() => {
        if (untilMillis <= apiLimitedUntil) return Effect.void
        apiLimitedUntil = untilMillis
        // forgotten once passed, so that the hot path is back to comparing with 0
        return Effect.flatMap(nowMillis, (now) => Effect.sleep(Duration.millis(Math.max(0, untilMillis - now)))).pipe(
          Effect.zipRight(Effect.sync(() => {
            if (apiLimitedUntil === untilMillis) apiLimitedUntil = 0
          })),
          Effect.interruptible,
          Effect.forkIn(scope),
          Effect.asVoid
        )
      })
    // the store, when it is shared (the private one has no other reader)
    const shared = options.tokenStore === undefined ? undefined : store
    const apiRateLimit: ApiRateLimit = {
      untilMillis: () => apiLimitedUntil,
      record: (untilMillis) =>
        Effect.zipRight(
          learnApiLimit(untilMillis),
          shared?.recordRateLimit === undefined
            ? Effect.void
            // in the background: the caller's retry waits for the reset anyway, and never for the store
            : shared.recordRateLimit(apiKey, untilMillis).pipe(
              Effect.catchAll(degraded),
              Effect.interruptible,
              Effect.forkIn(scope),
              Effect.asVoid
            )
        )
    }
    if (shared?.rateLimitChanges !== undefined) {
      yield* shared.rateLimitChanges(apiKey).pipe(
        Stream.runForEach(learnApiLimit),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.void
            : Effect.logError("CriteoAuth: the shared API rate limit stopped being followed", cause)
        ),
        Effect.interruptible,
        Effect.forkScoped
      )
    }

    return CriteoAuth.of({ clientId, token, refresh, invalidate, apiRateLimit, cached })
  })

/**
 * Builds the provider on the `HttpClient` in context. Background work belongs to the scope. Fails
 * with `RefusedUrlError` when the token URL breaks the rules of `CriteoUrl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.flatMap(
    TokenEndpoint.make(options),
    (endpoint) => makeProvider(endpoint, options, Duration.decode(options.timeout ?? TokenEndpoint.defaultTimeout))
  )

/**
 * @example
 * ```ts
 * import { CriteoAuth, Grant } from "@criteo-auth/core"
 * import { Effect, Redacted } from "effect"
 *
 * const AuthLive = CriteoAuth.layer({
 *   grant: Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") })
 * })
 *
 * // One token request however many fibers ask; refreshed ahead of expiry in the background.
 * // The layer needs an HttpClient from the application (e.g. @criteo-auth/platform: CriteoNode, CriteoFetch).
 * export const fingerprint = Effect.gen(function*() {
 *   const auth = yield* CriteoAuth.CriteoAuth
 *   const token = yield* auth.token
 *   return token.fingerprint // safe in logs, unlike the token
 * }).pipe(Effect.provide(AuthLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<CriteoAuth, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient> =>
  Layer.scoped(CriteoAuth, make(options))

/**
 * The provider on a `TokenEndpoint` from context (a custom endpoint, or a test double).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutTokenEndpoint = (
  options: Omit<Options, keyof TokenEndpoint.Options>
): Layer.Layer<CriteoAuth, never, TokenEndpoint.TokenEndpoint> =>
  Layer.scoped(CriteoAuth, Effect.flatMap(TokenEndpoint.TokenEndpoint, (endpoint) => makeWith(endpoint, options)))

/**
 * The provider with its options read from `Config` (each field a `Config` or a plain value).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<CriteoAuth, ConfigError.ConfigError | CriteoAuthError.RefusedUrlError, HttpClient.HttpClient> =>
  Layer.scoped(CriteoAuth, Effect.flatMap(Config.unwrap(options), make))

/**
 * A provider that always answers with the given token, for tests of code that uses `CriteoAuth`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (token: AccessToken.AccessToken): Layer.Layer<CriteoAuth> =>
  Layer.succeed(
    CriteoAuth,
    CriteoAuth.of({
      clientId: "test",
      token: Effect.succeed(token),
      refresh: Effect.succeed(token),
      invalidate: () => Effect.succeed(false)
    })
  )
