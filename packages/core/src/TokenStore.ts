/**
 * Where tokens live: one entry per account key, holding the current access token and, for consents
 * (authorization_code), the current refresh token. The provider (`CriteoAuth`, `CriteoAccounts`) keeps
 * a local copy of the access token for its hot path and goes to the store only when that copy is not
 * fresh; the store is the source of truth that several providers (fibers, processes, a fleet) share.
 *
 * Every operation is one a shared implementation (a file, Redis) can honour atomically:
 * - `get` reads an entry;
 * - `compareAndSet` writes only if the entry is still the version read, so a late writer never puts an
 *   older token, or an older refresh token, over a newer one;
 * - `invalidate` drops the access token only if it is still the one that got the 401 (by fingerprint);
 * - `acquireLease` / `releaseLease`: "I am requesting a token for this key", with a time to live, so that
 *   one requester works while the others wait (`awaitChange`) for its result, and a lease whose holder
 *   died expires and is taken over.
 *
 * Nothing in an entry is ever rendered: tokens stay `Redacted`; persistent stores encrypt entries.
 *
 * Every operation answers within a bound (`awaitChange`: within its `timeout`, plus that bound): a store
 * that cannot answer fails with `TokenStoreError`, and the provider carries on without it. A store that
 * bounds its operations itself says so (`boundsItsOperations`: the Redis store, in real time, 1 s by
 * default); for any other, the provider bounds each operation on its `Clock`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as PubSub from "effect/PubSub"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as AccessToken from "./AccessToken.js"

/**
 * One account's tokens, as a store holds them. `version` grows by one on every write of the key; a
 * compare-and-set names the version it read.
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  /** The current access token, if any (absent after an invalidation, or before the first exchange). */
  readonly accessToken: AccessToken.AccessToken | undefined
  /** The current refresh token of a consent (rotated on every use), if any. */
  readonly refreshToken: Redacted.Redacted<string> | undefined
  /** The version of the entry: 1 for the first write, then one more per write. */
  readonly version: number
}

/**
 * What a compare-and-set writes. A field left `undefined` is written as absent.
 *
 * @since 0.2.0
 * @category models
 */
export interface Write {
  readonly accessToken: AccessToken.AccessToken | undefined
  readonly refreshToken: Redacted.Redacted<string> | undefined
}

/**
 * The outcome of a compare-and-set: the entry written, or the entry that is there instead (none if the
 * key is absent).
 *
 * @since 0.2.0
 * @category models
 */
export type SetResult =
  | { readonly _tag: "Written"; readonly entry: Entry }
  | { readonly _tag: "Conflict"; readonly current: Option.Option<Entry> }

/**
 * A held lease: the right to request a token for `key` until `expiresAtMillis` (epoch ms).
 *
 * @since 0.2.0
 * @category models
 */
export interface Lease {
  readonly key: string
  /** Unique per acquisition: releasing checks it, so a holder whose lease expired cannot release another's. */
  readonly id: string
  readonly expiresAtMillis: number
}

/**
 * A store operation failed (I/O, a timeout, an unreachable server). Never holds a token or secret.
 *
 * @since 0.2.0
 * @category errors
 */
