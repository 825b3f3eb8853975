/**
 * The `process` runtime: a JVM running the WireMock jar of the npm package `wiremock`, started with
 * @effect/platform's `Command` (as the adapters are) and stopped when the scope closes — SIGTERM, then
 * SIGKILL — or killed synchronously if Node exits first (the package's own wrapper script leaves an orphaned
 * JVM: the jar is run directly).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as SimulatorError from "../SimulatorError.js"
import { wiremockJar } from "./paths.js"

export interface ProcessOptions {
  readonly fixturesDir: string
  readonly environment: Readonly<Record<string, string>>
  readonly port: number
  /** The address WireMock binds: `127.0.0.1` unless exposing it is deliberate. */
  readonly bindAddress: string
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
  Effect.gen(function*() {
    const process = yield* Command.start(Command.make(java, "-version"))
    // `java -version` prints on stderr; both streams are read so that neither pipe fills up.
    const [stdout, stderr, code] = yield* Effect.all(
      [text(process.stdout), text(process.stderr), process.exitCode],
      { concurrency: "unbounded" }
    )
    const output = `${stderr}\n${stdout}`
    if (code !== 0) return yield* Effect.fail(`${java} -version failed (code ${code}): ${output.trim().slice(0, 200)}`)
    const match = /version "([^"]+)"/.exec(output)
    if (match === null) return yield* Effect.fail(`could not read the version printed by ${java} -version`)
    const version = match[1]
    const parts = version.split(/[.+-]/)
    const major = Number(parts[0] === "1" ? parts[1] : parts[0])
    return major >= 11
      ? { java, version, major }
      : yield* Effect.fail(`${java} is Java ${version}, WireMock 3 needs Java 11 or later`)
  }).pipe(
    Effect.scoped,
    Effect.catchTag("SystemError", (error) =>
      Effect.fail(error.reason === "NotFound" ? `no ${java} found` : `${java} -version failed: ${error.message}`)),
    Effect.catchTag("BadArgument", (error) =>
      Effect.fail(`${java} -version failed: ${error.message}`)),
    Effect.timeoutFail({
      duration: Duration.seconds(5),
      onTimeout: () =>
        `${java} -version did not answer within 5 s`
    }),
    Effect.provide(NodeContext.layer)
  )

const text = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(Stream.decodeText(), Stream.runFold("", (all, piece) => all + piece), Effect.orElseSucceed(() => ""))

const tail = (lines: ReadonlyArray<string>) => lines.slice(-20).join("\n")

/**
 * Sends SIGTERM to the JVM, waits 5 s for it to exit, then SIGKILL and waits 2 s more. Run before the
 * Command's own finalizer (which sends SIGTERM and waits without a bound), so that one finds it gone.
 */
const stop = (process: CommandExecutor.Process) =>
  Effect.gen(function*() {
    if (!(yield* process.isRunning.pipe(Effect.orElseSucceed(() => false)))) return
    const exited = (timeout: Duration.Duration) =>
      process.exitCode.pipe(
        Effect.ignore,
        Effect.interruptible,
        Effect.timeoutOption(timeout),
        Effect.map(Option.isSome)
      )
    yield* process.kill("SIGTERM").pipe(
      Effect.ignore,
      Effect.interruptible,
      Effect.timeout(Duration.seconds(5)),
      Effect.ignore
    )
    if (yield* exited(Duration.millis(1))) return
    yield* Effect.logWarning(`CriteoSimulator: the JVM (pid ${process.pid}) ignored SIGTERM; sending SIGKILL`)
    yield* process.kill("SIGKILL").pipe(
      Effect.ignore,
      Effect.interruptible,
      Effect.timeout(Duration.seconds(2)),
      Effect.ignore
    )
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
      options.bindAddress,
      "--root-dir",
      dir,
      "--disable-banner",
      ...options.wiremockArgs
    ]
    const output: Array<string> = []
    const ready = yield* Deferred.make<number, SimulatorError.SimulatorStartError>()

    const process = yield* Command.make(options.java, ...args).pipe(
      Command.env(options.environment),
      Command.start,
      Effect.catchAll((error) =>
        Effect.fail(
          new SimulatorError.SimulatorStartError({
            runtime: "process",
            reason: error._tag === "SystemError" && error.reason === "NotFound"
              ? `cannot run ${options.java}: not found`
              : `cannot spawn java: ${error.message}`
          })
        )
      )
    )
    // Safety net: if Node exits without closing the scope (process.exit, an uncaught exception), the JVM
    // would outlive it. `exit` handlers must be synchronous: SIGKILL to its process group (the Command
    // starts it detached, in a group of its own) is.
    const killOnExit = () => {
      try {
        globalThis.process.kill(-process.pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => globalThis.process.once("exit", killOnExit)),
      () => Effect.zipRight(Effect.sync(() => globalThis.process.off("exit", killOnExit)), stop(process))
    )

    const onLine = (line: string) =>
      Effect.sync(() => {
        output.push(line)
        if (output.length > 200) output.shift()
        const match = /^port:\s+(\d+)/.exec(line.trim())
        if (match !== null) Deferred.unsafeDone(ready, Effect.succeed(Number(match[1])))
      })
    const read = <E>(stream: Stream.Stream<Uint8Array, E>) =>
      stream.pipe(Stream.decodeText(), Stream.splitLines, Stream.runForEach(onLine), Effect.ignore, Effect.forkScoped)
    yield* read(process.stdout)
    yield* read(process.stderr)
    yield* process.exitCode.pipe(
      Effect.flatMap((code) =>
        Deferred.fail(
          ready,
          new SimulatorError.SimulatorStartError({
            runtime: "process",
            reason: `the JVM exited (code ${code}) before listening`,
            output: tail(output)
          })
        )
      ),
      Effect.ignore,
      Effect.forkScoped
    )

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
    return { port, pid: process.pid }
  }).pipe(Effect.provide(NodeContext.layer))
