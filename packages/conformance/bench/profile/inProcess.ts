/**
 * `node --import tsx bench/profile/inProcess.ts [REQUESTS] [ROUNDS]`: what the layers users run add over
 * their floors with the network taken out, so that the few µs criteo-auth adds are not lost in the
 * loopback's noise. The fetch clients call a stub `globalThis.fetch` that builds a real `Request` from
 * what it is given (as Node's fetch does: its own abort signal, tied to the one given) and answers a
 * `Response`; the undici clients a `MockAgent`. In one process, after a warm-up, ROUNDS rounds (default
 * 15) in which each client makes REQUESTS calls (default 4,000, 32 in flight, every body read), in an
 * order reversed every other round; the medians of the per-round CPU differences are printed.
 *
 * - `criteo-fetch` (`CriteoFetch.layer`) against `fetch-floor` (`FetchHttpClient.layer`, fixed bearer
 *   header); `criteo-fetch-untimed`: core's layers on `CriteoFetch.layerHttpClient` with no attempt
 *   timeout (what the token logic costs on fetch); `criteo-fetch-timer`: the same with the bound
 *   `CriteoFetch` had before (an `AbortController`, a listener and a `setTimeout` per attempt), so that
 *   the old and the new bound are measured in one run; `fetch-signal`: the floor with a `Fetch` that
 *   only adds one `AbortController` per request.
 * - `criteo-node` (`CriteoNode.layerWithoutDispatcher`) against `undici-floor`
 *   (`NodeHttpClient.layerUndiciWithoutDispatcher`, fixed bearer header), on the same `MockAgent`;
 *   `criteo-node-untimed`: core's layers on that floor's client (what the token logic costs on undici);
 *   `undici-timeouts`: the floor on `CriteoNode.withApiTimeouts(agent)` (what the attempt bound costs).
 * - The Promise path (issue 14), on the same `MockAgent`, each call a Promise, 32 in flight:
 *   `criteo-promise` (`CriteoPromise`, undici's `request` on its common path) against `criteo-node-promise`
 *   (`CriteoNode.layerWithoutDispatcher` through `ManagedRuntime.runPromise` per call, what it replaces) and
 *   `undici-request` (undici's own `request` with a fixed bearer header: its floor).
 */
import * as Os from "node:os"
import { interleave, median } from "../lib/stats.js"
import { clients, close } from "./inProcessClients.js"

/** The Promise path's lines: CriteoPromise against what it replaces and against its floor. */
function promiseLines(
  ratio: (name: string, floor: string) => number,
  cpu: (name: string) => number,
  over: (name: string, floor: string) => number
): Array<string> {
  return ([["criteo-promise", "criteo-node-promise"], ["criteo-promise", "undici-request"], [
    "criteo-node-promise",
    "undici-request"
  ]] as const).map(([name, floor]) =>
    `${name} ÷ ${floor}: ${ratio(name, floor).toFixed(3)}; CPU ${cpu(name).toFixed(1)} against ${
      cpu(floor).toFixed(1)
    } µs/call: ${over(name, floor) >= 0 ? "+" : ""}${over(name, floor).toFixed(1)} µs`
  )
}

// CLIENTS=a,b,c runs some of them (each pair below whose clients both run is printed)
const names = process.env.CLIENTS ? process.env.CLIENTS.split(",") : Object.keys(clients)
const requests = Number(process.argv[2] ?? 4_000)
const load = Os.loadavg()[0]!.toFixed(1)
const rounds = (await interleave({
  clients: names,
  rounds: Number(process.argv[3] ?? 15),
  warmUp: (name) => clients[name]!(2 * requests),
  batch: (name) => clients[name]!(requests),
  schedule: (r) => [r % 2 === 0 ? names : [...names].reverse()]
})).map(([round]) => round!)
const cpu = (name: string) => median(rounds.map((round) => (round[name]!.cpuMs * 1000) / requests))
const over = (name: string, floor: string) =>
  median(rounds.map((round) => ((round[name]!.cpuMs - round[floor]!.cpuMs) * 1000) / requests))
const ratio = (name: string, floor: string) => median(rounds.map((round) => round[floor]!.ms / round[name]!.ms))
const lines = [
  `Node.js ${process.version}, ${rounds.length} rounds of ${requests} calls, load average ${load} before, ${
    Os.loadavg()[0]!.toFixed(1)
  } after`
]
for (
  const [name, floor] of [
    ["criteo-fetch", "fetch-floor"],
    ["criteo-fetch-untimed", "fetch-floor"],
    ["criteo-fetch-timer", "fetch-floor"],
    ["criteo-fetch", "criteo-fetch-timer"],
    ["fetch-signal", "fetch-floor"],
    ["criteo-node", "undici-floor"],
    ["criteo-node-untimed", "undici-floor"],
    ["undici-timeouts", "undici-floor"]
  ] as const
) {
  if (!names.includes(name) || !names.includes(floor)) continue
  lines.push(
    `${name} ÷ ${floor}: ${ratio(name, floor).toFixed(3)}; CPU ${cpu(name).toFixed(1)} against ${
      cpu(floor).toFixed(1)
    } µs/call: ${over(name, floor) >= 0 ? "+" : ""}${over(name, floor).toFixed(1)} µs`
  )
}
if (["criteo-promise", "criteo-node-promise", "undici-request"].every((name) => names.includes(name))) {
  for (const line of promiseLines(ratio, cpu, over)) lines.push(line)
}
process.stdout.write(`${lines.join("\n")}\n`)
await close()
process.exit(0)
