/**
 * The `criteo-conformance` command, run as a user runs it (`node bin/criteo-conformance.mjs`, sources
 * through tsx): the list, usage errors, and the exit code of a run with and without expected failures.
 * Each `run` starts its own simulator: that is what the command does.
 */
import { Catalogue, ConformanceCli } from "@criteo-auth/conformance"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = Path.join(packageDir, "bin", "criteo-conformance.mjs")

const cli = (args: ReadonlyArray<string>) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" }
    delete env["INIT_CWD"]
    const child = ChildProcess.execFile(
      process.execPath,
      [bin, ...args],
      { cwd: packageDir, env, timeout: 90_000, maxBuffer: 10_000_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : (error.code as number | null), stdout, stderr }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("criteo-conformance", () => {
  it("its version constant (deprecated) is the package's, not a number kept by hand", () => {
    const { version } = JSON.parse(Fs.readFileSync(Path.join(packageDir, "package.json"), "utf8"))

    assert.strictEqual(ConformanceCli.version, version)
  })

  it.live(
    "list prints each case's level (MUST or SHOULD); --json its level and deprecated grade",
    () =>
      Effect.gen(function*() {
        const { code, stdout } = yield* cli(["list"])
        assert.strictEqual(code, 0)
        assert.match(stdout, /\n {2}MUST {4}request\.client-credentials/)
        assert.match(stdout, /\d+ cases: \d+ MUST, \d+ SHOULD/)
        const json = yield* cli(["list", "--json"])
        const first = JSON.parse(json.stdout)[0]
        assert.deepStrictEqual([first.level, first.grade], ["MUST", "FAIL"])
      }),
    { timeout: 60_000 }
  )

  it.live("list --json prints the catalogue", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* cli(["list", "--json"])
      assert.strictEqual(code, 0)
      const listed = JSON.parse(stdout) as Array<{ id: string; grade: string; requirements: Array<unknown> }>
      assert.deepStrictEqual(listed.map((c) => c.id), Catalogue.cases.map((c) => c.id))
      assert.isTrue(listed.every((c) => c.requirements.length > 0))
    }), { timeout: 60_000 })

  it.live("a usage error exits 2 without starting anything", () =>
    Effect.gen(function*() {
      const unknown = yield* cli(["run", "--adapter", "naive-curl", "--cases", "no.such-case"])
      assert.strictEqual(unknown.code, 2)
      assert.include(unknown.stderr, "no case matches no.such-case")
      const missing = yield* cli(["run"])
      assert.strictEqual(missing.code, 2)
    }), { timeout: 60_000 })

  it.live(
    "run: exit 0 when the failures are expected, 1 when they are not; the reports are written",
    () =>
      Effect.gen(function*() {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conformance-cli-"))
        const args = [
          "run",
          "--adapter",
          "broken:never-caches",
          "--cases",
          "reuse.cached-token,request.accept-json",
          "--runtime",
          "process"
        ]
        const summaryMd = Path.join(dir, "summary.md")
        const expected = yield* cli([...args, "--report-dir", dir, "--summary-md", summaryMd])
        assert.strictEqual(expected.code, 0, expected.stdout + expected.stderr)
        // A MUST case failing as expected: never "Conforms" or a plain "OK".
        assert.include(expected.stdout, "Conforms except 1 accepted MUST failure: MUST")
        assert.match(expected.stdout, /^OK except 1 accepted MUST failure: 2 cases × 1 adapter/m)
        const md = Fs.readFileSync(summaryMd, "utf8")
        assert.include(md, "| broken:never-caches | ⚠️ Conforms except 1 accepted MUST failure |")
        assert.include(md, "- **XFAIL** `reuse.cached-token` MUST")
        assert.match(expected.stdout, /XFAIL\s+reuse\.cached-token/)
        assert.match(expected.stdout, /PASS\s+request\.accept-json/)
        assert.match(expected.stdout, /Detection: 1\/1 broken modes caught/)
        assert.include(expected.stdout, `HTML report:  ${Path.join(dir, "index.html")}`)
        for (const file of ["index.html", "report.json", "junit.xml"]) {
          assert.isTrue(Fs.existsSync(Path.join(dir, file)), file)
        }
        const json = JSON.parse(Fs.readFileSync(Path.join(dir, "report.json"), "utf8"))
        assert.deepStrictEqual(json.runs[0].results.map((r: { id: string; status: string }) => [r.id, r.status]), [
          ["request.accept-json", "pass"],
          ["reuse.cached-token", "xfail"]
        ])

        const unexpected = yield* cli([...args, "--no-expected", "--report-dir", dir])
        assert.strictEqual(unexpected.code, 1)
        assert.match(
          unexpected.stdout,
          /FAIL\s+reuse\.cached-token[\s\S]*✗ exactly one token request for 20 calls: 11 token requests/
        )
        assert.include(
          Fs.readFileSync(Path.join(dir, "junit.xml"), "utf8"),
          `<failure type="FAIL" message="exactly one token request for 20 calls">`
        )
      }),
    { timeout: 120_000 }
  )
})
