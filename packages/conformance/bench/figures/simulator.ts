/**
 * Figure 6, the simulator: how long `CriteoSimulator` takes to start (until WireMock answers its health
 * check) and stop, in each runtime that is available here (a local JVM; a container when a container
 * engine answers), and how long the full conformance catalogue takes against criteo-auth.
 *
 * The catalogue is timed as a subprocess, when a runner exists: the command in
 * `CRITEO_BENCH_CATALOGUE_COMMAND` if set, else the root `pnpm start` script, else the
 * `criteo-conformance` bin of this package. Otherwise the figure says why it is not available.
 */
import * as CriteoSimulator from "@criteo-auth/conformance/CriteoSimulator"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { median, round } from "../lib/stats.js"

export interface Options {
  readonly runs: number
  /** The longest the catalogue may take before it is stopped and reported as timed out. */
  readonly catalogueTimeoutMs: number
}

export const defaults: Options = { runs: 3, catalogueTimeoutMs: 180_000 }

export type Startup =
  | {
    readonly available: true
    readonly startMs: number
    readonly startMinMs: number
    readonly startMaxMs: number
    readonly stopMs: number
    readonly runs: number
  }
  | { readonly available: false; readonly reason: string }

export type Catalogue =
  | {
    readonly available: true
    readonly command: string
    readonly ms: number
    readonly exitCode: number | null
    readonly timedOut: boolean
    readonly summary: string
  }
  | { readonly available: false; readonly reason: string }

export interface Result extends Options {
  readonly process: Startup
  readonly container: Startup
  readonly catalogue: Catalogue
}

const repositoryRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../..")

const startup = (runtime: CriteoSimulator.Runtime, runs: number) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const stops: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const scope = yield* Scope.make()
      const [started] = yield* Effect.timed(Scope.extend(CriteoSimulator.make({ runtime }), scope)).pipe(
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
      const [stopped] = yield* Effect.timed(Scope.close(scope, Exit.void))
      starts.push(Duration.toMillis(started))
      stops.push(Duration.toMillis(stopped))
      process.stderr.write(
        `  simulator ${runtime} run ${i + 1}/${runs}: started in ${Math.round(Duration.toMillis(started))} ms\n`
      )
    }
    return {
      available: true as const,
      startMs: round(median(starts)),
      startMinMs: round(Math.min(...starts)),
      startMaxMs: round(Math.max(...starts)),
      stopMs: round(median(stops)),
      runs
    }
  })

const measureStartups = (runs: number) =>
  Effect.gen(function*() {
    const java = yield* CriteoSimulator.javaAvailable()
    const containers = yield* CriteoSimulator.containerRuntimeAvailable()
    const measure = (runtime: CriteoSimulator.Runtime, available: boolean, absent: string) =>
      available
        ? startup(runtime, runs).pipe(
          Effect.catchAll((error): Effect.Effect<Startup> =>
            Effect.succeed({ available: false, reason: `failed to start: ${error.message}` })
          )
        )
        : Effect.succeed<Startup>({ available: false, reason: absent })
    return {
      process: yield* measure("process", java, "no Java 11+ found"),
      container: yield* measure("container", containers, "no container engine answered within 5 s")
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

const readJson = (path: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(Fs.readFileSync(path, "utf8")) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/**
 * The command that runs the whole catalogue against criteo-auth, if there is one. The runner's reports
 * go to `reportDir` (a temporary folder), not to the repository's `reports/`.
 */
export const catalogueCommand = (reportDir: string): { readonly command: string } | { readonly reason: string } => {
  const configured = process.env["CRITEO_BENCH_CATALOGUE_COMMAND"]
  if (configured !== undefined && configured.length > 0) return { command: configured }
  const report = `--report-dir ${JSON.stringify(reportDir)}`
  const root = readJson(Path.join(repositoryRoot, "package.json"))
  const scripts = root?.["scripts"] as Record<string, string> | undefined
  if (scripts?.["start"] !== undefined) return { command: `pnpm start ${report}` }
  const conformance = readJson(Path.join(repositoryRoot, "packages/conformance/package.json"))
  const bin = (conformance?.["bin"] as Record<string, string> | undefined)?.["criteo-conformance"]
  if (bin !== undefined) {
    const file = Path.join(repositoryRoot, "packages/conformance", bin)
    return {
      command: `node ${file.endsWith(".ts") ? "--import tsx " : ""}${
        JSON.stringify(file)
      } run --adapter criteo-auth ${report}`
    }
  }
  return {
    reason: "no conformance runner yet: no root `pnpm start` script and no `criteo-conformance` bin " +
      "(set CRITEO_BENCH_CATALOGUE_COMMAND to time one)"
  }
}

const timeCatalogue = (timeoutMs: number): Promise<Catalogue> => {
  const reportDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "criteo-bench-conformance-"))
  const found = catalogueCommand(reportDir)
  if ("reason" in found) return Promise.resolve({ available: false, reason: found.reason })
  return new Promise<Catalogue>((resolve) => {
    const start = performance.now()
    const child = ChildProcess.spawn("bash", ["-c", found.command], {
      cwd: repositoryRoot,
      stdio: ["ignore", "pipe", "pipe"],
      // its own process group, so a timeout stops the runner and everything it started (by that pid)
      detached: true,
      env: { ...process.env, CI: process.env["CI"] ?? "" }
    })
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4_000)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    let timedOut = false
    const stop = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      stop("SIGTERM")
      setTimeout(() => stop("SIGKILL"), 5_000).unref()
    }, timeoutMs)
    child.once("close", (exitCode) => {
      clearTimeout(timer)
      const lines = output.trim().split("\n")
      // the runner's last line that counts cases, else the last line
      const summary = [...lines].reverse().find((line) => /\bcases?\b/.test(line)) ?? lines[lines.length - 1] ?? ""
      resolve({
        available: true,
        command: found.command.replace(` --report-dir ${JSON.stringify(reportDir)}`, ""),
        ms: Math.round(performance.now() - start),
        exitCode,
        timedOut,
        summary: summary.trim().slice(0, 300)
      })
    })
  }).finally(() => Fs.rmSync(reportDir, { recursive: true, force: true }))
}

export const run = async (options: Options = defaults): Promise<Result> => {
  const startups = await Effect.runPromise(measureStartups(options.runs))
  const catalogue = await timeCatalogue(options.catalogueTimeoutMs)
  return { ...options, ...startups, catalogue }
}