export class TokenStoreError extends Schema.TaggedError<TokenStoreError>("@criteo-auth/core/TokenStoreError")(
  "TokenStoreError",
  {
    /** The store implementation, e.g. `memory`, `file`, `redis`. */
    store: Schema.String,
    /** The operation that failed, e.g. `get`, `compareAndSet`. */
    operation: Schema.String,
    /** The account key, never a secret. */
    key: Schema.String,
    /** What went wrong, scrubbed of secrets. */
    reason: Schema.String
  }
) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `token store "${this.store}": ${this.operation} of "${this.key}" failed: ${this.reason}`
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isTokenStoreError = (u: unknown): u is TokenStoreError =>
  Predicate.isTagged(u, "TokenStoreError") && u instanceof TokenStoreError

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** The implementation's name, for logs and errors (`memory`, `file`, `redis`). */
  readonly name: string
  /**
   * Whether the store logs its own outages, once each, for every provider and key it serves (the Redis
   * store: a warning when Redis stops answering, an info when it answers again). A provider then logs its
   * failed store operations at Debug only; otherwise it warns once itself. Either way each failed
   * operation is counted in `criteo_auth_store_degraded_total`.
   */
  readonly reportsOutages?: boolean | undefined
  /**
   * `true` when the store bounds every operation itself, in real time (the Redis store's operation
   * timeout; the memory store answers at once). The provider then adds no timeout of its own: a bound on
   * its `Clock` would fail healthy operations whenever a `TestClock` jumps while the store answers in real
   * time. Left out (a store brought by the application), the provider bounds each operation by
   * `CriteoAuth.defaults.storeTimeout` on its `Clock`, so that a store that hangs never hangs a caller.
   *
   * @since 0.2.0
   */
  readonly boundsItsOperations?: boolean | undefined
  readonly get: (key: string) => Effect.Effect<Option.Option<Entry>, TokenStoreError>
  /**
   * Writes `write` if the entry of `key` is still at `expectedVersion` (`undefined`: the key must be
   * absent). The written entry's version is `expectedVersion + 1` (1 for a new key).
   */
  readonly compareAndSet: (
    key: string,
    expectedVersion: number | undefined,
    write: Write
  ) => Effect.Effect<SetResult, TokenStoreError>
  /**
   * Drops the access token of `key` if, and only if, its fingerprint is `fingerprint` (the refresh token
   * stays). Returns whether it dropped it.
   */
  readonly invalidate: (key: string, fingerprint: string) => Effect.Effect<boolean, TokenStoreError>
  /** Takes the lease of `key` for `ttl` if nobody holds it (or its holder's lease expired). */
  readonly acquireLease: (
    key: string,
    ttl: Duration.DurationInput
  ) => Effect.Effect<Option.Option<Lease>, TokenStoreError>
  /** Gives the lease back, if it is still this one. */
  readonly releaseLease: (lease: Lease) => Effect.Effect<void, TokenStoreError>
  /**
   * Waits, at most `timeout`, until the entry of `key` has a version other than `version` or its lease
   * is released or expires; then answers the entry as it is. Never a busy wait.
   */
  readonly awaitChange: (
    key: string,
    version: number | undefined,
    timeout: Duration.DurationInput
  ) => Effect.Effect<Option.Option<Entry>, TokenStoreError>
  /** Forgets `key` entirely (a disconnected account). */
  readonly remove: (key: string) => Effect.Effect<void, TokenStoreError>
  /**
   * Shared rate-limit knowledge: records that the server asked the client of `key` to wait until
   * `untilMillis` (epoch ms; a 429 with `x-ratelimit-reset` or `Retry-After`), so that the other
   * processes sharing the store wait too instead of each discovering the limit. Keeps the later instant
   * when one is already recorded; forgets it once passed. Optional: a store that no other process reads
   * (memory) may leave it out, and a provider then keeps the knowledge to itself.
   */
  readonly recordRateLimit?: ((key: string, untilMillis: number) => Effect.Effect<void, TokenStoreError>) | undefined
  /** The instant (epoch ms) until which the client of `key` must wait, if one is recorded and still ahead. */
  readonly rateLimitedUntil?: ((key: string) => Effect.Effect<Option.Option<number>, TokenStoreError>) | undefined
  /**
   * The instants `recordRateLimit` records for `key`, by any process sharing the store, as they are
   * recorded (the one recorded already first, if any): a provider keeps a local copy of the API's rate
   * limit that its hot path reads without a round trip (see `apiRateLimitKey`). The stream never fails: a
   * store that cannot answer emits nothing until it can. Optional: without it the limit stays local.
   */
  readonly rateLimitChanges?: ((key: string) => Stream.Stream<number>) | undefined
}

/**
 * The key the API's rate limit of the account `key` is recorded under (`recordRateLimit`,
 * `rateLimitChanges`): apart from the token endpoint's (recorded under `key` itself), since a 429 of the
 * API says nothing of the token endpoint's budget, and the reverse.
 *
 * @since 0.2.0
 * @category rate limits
 */
export const apiRateLimitKey = (key: string): string => `api-rate-limit:${key}`

/**
 * @since 0.2.0
 * @category tags
 */
export class TokenStore extends Context.Tag("@criteo-auth/core/TokenStore")<TokenStore, Service>() {}

// -----------------------------------------------------------------------------
// serialization, for stores that persist entries (file, Redis): encrypt the result
// -----------------------------------------------------------------------------

