/**
 * Every entry point stopped by SIGINT or SIGTERM — the conformance runner, `pnpm simulate`, the `criteo-auth`
 * CLI — run as a child process as users run them: it exits promptly, and leaves no container, no JVM, no
 * adapter process and no temporary directory behind. Each child gets its own TMPDIR, so whatever it created
 * (the JVM's root dir, the bundled adapter) is found by that path in /proc and on disk.
 */
import { CriteoSimulator, Fault } from "@criteo-auth/conformance"
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { demoSecret, eventually, simulatorLayer } from "./utils.js"

const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"
const containers = await Effect.runPromise(CriteoSimulator.containerRuntimeAvailable())

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const tsx = createRequire(import.meta.url).resolve("tsx")
const runnerBin = Path.join(root, "packages/conformance/bin/criteo-conformance.mjs")
const simulateBin = Path.join(root, "packages/conformance/src/bin/simulate.ts")
const cliBin = Path.join(root, "packages/platform/src/bin.ts")

interface Child {
  readonly tmp: string
  readonly output: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly process: ChildProcess.ChildProcess
}

/** Spawns `node args` with its own TMPDIR (removed with the scope). */
const spawn = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Child => {
      const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "signals-test-"))
      const child = ChildProcess.spawn(process.execPath, args, {
        cwd: root,
        env: { ...process.env, TMPDIR: tmp, NO_COLOR: "1", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.on("data", (chunk) => (output += String(chunk)))
      child.stderr.on("data", (chunk) => (output += String(chunk)))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal }))
      )
      return { tmp, output: () => output, exited, process: child }
    }),
    (child) =>
      Effect.sync(() => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL")
        Fs.rmSync(child.tmp, { recursive: true, force: true })
      })
  )

const waitForOutput = (child: Child, pattern: RegExp, timeout = Duration.seconds(60)) =>
  eventually(Effect.sync(() => pattern.exec(child.output())), (match) => match !== null, timeout).pipe(
    Effect.map((match) => match!),
    Effect.catchAll(() => Effect.dieMessage(`no output matching ${pattern} in time; got:\n${child.output()}`))
  )

/** The pids of the live processes whose command line mentions `text`. */
const processesMentioning = (text: string) =>
  Fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      return Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)
    } catch {
      return false
    }
  })

interface Docker {
  listContainers(options: object): Promise<Array<{ Id: string; Ports: Array<{ PublicPort?: number }> }>>
}

const docker = Effect.promise(async () => {
  const tc = await import("testcontainers")
  return (await tc.getContainerRuntimeClient()).container.dockerode as Docker
})

/** The simulator containers publishing `port` (any state). */
const containersOn = (port: number) =>
  Effect.flatMap(
    docker,
    (d) =>
      Effect.promise(async () =>
        (await d.listContainers({ all: true, filters: { label: ["io.criteo-auth.simulator=true"] } }))
          .filter((c) => c.Ports.some((p) => p.PublicPort === port))
          .map((c) => c.Id)
      )
  )

const containerExists = (id: string) =>
  Effect.flatMap(
    docker,
    (d) => Effect.promise(async () => (await d.listContainers({ all: true, filters: { id: [id] } })).length > 0)
  )

/** What is in `tmp` but the caches tools keep there across runs (tsx's, testcontainers' lock file). */
const leftovers = (tmp: string) =>
  Fs.readdirSync(tmp).filter((entry) => !/^tsx-\d+$/.test(entry) && !/^testcontainers-node-\d+\.lock$/.test(entry))

/**
 * Sends `signal`, waits for the exit (20 s at most), and checks that nothing is left: no process mentioning
 * the child's TMPDIR, an empty TMPDIR, none of `containerIds`.
 */
const stopAndCheck = (child: Child, signal: NodeJS.Signals, containerIds: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const started = Date.now()
    child.process.kill(signal)
    const exit = yield* Effect.promise(() => child.exited).pipe(
      Effect.timeoutFail({ duration: Duration.seconds(20), onTimeout: () => new Error(`no exit within 20 s`) }),
      Effect.orDie
    )
    const elapsed = Date.now() - started
    assert.deepStrictEqual(processesMentioning(child.tmp), [], `processes left behind:\n${child.output()}`)
    assert.deepStrictEqual(leftovers(child.tmp), [], "temporary files left behind")
    for (const id of containerIds) assert.isFalse(yield* containerExists(id), `container ${id} left behind`)
    return { ...exit, elapsed }
  })

