/**
 * `node --import tsx bench/profile/compare.ts CLIENT FLOOR [REQUESTS] [ROUNDS]`: where a client of the
 * users' hot-path figure spends its time beyond its floor. Both clients are built in one process and
 * warmed up; then, ROUNDS times (default 6), each runs REQUESTS calls (default 5,000, 32 in flight) in
 * alternating order under the V8 sampling profiler (`node:inspector`, started and stopped around the
 * batch, so that start-up and warm-up are not counted). The samples of each client are summed over its
 * rounds and divided by its calls: the table gives each function's self time in µs per call for both,
 * the difference first, and the same by group (criteo-auth, Effect, undici, Node internals and GC).
 *
 * With `--in-process` first (`compare.ts --in-process criteo-fetch fetch-floor`), the clients are those of
 * `inProcess.ts` (stub `fetch`, undici `MockAgent`: no network, no server process), so that the
 * profile shows only the clients' own code.
 *
 * Sampled time is the main thread's wall time between samples, not CPU time: on a loaded machine it
 * includes the time the thread waited for a CPU, which inflates both columns; compare the two, not
 * their absolute values, and prefer a quiet machine (`uptime`).
 */
import * as Inspector from "node:inspector"
import * as Clients from "../lib/clients.js"
import * as Loopback from "../lib/loopback.js"
import { order } from "../lib/stats.js"
import { addSelfTime, emptySelfTime, type Profile, type SelfTime, total } from "./cpuProfile.js"

const inProcess = process.argv[2] === "--in-process"
const [client = "criteo-fetch", floor = "fetch-effect-bearer", count = "5000", roundsArg = "6"] = process.argv.slice(
  inProcess ? 3 : 2
)
const names = [client, floor]
interface Client {
  readonly ready: () => Promise<unknown>
  readonly batch: (requests: number, concurrency: number) => Promise<{ readonly failures: number }>
  readonly close: () => Promise<unknown>
}
const local = inProcess ? await import("./inProcessClients.js") : undefined
const known = local === undefined ? Object.keys(Clients.makeUser) : Object.keys(local.clients)
for (const name of names) {
  if (!known.includes(name)) throw new Error(`unknown client ${name}: ${known.join(", ")}`)
}
const make = (name: string, server: Loopback.Loopback | undefined): Client => {
  if (local === undefined) return Clients.makeUser[name as Clients.UserClientName](server!)
  const run = local.clients[name]!
  // the in-process clients run 32 calls in flight and throw when a call fails
  return {
    ready: () => run(1),
    batch: (requests) => run(requests).then(() => ({ failures: 0 })),
    close: () => Promise.resolve()
  }
}
const requests = Number(count)
const rounds = Number(roundsArg)

const session = new Inspector.Session()
session.connect()
const post = <A>(method: string, params?: object): Promise<A> =>
  new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error === null ? resolve(result as A) : reject(error)))
  )

const server = inProcess ? undefined : await Loopback.start()
try {
  await server?.reset(0)
  const clients = Object.fromEntries(names.map((name) => [name, make(name, server)]))
  for (const name of names) await clients[name]!.ready()
  for (const name of names) await clients[name]!.batch(3_000, 32)
  await post("Profiler.enable")
  await post("Profiler.setSamplingInterval", { interval: 100 })
  const totals: Record<string, SelfTime> = Object.fromEntries(names.map((name) => [name, emptySelfTime()]))
  const cpu = Object.fromEntries(names.map((name) => [name, 0]))
  let failures = 0
  for (let r = 0; r < rounds; r++) {
    for (const name of order(names, r)) {
      await post("Profiler.start")
      const before = process.cpuUsage()
      const outcome = await clients[name]!.batch(requests, 32)
      const used = process.cpuUsage(before)
      const { profile } = await post<{ profile: Profile }>("Profiler.stop")
      failures += outcome.failures
      cpu[name] += used.user + used.system
      addSelfTime(profile, totals[name])
    }
  }
  for (const name of names) await clients[name]!.close()
  const calls = requests * rounds
  const per = (micros: number | undefined) => (micros ?? 0) / calls
  const [a, b] = [totals[client]!, totals[floor]!]
  const fmt = (value: number) => value.toFixed(2).padStart(8)
  const out: Array<string> = [
    `${client} against ${floor}: ${rounds} rounds of ${requests} calls each, ${failures} failed`,
    `process CPU per call: ${(cpu[client]! / calls).toFixed(1)} against ${(cpu[floor]! / calls).toFixed(1)} µs`,
    "",
    `${"client".padStart(8)} ${"floor".padStart(8)} ${"diff".padStart(8)}  µs per call, sampled self time`
  ]
  const rows = (x: Map<string, number>, y: Map<string, number>, top: number) =>
    [...new Set([...x.keys(), ...y.keys()])]
      .map((key) => [key, per(x.get(key)), per(y.get(key))] as const)
      .sort((p, q) => Math.abs(q[1] - q[2]) - Math.abs(p[1] - p[2]))
      .slice(0, top)
      .map(([key, u, v]) => `${fmt(u)} ${fmt(v)} ${fmt(u - v)}  ${key}`)
  const sum = (m: Map<string, number>) => per(total(m))
  const table = [
    ...out,
    `${fmt(sum(a.groups))} ${fmt(sum(b.groups))} ${fmt(sum(a.groups) - sum(b.groups))}  (all sampled)`,
    ...rows(a.groups, b.groups, 10),
    "",
    ...rows(a.functions, b.functions, Number(process.env.TOP ?? 40))
  ]
  process.stdout.write(`${table.join("\n")}\n`)
} finally {
  session.disconnect()
  await server?.close()
  await local?.close()
}
// the in-process clients' runtimes (their token refresh timers) are not disposed: leave at once, as inProcess.ts does
if (local !== undefined) process.exit(0)