const EntryJson = Schema.Struct({
  v: Schema.Literal(1),
  version: Schema.Number,
  accessToken: Schema.optional(Schema.Struct({
    value: Schema.String,
    tokenType: Schema.String,
    expiresInMillis: Schema.Number,
    issuedAtMillis: Schema.Number
  })),
  refreshToken: Schema.optional(Schema.String)
})

const EntryFromJson = Schema.parseJson(EntryJson)

/**
 * The plain-text JSON of an entry, for a persistent store to encrypt. It holds the tokens in clear:
 * never write it anywhere unencrypted, never log it.
 *
 * @since 0.2.0
 * @category serialization
 */
export const encodeEntry = (entry: Entry): Redacted.Redacted<string> =>
  Redacted.make(JSON.stringify(
    {
      v: 1,
      version: entry.version,
      ...(entry.accessToken === undefined ? {} : {
        accessToken: {
          value: Redacted.value(entry.accessToken.value),
          tokenType: entry.accessToken.tokenType,
          expiresInMillis: Duration.toMillis(entry.accessToken.expiresIn),
          issuedAtMillis: entry.accessToken.issuedAt.epochMillis
        }
      }),
      ...(entry.refreshToken === undefined ? {} : { refreshToken: Redacted.value(entry.refreshToken) })
    } satisfies typeof EntryJson.Encoded
  ))

/**
 * Reads back what `encodeEntry` wrote. Anything else (corrupt, foreign, a future format) is `None`.
 *
 * @since 0.2.0
 * @category serialization
 */
export const decodeEntry = (json: Redacted.Redacted<string>): Option.Option<Entry> =>
  Option.map(Schema.decodeUnknownOption(EntryFromJson)(Redacted.value(json)), (decoded) => ({
    version: decoded.version,
    refreshToken: decoded.refreshToken === undefined ? undefined : Redacted.make(decoded.refreshToken),
    accessToken: decoded.accessToken === undefined ? undefined : (() => {
      const issuedAt = DateTime.unsafeMake(decoded.accessToken.issuedAtMillis)
      const expiresIn = Duration.millis(decoded.accessToken.expiresInMillis)
      return new AccessToken.AccessToken({
        value: Redacted.make(decoded.accessToken.value),
        tokenType: decoded.accessToken.tokenType,
        expiresIn,
        issuedAt,
        expiresAt: DateTime.addDuration(issuedAt, expiresIn),
        ...(decoded.refreshToken === undefined ? {} : { refreshToken: Redacted.make(decoded.refreshToken) })
      })
    })()
  }))

// -----------------------------------------------------------------------------
// the in-memory store
// -----------------------------------------------------------------------------

interface Slot {
  readonly entry: Entry | undefined
  readonly lease: Lease | undefined
  /** Completed (and replaced) on every change of the slot: its waiters wake up. */
  readonly changed: Deferred.Deferred<void>
}

