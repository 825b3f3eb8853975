/**
 * `pnpm bench`: the figures of issue 6, side by side with other clients, each in a fresh process; prints
 * the table and writes every figure as JSON to `bench/results/latest.json`.
 *
 *   pnpm bench                     all figures (about 5 minutes on 2 cores)
 *   pnpm bench --only storm,day    some of them (the JSON keeps the others from the last run)
 *   pnpm bench --quick             small versions, to try the code: written to .bench/quick.json
 *   pnpm bench --only soak --soak-seconds 60   the soak figure for 60 s (default 180 s)
 *
 * The root script compiles core first (`tsc -b packages/core/tsconfig.src.json`): the figures load
 * core's compiled `dist/`, the code users run. (Loaded from `src/` through tsx, every closure core
 * creates per request also pays for esbuild's `keepNames` helper.)
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { describeMachine, type Figures, type Machine, table, verdicts } from "./lib/report.js"
import type { Figure } from "./run.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const packageDir = Path.resolve(here, "..")
const repositoryRoot = Path.resolve(packageDir, "../..")

const all: ReadonlyArray<Figure> = [
  "hot-path",
  "users",
  "stampede",
  "storm",
  "day",
  "memory",
  "simulator",
  "fleet",
  "soak"
]

const args = process.argv.slice(2).filter((arg) => arg !== "--")
const quick = args.includes("--quick")
const onlyIndex = args.indexOf("--only")
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? "").split(",").filter((name) => name.length > 0) : undefined
const unknown = (only ?? []).filter((name) => !all.includes(name as Figure))
if (unknown.length > 0) {
  process.stderr.write(`unknown figure(s): ${unknown.join(", ")}; figures: ${all.join(", ")}\n`)
  process.exit(2)
}
const soakIndex = args.indexOf("--soak-seconds")
const soakSeconds = soakIndex >= 0 ? Number(args[soakIndex + 1]) : undefined
if (soakSeconds !== undefined && !(Number.isFinite(soakSeconds) && soakSeconds > 0)) {
  process.stderr.write(`--soak-seconds wants a positive number of seconds, got ${args[soakIndex + 1] ?? "nothing"}\n`)
  process.exit(2)
}
const selected = all.filter((name) => only === undefined || only.includes(name))
const output = quick ? Path.join(packageDir, ".bench", "quick.json") : Path.join(here, "results", "latest.json")

const machine = (): Machine => {
  const cpuinfo = Fs.existsSync("/proc/cpuinfo") ? Fs.readFileSync("/proc/cpuinfo", "utf8") : ""
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? Os.cpus()[0]?.model ?? "unknown"
  return {
    cpus: Os.availableParallelism(),
    cpuModel: model.trim(),
    memoryGiB: Math.round((Os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${Os.type()} ${Os.release()} ${Os.arch()}`
  }
}

const git = () => {
  const run = (...command: Array<string>) =>
    ChildProcess.spawnSync("git", command, { cwd: repositoryRoot, encoding: "utf8" }).stdout?.trim() ?? ""
  return {
    commit: run("rev-parse", "HEAD"),
    /** Uncommitted changes to core's sources, which the figures measure. */
    coreChanged: run("status", "--porcelain", "--", "packages/core/src").length > 0
  }
}

const runFigure = (figure: Figure): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const file = Path.join(Os.tmpdir(), `criteo-bench-${process.pid}-${figure}.json`)
    const child = ChildProcess.spawn(
      process.execPath,
      [
        "--expose-gc",
        "--import",
        "tsx",
        Path.join(here, "run.ts"),
        figure,
        file,
        ...(quick ? ["--quick"] : []),
        ...(soakSeconds === undefined ? [] : [`--soak-seconds=${soakSeconds}`])
      ],
      { cwd: packageDir, stdio: ["ignore", "inherit", "inherit"] }
    )
    child.once("error", reject)
    child.once("exit", (code, signal) => {
      if (code !== 0) return reject(new Error(`figure ${figure} failed (${signal ?? `exit ${code}`})`))
      try {
        resolve(JSON.parse(Fs.readFileSync(file, "utf8")))
      } catch (error) {
        reject(error)
      } finally {
        Fs.rmSync(file, { force: true })
      }
    })
  })

const previous = (): Figures => {
  if (only === undefined || !Fs.existsSync(output)) return {}
  try {
    return (JSON.parse(Fs.readFileSync(output, "utf8")) as { figures?: Figures }).figures ?? {}
  } catch {
    return {}
  }
}

const main = async () => {
  const started = performance.now()
  const loadBefore = Os.loadavg()
  const info = machine()
  const repository = git()
  process.stderr.write(`criteo-auth benchmarks${quick ? " (quick)" : ""} on ${describeMachine(info)}\n`)
  const figures: Record<string, unknown> = { ...previous() }
  const durations: Record<string, number> = {}
  const failures: Array<string> = []
  for (const figure of selected) {
    process.stderr.write(`\n${figure}\n`)
    const start = performance.now()
    try {
      figures[figure] = await runFigure(figure)
    } catch (error) {
      failures.push(`${figure}: ${error instanceof Error ? error.message : String(error)}`)
      delete figures[figure]
    }
    durations[figure] = Math.round(performance.now() - start)
    process.stderr.write(`  (${figure}: ${(durations[figure] / 1000).toFixed(1)} s)\n`)
  }
  const markdown = table(figures as Figures)
  const result = {
    generatedAt: new Date().toISOString(),
    quick,
    machine: info,
    git: repository,
    core: "dist/ (tsc output), as users run it",
    durationMs: Math.round(performance.now() - started),
    /** The 1, 5 and 15 minute load averages before and after: other work on the machine during the run. */
    loadAverage: {
      before: loadBefore.map((n) => Math.round(n * 100) / 100),
      after: Os.loadavg().map((n) => Math.round(n * 100) / 100)
    },
    figureDurationsMs: durations,
    verdicts: verdicts(figures as Figures),
    figures,
    table: markdown
  }
  Fs.mkdirSync(Path.dirname(output), { recursive: true })
  Fs.writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`\n${markdown}\n\nMachine: ${describeMachine(info)}\n`)
  process.stdout.write(`Figures written to ${Path.relative(repositoryRoot, output)}\n`)
  if (failures.length > 0) {
    process.stderr.write(`\nfailed figures:\n  ${failures.join("\n  ")}\n`)
    process.exitCode = 1
  }
}

void main()
