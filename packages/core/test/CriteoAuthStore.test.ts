/**
 * The provider on a `TokenStore`: providers that share a store share one token, rotate one refresh-token
 * chain without breaking it, and keep serving when the store fails.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import type * as AccessToken from "../src/AccessToken.js"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoAuthMetrics from "../src/CriteoAuthMetrics.js"
import * as Grant from "../src/Grant.js"
import * as TokenStore from "../src/TokenStore.js"
import { clientId, clientSecret, grant, makeFakeCriteo, settle } from "./utils.js"

const valueOf = (token: AccessToken.AccessToken) => Redacted.value(token.value)
/** The n of the fake's `access-n-...` and `refresh-n`. */
const indexOf = (value: string) => Number(value.split("-")[1])

const codeGrant = Grant.authorizationCode({
  clientId,
  clientSecret: Redacted.make(clientSecret),
  code: Redacted.make("code-1"),
  redirectUri: "https://app.example/callback"
})

/**
 * A fake token endpoint that revokes each refresh token once used, as Criteo does: a refresh with any but
 * the latest one is refused (400 invalid_grant) and kept in `refused`; with `codeOnce`, so is a second
 * exchange of the code. `latest` is the n of the latest token issued.
 */
const revokingServer = (options: { readonly codeOnce?: boolean; readonly tokenLatency?: number } = {}) =>
  Effect.gen(function*() {
    const chain = { latest: 0, refused: [] as Array<string> }
    let codeUsed = false
    const fake = yield* makeFakeCriteo({
      refreshTokens: true,
      ...(options.tokenLatency === undefined ? {} : { tokenLatency: options.tokenLatency }),
      tokenReply: (n, request) => {
        const refused = request.form.get("grant_type") === "authorization_code"
          ? options.codeOnce === true && codeUsed
          : request.form.get("refresh_token") !== `refresh-${chain.latest}`
        if (refused) {
          chain.refused.push(request.form.get("refresh_token") ?? "the code, again")
          return { status: 400, body: { error: "invalid_grant" } }
        }
        codeUsed = true
        chain.latest = n
        return undefined
      }
    })
    return { fake, chain }
  })

/**
 * The seven operations of `store`, each through `around` (given the operation's name), and nothing else
 * of it (no rate limits, no `boundsItsOperations`): a store to count, or to take down, in a test.
 */
const wrapStore = (
  store: TokenStore.Service,
  around: <A>(
    operation: string,
    effect: Effect.Effect<A, TokenStore.TokenStoreError>
  ) => Effect.Effect<A, TokenStore.TokenStoreError>
): TokenStore.Service => ({
  name: store.name,
  get: (key) => around("get", store.get(key)),
  compareAndSet: (key, version, write) => around("compareAndSet", store.compareAndSet(key, version, write)),
  invalidate: (key, fingerprint) => around("invalidate", store.invalidate(key, fingerprint)),
  acquireLease: (key, ttl) => around("acquireLease", store.acquireLease(key, ttl)),
  releaseLease: (lease) => around("releaseLease", store.releaseLease(lease)),
  awaitChange: (key, version, timeout) => around("awaitChange", store.awaitChange(key, version, timeout)),
  remove: (key) => around("remove", store.remove(key))
})

/** How many `get`s of a store failed so far (`criteo_auth_store_degraded_total`, operation `get`). */
const degradedGets = Effect.map(
  Metric.value(Metric.tagged(CriteoAuthMetrics.storeDegraded, "operation", "get")),
  (state) => state.count
)

/** The messages logged at Warning or above, with the logger that collects them. */
const captureWarnings = () => {
  const warnings: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) warnings.push(String(message))
  })
  return { warnings, logger: Logger.replace(Logger.defaultLogger, logger) }
}

/** A store that counts the operations made on it. */
const counting = (store: TokenStore.Service) => {
  const counts = { operations: 0 }
  const wrapped = wrapStore(store, (_, effect) => Effect.zipRight(Effect.sync(() => counts.operations++), effect))
  return { store: wrapped, counts }
}

