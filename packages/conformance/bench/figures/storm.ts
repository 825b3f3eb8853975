/**
 * Figure 3, the 401 storm: a client holds a token; the server revokes it; `callers` concurrent calls
 * then all send it and all get 401. Counts the token requests made to recover (the target is 1) and
 * the calls that failed for their caller (the target is 0).
 *
 * Each trial uses a new client that makes one call first (its one token request and one connection),
 * then the server revokes every token issued so far and the storm starts. Trials alternate the
 * clients' order. As in the stampede, the token endpoint takes `tokenLatencyMs` and each client may
 * open `connections` connections, so the 401s come back in waves rather than all at once: the late
 * ones carry a token that has already been replaced.
 */
import type * as Loopback from "../lib/loopback.js"
import { onLoopback, withNewClient } from "../lib/trials.js"

export interface Options {
  readonly callers: number
  readonly trials: number
  readonly tokenLatencyMs: number
  /** Connections each client may open to the server (see the module comment). */
  readonly connections: number
}

export const defaults: Options = { callers: 1_000, trials: 2, tokenLatencyMs: 50, connections: 256 }

export const clients = ["criteo-auth", "hand-written", "badgateway"] as const

export type Compared = (typeof clients)[number]

export interface Trial {
  /** Token requests made during the storm. */
  readonly tokenRequests: number
  /** Calls whose caller got no 200 (a 401 passed through, or an error). */
  readonly failed: number
  readonly firstFailure: string | undefined
  /** 401 answers the server sent during the storm. */
  readonly unauthorized: number
}

export interface ClientResult {
  /** The most token requests any trial made. */
  readonly tokenRequests: number
  /** The most failed calls in any trial. */
  readonly failed: number
  readonly trials: ReadonlyArray<Trial>
}

export interface Result extends Options {
  readonly clients: Record<Compared, ClientResult>
}

const trial = (server: Loopback.Loopback, name: Compared, options: Options): Promise<Trial> =>
  withNewClient(server, name, options, async (client) => {
    const warm = await client.batch(1, 1)
    if (warm.failures > 0) throw new Error(`${name}: the call before the storm failed: ${warm.firstFailure}`)
    await server.revoke()
    const before = await server.stats()
    const outcome = await client.batch(options.callers, options.callers)
    const after = await server.stats()
    return {
      tokenRequests: after.tokenRequests - before.tokenRequests,
      failed: outcome.failures,
      firstFailure: outcome.firstFailure,
      unauthorized: after.unauthorized - before.unauthorized
    }
  })

export const run = async (options: Options = defaults): Promise<Result> => ({
  ...options,
  clients: await onLoopback(
    clients,
    options.trials,
    (server, name) => trial(server, name, { ...options, callers: Math.min(100, options.callers) }),
    async (server, name, t) => {
      const result = await trial(server, name, options)
      process.stderr.write(
        `  401 storm trial ${
          t + 1
        }/${options.trials} ${name}: ${result.tokenRequests} token requests, ${result.failed} failed, ${result.unauthorized} 401s\n`
      )
      return result
    },
    (all) => ({
      tokenRequests: Math.max(...all.map((t) => t.tokenRequests)),
      failed: Math.max(...all.map((t) => t.failed)),
      trials: all
    })
  )
})
