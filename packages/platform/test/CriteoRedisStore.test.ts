/**
 * The Redis token store against a real redis-server (one per suite, on a free loopback port): the
 * contract (compare-and-set, CAS invalidation, leases, awaitChange) across separate connections, as
 * separate processes would use it, encryption at rest, a wrong key, a stopped / killed / restarted
 * server. Real time is the point here (Redis's own TTLs, socket timeouts): `it.live`.
 */
import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as TokenStore from "@criteo-auth/core/TokenStore"
import * as CriteoRedisStore from "@criteo-auth/platform/CriteoRedisStore"
import { assert, describe, it, layer } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { Redis } from "ioredis"
import * as Crypto from "node:crypto"
import * as RedisServer from "./utils/RedisServer.js"

const KEY = Redacted.make(Crypto.randomBytes(32).toString("base64"))
const OTHER_KEY = Redacted.make(Crypto.randomBytes(32).toString("hex"))

let counter = 0
/** A key of its own for each test, so tests are independent of order. */
const freshKey = () => `client-${process.pid}-${++counter}`

const token = (value: string, refresh?: string) =>
  new AccessToken.AccessToken({
    value: Redacted.make(value),
    tokenType: "Bearer",
    expiresIn: Duration.seconds(900),
    issuedAt: DateTime.unsafeMake(1_000),
    expiresAt: DateTime.unsafeMake(901_000),
    ...(refresh === undefined ? {} : { refreshToken: Redacted.make(refresh) })
  })

/** A store on its own connections, as another process would have. */
const storeOn = (server: RedisServer.Server, options: Partial<CriteoRedisStore.Options> = {}) =>
  CriteoRedisStore.make({ url: server.url, key: KEY, ...options })

