import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as AccessToken from "../src/AccessToken.js"
import * as TokenStore from "../src/TokenStore.js"

const token = (value: string, refresh?: string) =>
  new AccessToken.AccessToken({
    value: Redacted.make(value),
    tokenType: "Bearer",
    expiresIn: Duration.seconds(900),
    issuedAt: DateTime.unsafeMake(1_000),
    expiresAt: DateTime.unsafeMake(901_000),
    ...(refresh === undefined ? {} : { refreshToken: Redacted.make(refresh) })
  })

describe("TokenStore (memory)", () => {
  it.effect("compare-and-set writes only over the version read", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const first = yield* store.compareAndSet("k", undefined, { accessToken: token("a"), refreshToken: undefined })
      assert.strictEqual(first._tag, "Written")
      const stale = yield* store.compareAndSet("k", undefined, { accessToken: token("b"), refreshToken: undefined })
      assert.strictEqual(stale._tag, "Conflict")
      if (stale._tag === "Conflict") assert.strictEqual(Option.getOrThrow(stale.current).version, 1)
      const second = yield* store.compareAndSet("k", 1, {
        accessToken: token("c"),
        refreshToken: Redacted.make("r2")
      })
      assert.strictEqual(second._tag === "Written" && second.entry.version, 2)
      const read = Option.getOrThrow(yield* store.get("k"))
      assert.strictEqual(Redacted.value(read.accessToken!.value), "c")
      assert.strictEqual(Redacted.value(read.refreshToken!), "r2")
    }))

  it.effect("invalidate drops the access token only when the fingerprint matches, and keeps the refresh token", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      yield* store.compareAndSet("k", undefined, { accessToken: token("a"), refreshToken: Redacted.make("r") })
      assert.isFalse(yield* store.invalidate("k", token("other").fingerprint))
      assert.isTrue(yield* store.invalidate("k", token("a").fingerprint))
      const read = Option.getOrThrow(yield* store.get("k"))
      assert.isUndefined(read.accessToken)
      assert.strictEqual(Redacted.value(read.refreshToken!), "r")
      assert.strictEqual(read.version, 2)
    }))

  it.effect("a lease is exclusive until released or expired; waiters wake on a write", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const lease = Option.getOrThrow(yield* store.acquireLease("k", "10 seconds"))
      assert.isTrue(Option.isNone(yield* store.acquireLease("k", "10 seconds")))
      const waiter = yield* Effect.fork(store.awaitChange("k", undefined, "1 minute"))
      yield* store.compareAndSet("k", undefined, { accessToken: token("a"), refreshToken: undefined })
      const seen = yield* Fiber.join(waiter)
      assert.strictEqual(Option.getOrThrow(seen).version, 1)
      yield* store.releaseLease(lease)
      assert.isTrue(Option.isSome(yield* store.acquireLease("k", "10 seconds")))
      // the new holder dies: its lease runs out on the clock and is taken over
      assert.isTrue(Option.isNone(yield* store.acquireLease("k", "10 seconds")))
      yield* TestClock.adjust("11 seconds")
      assert.isTrue(Option.isSome(yield* store.acquireLease("k", "10 seconds")))
    }))

  it.effect("a waiter wakes when the holder's lease expires, without a write", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      yield* store.acquireLease("k", "5 seconds")
      const waiter = yield* Effect.fork(store.awaitChange("k", undefined, "1 minute"))
      yield* TestClock.adjust("6 seconds")
      const seen = yield* Fiber.join(waiter)
      assert.isTrue(Option.isNone(seen))
    }))

  it.effect("a recorded rate limit keeps the later instant and is forgotten once passed", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      assert.isTrue(Option.isNone(yield* store.rateLimitedUntil!("k")))
      yield* store.recordRateLimit!("k", 30_000)
      yield* store.recordRateLimit!("k", 10_000)
      assert.deepStrictEqual(yield* store.rateLimitedUntil!("k"), Option.some(30_000))
      assert.isTrue(Option.isNone(yield* store.rateLimitedUntil!("other")))
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(Option.isNone(yield* store.rateLimitedUntil!("k")))
    }))

  it("entries survive encoding and a corrupt text decodes as none", () => {
    const entry: TokenStore.Entry = { accessToken: token("a", "r"), refreshToken: Redacted.make("r"), version: 3 }
    const back = Option.getOrThrow(TokenStore.decodeEntry(TokenStore.encodeEntry(entry)))
    assert.strictEqual(back.version, 3)
    assert.strictEqual(Redacted.value(back.accessToken!.value), "a")
    assert.strictEqual(DateTime.toEpochMillis(back.accessToken!.expiresAt), 901_000)
    assert.strictEqual(Redacted.value(back.refreshToken!), "r")
    assert.isTrue(Option.isNone(TokenStore.decodeEntry(Redacted.make("{not json"))))
    assert.isTrue(Option.isNone(TokenStore.decodeEntry(Redacted.make("{\"v\":2}"))))
    assert.notInclude(String(TokenStore.encodeEntry(entry)), "\"a\"")
  })
})
