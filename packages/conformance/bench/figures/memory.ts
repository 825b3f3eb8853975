/**
 * Figure 5, memory: the heap after a warm-up and after `requests` authenticated requests and
 * `refreshes` forced refreshes (`CriteoAuth.refresh`, evenly spread among the requests), both measured
 * after full garbage collections. The target is a growth under 5 %. The heap is also measured halfway:
 * a leak grows in both halves alike, while what a warm-up left unfinished (optimised code, caches
 * that fill once) shows in the first half only.
 *
 * The client is `CriteoHttpClient` with core's defaults on an in-memory `HttpClient` that keeps nothing
 * (no sockets, no body): what stays is core's (and Effect's) retention. One fiber makes the calls one
 * after the other, the cheapest way to make a million. Needs `node --expose-gc`.
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as V8 from "node:v8"
import { grant } from "../lib/clients.js"
import * as FakeCriteo from "../lib/fakeCriteo.js"
import { round } from "../lib/stats.js"

export interface Options {
  readonly requests: number
  readonly refreshes: number
  readonly warmupRequests: number
  readonly warmupRefreshes: number
}

export const defaults: Options = {
  requests: 1_000_000,
  refreshes: 10_000,
  warmupRequests: 100_000,
  warmupRefreshes: 1_000
}

export interface Result extends Options {
  readonly heapBeforeBytes: number
  /** After half the requests and refreshes: what the second half adds is the rate of any leak. */
  readonly heapHalfwayBytes: number
  readonly heapAfterBytes: number
  readonly secondHalfGrowthBytes: number
  /** Growth of each heap space (after GC) over the run: old space is data, code space is compiled code. */
  readonly growthBySpace: Record<string, number>
  readonly growthBytes: number
  readonly growthPercent: number
  /** Growth divided by the requests and refreshes of the run. */
  readonly bytesPerRequest: number
  readonly bytesPerRefresh: number
  readonly tokenRequests: number
  readonly failed: number
  readonly wallMs: number
}

/** Bytes used in each space of the V8 heap (new, old, code, large objects, ...). */
const spaces = (): Record<string, number> =>
  Object.fromEntries(V8.getHeapSpaceStatistics().map((space) => [space.space_name, space.space_used_size]))

/** Full collections until the heap stops shrinking (at most 10), between turns of the event loop. */
export const settledHeap = async (): Promise<number> => {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error("the memory figure needs node --expose-gc")
  let last = Number.POSITIVE_INFINITY
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    const used = process.memoryUsage().heapUsed
    if (used >= last * 0.999) return Math.min(used, last)
    last = used
  }
  return last
}

export const run = async (options: Options = defaults): Promise<Result> => {
  const fake = FakeCriteo.makeStateless()
  const runtime = ManagedRuntime.make(
    CriteoHttpClient.layer().pipe(
      Layer.provideMerge(CriteoAuth.layer({ grant })),
      Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
    )
  )
  let failed = 0
  /** `requests` calls in all, with a forced refresh before every `requests / refreshes` of them. */
  const traffic = (requests: number, refreshes: number) =>
    Effect.gen(function*() {
      const client = yield* CriteoHttpClient.CriteoHttpClient
      const auth = yield* CriteoAuth.CriteoAuth
      const every = Math.max(1, Math.floor(requests / Math.max(1, refreshes)))
      for (let i = 0; i < requests; i++) {
        if (i % every === 0 && i / every < refreshes) yield* auth.refresh
        const response = yield* client.get("/advertisers/me")
        if (response.status !== 200) failed++
      }
    })
  try {
    await runtime.runPromise(traffic(options.warmupRequests, options.warmupRefreshes))
    const before = await settledHeap()
    const spacesBefore = spaces()
    const start = performance.now()
    // in slices, to report progress, let the event loop turn, and measure the heap halfway
    const slices = 20
    let halfway = 0
    for (let s = 1; s <= slices; s++) {
      await runtime.runPromise(traffic(options.requests / slices, options.refreshes / slices))
      if (s % 5 === 0) {
        process.stderr.write(
          `  memory: ${((options.requests / slices) * s).toLocaleString("en-US")} requests in ${
            Math.round(performance.now() - start)
          } ms\n`
        )
      }
      if (s === slices / 2) halfway = await settledHeap()
    }
    const wallMs = Math.round(performance.now() - start)
    const after = await settledHeap()
    const spacesAfter = spaces()
    const growth = after - before
    return {
      ...options,
      heapBeforeBytes: before,
      heapHalfwayBytes: halfway,
      heapAfterBytes: after,
      secondHalfGrowthBytes: after - halfway,
      growthBySpace: Object.fromEntries(
        Object.entries(spacesAfter)
          .map(([name, used]) => [name, used - (spacesBefore[name] ?? 0)] as const)
          .filter(([, growth]) => growth !== 0)
      ),
      growthBytes: growth,
      growthPercent: round((growth / before) * 100, 2),
      bytesPerRequest: round(growth / options.requests, 3),
      bytesPerRefresh: round(growth / options.refreshes, 1),
      tokenRequests: fake.stats.tokenRequests,
      failed,
      wallMs
    }
  } finally {
    await runtime.dispose()
  }
}