/** A store whose every operation fails, as an unreachable Redis would. */
const broken: TokenStore.Service = (() => {
  const fail = (operation: string) =>
    Effect.fail(new TokenStore.TokenStoreError({ store: "broken", operation, key: clientId, reason: "unreachable" }))
  return {
    name: "broken",
    get: () => fail("get"),
    compareAndSet: () => fail("compareAndSet"),
    invalidate: () => fail("invalidate"),
    acquireLease: () => fail("acquireLease"),
    releaseLease: () => fail("releaseLease"),
    awaitChange: () => fail("awaitChange"),
    remove: () => fail("remove")
  }
})()

describe("CriteoAuth on a TokenStore", () => {
  it.scoped("two providers sharing a memory store make one token request", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo({ tokenLatency: 200 })
      const store = yield* TokenStore.makeMemory
      const a = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const b = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).token), { concurrency: "unbounded" })
      )
      yield* settle
      yield* TestClock.adjust("200 millis")
      yield* settle
      const tokens = yield* Fiber.join(fiber)
      assert.strictEqual(fake.stats.tokenRequests, 1)
      assert.strictEqual(new Set(tokens.map(valueOf)).size, 1)
      // a third provider started later finds the token in the store: no request either
      const c = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      assert.strictEqual(valueOf(yield* c.token), valueOf(tokens[0]))
      assert.strictEqual(fake.stats.tokenRequests, 1)
      // and a token one provider invalidates is not served from the store by another
      assert.isTrue(yield* a.invalidate(tokens[0]))
      const d = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const next = yield* Effect.fork(d.token)
      yield* settle
      yield* TestClock.adjust("200 millis")
      assert.notStrictEqual(valueOf(yield* Fiber.join(next)), valueOf(tokens[0]))
      assert.strictEqual(fake.stats.tokenRequests, 2)
    }))

  it.scoped("the hot path does not touch the store while the local copy is fresh", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo()
      const { counts, store } = counting(yield* TokenStore.makeMemory)
      const auth = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      yield* auth.token
      const before = counts.operations
      assert.isAbove(before, 0)
      for (let i = 0; i < 1_000; i++) yield* auth.token
      yield* TestClock.adjust("10 minutes")
      for (let i = 0; i < 1_000; i++) yield* auth.token
      assert.strictEqual(counts.operations, before)
    }))

  it.scoped(
    "rotation under concurrency: 50 rounds of concurrent refreshes from two providers, one chain, 0 invalid_grant",
    () =>
      Effect.gen(function*() {
        // a server that revokes each refresh token once used, and the code once exchanged
        const { chain, fake } = yield* revokingServer({ codeOnce: true, tokenLatency: 100 })
        const store = yield* TokenStore.makeMemory
        const reported: Array<string> = []
        const provider = CriteoAuth.make({
          grant: codeGrant,
          tokenStore: store,
          storeKey: "account-1",
          onRefreshToken: (refreshToken) => Effect.sync(() => reported.push(Redacted.value(refreshToken)))
        }).pipe(Effect.provide(fake.layer))
        const a = yield* provider
        const b = yield* provider
        /** The refresh token that came with `token` is in the store (or a later one) when the caller gets it. */
        const storedBeforeUse = (token: AccessToken.AccessToken) =>
          Effect.map(store.get("account-1"), (entry) => {
            const stored = Option.getOrThrow(entry).refreshToken
            assert.isAtLeast(indexOf(Redacted.value(stored!)), indexOf(valueOf(token)))
            return token
          })
        const first = yield* Effect.fork(a.token)
        yield* TestClock.adjust("100 millis")
        yield* storedBeforeUse(yield* Fiber.join(first))

        for (let round = 0; round < 50; round++) {
          const calls = Array.from(
            { length: 40 },
            (_, i) => (i % 2 === 0 ? a : b)[i % 4 < 2 ? "refresh" : "token"].pipe(Effect.flatMap(storedBeforeUse))
          )
          // refresh on both providers, and token on providers whose token was just invalidated
          yield* a.invalidate(yield* a.token)
          const fiber = yield* Effect.fork(Effect.all(calls, { concurrency: "unbounded" }))
          for (let i = 0; i < 5; i++) {
            yield* settle
            yield* TestClock.adjust("100 millis")
          }
          const tokens = yield* Fiber.join(fiber)
          assert.strictEqual(tokens.length, 40)
          yield* TestClock.adjust("1 second")
        }

        const requests = yield* fake.requests
        assert.deepStrictEqual(chain.refused, [])
        // the chain: the code once, then each refresh token used exactly once, in order
        assert.strictEqual(requests[0].form.get("grant_type"), "authorization_code")
        for (let i = 1; i < requests.length; i++) {
          assert.strictEqual(requests[i].form.get("refresh_token"), `refresh-${i}`)
        }
        // one request per round: the other provider and the other fibers shared it
        assert.strictEqual(requests.length, 51)
        // every rotated refresh token was reported once, by the provider that stored it
        assert.deepStrictEqual(reported, requests.map((_, i) => `refresh-${i + 1}`))
        const entry = Option.getOrThrow(yield* store.get("account-1"))
        assert.strictEqual(Redacted.value(entry.refreshToken!), `refresh-${requests.length}`)
      }),
    60_000
  )

  it.scoped(
    "a refused compare-and-set, then two rotations with the store down: one unbroken chain, 0 invalid_grant",
    () =>
      Effect.gen(function*() {
        const { chain, fake } = yield* revokingServer()
        const memory = yield* TokenStore.makeMemory
        // the store's writes fail while `casDown`; every operation fails while `allDown`
        const outage = { casDown: false, allDown: false }
        const unreachable = (operation: string) =>
          Effect.fail(new TokenStore.TokenStoreError({ store: "flaky", operation, key: "k", reason: "unreachable" }))
        const flaky: TokenStore.Service = {
          ...wrapStore(memory, (operation, effect) =>
            Effect.suspend(() =>
              outage.allDown || (outage.casDown && operation === "compareAndSet") ? unreachable(operation) : effect
            )),
          name: "flaky"
        }
        const storedRefreshToken = Effect.map(
          memory.get("account-3"),
          (entry) =>
            Redacted.value(Option.getOrThrow(entry).refreshToken!)
        )
        const provider = CriteoAuth.make({ grant: codeGrant, tokenStore: flaky, storeKey: "account-3" }).pipe(
          Effect.provide(fake.layer)
        )
        const a = yield* provider
        yield* a.token
        assert.strictEqual(yield* storedRefreshToken, "refresh-1")

        // 1. the store refuses the write of a rotation: the token is served, refresh-2 is not stored
        outage.casDown = true
        yield* a.refresh
        assert.strictEqual(yield* storedRefreshToken, "refresh-1")
        outage.casDown = false
        // it is written back, and the next refresh exchanges it (not refresh-1: invalid_grant)
        yield* a.refresh
        assert.strictEqual(yield* storedRefreshToken, "refresh-3")

        // 2. the whole store down for two rotations: the provider rotates alone (refresh-3, then refresh-4)
        outage.allDown = true
        yield* a.refresh
        yield* a.refresh
        outage.allDown = false
        assert.strictEqual(yield* storedRefreshToken, "refresh-3")
        // back: another provider on the store is served the refresh token the outage rotated to
        yield* a.refresh
        assert.strictEqual(yield* storedRefreshToken, "refresh-6")
        const b = yield* provider
        const requestsBefore = (yield* fake.requests).length
        yield* b.token
        assert.strictEqual((yield* fake.requests).length, requestsBefore, "a's fresh token, from the store")
        yield* b.refresh
        assert.strictEqual(yield* storedRefreshToken, "refresh-7")

        assert.deepStrictEqual(chain.refused, [])
        const sent = (yield* fake.requests).slice(1).map((request) =>
          request.form.get("refresh_token")
        )
        assert.deepStrictEqual(sent, ["refresh-1", "refresh-2", "refresh-3", "refresh-4", "refresh-5", "refresh-6"])
      })
  )

  it.scoped("a refresh token already in the store supersedes the grant's (a consent connected elsewhere)", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo({ refreshTokens: true })
      const store = yield* TokenStore.makeMemory
      yield* store.compareAndSet("account-2", undefined, {
        accessToken: undefined,
        refreshToken: Redacted.make("stored-refresh")
      })
      const auth = yield* CriteoAuth.make({ grant: codeGrant, tokenStore: store, storeKey: "account-2" }).pipe(
        Effect.provide(fake.layer)
      )
      yield* auth.token
      const [request] = yield* fake.requests
      assert.strictEqual(request.form.get("grant_type"), "refresh_token")
      assert.strictEqual(request.form.get("refresh_token"), "stored-refresh")
      assert.isNull(request.form.get("code"))
      const entry = Option.getOrThrow(yield* store.get("account-2"))
      assert.strictEqual(Redacted.value(entry.refreshToken!), "refresh-1")
    }))

  it.scoped("a lease whose holder died is taken over once it expires; the waiter is bounded by it", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo()
      const store = yield* TokenStore.makeMemory
      // another process took the lease and died
      yield* store.acquireLease(clientId, "30 seconds")
      const auth = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const fiber = yield* Effect.fork(auth.token)
      yield* settle
      yield* TestClock.adjust("29 seconds")
      yield* settle
      assert.strictEqual(fake.stats.tokenRequests, 0)
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.stats.tokenRequests, 1)
    }))

  it.scoped("a 429 one provider met is known to the others through the store: they do not ask", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo({
        tokenReply: (n) => (n === 1 ? { status: 429, headers: { "retry-after": "120" } } : undefined)
      })
      const store = yield* TokenStore.makeMemory
      const a = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const b = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      assert.strictEqual((yield* Effect.flip(a.token))._tag, "RateLimitedError")
      const error = yield* Effect.flip(b.token)
      assert.strictEqual(error._tag, "RateLimitedError")
      assert.strictEqual(fake.stats.tokenRequests, 1)
      // capped at maxRateLimitWait like a local one, then asked again
      yield* TestClock.adjust(CriteoAuth.defaults.maxRateLimitWait)
      yield* b.token
      assert.strictEqual(fake.stats.tokenRequests, 2)
    }))

  it.scoped("a store of the application's that hangs counts as failed after storeTimeout: callers are served", () =>
    Effect.gen(function*() {
      // no boundsItsOperations: the provider bounds every operation on its Clock
      const hanging: TokenStore.Service = { ...broken, name: "hanging", get: () => Effect.never }
      const fake = yield* makeFakeCriteo()
      const auth = yield* CriteoAuth.make({ grant, tokenStore: hanging }).pipe(Effect.provide(fake.layer))
      const fiber = yield* Effect.fork(auth.token)
      yield* settle
      yield* TestClock.adjust(CriteoAuth.defaults.storeTimeout)
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.stats.tokenRequests, 1)
    }))

  it.scoped(
    "a store that bounds its operations itself is not timed out on the Clock: an answer after a clock jump counts",
    () =>
      Effect.gen(function*() {
        // A remote store answers in real time while a TestClock may jump (the fleet's simulated day): the
        // provider must not time the store out on its Clock (it did, after 5 s: the token was then obtained
        // without the store, one extra request per provider). The store bounds its own operations.
        const memory = yield* TokenStore.makeMemory
        const gate = yield* Deferred.make<void>()
        const slow: TokenStore.Service = {
          ...memory,
          boundsItsOperations: true,
          get: (key) => Effect.zipRight(Deferred.await(gate), memory.get(key))
        }
        const degradedBefore = yield* degradedGets
        const fake = yield* makeFakeCriteo()
        const auth = yield* CriteoAuth.make({ grant, tokenStore: slow }).pipe(Effect.provide(fake.layer))
        const fiber = yield* Effect.fork(auth.token)
        yield* settle
        yield* TestClock.adjust("1 minute")
        yield* Deferred.succeed(gate, undefined)
        const token = yield* Fiber.join(fiber)
        assert.strictEqual(fake.stats.tokenRequests, 1)
        // obtained through the store (under its lease, then written there), not around it
        const stored = Option.getOrUndefined(yield* memory.get(clientId))?.accessToken
        assert.strictEqual(stored === undefined ? undefined : valueOf(stored), valueOf(token))
        assert.strictEqual(yield* degradedGets, degradedBefore)
      })
  )

  it.scoped("a store that fails does not fail the callers: they are served, with one warning and a metric", () => {
    const { logger, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const degradedBefore = yield* degradedGets
      const fake = yield* makeFakeCriteo({ tokenLatency: 100 })
      const auth = yield* CriteoAuth.make({ grant, tokenStore: broken }).pipe(Effect.provide(fake.layer))
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 100 }, () => auth.token), {
        concurrency: "unbounded"
      }))
      yield* settle
      yield* TestClock.adjust("100 millis")
      const tokens = yield* Fiber.join(fiber)
      assert.strictEqual(new Set(tokens.map(valueOf)).size, 1)
      assert.strictEqual(fake.stats.tokenRequests, 1)
      // a 401 still invalidates, and the next token is obtained without the store
      assert.isTrue(yield* auth.invalidate(tokens[0]))
      const next = yield* Effect.fork(auth.token)
      yield* settle
      yield* TestClock.adjust("100 millis")
      assert.notStrictEqual(valueOf(yield* Fiber.join(next)), valueOf(tokens[0]))
      assert.strictEqual(fake.stats.tokenRequests, 2)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "without the store")
      assert.strictEqual(yield* degradedGets, degradedBefore + 2)
      // nothing secret in the warning
      assert.notInclude(warnings[0], valueOf(tokens[0]))
      assert.notInclude(warnings[0], clientSecret)
    }).pipe(Effect.provide(logger))
  })

  it.scoped("an invalidation the store did not take: the next token is a new one, not the invalidated copy it kept", () =>
    Effect.gen(function*() {
      // Redis slow or stopped while a 401 invalidates: its entry keeps the token; it answers the next read
      const memory = yield* TokenStore.makeMemory
      const keeps = wrapStore(memory, (operation, effect) =>
        operation === "invalidate"
          ? Effect.fail(new TokenStore.TokenStoreError({ store: "keeps", operation, key: clientId, reason: "timeout" }))
          : effect)
      const fake = yield* makeFakeCriteo()
      const auth = yield* CriteoAuth.make({ grant, tokenStore: keeps }).pipe(Effect.provide(fake.layer))
      const first = yield* auth.token
      assert.isTrue(yield* auth.invalidate(first))
      const second = yield* auth.token
      assert.notStrictEqual(valueOf(second), valueOf(first))
      assert.strictEqual(fake.stats.tokenRequests, 2)
      // and the new token replaced the invalidated one in the store: a second provider is served it
      const other = yield* CriteoAuth.make({ grant, tokenStore: keeps }).pipe(Effect.provide(fake.layer))
      assert.strictEqual(valueOf(yield* other.token), valueOf(second))
      assert.strictEqual(fake.stats.tokenRequests, 2)
    }))

  it.scoped("a store that reports its own outages: its providers log no warning of their own, the metric still counts", () => {
    const { logger, warnings } = captureWarnings()
    return Effect.gen(function*() {
      const degradedBefore = yield* degradedGets
      const fake = yield* makeFakeCriteo()
      const reporting: TokenStore.Service = { ...broken, reportsOutages: true }
      // three accounts' providers on one store, as CriteoAccounts builds them
      const providers = yield* Effect.forEach(
        ["a", "b", "c"],
        (storeKey) => CriteoAuth.make({ grant, tokenStore: reporting, storeKey }).pipe(Effect.provide(fake.layer))
      )
      const fiber = yield* Effect.fork(Effect.forEach(providers, (auth) => auth.token, { concurrency: "unbounded" }))
      yield* settle
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.stats.tokenRequests, 3)
      assert.deepStrictEqual(warnings, [])
      assert.strictEqual(yield* degradedGets, degradedBefore + 3)
    }).pipe(Effect.provide(logger))
  })

  it.scoped(
    "a refresh token rotated while the store failed is written back when it answers: the other provider's next refresh uses it (0 invalid_grant)",
    () =>
      Effect.gen(function*() {
        const { chain, fake } = yield* revokingServer()
        const memory = yield* TokenStore.makeMemory
        // a store that can be taken down, as Redis stopped and then restarted empty
        let down = false
        const unreachable = (operation: string) =>
          Effect.fail(new TokenStore.TokenStoreError({ store: "switch", operation, key: "account-1", reason: "down" }))
        const store: TokenStore.Service = {
          ...wrapStore(memory, (operation, effect) => Effect.suspend(() => (down ? unreachable(operation) : effect))),
          name: "switch",
          boundsItsOperations: true
        }
        const provider = CriteoAuth.make({
          grant: codeGrant,
          tokenStore: store,
          storeKey: "account-1"
        }).pipe(Effect.provide(fake.layer))
        const a = yield* provider
        const b = yield* provider
        const storedRefreshToken = Effect.map(
          memory.get("account-1"),
          (entry) => Option.getOrUndefined(entry)?.refreshToken
        )
        // through the store: the code once (refresh-1), then a refresh rotates it (refresh-2); b is served it
        yield* a.token
        yield* a.refresh
        yield* b.token
        assert.strictEqual(Redacted.value((yield* storedRefreshToken)!), "refresh-2")

        // each round, the provider that rotated last (so it knows the chain's latest) rotates alone
        for (const [restartedEmpty, alone, other] of [[false, a, b], [true, b, a]] as const) {
          down = true
          // on its own, with the refresh token it last saw: rotated, but not in the store
          const during = yield* alone.refresh
          if (restartedEmpty) yield* memory.remove("account-1")
          assert.notStrictEqual(
            Redacted.value(during.refreshToken!),
            Redacted.value((yield* storedRefreshToken) ?? Redacted.make(""))
          )
          down = false
          // the background write-back tries again within 0.5 s (jittered up to x1.2), then doubles
          yield* TestClock.adjust("1 second")
          yield* settle
          assert.strictEqual(Redacted.value((yield* storedRefreshToken)!), Redacted.value(during.refreshToken!))
          // the other's refreshes read it from the store (the first is served the token fresh there), and the
          // chain goes on
          yield* other.refresh
          const after = yield* other.refresh
          assert.strictEqual(Redacted.value((yield* storedRefreshToken)!), Redacted.value(after.refreshToken!))
          assert.isAbove(indexOf(Redacted.value(after.refreshToken!)), indexOf(Redacted.value(during.refreshToken!)))
        }
        assert.deepStrictEqual(chain.refused, [])
      })
  )

  it.scoped("a pending write-back goes to the store before an acquisition through it reads the revoked one", () =>
    Effect.gen(function*() {
      const { chain, fake } = yield* revokingServer()
      const memory = yield* TokenStore.makeMemory
      let down = false
      const store: TokenStore.Service = {
        ...memory,
        get: (key) =>
          down
            ? Effect.fail(new TokenStore.TokenStoreError({ store: "switch", operation: "get", key, reason: "down" }))
            : memory.get(key)
      }
      const a = yield* CriteoAuth.make({ grant: codeGrant, tokenStore: store, storeKey: "account-1" }).pipe(
        Effect.provide(fake.layer)
      )
      yield* a.token
      down = true
      yield* a.refresh
      down = false
      // no time for the background retry: the next acquisition writes it back first, then refreshes with it
      yield* a.refresh
      assert.deepStrictEqual(chain.refused, [])
      assert.strictEqual(chain.latest, 3)
    }))
})
