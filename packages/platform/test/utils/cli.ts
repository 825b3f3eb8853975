import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
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
