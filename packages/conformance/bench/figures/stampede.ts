/**
 * Figure 2, the cold stampede: `callers` concurrent first calls on a client that has no token yet,
 * against a token endpoint that takes `tokenLatencyMs` to answer (so the window in which callers pile
 * up is real). Counts the token requests the server received (the target is 1) and each call's
 * latency, from its start to its body read.
 *
 * Every trial starts from nothing: a new client and no open connection (the server closes them all),
 * so each trial opens its connections under load. Each client may open `connections` connections (an
 * undici `Agent` with that limit: the Effect clients' own, the global dispatcher for fetch): with no
 * limit, 10,000 simultaneous connects overflow the loopback server's accept queue and the latencies
 * measure TCP's SYN retransmission timers instead of the clients. The clients without authentication
 * (undici, fetch) run `baselineTrials` of the same trials, as the floor of each latency. Trials
 * alternate the order.
 */
import type * as Clients from "../lib/clients.js"
import type * as Loopback from "../lib/loopback.js"
import { median, quantile, round } from "../lib/stats.js"
import { onLoopback, withNewClient } from "../lib/trials.js"

export interface Options {
  readonly callers: number
  /** Trials of each authenticated client. */
  readonly trials: number
  /** Trials of each client without authentication (the latency floor). */
  readonly baselineTrials: number
  readonly tokenLatencyMs: number
  /** Connections each client may open to the server (see the module comment). */
  readonly connections: number
}

export const defaults: Options = {
  callers: 10_000,
  trials: 2,
  baselineTrials: 1,
  tokenLatencyMs: 50,
  connections: 256
}

/** The authenticated clients, and each one's client without authentication, for reference. */
export const clients = ["criteo-auth", "undici", "hand-written", "badgateway", "fetch"] as const

const baselines: ReadonlyArray<Compared> = ["undici", "fetch"]

export type Compared = (typeof clients)[number]

export interface Trial {
  readonly tokenRequests: number
  readonly failures: number
  readonly firstFailure: string | undefined
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly wallMs: number
}

export interface ClientResult {
  /** The most token requests any trial made. */
  readonly tokenRequests: number
  readonly failures: number
  /** Medians over the trials. */
  readonly p50Ms: number
  readonly p99Ms: number
  readonly trials: ReadonlyArray<Trial>
}

export interface Result extends Options {
  readonly clients: Record<Compared, ClientResult>
}

export const trial = (
  server: Loopback.Loopback,
  name: Clients.ClientName,
  callers: number,
  tokenLatencyMs: number,
  connections: number
): Promise<Trial> =>
  withNewClient(server, name, { tokenLatencyMs, connections }, async (client) => {
    const start = performance.now()
    const outcome = await client.batch(callers, callers, true)
    const wallMs = performance.now() - start
    const { tokenRequests } = await server.stats()
    const latencies = outcome.latencies!
    return {
      tokenRequests,
      failures: outcome.failures,
      firstFailure: outcome.firstFailure,
      p50Ms: round(quantile(latencies, 0.5), 1),
      p99Ms: round(quantile(latencies, 0.99), 1),
      maxMs: round(quantile(latencies, 1), 1),
      wallMs: round(wallMs, 1)
    }
  })

export const run = async (options: Options = defaults): Promise<Result> => ({
  ...options,
  clients: await onLoopback(
    clients,
    options.trials,
    (server, name) =>
      trial(server, name, Math.min(1_000, options.callers), options.tokenLatencyMs, options.connections),
    async (server, name, t) => {
      if (baselines.includes(name) && t >= options.baselineTrials) return undefined
      const result = await trial(server, name, options.callers, options.tokenLatencyMs, options.connections)
      process.stderr.write(
        `  stampede trial ${
          t + 1
        }/${options.trials} ${name}: ${result.tokenRequests} token requests, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.failures} failures\n`
      )
      return result
    },
    (all) => ({
      tokenRequests: Math.max(...all.map((t) => t.tokenRequests)),
      failures: all.reduce((sum, t) => sum + t.failures, 0),
      p50Ms: round(median(all.map((t) => t.p50Ms)), 1),
      p99Ms: round(median(all.map((t) => t.p99Ms)), 1),
      trials: all
    })
  )
})
