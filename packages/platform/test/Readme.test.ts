/**
 * The README's CLI transcript, replayed: each `$ criteo-auth ...` line is run against a fake Criteo on
 * a free port, and what it prints (stderr, then stdout) must be what the README shows — up to timings,
 * instants and fingerprints, and with any number of progress lines where the README shows one.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, layer, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "./utils/cli.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"

// Each test runs the CLI as a subprocess, several times for some: on a shared, loaded machine (2 CPUs,
// load 20+) one Node.js start takes seconds. A generous bound; the tests time nothing themselves.
vi.setConfig({ testTimeout: 180_000 })

const readme = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../README.md"), "utf8")

/** The README's host for the local server. */
const README_ORIGIN = "http://127.0.0.1:8080"

interface Step {
  readonly command: string
  readonly expected: Array<string>
}

const steps = (): ReadonlyArray<Step> => {
  const block = /<!-- transcript:start -->\n```console\n([\s\S]*?)```\n<!-- transcript:end -->/.exec(readme)
  if (block === null) throw new Error("no transcript in the README")
  const result: Array<Step> = []
  for (const line of block[1].trimEnd().split("\n")) {
    if (line.startsWith("$ ")) result.push({ command: line.slice(2), expected: [] })
    else result[result.length - 1].expected.push(line)
  }
  return result
}

/** Shell words, with single and double quotes (enough for the README). */
const words = (command: string): Array<string> =>
  [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A README line as a pattern: durations, instants and fingerprints vary. */
const pattern = (line: string) =>
  new RegExp(
    `^${
      escape(line)
        .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\\\.\d+)?Z/g, "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z")
        .replace(/tok_[0-9a-f]{12}/g, "tok_[0-9a-f]{12}")
        .replace(/\b\d+(?:\\\.\d+)?s\b/g, "\\d+(?:\\.\\d+)?s")
    }$`
  )

const isProgress = (line: string) => line.startsWith("criteo-auth: waiting for ")

layer(Layer.merge(FakeCriteo.layer, NodeContext.layer), { excludeTestServices: true })("README transcript", (it) => {
  it.effect("the CLI session of the README is what the CLI prints", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      yield* fake.register({
        clientId: "demo",
        clientSecret: "demo-secret",
        tokenScript: [{ status: 429, headers: { "retry-after": "2" }, body: { error: "rate_limited" } }]
      })
      // A cache of its own: the CLI keeps tokens in $XDG_CACHE_HOME/criteo-auth, and a token left by an
      // earlier run would skip the token request (and the 429) the transcript shows.
      const env: Record<string, string> = {
        XDG_CACHE_HOME: fs.mkdtempSync(path.join(os.tmpdir(), "criteo-auth-readme-"))
      }
      const all = steps()
      assert.isAtLeast(all.filter((step) => step.command.startsWith("criteo-auth ")).length, 4)
      for (const step of all) {
        const argv = words(step.command.split(README_ORIGIN).join(fake.url))
        if (argv[0] === "export") {
          for (const assignment of argv.slice(1)) {
            const [name, ...value] = assignment.split("=")
            env[name] = value.join("=")
          }
          continue
        }
        assert.strictEqual(argv[0], "criteo-auth", step.command)
        const result = yield* Cli.run(argv.slice(1), env)
        const actual = `${result.stderr}${result.stdout}`.split(fake.url).join(README_ORIGIN)
          .split(fake.url.replace("http://", "")).join(README_ORIGIN.replace("http://", ""))
          .trimEnd().split("\n")
        const expectedProgress = step.expected.filter(isProgress)
        const actualProgress = actual.filter(isProgress)
        for (const line of expectedProgress) {
          assert.isTrue(
            actualProgress.some((actualLine) => pattern(line).test(actualLine)),
            `${step.command}: a progress line like\n${line}\nin\n${actualProgress.join("\n")}`
          )
        }
        const expected = step.expected.filter((line) => !isProgress(line))
        const rest = actual.filter((line) => !isProgress(line))
        assert.strictEqual(rest.length, expected.length, `${step.command}:\n${rest.join("\n")}`)
        expected.forEach((line, i) => assert.match(rest[i], pattern(line), step.command))
      }
    }))
})
