/**
 * The `TokenStore` on Redis, for a fleet: N replicas of a service, or a pool of workers, share one token
 * per account instead of each minting its own, never rotate the same refresh token twice, and learn each
 * other's rate limits.
 *
 * - Keys: `<prefix>:{<store key>}:entry` (a hash), `…:lease` and `…:ratelimit`, where the store key is
 *   the one the provider passes (its client id, or client id and account key); changes are published
 *   on `<prefix>:changes`, rate limits recorded on `<prefix>:ratelimits` (so every process learns the
 *   API's limit as soon as one meets it, without a round trip on its hot path).
 * - Entries are sealed with AES-256-GCM under a 256-bit key (`CRITEO_TOKEN_STORE_KEY`): no bearer or
 *   refresh token is ever stored in clear text. An entry sealed under another key reads as an empty
 *   entry (a miss), with one warning, never a crash or a leak.
 * - The lease is `SET … NX PX ttl`; compare-and-set, CAS invalidation and lease release are Lua scripts,
 *   atomic on the server. Waiters wake on pub/sub, with a bounded polling fallback (a lost message, a
 *   reconnection) and at the expiry of the holder's lease.
 * - Every operation is bounded by a short timeout (1 s by default) and fails with a `TokenStoreError`:
 *   a slow, stopped or unreachable Redis never stalls a caller longer than that. After a timeout, the
 *   operations of the next timeout's length fail at once, without a round trip, and then one operation
 *   at a time tries Redis again: a stopped Redis costs one timeout per period, not one per operation
 *   (an acquisition makes several). The connection is
 *   re-established in the background, with a backoff capped at 1 s. An outage is logged once for the
 *   process (a warning when Redis stops answering, an info when it answers again), whatever the number
 *   of providers and keys on the store.
 *
 * @since 0.2.0
 */
import * as TokenStore from "@criteo-auth/core/TokenStore"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Redis, type RedisOptions } from "ioredis"
import * as Crypto from "node:crypto"
import * as CriteoConfig from "./CriteoConfig.js"
import * as Cipher from "./internal/cipher.js"
import * as RedisErrors from "./internal/redisErrors.js"
import * as Scripts from "./internal/redisScripts.js"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** `redis://[:password@]host[:port][/db]` or `rediss://…` (TLS). Redacted: it may hold a password. */
  readonly url: Redacted.Redacted<string> | string
  /** The 256-bit key entries are sealed with: 64 hex digits or base64 (`openssl rand -base64 32`). */
  readonly key: Redacted.Redacted<string>
  /** The namespace of every Redis key of the store. Default `criteo-auth`. */
  readonly prefix?: string | undefined
  /** The limit of one operation (one round trip, or connecting at start). Default 1 s. */
  readonly operationTimeout?: Duration.DurationInput | undefined
  /** How often a waiter re-reads the entry when no change is published (a lost message). Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** More `ioredis` options (TLS, sentinels, a username); the store's own settings win on conflict. */
  readonly redisOptions?: Omit<RedisOptions, "replyMapping"> | undefined
}

/**
 * @since 0.2.0
 * @category constants
 */
export const defaults = {
  prefix: "criteo-auth",
  operationTimeout: Duration.seconds(1),
  pollInterval: Duration.seconds(1)
} as const

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Options the store cannot start with: a malformed URL, a key that is not 256 bits, an empty prefix.
 * Never shows the URL (it may hold a password) or the key.
 *
 * @since 0.2.0
 * @category errors
 */
export class RedisStoreOptionsError extends Schema.TaggedError<RedisStoreOptionsError>(
  "@criteo-auth/platform/RedisStoreOptionsError"
)("RedisStoreOptionsError", {
  option: Schema.Literal("url", "key", "prefix"),
  reason: Schema.String
}) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `CriteoRedisStore: invalid ${this.option}: ${this.reason}`
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isRedisStoreOptionsError = (u: unknown): u is RedisStoreOptionsError =>
  Predicate.isTagged(u, "RedisStoreOptionsError") && u instanceof RedisStoreOptionsError

