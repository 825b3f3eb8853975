/**
 * Order statistics for the figures. Machines are noisy: every comparison is reported as the median of
 * per-round ratios, with the spread (min, max) alongside.
 */

export const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

/** The `q` quantile (0..1) by the nearest-rank method; NaN for no values. */
export const quantile = (values: ArrayLike<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = Array.from(values).sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export const spread = (values: ReadonlyArray<number>): Spread => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values)
})

export const round = (value: number, digits = 0): number => {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** `order(items, n)`: the items rotated by `n`, reversed on odd rounds, so that no client always runs first. */
export const order = <A>(items: ReadonlyArray<A>, n: number): ReadonlyArray<A> => {
  const rotated = items.map((_, i) => items[(i + n) % items.length])
  return n % 2 === 0 ? rotated : rotated.reverse()
}

/** A record with one entry per key. */
export const recordOf = <K extends string, V>(keys: ReadonlyArray<K>, f: (key: K) => V): Record<K, V> => {
  const out = {} as Record<K, V>
  for (const key of keys) out[key] = f(key)
  return out
}

/**
 * A warm-up trial of each client (not counted, so that no client's first trial pays for the JIT),
 * then `trials` rounds in which every client runs once, in an order that changes each round. `trial`
 * returns `undefined` to skip a client in a round.
 */
export const rounds = async <K extends string, A>(
  clients: ReadonlyArray<K>,
  trials: number,
  warmUp: (client: K) => Promise<unknown>,
  trial: (client: K, round: number) => Promise<A | undefined>
): Promise<Map<K, Array<A>>> => {
  for (const client of clients) await warmUp(client)
  const results = new Map<K, Array<A>>(clients.map((client) => [client, []]))
  for (let t = 0; t < trials; t++) {
    for (const client of order(clients, t)) {
      const result = await trial(client, t)
      if (result !== undefined) results.get(client)!.push(result)
    }
  }
  return results
}

/** The wall-clock and process CPU time (user + system, all threads) of one or more batches. */
export interface Timing {
  readonly ms: number
  readonly cpuMs: number
}

/** Runs `run` and measures its wall-clock and process CPU time. */
export const time = async (run: () => Promise<unknown>): Promise<Timing> => {
  const cpu = process.cpuUsage()
  const start = performance.now()
  await run()
  const ms = performance.now() - start
  const used = process.cpuUsage(cpu)
  return { ms, cpuMs: (used.user + used.system) / 1000 }
}

/**
 * The interleaved rounds of the hot-path figures: one warm-up batch of every client (not counted, so
 * that no client's first batch pays for the JIT), then `rounds` rounds. `schedule(round)` gives a
 * round's groups, each a sequence of clients that run one batch each, in that order (a client may come
 * more than once: A B B A). Returned: for each round and group, each client's timing summed over its
 * batches in the group. `onRound` sees each round as it ends (for a progress line).
 */
export const interleave = async <K extends string>(options: {
  readonly clients: ReadonlyArray<K>
  readonly rounds: number
  readonly warmUp: (client: K) => Promise<unknown>
  readonly batch: (client: K) => Promise<unknown>
  readonly schedule: (round: number) => ReadonlyArray<ReadonlyArray<K>>
  readonly onRound?: ((round: number, groups: ReadonlyArray<Record<K, Timing>>) => void) | undefined
}): Promise<ReadonlyArray<ReadonlyArray<Record<K, Timing>>>> => {
  for (const client of options.clients) await options.warmUp(client)
  const rounds: Array<ReadonlyArray<Record<K, Timing>>> = []
  for (let r = 0; r < options.rounds; r++) {
    const groups: Array<Record<K, Timing>> = []
    for (const sequence of options.schedule(r)) {
      const totals = {} as Record<K, Timing>
      for (const client of sequence) {
        const timing = await time(() => options.batch(client))
        const sum = totals[client] ?? { ms: 0, cpuMs: 0 }
        totals[client] = { ms: sum.ms + timing.ms, cpuMs: sum.cpuMs + timing.cpuMs }
      }
      groups.push(totals)
    }
    rounds.push(groups)
    options.onRound?.(r, groups)
  }
  return rounds
}