/**
 * A store in this process's memory: what `CriteoAuth` uses when no store is given. Leases expire on
 * the `Clock`, so tests drive them with the TestClock.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.gen(function*() {
  const slots = yield* SynchronizedRef.make(new Map<string, Slot>())
  const rateLimits = new Map<string, number>()
  const rateLimitRecorded = yield* PubSub.unbounded<{ readonly key: string; readonly untilMillis: number }>()
  let leaseCounter = 0

  const emptySlot = Effect.map(
    Deferred.make<void>(),
    (changed): Slot => ({ entry: undefined, lease: undefined, changed })
  )

  /** Applies `f` to the slot of `key` under the lock; when it changes the slot, wakes the slot's waiters. */
  const modify = <A>(key: string, f: (slot: Slot, nowMillis: number) => readonly [A, Slot | undefined]) =>
    SynchronizedRef.modifyEffect(slots, (map) =>
      Effect.gen(function*() {
        const nowMillis = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const slot = map.get(key) ?? (yield* emptySlot)
        const [result, next] = f(slot, nowMillis)
        if (next === undefined) return [result, map] as const
        yield* Deferred.succeed(slot.changed, undefined)
        const changed = yield* Deferred.make<void>()
        const copy = new Map(map)
        copy.set(key, { ...next, changed })
        return [result, copy] as const
      }))

  const liveLease = (slot: Slot, nowMillis: number) =>
    slot.lease !== undefined && slot.lease.expiresAtMillis > nowMillis ? slot.lease : undefined

  const get = (key: string) =>
    SynchronizedRef.get(slots).pipe(Effect.map((map) => Option.fromNullable(map.get(key)?.entry)))

  const compareAndSet = (key: string, expectedVersion: number | undefined, write: Write) =>
    modify(key, (slot): readonly [SetResult, Slot | undefined] => {
      if (slot.entry?.version !== expectedVersion) {
        return [{ _tag: "Conflict", current: Option.fromNullable(slot.entry) }, undefined]
      }
      const entry: Entry = { ...write, version: (expectedVersion ?? 0) + 1 }
      return [{ _tag: "Written", entry }, { ...slot, entry }]
    })

  const invalidate = (key: string, fingerprint: string) =>
    modify(key, (slot): readonly [boolean, Slot | undefined] => {
      const entry = slot.entry
      if (entry?.accessToken === undefined || entry.accessToken.fingerprint !== fingerprint) {
        return [false, undefined]
      }
      return [true, { ...slot, entry: { ...entry, accessToken: undefined, version: entry.version + 1 } }]
    })

  const acquireLease = (key: string, ttl: Duration.DurationInput) =>
    modify(key, (slot, nowMillis): readonly [Option.Option<Lease>, Slot | undefined] => {
      if (liveLease(slot, nowMillis) !== undefined) return [Option.none(), undefined]
      const lease: Lease = {
        key,
        id: `memory-${++leaseCounter}`,
        expiresAtMillis: nowMillis + Duration.toMillis(ttl)
      }
      return [Option.some(lease), { ...slot, lease }]
    })

  const releaseLease = (lease: Lease) =>
    modify(
      lease.key,
      (slot): readonly [void, Slot | undefined] =>
        slot.lease?.id === lease.id ? [undefined, { ...slot, lease: undefined }] : [undefined, undefined]
    )

  const awaitChange = (key: string, version: number | undefined, timeout: Duration.DurationInput) =>
    Effect.gen(function*() {
      const map = yield* SynchronizedRef.get(slots)
      const slot = map.get(key)
      if (slot === undefined || slot.entry?.version !== version) return Option.fromNullable(slot?.entry)
      const nowMillis = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const lease = liveLease(slot, nowMillis)
      // wake on a change, or when the holder's lease runs out, whichever comes first
      const wait = lease === undefined
        ? Duration.decode(timeout)
        : Duration.min(Duration.decode(timeout), Duration.millis(lease.expiresAtMillis - nowMillis))
      yield* Deferred.await(slot.changed).pipe(Effect.timeoutOption(wait))
      return yield* get(key)
    })

  const remove = (key: string) =>
    modify(
      key,
      (slot): readonly [void, Slot | undefined] => [undefined, { ...slot, entry: undefined, lease: undefined }]
    )

  const recordRateLimit = (key: string, untilMillis: number) =>
    Effect.suspend(() => {
      if ((rateLimits.get(key) ?? 0) >= untilMillis) return Effect.void
      rateLimits.set(key, untilMillis)
      return PubSub.publish(rateLimitRecorded, { key, untilMillis })
    })

  const rateLimitChanges = (key: string): Stream.Stream<number> =>
    Stream.unwrapScoped(Effect.map(PubSub.subscribe(rateLimitRecorded), (recorded) => {
      // subscribed before reading: a record in between is not missed (at worst seen twice)
      const current = rateLimits.get(key)
      return Stream.concat(
        Stream.fromIterable(current === undefined ? [] : [current]),
        Stream.fromQueue(recorded).pipe(
          Stream.filter((record) => record.key === key),
          Stream.map((record) => record.untilMillis)
        )
      )
    }))

  const rateLimitedUntil = (key: string) =>
    Effect.clockWith((clock) =>
      Effect.map(clock.currentTimeMillis, (nowMillis) => {
        const until = rateLimits.get(key)
        if (until !== undefined && until <= nowMillis) rateLimits.delete(key)
        return until !== undefined && until > nowMillis ? Option.some(until) : Option.none()
      })
    )

  return TokenStore.of({
    name: "memory",
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
export const layerMemory: Layer.Layer<TokenStore> = Layer.effect(TokenStore, makeMemory)
