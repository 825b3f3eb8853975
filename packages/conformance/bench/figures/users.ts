/**
 * Figure 1b, the hot path as users run it (issue 14): `CriteoNode.layer` and `CriteoFetch.layer` with
 * their defaults (the per-attempt API timeout included), each against its own floor — Effect's undici
 * client and Effect's fetch client sending a fixed bearer header — and every client against plain
 * `fetch` with a fixed bearer header, in one process. Twice: in an Effect pool (`Effect.forEach` with a
 * concurrency, as Effect applications call), and on the Promise path (`ManagedRuntime.runPromise` once
 * per call, as non-Effect applications do).
 *
 * After a warm-up, each round runs every client's batch once, in an order that rotates and reverses
 * from round to round; a round's ratio is one client's requests per second over another's in that same
 * round, and the figure is the median over the rounds, with the spread. CPU time per request (user +
 * system) is reported beside, and the CPU each criteo-auth layer adds over its floor.
 */
import * as Clients from "../lib/clients.js"
import * as Loopback from "../lib/loopback.js"
import { interleave, median, order, recordOf, round, type Spread, spread } from "../lib/stats.js"

export interface Options {
  readonly rounds: number
  readonly requests: number
  readonly concurrency: number
  readonly warmup: number
}

export const defaults: Options = { rounds: 15, requests: 1_000, concurrency: 32, warmup: 3_000 }

const names: ReadonlyArray<Clients.UserClientName> = [
  "fetch-bearer",
  "undici-bearer",
  "criteo-node",
  "fetch-effect-bearer",
  "criteo-fetch",
  "undici-bearer-promise",
  "criteo-node-promise",
  "fetch-effect-bearer-promise",
  "criteo-fetch-promise",
  "criteo-promise"
]

/** [client, its floor]: what criteo-auth adds on the same HttpClient, called the same way. */
export const floors = [
  ["criteo-node", "undici-bearer"],
  ["criteo-fetch", "fetch-effect-bearer"],
  ["criteo-node-promise", "undici-bearer-promise"],
  ["criteo-fetch-promise", "fetch-effect-bearer-promise"]
] as const

export interface Result extends Options {
  /** Each client's requests per second over plain fetch's (fixed header), per round. */
  readonly toFetch: Record<Clients.UserClientName, Spread>
  /** Each criteo-auth layer's requests per second over its floor's, per round. */
  readonly toFloor: Record<(typeof floors)[number][0], Spread & { readonly floor: string }>
  /** CPU time each criteo-auth layer adds per request over its floor, in µs, per round. */
  readonly cpuOverFloorMicros: Record<(typeof floors)[number][0], Spread>
  readonly requestsPerSecond: Record<Clients.UserClientName, number>
  readonly cpuMicrosPerRequest: Record<Clients.UserClientName, number>
  readonly failures: number
  readonly firstFailure: string | undefined
  readonly tokenRequests: number
  /** The Promise-facing client against the Promise path it replaces and against plain fetch. */
  readonly promiseClient: PromiseClientResult
}

/**
 * `CriteoPromise` (issue 14) beside `CriteoNode.layer` through `ManagedRuntime.runPromise` (what it
 * replaces for non-Effect applications) and plain fetch with a fixed bearer header, per round.
 */
export interface PromiseClientResult {
  /** criteo-promise's requests per second over criteo-node-promise's. */
  readonly toNodePromise: Spread
  /** CPU µs per request criteo-promise spends less than criteo-node-promise (positive: cheaper). */
  readonly cpuSavedMicros: Spread
  /** CPU µs per request criteo-promise spends over plain fetch with a fixed header. */
  readonly cpuOverFetchMicros: Spread
}

type Round = Record<Clients.UserClientName, { readonly ms: number; readonly cpuMs: number }>

const promiseClientRows = (rounds: ReadonlyArray<Round>, requests: number): PromiseClientResult => {
  const rounded = (s: Spread, digits: number): Spread => ({
    median: round(s.median, digits),
    min: round(s.min, digits),
    max: round(s.max, digits)
  })
  const micros = (f: (r: Round) => number) => rounded(spread(rounds.map((r) => (f(r) * 1000) / requests)), 1)
  return {
    toNodePromise: rounded(spread(rounds.map((r) => r["criteo-node-promise"].ms / r["criteo-promise"].ms)), 3),
    cpuSavedMicros: micros((r) => r["criteo-node-promise"].cpuMs - r["criteo-promise"].cpuMs),
    cpuOverFetchMicros: micros((r) => r["criteo-promise"].cpuMs - r["fetch-bearer"].cpuMs)
  }
}

export const run = async (options: Options = defaults): Promise<Result> => {
  const server = await Loopback.start()
  try {
    await server.reset(0)
    const clients = recordOf(names, (name) => Clients.makeUser[name](server))
    for (const name of names) await clients[name].ready()
    let failures = 0
    let firstFailure: string | undefined
    const batch = async (name: Clients.UserClientName, requests: number) => {
      const outcome = await clients[name].batch(requests, options.concurrency)
      failures += outcome.failures
      firstFailure ??= outcome.firstFailure
    }
    const rounds = (await interleave({
      clients: names,
      rounds: options.rounds,
      warmUp: (name) => batch(name, options.warmup),
      batch: (name) => batch(name, options.requests),
      schedule: (r) => [order(names, r)],
      onRound: (r, [results]) => {
        if ((r + 1) % 5 !== 0) return
        const line = floors.map(([a, b]) => `${a}/${b} ${(results[b].ms / results[a].ms).toFixed(3)}`)
        process.stderr.write(`  users' hot path round ${r + 1}/${options.rounds}: ${line.join(", ")}\n`)
      }
    })).map(([results]) => results)
    const { tokenRequests } = await server.stats()
    for (const name of names) await clients[name].close()

    const rounded = (s: Spread, digits = 3): Spread => ({
      median: round(s.median, digits),
      min: round(s.min, digits),
      max: round(s.max, digits)
    })
    return {
      ...options,
      toFetch: recordOf(names, (name) => rounded(spread(rounds.map((r) => r["fetch-bearer"].ms / r[name].ms)))),
      toFloor: recordOf(floors.map(([name]) => name), (name) => {
        const floor = floors.find(([a]) => a === name)![1]
        return { ...rounded(spread(rounds.map((r) => r[floor].ms / r[name].ms))), floor }
      }),
      cpuOverFloorMicros: recordOf(floors.map(([name]) => name), (name) => {
        const floor = floors.find(([a]) => a === name)![1]
        return rounded(spread(rounds.map((r) => ((r[name].cpuMs - r[floor].cpuMs) * 1000) / options.requests)), 1)
      }),
      requestsPerSecond: recordOf(
        names,
        (name) => round(median(rounds.map((r) => options.requests / (r[name].ms / 1000))))
      ),
      cpuMicrosPerRequest: recordOf(
        names,
        (name) => round(median(rounds.map((r) => (r[name].cpuMs * 1000) / options.requests)), 1)
      ),
      failures,
      firstFailure,
      tokenRequests,
      promiseClient: promiseClientRows(rounds, options.requests)
    }
  } finally {
    await server.close()
  }
}
