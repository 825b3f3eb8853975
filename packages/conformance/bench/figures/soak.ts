/**
 * Figure 8, soak: `durationSeconds` (default 180) of steady API traffic through `CriteoNode.layer` with
 * its defaults, what users run, against the loopback server (`lib/server.ts`, its own process) set to
 * issue short tokens (`tokenLifetimeSeconds`, default 5) and to fail `tokenFailurePercent` of the token
 * requests (default 30: half 503s, half connection resets). `callers` fibers each make a call, read the
 * body, pause `pauseMs`, and again. The server checks each bearer against the expiry it issued it with.
 *
 * Reported: calls made and failed (target 0), expired tokens sent (target 0), token requests (all, and
 * those that got a token) against the minimum `total / (lifetime - lead) + 1` (the lead is core's: 20 s,
 * at most a quarter of the lifetime; the background refresh also starts up to a jitter, of the same
 * bound, earlier, so `total / (lifetime - lead - jitter) + 1` is the design's bound), and the heap after
 * full collections at the end of a warm-up, halfway through the soak and at its end: as in the memory
 * figure, the verdict is the second half's growth (< 1 %). Counters cover the warm-up too (`total` is
 * the warm-up plus the soak). Needs `node --expose-gc`.
 *
 *   pnpm bench --only soak --soak-seconds 60
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as CriteoNode from "@criteo-auth/platform/CriteoNode"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { apiPath, apiVersion, grant } from "../lib/clients.js"
import * as Loopback from "../lib/loopback.js"
import { round } from "../lib/stats.js"
import { settledHeap } from "./memory.js"

export interface Options {
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly tokenLifetimeSeconds: number
  readonly tokenFailurePercent: number
  readonly tokenLatencyMs: number
  readonly callers: number
  readonly pauseMs: number
}

export const defaults: Options = {
  durationSeconds: 180,
  warmupSeconds: 10,
  tokenLifetimeSeconds: 5,
  tokenFailurePercent: 30,
  tokenLatencyMs: 20,
  callers: 4,
  pauseMs: 20
}

export interface Result extends Options {
  readonly totalSeconds: number
  readonly calls: number
  /** Calls whose caller got an error or a status other than 200. */
  readonly failed: number
  readonly firstFailure: string | undefined
  /** API requests the server refused because the token it had issued had expired. */
  readonly expiredSent: number
  /** API requests the server received (replays included). */
  readonly apiRequests: number
  readonly tokenRequests: number
  readonly tokenFailures: number
  readonly tokensIssued: number
  /** `totalSeconds / (lifetime - lead) + 1`: one token per lifetime less the lead, and the first. */
  readonly minimumTokens: number
  /** `totalSeconds / (lifetime - lead - jitter) + 1`: every refresh jittered to its earliest. */
  readonly designBoundTokens: number
  readonly leadSeconds: number
  readonly heapStartBytes: number
  readonly heapHalfwayBytes: number
  readonly heapEndBytes: number
  /** Growth of the second half over the heap halfway, in %: a leak grows in both halves alike. */
  readonly secondHalfGrowthPercent: number
  readonly firstHalfGrowthPercent: number
  readonly wallMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

const describe = (error: unknown): string =>
  typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : String(error)

export const run = async (options: Options = defaults): Promise<Result> => {
  const server = await Loopback.start()
  const runtime = ManagedRuntime.make(
    CriteoNode.layer({ grant, tokenUrl: server.tokenUrl, apiUrl: server.baseUrl, apiVersion })
  )
  try {
    await server.reset(options.tokenLatencyMs, {
      tokenLifetimeSeconds: options.tokenLifetimeSeconds,
      tokenFailurePercent: options.tokenFailurePercent
    })
    const started = performance.now()
    const totalMs = (options.warmupSeconds + options.durationSeconds) * 1000
    const endAt = started + totalMs
    let calls = 0
    let failed = 0
    let firstFailure: string | undefined
    const caller = Effect.gen(function*() {
      const client = yield* CriteoHttpClient.CriteoHttpClient
      while (performance.now() < endAt) {
        const outcome = yield* client.get(apiPath).pipe(
          Effect.flatMap((response) => Effect.as(response.json, response.status)),
          Effect.either
        )
        calls++
        if (outcome._tag === "Left") {
          failed++
          firstFailure ??= describe(outcome.left)
        } else if (outcome.right !== 200) {
          failed++
          firstFailure ??= `status ${outcome.right}`
        }
        yield* Effect.sleep(options.pauseMs)
      }
    })
    const traffic = runtime.runFork(
      Effect.forEach(Array.from({ length: options.callers }), () => caller, {
        concurrency: "unbounded",
        discard: true
      })
    )
    const progress = (label: string) =>
      process.stderr.write(
        `  soak: ${label} at ${Math.round((performance.now() - started) / 1000)} s, ${calls} calls, ${failed} failed\n`
      )
    // the heap, after full collections, with the traffic running: at the end of the warm-up, halfway
    // through the soak, and at its end
    await sleep(options.warmupSeconds * 1000)
    const heapStart = await settledHeap()
    progress("warm-up done")
    await sleep(started + (options.warmupSeconds + options.durationSeconds / 2) * 1000 - performance.now())
    const heapHalfway = await settledHeap()
    progress("halfway")
    await sleep(endAt - 1000 - performance.now())
    const heapEnd = await settledHeap()
    await Effect.runPromise(Fiber.join(traffic))
    const wallMs = Math.round(performance.now() - started)
    progress("done")
    const stats = await server.stats()
    const totalSeconds = totalMs / 1000
    const lead = Math.min(20, options.tokenLifetimeSeconds / 4)
    return {
      ...options,
      totalSeconds,
      calls,
      failed,
      firstFailure,
      expiredSent: stats.expiredSent,
      apiRequests: stats.apiRequests,
      tokenRequests: stats.tokenRequests,
      tokenFailures: stats.tokenFailures,
      tokensIssued: stats.tokensIssued,
      minimumTokens: round(totalSeconds / (options.tokenLifetimeSeconds - lead) + 1, 1),
      designBoundTokens: round(totalSeconds / (options.tokenLifetimeSeconds - 2 * lead) + 1, 1),
      leadSeconds: lead,
      heapStartBytes: heapStart,
      heapHalfwayBytes: heapHalfway,
      heapEndBytes: heapEnd,
      firstHalfGrowthPercent: round(((heapHalfway - heapStart) / heapStart) * 100, 2),
      secondHalfGrowthPercent: round(((heapEnd - heapHalfway) / heapHalfway) * 100, 2),
      wallMs
    }
  } finally {
    await runtime.dispose()
    await server.close()
  }
}
