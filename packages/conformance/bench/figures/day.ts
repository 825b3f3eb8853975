/**
 * Figure 4, a simulated day of steady traffic on the TestClock: one API call every `intervalSeconds`
 * for 86,400 s through `CriteoHttpClient` with core's defaults, against an in-memory Criteo that issues
 * 900 s tokens in 300 ms and refuses (and counts) any expired token. The physical minimum is
 * 86,400 / 900 = 96 token requests; the target is at most 101, and no expired token sent.
 *
 * Like `packages/core/test/SteadyTraffic.test.ts`, but as a figure: the counts are reported, not
 * asserted. Only criteo-auth runs here: the other clients read `Date.now` and `setTimeout`, which the
 * TestClock does not drive.
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { grant } from "../lib/clients.js"
import * as FakeCriteo from "../lib/fakeCriteo.js"

export interface Options {
  readonly intervalSeconds: number
  readonly lifetimeSeconds: number
  readonly tokenLatencyMs: number
}

export const defaults: Options = { intervalSeconds: 60, lifetimeSeconds: 900, tokenLatencyMs: 300 }

export interface Result extends Options {
  readonly simulatedSeconds: number
  readonly calls: number
  /** Token requests over the day: the physical minimum is simulatedSeconds / lifetimeSeconds. */
  readonly tokenRequests: number
  readonly physicalMinimum: number
  /** API requests sent with a token that had expired. */
  readonly expiredSent: number
  /** API requests sent with no token or an unknown one. */
  readonly unknownSent: number
  /** Calls that reached the API later than they were made: they waited for a token. */
  readonly callersWaited: number
  /** Calls whose caller got a status other than 200. */
  readonly failed: number
  readonly wallMs: number
}

const day = 86_400_000

export const run = (options: Options = defaults): Promise<Result> => {
  const start = performance.now()
  const program = Effect.gen(function*() {
    const fake = FakeCriteo.makeStrict(options)
    const context = yield* Layer.build(
      CriteoHttpClient.layer().pipe(
        Layer.provide(CriteoAuth.layer({ grant })),
        Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
      )
    )
    const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
    const tick = options.intervalSeconds * 1000
    let calls = 0
    let failed = 0
    for (let t = 0; t < day; t += tick) {
      const fiber = yield* Effect.fork(client.get(`/advertisers/me?t=${t}`))
      yield* TestClock.adjust(tick)
      const response = yield* Fiber.join(fiber)
      // a background refresh reads its response body through real promises: let it land (STACK.md)
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      calls++
      if (response.status !== 200) failed++
    }
    const callersWaited = fake.arrivals.filter(({ at, query }) => `?t=${at}` !== query).length
    return {
      ...options,
      simulatedSeconds: day / 1000,
      calls,
      tokenRequests: fake.stats.tokenRequests,
      physicalMinimum: day / 1000 / options.lifetimeSeconds,
      expiredSent: fake.stats.expiredSent,
      unknownSent: fake.stats.unknownSent,
      callersWaited,
      failed,
      wallMs: Math.round(performance.now() - start)
    }
  })
  return Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestContext.TestContext)))
}
