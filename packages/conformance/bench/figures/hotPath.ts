/**
 * Figure 1, the hot path: authenticated requests per second divided by the same client's requests
 * per second without authentication, against the loopback server, with a token already cached.
 *
 * Three pairs (see `clients.ts`): criteo-auth / undici, hand-written / fetch, badgateway / fetch, and a
 * fourth for reference: undici with a fixed bearer header / undici, what the header alone costs. After
 * a warm-up, each round runs every pair as A B B A (or B A A B, alternating), each batch `requests`
 * calls with `concurrency` in flight, so both sides of a ratio are measured within a fraction of a
 * second of each other and in both orders: short batches and many rounds cancel out most of what
 * other work on the machine does to either side. The round's ratio is the baseline's time over the authenticated
 * client's time; the figure is the median over the rounds, with their spread.
 *
 * Alongside, the client process's CPU time per request (user + system, all threads): it is less
 * sensitive than wall time to other work on the machine, and it is what the authentication costs.
 */
import * as Clients from "../lib/clients.js"
import * as Loopback from "../lib/loopback.js"
import { interleave, median, recordOf, round, type Spread, spread, time, type Timing } from "../lib/stats.js"

export interface Options {
  readonly rounds: number
  readonly requests: number
  readonly concurrency: number
  readonly warmup: number
}

export const defaults: Options = { rounds: 30, requests: 1_000, concurrency: 32, warmup: 2_000 }

export const pairs = [
  ["criteo-auth", "undici"],
  ["hand-written", "fetch"],
  ["badgateway", "fetch"],
  // the floor: a fixed bearer header on the same undici client, no token logic
  ["undici-bearer", "undici"]
] as const

export type Authenticated = (typeof pairs)[number][0]

export interface Result extends Options {
  readonly tokenLatencyMs: number
  /** Authenticated ÷ unauthenticated requests per second, per round: median and spread. */
  readonly ratio: Record<Authenticated, Spread & { readonly baseline: Clients.ClientName }>
  /**
   * criteo-auth's ratio ÷ the floor's, per round (both against the same undici client in the same
   * round): what core's token logic costs beyond sending a bearer header. Optional: absent from
   * figures measured before it existed.
   */
  readonly aboveFloor?: Spread | undefined
  /** The same ratio from CPU time per request (baseline's ÷ authenticated client's). */
  readonly cpuRatio: Record<Authenticated, Spread>
  /** What authentication adds to the CPU time of a request, in microseconds, per round: median and spread. */
  readonly cpuOverheadMicros: Record<Authenticated, Spread>
  /** Requests per second of each client, median over its batches. */
  readonly requestsPerSecond: Record<Clients.ClientName, number>
  /** CPU time of the client process per request, in microseconds, median over its batches. */
  readonly cpuMicrosPerRequest: Record<Clients.ClientName, number>
  /** Failed calls over the whole figure (a status other than 200, or an error): must be 0. */
  readonly failures: number
  readonly firstFailure: string | undefined
  /** Token requests the server received over the whole figure (warm-up included). */
  readonly tokenRequests: number
}

const names: ReadonlyArray<Clients.ClientName> = [
  "criteo-auth",
  "undici",
  "undici-bearer",
  "hand-written",
  "badgateway",
  "fetch"
]

export const run = async (options: Options = defaults): Promise<Result> => {
  const server = await Loopback.start()
  try {
    await server.reset(0)
    const clients = recordOf(names, (name) => Clients.make[name](server))
    let failures = 0
    let firstFailure: string | undefined
    const batches = recordOf(names, (): Array<Timing> => [])
    const batch = async (name: Clients.ClientName, requests: number) => {
      const outcome = await clients[name].batch(requests, options.concurrency)
      failures += outcome.failures
      firstFailure ??= outcome.firstFailure
    }
    // each pair A B B A (or B A A B), and each batch kept for the per-client columns
    const rounds = await interleave({
      clients: names,
      rounds: options.rounds,
      warmUp: (name) => batch(name, options.warmup),
      batch: async (name) => {
        const timing = await time(() => batch(name, options.requests))
        batches[name].push(timing)
      },
      schedule: (r) =>
        pairs.map(([authenticated, baseline]) =>
          r % 2 === 0
            ? [authenticated, baseline, baseline, authenticated]
            : [baseline, authenticated, authenticated, baseline]
        ),
      onRound: (r, groups) => {
        if ((r + 1) % 5 !== 0) return
        const line = pairs.map(([a, b], i) => `${a}/${b} ${(groups[i]![b].ms / groups[i]![a].ms).toFixed(3)}`)
        process.stderr.write(`  hot path round ${r + 1}/${options.rounds}: ${line.join(", ")}\n`)
      }
    })
    const perPair = <A>(f: (authenticated: Timing, baseline: Timing) => A) =>
      recordOf(pairs.map(([name]) => name), (name) => {
        const i = pairs.findIndex(([a]) => a === name)
        return rounds.map((groups) => f(groups[i]![name], groups[i]![pairs[i]![1]]))
      })
    const ratios = perPair((authenticated, baseline) => baseline.ms / authenticated.ms)
    const cpuRatios = perPair((authenticated, baseline) => baseline.cpuMs / authenticated.cpuMs)
    const overheads = perPair((authenticated, baseline) =>
      ((authenticated.cpuMs - baseline.cpuMs) * 1000) / (2 * options.requests)
    )
    const { tokenRequests } = await server.stats()
    for (const name of names) await clients[name].close()

    const rounded = (s: Spread): Spread => ({ median: round(s.median, 3), min: round(s.min, 3), max: round(s.max, 3) })
    return {
      ...options,
      tokenLatencyMs: 0,
      ratio: recordOf(
        pairs.map(([name]) => name),
        (name) => ({ ...rounded(spread(ratios[name])), baseline: pairs.find(([a]) => a === name)![1] })
      ),
      aboveFloor: rounded(spread(ratios["criteo-auth"].map((ratio, r) => ratio / ratios["undici-bearer"][r]))),
      cpuRatio: recordOf(pairs.map(([name]) => name), (name) => rounded(spread(cpuRatios[name]))),
      cpuOverheadMicros: recordOf(pairs.map(([name]) => name), (name) => {
        const s = spread(overheads[name])
        return { median: round(s.median, 1), min: round(s.min, 1), max: round(s.max, 1) }
      }),
      requestsPerSecond: recordOf(
        names,
        (name) => round(median(batches[name].map((b) => options.requests / (b.ms / 1000))))
      ),
      cpuMicrosPerRequest: recordOf(
        names,
        (name) => round(median(batches[name].map((b) => (b.cpuMs * 1000) / options.requests)), 1)
      ),
      failures,
      firstFailure,
      tokenRequests
    }
  } finally {
    await server.close()
  }
}
