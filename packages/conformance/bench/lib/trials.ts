/**
 * What the stampede and the 401 storm share: every trial runs on a new client that starts from nothing,
 * and the trials of every client run in rounds on one loopback server.
 */
import * as Clients from "./clients.js"
import * as Loopback from "./loopback.js"
import { recordOf, rounds } from "./stats.js"

/**
 * One trial of `name` on `server`, from nothing: the server's connections closed and its counters reset
 * (its token endpoint answering after `tokenLatencyMs`), a new client that may open `connections`
 * connections; `body` measures; then the connections and the client are closed.
 */
export const withNewClient = async <A>(
  server: Loopback.Loopback,
  name: Clients.ClientName,
  options: { readonly tokenLatencyMs: number; readonly connections: number },
  body: (client: Clients.Client) => Promise<A>
): Promise<A> => {
  await server.disconnect()
  await server.reset(options.tokenLatencyMs)
  const client = Clients.make[name](server, { connections: options.connections })
  await client.ready()
  const result = await body(client)
  await server.disconnect()
  await client.close()
  return result
}

/**
 * A warm-up and `trials` rounds of every client (see `rounds`) on one loopback server, closed at the end;
 * each client's trials summarized by `summary`.
 */
export const onLoopback = async <K extends string, T, S>(
  clients: ReadonlyArray<K>,
  trials: number,
  warmUp: (server: Loopback.Loopback, client: K) => Promise<unknown>,
  trial: (server: Loopback.Loopback, client: K, round: number) => Promise<T | undefined>,
  summary: (trials: ReadonlyArray<T>) => S
): Promise<Record<K, S>> => {
  const server = await Loopback.start()
  try {
    const results = await rounds(
      clients,
      trials,
      (client) => warmUp(server, client),
      (client, round) => trial(server, client, round)
    )
    return recordOf(clients, (client) => summary(results.get(client)!))
  } finally {
    await server.close()
  }
}