/** A report directory outside the child's TMPDIR, removed with the scope. */
const reportDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "signals-test-reports-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const signals = ["SIGINT", "SIGTERM"] as const
const codeOf = { SIGINT: 130, SIGTERM: 143 } as const
const runtimes = containers || inCi ? (["process", "container"] as const) : (["process"] as const)

describe("signals", () => {
  for (const runtime of runtimes) {
    for (const signal of signals) {
      it.live(
        `criteo-conformance run (${runtime}): ${signal} mid-run stops the simulator, adapters, temp dirs`,
        () =>
          Effect.gen(function*() {
            const child = yield* spawn([
              runnerBin,
              "run",
              "--adapter",
              "criteo-auth",
              "--runtime",
              runtime,
              "--cases",
              "expiry.*",
              "--no-expected",
              "--report-dir",
              yield* reportDir
            ])
            const [, port] = yield* waitForOutput(child, /simulator: \w+ at http:\/\/127\.0\.0\.1:(\d+)/)
            const ids = runtime === "container" ? yield* containersOn(Number(port)) : []
            if (runtime === "container") assert.strictEqual(ids.length, 1)
            // Adapters are running once a case has finished (the others are still going).
            yield* waitForOutput(child, /^\s+(PASS|FAIL|ERROR)\s/m)
            assert.isAbove(processesMentioning(child.tmp).length, 0, "adapter or JVM processes while running")
            const exit = yield* stopAndCheck(child, signal, ids)
            assert.strictEqual(exit.code, codeOf[signal], child.output())
            assert.isBelow(exit.elapsed, 15_000)
          }).pipe(Effect.scoped),
        { timeout: 120_000 }
      )

      it.live(`pnpm simulate (${runtime}): ${signal} stops the simulator and exits 0`, () =>
        Effect.gen(function*() {
          const child = yield* spawn(["--import", tsx, simulateBin, "--runtime", runtime, "--port", "0"])
          const [, port] = yield* waitForOutput(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/)
          const ids = runtime === "container" ? yield* containersOn(Number(port)) : []
          if (runtime === "container") assert.strictEqual(ids.length, 1)
          else assert.isAbove(processesMentioning(child.tmp).length, 0, "the JVM runs")
          const exit = yield* stopAndCheck(child, signal, ids)
          assert.strictEqual(exit.code, 0, child.output())
          assert.include(child.output(), "stopped.")
          assert.isBelow(exit.elapsed, 15_000)
        }).pipe(Effect.scoped), { timeout: 120_000 })
    }
  }
})

layer(simulatorLayer({ runtime: "process" }), { excludeTestServices: true, timeout: Duration.minutes(2) })(
  "signals: the criteo-auth CLI",
  (it) => {
    for (const signal of signals) {
      it.effect(`${signal} during a slow API call exits ${codeOf.SIGINT} at once, leaving nothing behind`, () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.CriteoSimulator
          const clientId = CriteoSimulator.clientId(`signals-${signal}`)
          yield* sim.clearJournal
          yield* sim.setFault("api", Fault.latency(Duration.seconds(30)))
          const child = yield* spawn([
            "--conditions=source",
            "--import",
            tsx,
            cliBin,
            "request",
            "GET",
            "/advertisers/me"
          ], {
            CRITEO_CLIENT_ID: clientId,
            CRITEO_CLIENT_SECRET: demoSecret,
            CRITEO_TOKEN_URL: sim.tokenUrl,
            CRITEO_API_URL: sim.baseUrl,
            CRITEO_API_VERSION: CriteoSimulator.apiVersions.current
          })
          yield* eventually(sim.apiRequests(), (requests) => requests.length > 0, Duration.seconds(30))
          const exit = yield* stopAndCheck(child, signal)
          assert.strictEqual(exit.code, codeOf.SIGINT, child.output())
          assert.isBelow(exit.elapsed, 5_000)
          assert.notInclude(child.output(), demoSecret)
        }).pipe(
          Effect.ensuring(Effect.flatMap(CriteoSimulator.CriteoSimulator, (sim) => Effect.orDie(sim.clearFaults()))),
          Effect.scoped
        ))
    }
  }
)