/** A plain client, to look at what is stored. */
const raw = (server: RedisServer.Server) =>
  Effect.acquireRelease(
    Effect.sync(() => new Redis(server.url, { lazyConnect: false, maxRetriesPerRequest: 1 })),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    lines.push(`${logLevel.label} ${JSON.stringify(message)} ${JSON.stringify(Object.fromEntries(annotations))}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe.runIf(RedisServer.runRedisTests)("CriteoRedisStore", () => {
  layer(RedisServer.layer, { excludeTestServices: true, timeout: Duration.seconds(30) })((it) => {
    it.effect("compare-and-set across connections: only a write over the version read succeeds", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server)
        const key = freshKey()
        assert.isTrue(Option.isNone(yield* a.get(key)))
        const first = yield* a.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        assert.strictEqual(first._tag, "Written")
        const stale = yield* b.compareAndSet(key, undefined, { accessToken: token("b"), refreshToken: undefined })
        assert.strictEqual(stale._tag, "Conflict")
        if (stale._tag === "Conflict") {
          // the conflict answers the entry that is there, decrypted
          const current = Option.getOrThrow(stale.current)
          assert.strictEqual(current.version, 1)
          assert.strictEqual(Redacted.value(current.accessToken!.value), "a")
        }
        const second = yield* b.compareAndSet(key, 1, { accessToken: token("c"), refreshToken: Redacted.make("r2") })
        assert.strictEqual(second._tag === "Written" && second.entry.version, 2)
        const read = Option.getOrThrow(yield* a.get(key))
        assert.strictEqual(read.version, 2)
        assert.strictEqual(Redacted.value(read.accessToken!.value), "c")
        assert.strictEqual(DateTime.toEpochMillis(read.accessToken!.expiresAt), 901_000)
        assert.strictEqual(Redacted.value(read.refreshToken!), "r2")
      }).pipe(Effect.scoped))

    it.effect("a CAS race of 4 connections x 25 writers over the same version: exactly one wins", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const stores = yield* Effect.all(Array.from({ length: 4 }, () => storeOn(server)))
        const key = freshKey()
        yield* stores[0].compareAndSet(key, undefined, { accessToken: undefined, refreshToken: Redacted.make("r0") })
        const results = yield* Effect.all(
          Array.from(
            { length: 100 },
            (_, i) =>
              stores[i % 4].compareAndSet(key, 1, { accessToken: token(`t${i}`), refreshToken: Redacted.make(`r${i}`) })
          ),
          { concurrency: "unbounded" }
        )
        const written = results.filter((result) => result._tag === "Written")
        assert.strictEqual(written.length, 1)
        const entry = Option.getOrThrow(yield* stores[3].get(key))
        assert.strictEqual(entry.version, 2)
        // the winner's refresh token, whole: never a mix of two writes
        const winner = written[0]._tag === "Written" ? written[0].entry : undefined
        assert.strictEqual(Redacted.value(entry.refreshToken!), Redacted.value(winner!.refreshToken!))
        assert.strictEqual(Redacted.value(entry.accessToken!.value), Redacted.value(winner!.accessToken!.value))
      }).pipe(Effect.scoped))

    it.effect("invalidate drops the access token only for its fingerprint and keeps the refresh token", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server)
        const key = freshKey()
        yield* a.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: Redacted.make("r") })
        assert.isFalse(yield* b.invalidate(key, token("other").fingerprint))
        assert.isTrue(yield* b.invalidate(key, token("a").fingerprint))
        assert.isFalse(yield* a.invalidate(key, token("a").fingerprint))
        const read = Option.getOrThrow(yield* a.get(key))
        assert.isUndefined(read.accessToken)
        assert.strictEqual(Redacted.value(read.refreshToken!), "r")
        assert.strictEqual(read.version, 2)
        // the next write is over version 2
        const next = yield* a.compareAndSet(key, 2, { accessToken: token("n"), refreshToken: Redacted.make("r") })
        assert.strictEqual(next._tag, "Written")
        assert.isTrue(yield* b.invalidate(key, token("n").fingerprint))
      }).pipe(Effect.scoped))

    it.effect("no token is stored in clear text: entries are sealed, and bound to their key", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const store = yield* storeOn(server, { prefix: "sealed-test" })
        const redis = yield* raw(server)
        const key = freshKey()
        const bearer = `bearer-${Crypto.randomUUID()}`
        const refresh = `refresh-${Crypto.randomUUID()}`
        yield* store.compareAndSet(key, undefined, {
          accessToken: token(bearer, refresh),
          refreshToken: Redacted.make(refresh)
        })
        const keys = yield* Effect.promise(() => redis.keys("sealed-test:*"))
        assert.deepStrictEqual(keys, [`sealed-test:{${key}}:entry`])
        const stored = yield* Effect.promise(() => redis.hgetall(keys[0]))
        const dump = JSON.stringify(stored)
        assert.notInclude(dump, bearer)
        assert.notInclude(dump, refresh)
        assert.notInclude(dump, Buffer.from(bearer).toString("base64").slice(0, 16))
        assert.match(stored.data, /^v1\.[0-9a-f]{8}\./)
        // moved under another account's key, the entry does not decrypt: it reads as empty
        const other = freshKey()
        yield* Effect.promise(() => redis.hset(`sealed-test:{${other}}:entry`, stored))
        const moved = Option.getOrThrow(yield* store.get(other))
        assert.isUndefined(moved.accessToken)
        assert.isUndefined(moved.refreshToken)
      }).pipe(Effect.scoped))

    it.effect("an entry without a refresh token expires an hour after its access token; a consent's is kept", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const store = yield* storeOn(server, { prefix: "ttl-test" })
        const redis = yield* raw(server)
        const [cc, consent] = [freshKey(), freshKey()]
        const expiresAt = Date.now() + 900_000
        const live = new AccessToken.AccessToken({
          value: Redacted.make("a"),
          tokenType: "Bearer",
          expiresIn: Duration.seconds(900),
          issuedAt: DateTime.unsafeMake(expiresAt - 900_000),
          expiresAt: DateTime.unsafeMake(expiresAt)
        })
        yield* store.compareAndSet(cc, undefined, { accessToken: live, refreshToken: undefined })
        yield* store.compareAndSet(consent, undefined, { accessToken: live, refreshToken: Redacted.make("r") })
        const ttl = yield* Effect.promise(() => redis.pttl(`ttl-test:{${cc}}:entry`))
        assert.isAbove(ttl, 4_400_000)
        assert.isAtMost(ttl, 900_000 + 3_600_000)
        assert.strictEqual(yield* Effect.promise(() => redis.pttl(`ttl-test:{${consent}}:entry`)), -1)
      }).pipe(Effect.scoped))

    it.effect("a wrong key reads as an empty entry with one warning, never a crash or a leak; a write replaces it", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const right = yield* storeOn(server)
        const wrong = yield* storeOn(server, { key: OTHER_KEY })
        const key = freshKey()
        yield* right.compareAndSet(key, undefined, {
          accessToken: token("secret-bearer"),
          refreshToken: Redacted.make("secret-refresh")
        })
        const logs = captureLogs()
        const [first, second] = yield* Effect.all([wrong.get(key), wrong.get(key)]).pipe(Effect.provide(logs.layer))
        for (const read of [first, second]) {
          const entry = Option.getOrThrow(read)
          assert.strictEqual(entry.version, 1)
          assert.isUndefined(entry.accessToken)
          assert.isUndefined(entry.refreshToken)
        }
        const warnings = logs.lines.filter((line) => line.startsWith("WARN"))
        assert.strictEqual(warnings.length, 1)
        assert.include(warnings[0], "sealed with another key")
        assert.notInclude(logs.lines.join("\n"), "secret-")
        assert.notInclude(logs.lines.join("\n"), Redacted.value(OTHER_KEY))
        // the process with the wrong key can still write over the version it read (its own tokens)
        const write = yield* wrong.compareAndSet(key, 1, { accessToken: token("mine"), refreshToken: undefined })
        assert.strictEqual(write._tag, "Written")
        assert.isUndefined(Option.getOrThrow(yield* right.get(key)).accessToken)
      }).pipe(Effect.scoped))

    it.effect("a tampered entry reads as empty with a warning", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const store = yield* storeOn(server, { prefix: "tamper-test" })
        const redis = yield* raw(server)
        const key = freshKey()
        yield* store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        const entryKey = `tamper-test:{${key}}:entry`
        const data = yield* Effect.promise(() => redis.hget(entryKey, "data"))
        const parts = data!.split(".")
        parts[4] = Buffer.from("{\"v\":1,\"version\":1}").toString("base64url")
        yield* Effect.promise(() => redis.hset(entryKey, "data", parts.join(".")))
        const logs = captureLogs()
        const read = Option.getOrThrow(yield* store.get(key).pipe(Effect.provide(logs.layer)))
        assert.isUndefined(read.accessToken)
        assert.include(logs.lines.join("\n"), "corrupt or was tampered with")
      }).pipe(Effect.scoped))

    it.effect("a lease is exclusive across connections; only its holder releases it; an expired lease is taken over", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server)
        const key = freshKey()
        const leaseA = Option.getOrThrow(yield* a.acquireLease(key, "10 seconds"))
        assert.isTrue(Option.isNone(yield* b.acquireLease(key, "10 seconds")))
        // a forged or stale lease (another id) releases nothing
        yield* b.releaseLease({ ...leaseA, id: "not-the-holder" })
        assert.isTrue(Option.isNone(yield* b.acquireLease(key, "10 seconds")))
        yield* a.releaseLease(leaseA)
        const leaseB = Option.getOrThrow(yield* b.acquireLease(key, "200 millis"))
        assert.isTrue(leaseB.expiresAtMillis > Date.now())
        // b dies holding it: the lease runs out on Redis's clock and a takes over
        const taken = yield* a.acquireLease(key, "10 seconds").pipe(
          Effect.filterOrFail(Option.isSome, () => "still held"),
          Effect.retry(Schedule.spaced("50 millis")),
          Effect.timeout("5 seconds")
        )
        assert.isTrue(Option.isSome(taken))
        // the old holder's late release does not free the new holder's lease
        yield* b.releaseLease(leaseB)
        assert.isTrue(Option.isNone(yield* b.acquireLease(key, "10 seconds")))
      }).pipe(Effect.scoped))

    it.effect("a waiter wakes through pub/sub when another connection writes (no polling)", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const writer = yield* storeOn(server)
        // polling every hour: only a published change can wake it within the test
        const waiter = yield* storeOn(server, { pollInterval: "1 hour" })
        const key = freshKey()
        yield* writer.acquireLease(key, "1 minute")
        const fiber = yield* Effect.fork(waiter.awaitChange(key, undefined, "20 seconds"))
        yield* Effect.sleep("100 millis")
        yield* writer.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        const seen = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(Option.getOrThrow(seen).version, 1)
      }).pipe(Effect.scoped))

    it.effect("a waiter wakes when the lease is released, and when it expires without a write", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const holder = yield* storeOn(server)
        const waiter = yield* storeOn(server, { pollInterval: "1 hour" })
        const key = freshKey()
        yield* holder.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        const lease = Option.getOrThrow(yield* holder.acquireLease(key, "1 minute"))
        const released = yield* Effect.fork(waiter.awaitChange(key, 1, "20 seconds"))
        yield* Effect.sleep("100 millis")
        yield* holder.releaseLease(lease)
        const afterRelease = yield* Fiber.join(released).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(Option.getOrThrow(afterRelease).version, 1)
        // the holder dies: nothing is published, the waiter wakes at the lease's expiry
        yield* holder.acquireLease(key, "300 millis")
        const expired = yield* waiter.awaitChange(key, 1, "20 seconds").pipe(Effect.timed)
        assert.strictEqual(Option.getOrThrow(expired[1]).version, 1)
        assert.isBelow(Duration.toMillis(expired[0]), 10_000)
        assert.isTrue(Option.isSome(yield* waiter.acquireLease(key, "1 second")))
      }).pipe(Effect.scoped))

    it.effect("the polling fallback sees a change that was never published", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const writer = yield* storeOn(server, { prefix: "poll-test" })
        const waiter = yield* storeOn(server, { prefix: "poll-test", pollInterval: "50 millis" })
        const redis = yield* raw(server)
        const key = freshKey()
        yield* writer.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        yield* writer.acquireLease(key, "1 minute")
        const fiber = yield* Effect.fork(waiter.awaitChange(key, 1, "20 seconds"))
        yield* Effect.sleep("100 millis")
        // a version bump behind the store's back: no message on the channel
        yield* Effect.promise(() => redis.hincrby(`poll-test:{${key}}:entry`, "version", 1))
        const seen = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
        assert.strictEqual(Option.getOrThrow(seen).version, 2)
      }).pipe(Effect.scoped))

    it.effect("awaitChange answers at its timeout when nothing changes and the lease is held", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const store = yield* storeOn(server, { pollInterval: "50 millis" })
        const key = freshKey()
        yield* store.acquireLease(key, "1 minute")
        const [elapsed, seen] = yield* store.awaitChange(key, undefined, "300 millis").pipe(Effect.timed)
        assert.isTrue(Option.isNone(seen))
        assert.isAtLeast(Duration.toMillis(elapsed), 250)
      }).pipe(Effect.scoped))

    it.effect("a rate limit recorded by one process is seen by the others until it passes", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server)
        const key = freshKey()
        assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!(key)))
        const until = Date.now() + 30_000
        yield* a.recordRateLimit!(key, until)
        yield* a.recordRateLimit!(key, until - 10_000)
        assert.deepStrictEqual(yield* b.rateLimitedUntil!(key), Option.some(until))
        yield* a.recordRateLimit!(key, Date.now() + 200)
        const other = freshKey()
        yield* a.recordRateLimit!(other, Date.now() + 200)
        yield* Effect.sleep("400 millis")
        assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!(other)))
      }).pipe(Effect.scoped))

    it.effect("rate limits are followed across connections through pub/sub: the one recorded first, then each new one", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server, { pollInterval: "1 hour" })
        const key = freshKey()
        const first = Date.now() + 30_000
        yield* a.recordRateLimit!(key, first)
        const seen = yield* Queue.unbounded<number>()
        yield* b.rateLimitChanges!(key).pipe(
          Stream.runForEach((until) => Queue.offer(seen, until)),
          Effect.forkScoped
        )
        const take = Queue.take(seen).pipe(Effect.timeout("5 seconds"))
        // the one recorded before following; it may come twice by design (followed before reading, and the
        // subscriber's connection re-reads the followed limits): CI saw it twice on Node 22
        assert.strictEqual(yield* take, first)
        // another key's record is not this key's; an earlier instant is not recorded, so not published
        yield* a.recordRateLimit!(freshKey(), first + 5_000)
        yield* a.recordRateLimit!(key, first - 5_000)
        yield* a.recordRateLimit!(key, first + 10_000)
        let next = yield* take
        while (next === first) next = yield* take
        assert.strictEqual(next, first + 10_000)
        // nothing else came: at most repeats of what was recorded for this key
        const rest = Array.from(yield* Queue.takeAll(seen))
        assert.isTrue(rest.every((until) => until === first || until === first + 10_000), String(rest))
      }).pipe(Effect.scoped))

    it.effect("remove forgets the entry and the lease, and wakes waiters", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const a = yield* storeOn(server)
        const b = yield* storeOn(server, { pollInterval: "1 hour" })
        const key = freshKey()
        yield* a.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: Redacted.make("r") })
        yield* a.acquireLease(key, "1 minute")
        const fiber = yield* Effect.fork(b.awaitChange(key, 1, "20 seconds"))
        yield* Effect.sleep("100 millis")
        yield* a.remove(key)
        assert.isTrue(Option.isNone(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))))
        assert.isTrue(Option.isSome(yield* b.acquireLease(key, "1 second")))
      }).pipe(Effect.scoped))
  })

  // the TestClock: a provider under test moves it while the store waits for Redis
  layer(RedisServer.layer, { excludeTestServices: true, timeout: Duration.seconds(30) })(
    "under the TestClock",
    (it) => {
      it.effect("an operation's timeout is real time: a clock moved past it while Redis answers fails nothing", () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.RedisServer
          // 5 s of real time: far below the hour the clock moves, far above what 51 operations take even on a
          // loaded machine (200 ms failed once under load)
          const store = yield* storeOn(server, { operationTimeout: "5 seconds" })
          const key = freshKey()
          const write = yield* Effect.fork(
            store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
          )
          const reads = yield* Effect.forEach(Array.from({ length: 50 }), () => Effect.fork(store.get(key)))
          yield* TestClock.adjust("1 hour")
          assert.strictEqual((yield* Fiber.join(write))._tag, "Written")
          for (const fiber of reads) yield* Fiber.join(fiber)
        }).pipe(Effect.scoped, Effect.provide(TestContext.TestContext)))
    }
  )

  // a server of their own: these tests stop it
  describe("when Redis fails", () => {
    it.live("a stopped server (SIGSTOP): every operation fails with TokenStoreError within its timeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make
        const store = yield* storeOn(server, { operationTimeout: "200 millis", pollInterval: "50 millis" })
        const key = freshKey()
        yield* store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        yield* server.pause
        const operations = [
          store.get(key),
          store.compareAndSet(key, 1, { accessToken: token("b"), refreshToken: undefined }),
          store.invalidate(key, token("a").fingerprint),
          store.acquireLease(key, "1 second"),
          store.releaseLease({ key, id: "x", expiresAtMillis: 0 }),
          store.awaitChange(key, 1, "5 seconds"),
          store.remove(key),
          store.recordRateLimit!(key, Date.now() + 10_000),
          store.rateLimitedUntil!(key)
        ] as ReadonlyArray<Effect.Effect<unknown, TokenStore.TokenStoreError>>
        const [elapsed, exits] = yield* Effect.all(operations.map((operation) => Effect.exit(operation)), {
          concurrency: "unbounded"
        }).pipe(Effect.timed)
        for (const exit of exits) {
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            assert.isTrue(TokenStore.isTokenStoreError(error), String(exit.cause))
            assert.strictEqual((error as TokenStore.TokenStoreError).store, "redis")
            assert.strictEqual((error as TokenStore.TokenStoreError).key, key)
          }
        }
        // each is bounded by its timeout (200 ms), not by the awaitChange timeout (5 s)
        assert.isBelow(Duration.toMillis(elapsed), 4_000)
        yield* server.resume
        // the connection was never lost: the store answers again once the quiet period after the timeouts
        // has passed (200 ms; the operations before then fail at once)
        const read = yield* store.get(key).pipe(
          Effect.retry({ times: 40, schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("10 seconds")
        )
        assert.strictEqual(Option.getOrThrow(read).version >= 1, true)
      }).pipe(Effect.scoped))

    it.live(
      "a stopped server costs one timeout per period: the operations after it fail at once, then one tries again",
      () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.make
          const store = yield* storeOn(server, { operationTimeout: "1 second" })
          const key = freshKey()
          yield* store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
          yield* server.pause
          const first = yield* Effect.flip(store.get(key))
          assert.match(first.reason, /no answer within|timed out/)
          // within the quiet period (1 s after the timeout) nothing is sent: each fails at once, said so
          const next = yield* Effect.forEach(
            Array.from({ length: 8 }),
            (_, i) =>
              Effect.flip<unknown, TokenStore.TokenStoreError, never>(
                i % 2 === 0
                  ? store.get(key)
                  : store.compareAndSet(key, 1, { accessToken: token("b"), refreshToken: undefined })
              ),
            { concurrency: "unbounded" }
          )
          for (const error of next) {
            assert.strictEqual(error._tag, "TokenStoreError")
            assert.match(error.reason, /^not sent: Redis did not answer within 1s/)
          }
          yield* server.resume
          // after the period one operation tries Redis again; it answers, and every operation is sent again
          const read = yield* store.get(key).pipe(
            Effect.retry({ times: 100, schedule: Schedule.spaced("50 millis") }),
            Effect.timeout("10 seconds")
          )
          assert.strictEqual(Option.getOrThrow(read).version, 1)
          const all = yield* Effect.forEach(Array.from({ length: 8 }), () => store.get(key), {
            concurrency: "unbounded"
          })
          assert.isTrue(all.every(Option.isSome))
        }).pipe(Effect.scoped),
      30_000
    )

    it.live(
      "an error reply that says 'timed out' is an answer, not a timeout: it starts no quiet period",
      () =>
        Effect.gen(function*() {
          // EVALSHA disabled: Redis answers each script at once with an error that quotes the command's
          // arguments, among them the entry's Redis key, which holds a store key that says "timed out"
          const server = yield* RedisServer.makeWith(["--rename-command", "EVALSHA", ""])
          // a quiet period lasts one operation timeout from the failure: 30 s here, so the lease below, sent
          // right after the error (milliseconds later, seconds on a loaded machine), would fall within it
          // and fail unsent had the error started one; an answered operation does not wait for the timeout
          const store = yield* storeOn(server, { operationTimeout: "30 seconds" })
          const key = `${freshKey()} timed out`
          const error = yield* Effect.flip(store.get(key))
          assert.strictEqual(error._tag, "TokenStoreError")
          // Redis's answer (a script is an EVALSHA), and its text says "timed out"
          assert.include(error.reason, "unknown command")
          assert.include(error.reason, "timed out")
          // a lease is a SET, not a script: it is sent, and Redis grants it
          const lease = yield* store.acquireLease(key, "10 seconds")
          assert.isTrue(Option.isSome(lease))
        }).pipe(Effect.scoped),
      60_000
    )

    it.live("a killed server: operations fail fast; a restarted one is used again by itself", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make
        const store = yield* storeOn(server, { operationTimeout: "500 millis" })
        const key = freshKey()
        yield* store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
        yield* server.kill
        const error = yield* Effect.flip(store.get(key))
        assert.strictEqual(error._tag, "TokenStoreError")
        assert.strictEqual(error.operation, "get")
        yield* server.restart
        // reconnection is in the background (at most 1 s apart); the empty server has no entry
        const read = yield* store.get(key).pipe(
          Effect.retry({ times: 40, schedule: Schedule.spaced("100 millis") }),
          Effect.timeout("10 seconds")
        )
        assert.isTrue(Option.isNone(read))
        // and the scripts are loaded again (NOSCRIPT after a restart)
        const write = yield* store.compareAndSet(key, undefined, { accessToken: token("b"), refreshToken: undefined })
        assert.strictEqual(write._tag, "Written")
      }).pipe(Effect.scoped))

    it.live(
      "an outage is logged once for the process: one warning when Redis stops answering, one info when it answers again, whatever the number of keys",
      () => {
        const logs = captureLogs()
        const count = (level: string, text: string) =>
          logs.lines.filter((line) => line.startsWith(level) && line.includes(text)).length
        return Effect.gen(function*() {
          const server = yield* RedisServer.make
          const store = yield* storeOn(server, { operationTimeout: "300 millis" })
          const keys = Array.from({ length: 5 }, freshKey)
          const everyKey = Effect.forEach(keys, (key) => Effect.exit(store.get(key)), { concurrency: "unbounded" })
          yield* everyKey
          for (let outage = 1; outage <= 2; outage++) {
            yield* server.kill
            // 5 keys x 4 rounds of failed operations, concurrent and sequential
            for (let round = 0; round < 4; round++) yield* everyKey
            assert.strictEqual(count("WARN", "Redis does not answer"), outage, logs.lines.join("\n"))
            assert.strictEqual(count("INFO", "Redis answers again"), outage - 1)
            yield* server.restart
            yield* store.get(keys[0]!).pipe(
              Effect.retry({ times: 40, schedule: Schedule.spaced("100 millis") }),
              Effect.timeout("10 seconds")
            )
            yield* everyKey
            assert.strictEqual(count("WARN", "Redis does not answer"), outage)
            assert.strictEqual(count("INFO", "Redis answers again"), outage)
          }
          // nothing secret in them (the URL may hold a password; the key never appears)
          assert.notInclude(logs.lines.join("\n"), Redacted.value(KEY))
        }).pipe(Effect.scoped, Effect.provide(logs.layer))
      },
      60_000
    )

    it.live("a store started while Redis is down is built, fails fast, and works once Redis is up", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.make
        yield* server.kill
        const logs = captureLogs()
        const store = yield* storeOn(server, { operationTimeout: "300 millis" }).pipe(Effect.provide(logs.layer))
        assert.include(logs.lines.join("\n"), "not reachable")
        const key = freshKey()
        assert.strictEqual((yield* Effect.flip(store.get(key)))._tag, "TokenStoreError")
        yield* server.restart
        const write = yield* store.compareAndSet(key, undefined, { accessToken: token("a"), refreshToken: undefined })
          .pipe(
            Effect.retry({ times: 40, schedule: Schedule.spaced("100 millis") }),
            Effect.timeout("10 seconds")
          )
        assert.strictEqual(write._tag, "Written")
      }).pipe(Effect.scoped))
  })
})

describe("CriteoRedisStore options", () => {
  const password = "p4ssw0rd-never-shown"

  it.effect("a key that is not 256 bits, a bad URL or prefix: RedisStoreOptionsError, no value shown", () =>
    Effect.gen(function*() {
      const shortKey = yield* Effect.flip(
        CriteoRedisStore.make({ url: "redis://127.0.0.1:1", key: Redacted.make("too-short-secret") })
      )
      assert.strictEqual(shortKey._tag, "RedisStoreOptionsError")
      assert.strictEqual(shortKey.option, "key")
      assert.notInclude(shortKey.message, "too-short-secret")
      const badUrl = yield* Effect.flip(
        CriteoRedisStore.make({ url: Redacted.make(`http://:${password}@host`), key: KEY })
      )
      assert.strictEqual(badUrl.option, "url")
      assert.notInclude(JSON.stringify(badUrl) + badUrl.message, password)
      const badPrefix = yield* Effect.flip(
        CriteoRedisStore.make({ url: "redis://127.0.0.1:1", key: KEY, prefix: "has space" })
      )
      assert.strictEqual(badPrefix.option, "prefix")
    }).pipe(Effect.scoped))

  it.effect("config reads CRITEO_REDIS_URL and CRITEO_TOKEN_STORE_KEY as redacted, with defaults", () =>
    Effect.gen(function*() {
      const provider = (map: Record<string, string>) =>
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(map))))
      const options = yield* Effect.provide(
        CriteoRedisStore.config,
        provider({ CRITEO_REDIS_URL: `redis://:${password}@cache:6379/2`, CRITEO_TOKEN_STORE_KEY: "ab".repeat(32) })
      )
      assert.isTrue(Redacted.isRedacted(options.url))
      assert.isTrue(Redacted.isRedacted(options.key))
      assert.strictEqual(options.prefix, "criteo-auth")
      assert.strictEqual(Duration.toMillis(Duration.decode(options.operationTimeout!)), 1_000)
      assert.notInclude(JSON.stringify(options), password)
      const error = yield* Effect.flip(
        Effect.provide(
          CriteoRedisStore.config,
          provider({
            CRITEO_REDIS_URL: `memcached://:${password}@cache`,
            CRITEO_TOKEN_STORE_KEY: "not-a-key-secret"
          })
        )
      )
      const text = String(error)
      assert.include(text, "CRITEO_REDIS_URL")
      assert.include(text, "CRITEO_TOKEN_STORE_KEY")
      assert.notInclude(text, password)
      assert.notInclude(text, "not-a-key-secret")
      const timeout = yield* Effect.flip(
        Effect.provide(
          CriteoRedisStore.config,
          provider({
            CRITEO_REDIS_URL: "redis://cache",
            CRITEO_TOKEN_STORE_KEY: "ab".repeat(32),
            CRITEO_TOKEN_STORE_TIMEOUT: "soon"
          })
        )
      )
      assert.include(String(timeout), "CRITEO_TOKEN_STORE_TIMEOUT")
    }))

  it.effect("the layer with a bad key fails to build with the tagged error", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(
        CriteoRedisStore.layer({ url: "redis://127.0.0.1:1", key: Redacted.make("x") })
      ).pipe(Effect.exit, Effect.scoped)
      assert.isTrue(Exit.isFailure(exit))
    }))
})
