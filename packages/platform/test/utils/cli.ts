import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ChildProcess from "node:child_process"
import { EventEmitter } from "node:events"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The compiled executable, built by the global setup. */
export const bin = path.join(packageDir, "dist/bin.js")

/** A compiled example of `examples/`, built by the global setup. */
export const example = (name: string) => path.join(packageDir, ".tsbuildinfo/test-out/examples", `${name}.js`)

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const collect = (stream: Stream.Stream<Uint8Array, PlatformError.PlatformError>) =>
  stream.pipe(Stream.decodeText(), Stream.mkString)

/**
 * Runs `node dist/bin.js ARGS` (or another script) with exactly `env` (plus PATH): nothing leaks in
 * from the environment of the test runner.
 */
export const run = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: { readonly stdin?: string; readonly script?: string; readonly executable?: string } = {}
): Effect.Effect<Result, PlatformError.PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(
    Effect.gen(function*() {
      let command = (options.executable !== undefined
        ? Command.make(options.executable, ...args)
        : Command.make(process.execPath, options.script ?? bin, ...args)).pipe(
          Command.env({ PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, { extendEnv: false })
        )
      if (options.stdin !== undefined) command = Command.feed(command, options.stdin)
      const process_ = yield* Command.start(command)
      const [stdout, stderr, code] = yield* Effect.all(
        [collect(process_.stdout), collect(process_.stderr), process_.exitCode],
        { concurrency: "unbounded" }
      )
      return { code, stdout, stderr }
    })
  )

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

/** The text without terminal colours. */
export const plain = (text: string) => text.replace(ANSI, "")

/** Standard error without the progress lines the tool prints while it waits for more than a second. */
export const withoutProgress = (stderr: string) =>
  stderr.split("\n").filter((line) => !/^criteo-auth: (waiting for |done: )/.test(line)).join("\n")

/**
 * Runs `node dist/bin.js ARGS` in a pseudo-terminal (util-linux `script`), with `env` (plus PATH and
 * TERM): what a person at a terminal sees, stdout and stderr mixed, as the terminal receives them.
 */
export const runInTerminal = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Effect.Effect<Result, PlatformError.PlatformError, CommandExecutor.CommandExecutor> => {
  const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`
  const line = [process.execPath, bin, ...args].map(quote).join(" ")
  return run(["-qefc", line, "/dev/null"], { TERM: "xterm", COLUMNS: "200", ...env }, { executable: "script" })
}

/**
 * A run of `node dist/bin.js ARGS` to interact with: wait for what it prints, write to its stdin,
 * send it a signal. Killed when the scope closes, if still running.
 */
export interface Interactive {
  /** The first match of `pattern` in what has been printed on stdout so far, waiting for it (60 s at most). */
  readonly waitFor: (pattern: RegExp) => Effect.Effect<RegExpExecArray, Error>
  readonly write: (text: string) => Effect.Effect<void>
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for the exit (120 s at most). */
  readonly result: Effect.Effect<Result, Error>
}

export const start = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Effect.Effect<Interactive, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, [bin, ...args], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }
        })
      ),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let stdout = ""
    let stderr = ""
    const changed = new EventEmitter()
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk)
      changed.emit("change")
    })
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    const exited = new Promise<number>((resolve) =>
      child.on("close", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
    )
    const waitFor = (pattern: RegExp) =>
      Effect.async<RegExpExecArray>((resume) => {
        const check = () => {
          const match = pattern.exec(stdout)
          if (match === null) return false
          changed.off("change", check)
          resume(Effect.succeed(match))
          return true
        }
        if (!check()) changed.on("change", check)
        return Effect.sync(() => changed.off("change", check))
      }).pipe(
        Effect.timeoutFail({
          duration: "60 seconds",
          onTimeout: () => new Error(`${pattern} not printed within 60 s; stdout: ${stdout}; stderr: ${stderr}`)
        })
      )
    return {
      waitFor,
      write: (text) => Effect.sync(() => child.stdin.write(text)),
      signal: (signal) => Effect.sync(() => child.kill(signal)),
      result: Effect.promise(() => exited).pipe(
        Effect.map((code) => ({ code, stdout, stderr })),
        Effect.timeoutFail({
          duration: "120 seconds",
          onTimeout: () => new Error(`no exit within 120 s; stdout: ${stdout}; stderr: ${stderr}`)
        })
      )
    }
  })
