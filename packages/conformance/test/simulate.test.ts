/**
 * `pnpm simulate` meets the CLI: its banner prints the `export CRITEO_...` lines, they are the ones the
 * platform README's "Try it against the simulator" section shows, and that section's commands, run as
 * written (the port aside) in bash, get a token and call the API.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { demoSecret, eventually } from "./utils.js"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
const readme = Fs.readFileSync(Path.join(root, "packages/platform/README.md"), "utf8")

/** The shell block of the README section that sets the variables and runs the CLI. */
const tryItBlock = (() => {
  const section = readme.slice(readme.indexOf("### Try it against the simulator"))
  const blocks = Array.from(section.matchAll(/```sh\n([\s\S]*?)```/g), (m) => m[1])
  const block = blocks.find((b) => b.includes("export CRITEO_"))
  if (block === undefined) throw new Error("no block with export CRITEO_ in the README section")
  return block
})()

const exportsOf = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("export CRITEO_"))

const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = ChildProcess.execFile(
      command,
      args,
      { cwd: root, env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("pnpm simulate and the CLI", () => {
  it.live(
    "the banner's export lines are the README's, and the README's commands work as pasted",
    () =>
      Effect.gen(function*() {
        const simulator = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const child = ChildProcess.spawn(
              process.execPath,
              [Path.join(root, "packages/conformance/bin/criteo-simulate.mjs"), "--runtime", "process", "--port", "0"],
              { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
            )
            let output = ""
            child.stdout.on("data", (chunk) => (output += String(chunk)))
            child.stderr.on("data", (chunk) => (output += String(chunk)))
            const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
            return { child, output: () => output, exited }
          }),
          ({ child }) => Effect.sync(() => child.kill("SIGKILL"))
        )
        yield* eventually(Effect.sync(simulator.output), (text) => text.includes("Ctrl-C stops"), Duration.seconds(60))
        const banner = simulator.output()
        const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(banner)![1]

        // The README shows pnpm simulate's default port, 8080.
        const block = tryItBlock.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`)
        assert.deepStrictEqual(exportsOf(block), exportsOf(banner))
        assert.strictEqual(exportsOf(banner).length, 5)
        for (const line of ["criteo-auth token", "criteo-auth request GET /advertisers/me"]) {
          assert.include(banner, `  ${line}\n`)
          assert.include(block, `${line}\n`)
        }

        const script = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "try-it-")), "try-it.sh")
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(Path.dirname(script), { recursive: true })))
        Fs.writeFileSync(script, block)
        // A clean environment but for PATH: nothing of the test's CRITEO_* leaks in.
        const result = yield* run("bash", ["-e", "-O", "expand_aliases", script], {
          CRITEO_CLIENT_ID: "",
          CRITEO_CLIENT_SECRET: ""
        })
        const output = `${result.stdout}\n${result.stderr}`
        assert.strictEqual(result.code, 0, output)
        assert.match(output, /tok_[0-9a-f]{12}/)
        assert.match(output, /\b200\b/)
        assert.include(result.stdout, "\"data\"")
        assert.notInclude(output, demoSecret)

        simulator.child.kill("SIGINT")
        assert.strictEqual(yield* Effect.promise(() => simulator.exited), 0)
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )

  it.live(
    "Ctrl-C on `pnpm simulate` (SIGINT to the whole process group, as a terminal sends it) exits 0, no ELIFECYCLE",
    () =>
      Effect.gen(function*() {
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            ChildProcess.spawn("pnpm", ["simulate", "--runtime", "process", "--port", "0"], {
              cwd: root,
              detached: true,
              stdio: ["ignore", "pipe", "pipe"],
              env: { ...process.env, NO_COLOR: "1" }
            })
          ),
          (child) =>
            Effect.sync(() => {
              if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL")
            })
        )
        let output = ""
        child.stdout.on("data", (chunk) => (output += String(chunk)))
        child.stderr.on("data", (chunk) => (output += String(chunk)))
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
          child.once("exit", (code, signal) => resolve({ code, signal }))
        )
        yield* eventually(Effect.sync(() => output), (text) => text.includes("Ctrl-C stops"), Duration.seconds(60))
        process.kill(-child.pid!, "SIGINT")
        const exit = yield* Effect.promise(() => exited)
        assert.deepStrictEqual(exit, { code: 0, signal: null }, output)
        assert.notInclude(output, "ELIFECYCLE")
        assert.include(output, "stopped.")
      }).pipe(Effect.scoped),
    { timeout: 120_000 }
  )
})
