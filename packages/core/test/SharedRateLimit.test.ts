/**
 * The API's rate limit shared through the store: a 429 that one provider's client meets is recorded
 * (`TokenStore.apiRateLimitKey`), and the clients of the other providers sharing the store wait for its
 * reset instead of meeting it too. On the TestClock, with the in-memory store (the Redis store's
 * cross-process version is platform's Fleet test).
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import * as TokenStore from "../src/TokenStore.js"
import { clientId, grant, makeFakeCriteo, settle } from "./utils.js"

/** A Criteo whose API answers 429 until `limitedUntil` (epoch ms, whole seconds), with `x-ratelimit-reset`. */
const makeLimitedCriteo = Effect.gen(function*() {
  const state = { limitedUntil: 0, limited: 0, served: [] as Array<number> }
  const fake = yield* makeFakeCriteo({
    apiReply: (request) => {
      if (request.at < state.limitedUntil) {
        state.limited++
        return {
          status: 429,
          body: { errors: [{ type: "quota", code: "rate-limited", traceIdentifier: "t-429" }] },
          headers: {
            "x-ratelimit-limit": "250",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": String(state.limitedUntil / 1000)
          }
        }
      }
      state.served.push(request.at)
      return undefined
    }
  })
  return { fake, state }
})

const clientOn = (auth: CriteoAuth.Service, http: Layer.Layer<HttpClient.HttpClient>) =>
  CriteoHttpClient.make().pipe(Effect.provideService(CriteoAuth.CriteoAuth, auth), Effect.provide(http), Effect.orDie)

const statusOf = (client: HttpClient.HttpClient.With<Error>) =>
  Effect.map(Effect.scoped(client.get("/advertisers/me")), (response) => response.status)

describe("the API's rate limit, shared through the store", () => {
  it.scoped("a 429 one provider's client met: the clients of the others wait for its reset instead of meeting it", () =>
    Effect.gen(function*() {
      const { fake, state } = yield* makeLimitedCriteo
      const store = yield* TokenStore.makeMemory
      const a = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const b = yield* CriteoAuth.make({ grant, tokenStore: store }).pipe(Effect.provide(fake.layer))
      const clientA = yield* clientOn(a, fake.layer)
      const clientB = yield* clientOn(b, fake.layer)
      assert.deepStrictEqual(yield* Effect.all([statusOf(clientA), statusOf(clientB)]), [200, 200])

      state.limitedUntil = (Math.floor((yield* TestClock.currentTimeMillis) / 1000) + 10) * 1000
      const first = yield* Effect.fork(statusOf(clientA))
      yield* settle
      assert.strictEqual(state.limited, 1)
      // recorded in the store, under the API's key (not the token endpoint's)
      assert.deepStrictEqual(
        yield* store.rateLimitedUntil!(TokenStore.apiRateLimitKey(clientId)),
        Option.some(state.limitedUntil)
      )
      assert.isTrue(Option.isNone(yield* store.rateLimitedUntil!(clientId)))
      assert.strictEqual(b.apiRateLimit?.untilMillis(), state.limitedUntil)
      const others = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => statusOf(clientB)), {
        concurrency: "unbounded"
      }))
      yield* settle
      assert.strictEqual(state.limited, 1)
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual(yield* Fiber.join(first), 200)
      assert.deepStrictEqual(yield* Fiber.join(others), [200, 200, 200, 200, 200])
      // the limit met once in all; every later call reached the API at or after the reset
      assert.strictEqual(state.limited, 1)
      assert.isTrue(state.served.slice(2).every((at) => at >= state.limitedUntil))
      // once passed, the knowledge is forgotten: the hot path is back to one comparison with 0
      assert.strictEqual(b.apiRateLimit?.untilMillis(), 0)
      assert.strictEqual(a.apiRateLimit?.untilMillis(), 0)
    }))

  it.scoped("without a shared store each provider meets the limit itself (the knowledge stays in its process)", () =>
    Effect.gen(function*() {
      const { fake, state } = yield* makeLimitedCriteo
      const a = yield* CriteoAuth.make({ grant }).pipe(Effect.provide(fake.layer))
      const b = yield* CriteoAuth.make({ grant }).pipe(Effect.provide(fake.layer))
      const clientA = yield* clientOn(a, fake.layer)
      const clientB = yield* clientOn(b, fake.layer)
      yield* Effect.all([statusOf(clientA), statusOf(clientB)])
      state.limitedUntil = (Math.floor((yield* TestClock.currentTimeMillis) / 1000) + 10) * 1000
      const first = yield* Effect.fork(statusOf(clientA))
      yield* settle
      // the same process's other calls wait for the reset they know
      const sameProcess = yield* Effect.fork(Effect.all(Array.from({ length: 3 }, () => statusOf(clientA))))
      const other = yield* Effect.fork(statusOf(clientB))
      yield* settle
      assert.strictEqual(state.limited, 2)
      yield* TestClock.adjust("11 seconds")
      assert.strictEqual(yield* Fiber.join(first), 200)
      assert.deepStrictEqual(yield* Fiber.join(sameProcess), [200, 200, 200])
      assert.strictEqual(yield* Fiber.join(other), 200)
      assert.strictEqual(state.limited, 2)
    }))
})
