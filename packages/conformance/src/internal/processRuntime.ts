/**
 * The `process` runtime: a JVM running the WireMock jar of the npm package `wiremock`, spawned here and
 * killed by pid when the scope closes (the package's own wrapper script leaves an orphaned JVM).
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as SimulatorError from "../SimulatorError.js"
import { wiremockJar } from "./paths.js"

export interface ProcessOptions {
  readonly fixturesDir: string
  readonly environment: Readonly<Record<string, string>>
  readonly port: number
  readonly host: string
  readonly startupTimeout: Duration.Duration
  readonly java: string
  readonly wiremockArgs: ReadonlyArray<string>
}

export interface JavaInfo {
  readonly java: string
  readonly version: string
  readonly major: number
}

/** The java executable to use: `$JAVA_HOME/bin/java` when set, else `java` from the PATH. */
export const defaultJava = (): string => {
  const home = process.env["JAVA_HOME"]
  return home !== undefined && home.length > 0 ? Path.join(home, "bin", "java") : "java"
}

/** Runs `java -version` (5 s at most) and reads the major version from its output. */
export const detectJava = (java: string): Effect.Effect<JavaInfo, string> =>
  Effect.async<JavaInfo, string>((resume) => {
    const child = ChildProcess.execFile(java, ["-version"], { timeout: 5_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as NodeJS.ErrnoException).code
        return resume(Effect.fail(code === "ENOENT" ? `no ${java} found` : `${java} -version failed: ${error.message}`))
      }
      const text = `${stderr}\n${stdout}`
      const match = /version "([^"]+)"/.exec(text)
      if (match === null) return resume(Effect.fail(`could not read the version printed by ${java} -version`))
      const version = match[1]
      const parts = version.split(/[.+-]/)
      const major = Number(parts[0] === "1" ? parts[1] : parts[0])
      return major >= 11
        ? resume(Effect.succeed({ java, version, major }))
        : resume(Effect.fail(`${java} is Java ${version}, WireMock 3 needs Java 11 or later`))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const tail = (lines: ReadonlyArray<string>) => lines.slice(-20).join("\n")

const isAlive = (child: ChildProcess.ChildProcess) => child.exitCode === null && child.signalCode === null

const waitForExit = (child: ChildProcess.ChildProcess, timeout: Duration.DurationInput) =>
  Effect.async<void>((resume) => {
    if (!isAlive(child)) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  }).pipe(Effect.interruptible, Effect.timeoutOption(timeout), Effect.map(Option.isSome))

/** Sends SIGTERM to the JVM, waits 5 s for it to exit, then SIGKILL and waits 2 s more. */
const stop = (child: ChildProcess.ChildProcess) =>
  Effect.gen(function*() {
    if (!isAlive(child)) return
    child.kill("SIGTERM")
    if (yield* waitForExit(child, Duration.seconds(5))) return
    yield* Effect.logWarning(`CriteoSimulator: the JVM (pid ${child.pid}) ignored SIGTERM; sending SIGKILL`)
    child.kill("SIGKILL")
    yield* waitForExit(child, Duration.seconds(2))
  })

/**
 * Copies the fixtures to a temporary root directory (WireMock may write to its root; the repository's
 * fixtures stay untouched), removed with the scope.
 */
const rootDir = (fixturesDir: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "criteo-simulator-"))
        Fs.cpSync(Path.join(fixturesDir, "mappings"), Path.join(dir, "mappings"), { recursive: true })
        Fs.cpSync(Path.join(fixturesDir, "__files"), Path.join(dir, "__files"), { recursive: true })
        return dir
      },
      catch: (error) =>
        new SimulatorError.SimulatorStartError({
          runtime: "process",
          reason: `cannot prepare the fixtures from ${fixturesDir}: ${String(error)}`
        })
    }),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

/**
 * Starts WireMock in a JVM and returns the port it listens on, once it has printed it. The JVM is
 * stopped when the scope closes, and killed if the Node process exits first.
 */
export const start = (
  options: ProcessOptions
): Effect.Effect<{ readonly port: number; readonly pid: number }, SimulatorError.SimulatorStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* rootDir(options.fixturesDir)
    const jar = yield* Effect.try({
      try: wiremockJar,
      catch: (error) => new SimulatorError.SimulatorStartError({ runtime: "process", reason: String(error) })
    })
    const args = [
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Xss512k",
      "-jar",
      jar,
      "--port",
      String(options.port),
      "--bind-address",
      options.host,
      "--root-dir",
      dir,
      "--disable-banner",
      ...options.wiremockArgs
    ]
    const output: Array<string> = []
    const ready = yield* Deferred.make<number, SimulatorError.SimulatorStartError>()

    const { child } = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const child = ChildProcess.spawn(options.java, args, {
            env: { ...process.env, ...options.environment },
            stdio: ["ignore", "pipe", "pipe"]
          })
          // Safety net: if Node exits without closing the scope (process.exit, an uncaught exception),
          // the JVM would outlive it. `exit` handlers must be synchronous: SIGKILL is.
          const killOnExit = () => {
            if (isAlive(child)) child.kill("SIGKILL")
          }
          process.once("exit", killOnExit)
          return { child, killOnExit }
        },
        catch: (error) =>
          new SimulatorError.SimulatorStartError({ runtime: "process", reason: `cannot spawn java: ${String(error)}` })
      }),
      ({ child, killOnExit }) => Effect.zipRight(Effect.sync(() => process.off("exit", killOnExit)), stop(child))
    )

    const onLine = (line: string) => {
      output.push(line)
      if (output.length > 200) output.shift()
      const match = /^port:\s+(\d+)/.exec(line.trim())
      if (match !== null) Deferred.unsafeDone(ready, Effect.succeed(Number(match[1])))
    }
    const lines = (stream: NodeJS.ReadableStream | null) => {
      let buffer = ""
      stream?.setEncoding("utf8")
      stream?.on("data", (chunk: string) => {
        buffer += chunk
        let index = buffer.indexOf("\n")
        while (index >= 0) {
          onLine(buffer.slice(0, index))
          buffer = buffer.slice(index + 1)
          index = buffer.indexOf("\n")
        }
      })
    }
    lines(child.stdout)
    lines(child.stderr)
    child.once("error", (error) =>
      Deferred.unsafeDone(
        ready,
        Effect.fail(
          new SimulatorError.SimulatorStartError({
            runtime: "process",
            reason: `cannot run ${options.java}: ${error.message}`
          })
        )
      ))
    child.once("exit", (code, signal) =>
      Deferred.unsafeDone(
        ready,
        Effect.fail(
          new SimulatorError.SimulatorStartError({
            runtime: "process",
            reason: `the JVM exited (${signal ?? `code ${code}`}) before listening`,
            output: tail(output)
          })
        )
      ))

    const port = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: options.startupTimeout,
        onTimeout: () =>
          new SimulatorError.SimulatorStartError({
            runtime: "process",
            reason: `WireMock did not print its port within ${Duration.format(options.startupTimeout)}`,
            output: tail(output)
          })
      })
    )
    return { port, pid: child.pid ?? -1 }
  })