const URL_REQUIREMENT = "expected redis://[:password@]host[:port][/db] or rediss://…"
const PREFIX = /^[^\s{}]{1,100}$/

const checkUrl = (url: string): Option.Option<string> => {
  if (!URL.canParse(url)) return Option.some(URL_REQUIREMENT)
  const protocol = new URL(url).protocol
  return protocol === "redis:" || protocol === "rediss:"
    ? Option.none()
    : Option.some(`${URL_REQUIREMENT} (got the scheme "${protocol.slice(0, 20)}")`)
}

const PREFIX_REQUIREMENT = "expected 1 to 100 characters, no spaces or braces"

// -----------------------------------------------------------------------------
// the store
// -----------------------------------------------------------------------------

const STORE = "redis"

const liveClock = Clock.make()

/** How long an entry without a refresh token outlives its access token. */
const ENTRY_GRACE_MILLIS = 3_600_000

const describe = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  // what ioredis says (`Connection is closed.`, `Command timed out`, `connect ECONNREFUSED …`): no
  // argument of ours is in it, and the only values we send are sealed anyway
  return message.length > 200 ? `${message.slice(0, 200)}…` : message
}

/**
 * A failed round trip, before it reaches the caller as its `TokenStoreError`: whether Redis did not answer
 * in time is decided where the failure is built (our own timeout, or ioredis's command timeout), never read
 * back from the error's text, which a Redis error reply or a reworded message could match.
 */
interface Failed {
  readonly error: TokenStore.TokenStoreError
  readonly timedOut: boolean
}

const fieldsOf = (reply: unknown): Record<string, string> => {
  const fields: Record<string, string> = {}
  if (!Array.isArray(reply)) return fields
  for (let i = 0; i + 1 < reply.length; i += 2) fields[String(reply[i])] = String(reply[i + 1])
  return fields
}

