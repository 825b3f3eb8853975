/**
 * Runs one figure in this process and writes its result as JSON:
 *
 *   node --expose-gc --import tsx bench/run.ts FIGURE OUTPUT.json [--quick] [--soak-seconds=N]
 *
 * `main.ts` runs each figure this way, in a fresh process, so that no figure inherits another's heap,
 * JIT state or open sockets. `--quick` runs a small version of the figure, to try the code, not to
 * report.
 */
import * as Fs from "node:fs"
import * as Day from "./figures/day.js"
import * as Fleet from "./figures/fleet.js"
import * as HotPath from "./figures/hotPath.js"
import * as Memory from "./figures/memory.js"
import * as Simulator from "./figures/simulator.js"
import * as Soak from "./figures/soak.js"
import * as Stampede from "./figures/stampede.js"
import * as Storm from "./figures/storm.js"
import * as Users from "./figures/users.js"

const figures = {
  "hot-path": (quick: boolean) =>
    HotPath.run(quick ? { ...HotPath.defaults, rounds: 3, requests: 500, warmup: 500 } : HotPath.defaults),
  users: (quick: boolean) =>
    Users.run(quick ? { ...Users.defaults, rounds: 3, requests: 500, warmup: 500 } : Users.defaults),
  stampede: (quick: boolean) =>
    Stampede.run(quick ? { ...Stampede.defaults, callers: 1_000, trials: 1 } : Stampede.defaults),
  storm: (quick: boolean) => Storm.run(quick ? { ...Storm.defaults, callers: 200, trials: 1 } : Storm.defaults),
  day: (quick: boolean) => Day.run(quick ? { ...Day.defaults, intervalSeconds: 300 } : Day.defaults),
  memory: (quick: boolean) =>
    Memory.run(
      quick ? { ...Memory.defaults, requests: 20_000, refreshes: 200, warmupRequests: 5_000 } : Memory.defaults
    ),
  simulator: (quick: boolean) => Simulator.run(quick ? { ...Simulator.defaults, runs: 1 } : Simulator.defaults),
  fleet: (quick: boolean) =>
    Fleet.run(
      quick
        ? {
          ...Fleet.defaults,
          processes: 3,
          callers: 100,
          outageProcesses: 2,
          outageMs: 4_000,
          dayProcesses: 2,
          dayIntervalSeconds: 600,
          hotRounds: 3
        }
        : Fleet.defaults
    ),
  soak: (quick: boolean) =>
    Soak.run({
      ...Soak.defaults,
      ...(quick ? { durationSeconds: 20, warmupSeconds: 5 } : {}),
      ...(soakSeconds === undefined ? {} : { durationSeconds: soakSeconds })
    })
} as const

/** `--soak-seconds=N`: the soak's duration (after its warm-up), default 180 s (20 s with `--quick`). */
const soakSeconds = ((value) => value === undefined ? undefined : Number(value))(
  process.argv.find((arg) => arg.startsWith("--soak-seconds="))?.slice("--soak-seconds=".length)
)

export type Figure = keyof typeof figures

const isFigure = (name: string | undefined): name is Figure => name !== undefined && name in figures

const main = async () => {
  const [name, output] = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
  const quick = process.argv.includes("--quick")
  if (!isFigure(name) || output === undefined) {
    throw new Error(`usage: run.ts ${Object.keys(figures).join("|")} OUTPUT.json [--quick]`)
  }
  const result = await figures[name](quick)
  Fs.writeFileSync(output, JSON.stringify(result, null, 2))
}

// exit once written: a figure closes what it opened, but a lingering keep-alive socket must not hold
// the process (and the whole run) open
main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    process.exit(1)
  }
)
