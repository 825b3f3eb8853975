import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import { grant, makeFakeCriteo } from "./utils.js"

/**
 * A simulated day of steady traffic on the TestClock: one API call a minute for 86,400 s, through
 * the authenticated client, against a fake Criteo that refuses expired tokens and takes 300 ms to
 * issue one.
 */
describe("a simulated day of steady traffic", () => {
  it.scoped(
    "token requests close to 86400/900, no expired token sent, no caller waiting after warm-up",
    () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeCriteo({ tokenLatency: 300 })
        const context = yield* Layer.build(
          CriteoHttpClient.layer().pipe(Layer.provide(CriteoAuth.layer({ grant })), Layer.provide(fake.layer))
        )
        const client = Effect.runSync(Effect.provide(CriteoHttpClient.CriteoHttpClient, context))

        const day = 86_400_000
        const tick = 60_000
        const statuses = new Map<number, number>()
        for (let t = 0; t < day; t += tick) {
          const fiber = yield* Effect.fork(client.get(`/advertisers/me?t=${t}`))
          yield* TestClock.adjust(tick)
          const response = yield* Fiber.join(fiber)
          // a background refresh reads its response body through real promises: let it land (STACK.md)
          yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        }

        const calls = (yield* fake.requests).filter((request) => request.path !== "/oauth2/token")
        // a caller that had to wait for a token sent its request after the instant it was issued at
        const waited = calls.filter((request) => request.at !== Number(new URLSearchParams(request.query).get("t")))

        assert.deepStrictEqual([...statuses], [[200, 1440]])
        assert.strictEqual(fake.stats.expiredSent, 0)
        assert.strictEqual(fake.stats.unknownSent, 0)
        assert.isAtLeast(fake.stats.tokenRequests, 96)
        assert.isAtMost(fake.stats.tokenRequests, 101)
        // only the very first call waits, for the first token
        assert.deepStrictEqual(waited.map((request) => request.query), ["?t=0"])
      }),
    120_000
  )
})