/**
 * The store on a new Redis connection (and a second one for pub/sub), closed with the scope. If Redis
 * cannot be reached at start the store is built anyway, with a warning: its operations fail with
 * `TokenStoreError` (the provider falls back to its own tokens) until the connection comes up.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<TokenStore.Service, RedisStoreOptionsError, Scope.Scope> =>
  Effect.gen(function*() {
    const keyBytes = Cipher.parseKey(options.key)
    if (Option.isNone(keyBytes)) {
      return yield* new RedisStoreOptionsError({ option: "key", reason: `expected ${Cipher.keyRequirement}` })
    }
    const url = typeof options.url === "string" ? options.url : Redacted.value(options.url)
    const urlProblem = checkUrl(url)
    if (Option.isSome(urlProblem)) return yield* new RedisStoreOptionsError({ option: "url", reason: urlProblem.value })
    const prefix = options.prefix ?? defaults.prefix
    if (!PREFIX.test(prefix)) return yield* new RedisStoreOptionsError({ option: "prefix", reason: PREFIX_REQUIREMENT })

    const timeout = Duration.decode(options.operationTimeout ?? defaults.operationTimeout)
    const timeoutMillis = Math.max(1, Math.round(Duration.toMillis(timeout)))
    const pollMillis = Math.max(10, Duration.toMillis(Duration.decode(options.pollInterval ?? defaults.pollInterval)))
    const cipher = Cipher.make(keyBytes.value)
    const channel = `${prefix}:changes`
    const rateLimitChannel = `${prefix}:ratelimits`
    const entryKey = (key: string) => `${prefix}:{${key}}:entry`
    const leaseKey = (key: string) => `${prefix}:{${key}}:lease`
    const rateLimitKey = (key: string) => `${prefix}:{${key}}:ratelimit`

    const redisOptions: RedisOptions = {
      ...options.redisOptions,
      lazyConnect: true,
      // fail at once while disconnected rather than queue: a queued lease would be taken late, by nobody
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: timeoutMillis,
      connectTimeout: Math.max(timeoutMillis, 1_000),
      // reconnect in the background for as long as the store lives, at most 1 s apart
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1_000)
    }

    const open = (name: string, extra: RedisOptions) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const merged: Omit<RedisOptions, "replyMapping"> = {
            ...redisOptions,
            ...extra,
            connectionName: `criteo-auth-${name}`
          }
          const redis = new Redis(url, merged)
          // errors reach the operations; without a listener ioredis would print every reconnection failure
          redis.on("error", () => {})
          return redis
        }),
        (redis) =>
          Effect.promise(() => redis.quit().catch(() => undefined)).pipe(
            Effect.timeout(timeout),
            Effect.ignore,
            Effect.withClock(liveClock),
            Effect.ensuring(Effect.sync(() => redis.disconnect()))
          )
      )

    const client = yield* open("store", {})
    // the subscriber queues its SUBSCRIBE until connected, and subscribes again after each reconnection
    const subscriber = yield* open("store-subscriber", { enableOfflineQueue: true })

    // -------------------------------------------------------------------------
    // waiters, woken by pub/sub
    // -------------------------------------------------------------------------

    const waiters = new Map<string, Set<Deferred.Deferred<void>>>()
    const wake = (key: string) => {
      const set = waiters.get(key)
      if (set === undefined) return
      waiters.delete(key)
      for (const deferred of set) Deferred.unsafeDone(deferred, Exit.void)
    }
    // followers of rate limits (`rateLimitChanges`), by store key
    const followers = new Map<string, Set<(untilMillis: number) => void>>()
    const tell = (key: string, untilMillis: number) => {
      for (const follower of followers.get(key) ?? []) follower(untilMillis)
    }
    subscriber.on("message", (from: string, message: string) => {
      if (from === channel) return wake(message)
      if (from === rateLimitChannel) {
        // `<until> <store key>`
        const space = message.indexOf(" ")
        const untilMillis = Number(message.slice(0, space))
        if (space > 0 && Number.isFinite(untilMillis)) tell(message.slice(space + 1), untilMillis)
      }
    })
    // a reconnection may have lost messages: wake everyone, they re-read; followers read the limits again
    subscriber.on("ready", () => {
      for (const key of Array.from(waiters.keys())) wake(key)
      for (const key of Array.from(followers.keys())) {
        client.get(rateLimitKey(key)).then((reply) => {
          const untilMillis = reply === null ? Number.NaN : Number(reply)
          if (Number.isFinite(untilMillis)) tell(key, untilMillis)
        }, () => undefined)
      }
    })
    const register = (key: string) =>
      Effect.map(Deferred.make<void>(), (deferred) => {
        const set = waiters.get(key) ?? new Set()
        set.add(deferred)
        waiters.set(key, set)
        return deferred
      })
    const unregister = (key: string, deferred: Deferred.Deferred<void>) =>
      Effect.sync(() => {
        const set = waiters.get(key)
        if (set === undefined) return
        set.delete(deferred)
        if (set.size === 0) waiters.delete(key)
      })

    // -------------------------------------------------------------------------
    // operations
    // -------------------------------------------------------------------------

    const failure = (operation: string, key: string, reason: string) =>
      new TokenStore.TokenStoreError({ store: STORE, operation, key, reason })

    // -------------------------------------------------------------------------
    // outages: one warning when Redis stops answering, one info when it answers again, for the whole
    // process (every provider and key on this store), however many operations fail in between
    // -------------------------------------------------------------------------

    /** The instant (epoch ms, real time) the current outage began, if Redis is not answering. */
    let outageSince: number | undefined
    const outageAnnotations = { "store.prefix": prefix }
    const unreachable = (error: TokenStore.TokenStoreError) =>
      Effect.suspend(() => {
        if (outageSince !== undefined) return Effect.void
        outageSince = Date.now()
        return Effect.logWarning(
          `CriteoRedisStore: Redis does not answer (${error.operation}: ${error.reason}); every process obtains ` +
            "its tokens on its own until it answers again (each failed store operation is counted in " +
            "criteo_auth_store_degraded_total)"
        ).pipe(Effect.annotateLogs(outageAnnotations))
      })
    const reachable = Effect.suspend(() => {
      if (outageSince === undefined) return Effect.void
      const lasted = Duration.millis(Date.now() - outageSince)
      outageSince = undefined
      return Effect.logInfo(
        `CriteoRedisStore: Redis answers again (after ${Duration.format(lasted)}); the fleet shares its tokens again`
      ).pipe(Effect.annotateLogs({ ...outageAnnotations, "store.outage_ms": Duration.toMillis(lasted) }))
    })

    // -------------------------------------------------------------------------
    // a Redis that does not answer (stopped, overloaded, a partition): after an operation times out, the
    // operations of the next `operationTimeout` fail at once, without a round trip, then one operation at
    // a time tries Redis again. Without this, every operation of every caller waited its whole timeout
    // while Redis was stopped, and an acquisition (invalidate, read, lease, write) several timeouts in a
    // row. A refused connection (Redis killed) fails fast by itself and does not need it.
    // -------------------------------------------------------------------------

    /** While Redis does not answer: until when (epoch ms, real time) operations are not sent; 0 otherwise. */
    let quietUntil = 0
    /** Whether an operation is trying Redis again after the quiet period (the others still fail at once). */
    let probing = false

    /**
     * One round trip, bounded by the operation timeout in real time: it bounds the network and Redis, which
     * no TestClock drives (under one, a clock adjusted past the timeout while Redis is answering would fail
     * a healthy operation). After a timeout, see `quietUntil`.
     */
    const run = <A>(
      operation: string,
      key: string,
      f: () => Promise<A>
    ): Effect.Effect<A, TokenStore.TokenStoreError> =>
      Effect.suspend(() => {
        let probe = false
        if (quietUntil !== 0) {
          if (probing || Date.now() < quietUntil) {
            return Effect.fail(
              failure(
                operation,
                key,
                `not sent: Redis did not answer within ${Duration.format(timeout)}, it is tried again by one ` +
                  "operation at a time"
              )
            )
          }
          probe = probing = true
        }
        return Effect.tryPromise({
          try: f,
          catch: (cause): Failed => ({
            error: failure(operation, key, describe(cause)),
            timedOut: RedisErrors.isCommandTimeout(cause)
          })
        }).pipe(
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: (): Failed => ({
              error: failure(operation, key, `no answer within ${Duration.format(timeout)}`),
              timedOut: true
            })
          }),
          Effect.withClock(liveClock),
          Effect.tapBoth({
            onFailure: ({ error, timedOut }) => {
              if (timedOut) quietUntil = Date.now() + timeoutMillis
              return unreachable(error)
            },
            onSuccess: () => {
              quietUntil = 0
              return reachable
            }
          }),
          Effect.mapError(({ error }) => error),
          Effect.ensuring(Effect.sync(() => {
            if (probe) probing = false
          }))
        )
      })

    const evalScript = (script: Scripts.Script, keys: ReadonlyArray<string>, args: ReadonlyArray<string>) =>
      client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
        // the server's script cache is empty after a restart: send the script itself once
        if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
          return client.eval(script.lua, keys.length, ...keys, ...args)
        }
        throw error
      })

    const warned = new Map<string, string>()
    const warnOnce = (key: string, version: number, problem: string) =>
      Effect.suspend(() => {
        const mark = `${version}:${problem}`
        if (warned.get(key) === mark) return Effect.void
        warned.set(key, mark)
        return Effect.logWarning(`CriteoRedisStore: ${problem}; the entry reads as empty`).pipe(
          Effect.annotateLogs({ "criteo.store_key": key, "store.version": version, "store.key_id": cipher.keyId })
        )
      })

    const decode = (key: string, fields: Record<string, string>): Effect.Effect<Option.Option<TokenStore.Entry>> => {
      if (fields.version === undefined) return Effect.succeed(Option.none())
      const version = Number(fields.version)
      const empty: TokenStore.Entry = { accessToken: undefined, refreshToken: undefined, version }
      const opened = cipher.open(fields.data ?? "", entryKey(key))
      if (Either.isLeft(opened)) {
        const problem = opened.left._tag === "WrongKey"
          ? `the entry was sealed with another key (key id ${opened.left.keyId}, ours ${cipher.keyId})`
          : "the entry is corrupt or was tampered with"
        return Effect.as(warnOnce(key, version, problem), Option.some(empty))
      }
      const entry = TokenStore.decodeEntry(opened.right)
      if (Option.isNone(entry)) {
        return Effect.as(warnOnce(key, version, "the entry has an unknown format"), Option.some(empty))
      }
      return Effect.succeed(Option.some({
        accessToken: fields.dropped === undefined ? entry.value.accessToken : undefined,
        refreshToken: entry.value.refreshToken,
        version
      }))
    }

    /** The entry and the time left on the lease (ms; zero or less: no lease), in one round trip. */
    const snapshot = (operation: string, key: string) =>
      run(operation, key, () => evalScript(Scripts.read, [entryKey(key), leaseKey(key)], [])).pipe(
        Effect.flatMap((reply) => {
          const [pttl, hash] = Array.isArray(reply) ? reply : []
          return Effect.map(decode(key, fieldsOf(hash)), (entry) => ({ entry, leaseMillis: Number(pttl) }))
        })
      )

    const get = (key: string) =>
      snapshot("get", key).pipe(
        Effect.map(({ entry }) => entry),
        Effect.withSpan("CriteoRedisStore.get", { attributes: { "criteo.store_key": key } })
      )

    /**
     * An entry that holds only an access token is worth nothing an hour after that token expires: it is
     * let go then (its lifetime plus an hour from the write, on Redis's clock, so that no clock skew, nor
     * a TestClock, can expire it early). An entry with a refresh token (a consent) is kept until removed.
     */
    const expiry = (write: TokenStore.Write) =>
      write.refreshToken === undefined && write.accessToken !== undefined
        ? String(Math.ceil(Duration.toMillis(write.accessToken.expiresIn)) + ENTRY_GRACE_MILLIS)
        : ""

    const compareAndSet = (key: string, expectedVersion: number | undefined, write: TokenStore.Write) =>
      Effect.gen(function*() {
        const version = (expectedVersion ?? 0) + 1
        const entry: TokenStore.Entry = { ...write, version }
        const sealed = cipher.seal(TokenStore.encodeEntry(entry), entryKey(key))
        const reply = yield* run("compareAndSet", key, () =>
          evalScript(Scripts.compareAndSet, [entryKey(key)], [
            expectedVersion === undefined ? "" : String(expectedVersion),
            String(version),
            sealed,
            write.accessToken?.fingerprint ?? "",
            channel,
            key,
            expiry(write)
          ]))
        if (Array.isArray(reply) && Number(reply[0]) === 1) {
          return { _tag: "Written", entry } satisfies TokenStore.SetResult
        }
        const current = yield* decode(key, fieldsOf(Array.isArray(reply) ? reply[1] : undefined))
        return { _tag: "Conflict", current } satisfies TokenStore.SetResult
      }).pipe(Effect.withSpan("CriteoRedisStore.compareAndSet", { attributes: { "criteo.store_key": key } }))

    const invalidate = (key: string, fingerprint: string) =>
      run("invalidate", key, () => evalScript(Scripts.invalidate, [entryKey(key)], [fingerprint, channel, key])).pipe(
        Effect.map((reply) => Number(reply) === 1),
        Effect.withSpan("CriteoRedisStore.invalidate", { attributes: { "criteo.store_key": key } })
      )

    const acquireLease = (key: string, ttl: Duration.DurationInput) =>
      Effect.gen(function*() {
        const ttlMillis = Math.max(1, Math.ceil(Duration.toMillis(Duration.decode(ttl))))
        const id = Crypto.randomUUID()
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const reply = yield* run("acquireLease", key, () => client.set(leaseKey(key), id, "PX", ttlMillis, "NX"))
        return reply === "OK"
          ? Option.some<TokenStore.Lease>({ key, id, expiresAtMillis: now + ttlMillis })
          : Option.none<TokenStore.Lease>()
      }).pipe(Effect.withSpan("CriteoRedisStore.acquireLease", { attributes: { "criteo.store_key": key } }))

    const releaseLease = (lease: TokenStore.Lease) =>
      run(
        "releaseLease",
        lease.key,
        () => evalScript(Scripts.releaseLease, [leaseKey(lease.key)], [lease.id, channel, lease.key])
      ).pipe(
        Effect.asVoid,
        Effect.withSpan("CriteoRedisStore.releaseLease", { attributes: { "criteo.store_key": lease.key } })
      )

    const awaitChange = (key: string, version: number | undefined, timeout: Duration.DurationInput) =>
      Effect.gen(function*() {
        const deadline = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) +
          Duration.toMillis(Duration.decode(timeout))
        let notified = false
        let waited = false
        while (true) {
          // registered before reading, so that a change published in between is not missed
          const woken = yield* register(key)
          const { entry, leaseMillis } = yield* snapshot("awaitChange", key).pipe(
            Effect.tapError(() => unregister(key, woken))
          )
          const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
          const current = Option.isSome(entry) ? entry.value.version : undefined
          // a new version; or, after a wait, a published change or a lease released / run out
          if (current !== version || now >= deadline || (waited && (notified || leaseMillis <= 0))) {
            yield* unregister(key, woken)
            return entry
          }
          // until a change is published, the holder's lease runs out, the next poll, or the deadline
          const wait = Math.max(1, Math.min(pollMillis, deadline - now, leaseMillis > 0 ? leaseMillis + 5 : pollMillis))
          notified = Option.isSome(
            yield* Deferred.await(woken).pipe(
              Effect.timeoutOption(Duration.millis(wait)),
              Effect.ensuring(unregister(key, woken))
            )
          )
          waited = true
        }
      }).pipe(Effect.withSpan("CriteoRedisStore.awaitChange", { attributes: { "criteo.store_key": key } }))

    const remove = (key: string) =>
      run("remove", key, () => evalScript(Scripts.remove, [entryKey(key), leaseKey(key)], [channel, key])).pipe(
        Effect.asVoid,
        Effect.withSpan("CriteoRedisStore.remove", { attributes: { "criteo.store_key": key } })
      )

    const recordRateLimit = (key: string, untilMillis: number) =>
      Effect.gen(function*() {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        if (untilMillis <= now) return
        yield* run(
          "recordRateLimit",
          key,
          () =>
            evalScript(Scripts.recordRateLimit, [rateLimitKey(key)], [
              String(Math.ceil(untilMillis)),
              rateLimitChannel,
              key
            ])
        )
      })

    const rateLimitedUntil = (key: string) =>
      Effect.gen(function*() {
        const reply = yield* run("rateLimitedUntil", key, () => client.get(rateLimitKey(key)))
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const until = reply === null ? Number.NaN : Number(reply)
        return Number.isFinite(until) && until > now ? Option.some(until) : Option.none<number>()
      })

    /**
     * The instant recorded now (if Redis answers), then each one recorded by any process, as published;
     * after a reconnection, the recorded one again. Never fails: while Redis is down it emits nothing.
     */
    const rateLimitChanges = (key: string): Stream.Stream<number> =>
      Stream.asyncScoped<number>((emit) =>
        Effect.gen(function*() {
          const follower = (untilMillis: number) => {
            void emit.single(untilMillis)
          }
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              const set = followers.get(key) ?? new Set()
              set.add(follower)
              followers.set(key, set)
            }),
            () =>
              Effect.sync(() => {
                const set = followers.get(key)
                set?.delete(follower)
                if (set?.size === 0) followers.delete(key)
              })
          )
          // followed before reading: a record in between is not missed (at worst seen twice)
          const current = yield* Effect.option(rateLimitedUntil(key))
          if (Option.isSome(current) && Option.isSome(current.value)) follower(current.value.value)
        })
      )

    // -------------------------------------------------------------------------
    // connecting
    // -------------------------------------------------------------------------

    const connect = (redis: Redis, then: () => Promise<unknown> = () => Promise.resolve()) =>
      Effect.tryPromise(() => redis.connect().then(then)).pipe(
        Effect.timeout(Duration.millis(Math.max(timeoutMillis, 1_000))),
        Effect.either,
        Effect.withClock(liveClock)
      )
    const [store, events] = yield* Effect.all(
      [connect(client), connect(subscriber, () => subscriber.subscribe(channel, rateLimitChannel))],
      { concurrency: 2 }
    )
    if (Either.isLeft(store) || Either.isLeft(events)) {
      // ioredis keeps reconnecting in the background; until then every operation fails fast. This warning
      // opens the outage: the first operation that succeeds closes it with an info line.
      outageSince = Date.now()
      yield* Effect.logWarning(
        "CriteoRedisStore: Redis is not reachable yet; store operations fail until it is (providers fall back " +
          "to their own tokens)"
      ).pipe(Effect.annotateLogs({ "store.prefix": prefix }))
      if (Either.isLeft(events)) {
        // the subscription is queued: it is sent when the connection comes up
        subscriber.subscribe(channel, rateLimitChannel).catch(() => undefined)
      }
    }

    return TokenStore.TokenStore.of({
      name: STORE,
      reportsOutages: true,
      // every operation is bounded by operationTimeout, in real time
      boundsItsOperations: true,
      get,
      compareAndSet,
      invalidate,
      acquireLease,
      releaseLease,
      awaitChange,
      remove,
      recordRateLimit,
      rateLimitedUntil,
      rateLimitChanges
    })
  })

/**
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenStore.TokenStore, RedisStoreOptionsError> =>
  Layer.scoped(TokenStore.TokenStore, make(options))

// -----------------------------------------------------------------------------
// configuration
// -----------------------------------------------------------------------------

/**
 * The environment variables `config` reads.
 *
 * @since 0.2.0
 * @category constants
 */
export const variables = {
  url: "CRITEO_REDIS_URL",
  key: "CRITEO_TOKEN_STORE_KEY",
  prefix: "CRITEO_TOKEN_STORE_PREFIX",
  operationTimeout: "CRITEO_TOKEN_STORE_TIMEOUT"
} as const

/**
 * The store's options from the environment (or the current `ConfigProvider`):
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `CRITEO_REDIS_URL` | `redis://` or `rediss://` URL (redacted: it may hold a password) | required |
 * | `CRITEO_TOKEN_STORE_KEY` | 256-bit key, 64 hex digits or base64 (redacted) | required |
 * | `CRITEO_TOKEN_STORE_PREFIX` | namespace of the Redis keys | `criteo-auth` |
 * | `CRITEO_TOKEN_STORE_TIMEOUT` | limit of one Redis operation | `1s` |
 *
 * @since 0.2.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.redacted(variables.url),
  key: Config.redacted(variables.key),
  prefix: Config.withDefault(Config.string(variables.prefix), defaults.prefix),
  operationTimeout: Config.withDefault(CriteoConfig.duration(variables.operationTimeout), defaults.operationTimeout)
}).pipe(
  Config.mapOrFail((raw): Either.Either<Options, ConfigError.ConfigError> => {
    const problems: Array<ConfigError.ConfigError> = []
    const url = checkUrl(Redacted.value(raw.url))
    if (Option.isSome(url)) problems.push(ConfigError.InvalidData([variables.url], url.value))
    if (Option.isNone(Cipher.parseKey(raw.key))) {
      problems.push(ConfigError.InvalidData([variables.key], `Expected ${Cipher.keyRequirement}`))
    }
    if (!PREFIX.test(raw.prefix)) problems.push(ConfigError.InvalidData([variables.prefix], PREFIX_REQUIREMENT))
    return problems.length > 0 ? Either.left(problems.reduce(ConfigError.And)) : Either.right(raw)
  })
)

/**
 * The store with its options from `Config` (by default `config`, from the environment).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config<Options> = config
): Layer.Layer<TokenStore.TokenStore, ConfigError.ConfigError | RedisStoreOptionsError> =>
  Layer.scoped(TokenStore.TokenStore, Effect.flatMap(options, make))
