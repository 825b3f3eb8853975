/**
 * The kit's verdicts are stable: each broken client, run 5 times in a row through the cases meant to catch
 * it, gets the same verdict every time — the one its defect deserves (FAIL for a MUST, WARN for a SHOULD; N/A
 * for what a client does not claim, PASS for what it must pass, as broken-modes.json says).
 * A flaky case (a defect caught in 2 runs out of 9 was seen) fails here, naming the case and its verdicts
 * run by run. Only the cases meant for each mode run, modes three at a time on one simulator, the mode of
 * the default-timeout case first (it hangs 125 s per run): about ten minutes in all (629 s measured).
 *
 * `DETERMINISM_RUNS` (default 5) and `DETERMINISM_MODES` (comma-separated, default every mode) narrow it
 * for a local check of one mode: `DETERMINISM_MODES=no-margin pnpm vitest run test/determinism.test.ts`.
 */
import { BuiltinAdapters, Catalogue, ConformanceCase, CriteoSimulator, Runner } from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { conformanceLayer, repeatVerdicts, unstable } from "./utils.js"

const times = Number(process.env["DETERMINISM_RUNS"] ?? 5)
const only = (process.env["DETERMINISM_MODES"] ?? "").split(",").map((m) => m.trim()).filter((m) => m.length > 0)
// broken:no-default-timeout hangs until timeout.token-endpoint-default gives up on it (125 s), so its 5 runs take
// ~640 s in one lane: it starts first, beside the other modes (31 modes x 5 runs took 268 s on 3 lanes, so the two
// other lanes finish the rest well within that), and the run stays under the 900 s bound. Started last, it would
// add its 640 s to whatever the lanes had done.
const slowFirst = (m: BuiltinAdapters.BrokenMode) => (m.catches.includes("timeout.token-endpoint-default") ? 0 : 1)
// The modes with something to judge: a defect to catch, or cases to report N/A (client-credentials-only, whose
// N/A cases end at the adapter's ready line: a second or two per run).
const modes = BuiltinAdapters.brokenModes.filter((m) =>
  (m.catches.length > 0 || m.notApplicable.length > 0) && (only.length === 0 || only.includes(m.mode))
).sort((a, b) => slowFirst(a) - slowFirst(b))

/** One call that must succeed. */
const probe = ConformanceCase.make({
  id: "probe.one-call",
  title: "one call succeeds",
  group: "token request",
  level: "MUST",
  requirements: [{ source: "test", text: "one call succeeds" }],
  setup: "the fixtures",
  expectation: "the call succeeds",
  run: (ctx) => Effect.asVoid(ctx.call("call", { timeout: "10 seconds" })),
  check: (
    evidence
  ) => [ConformanceCase.check("the call succeeds", evidence.answers.get("call")?.[0]?.status === 200, "")]
})

/** An adapter whose answer flips from one run to the next (a counter in a file): a flaky client. */
const flaky = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "flaky-"))
  const script = Path.join(dir, "adapter.sh")
  Fs.writeFileSync(
    script,
    `n=$(cat ${dir}/count 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/count\n` +
      `echo '{"type":"ready","name":"flaky"}'\n` +
      `while read -r line; do\n` +
      `  case "$line" in *'"id":"1"'*) if [ $((n % 2)) -eq 0 ]; then echo '{"id":"1","type":"result","status":200}'; ` +
      `else echo '{"id":"1","type":"result","error":"Flaky"}'; fi ;; esac\n` +
      `done\n`
  )
  return `bash ${script}`
}

layer(conformanceLayer, { excludeTestServices: true, timeout: Duration.minutes(2) })("determinism", (it) => {
  it.scoped("the harness sees a verdict that changes between runs", () =>
    Effect.gen(function*() {
      const sim = yield* CriteoSimulator.CriteoSimulator
      const runs = yield* repeatVerdicts(
        3,
        Runner.run(sim, { adapter: { label: "flaky", command: flaky() }, cases: [probe], lookahead: 0 })
      )
      assert.deepStrictEqual(unstable(runs), ["probe.one-call: PASS, FAIL, PASS"])
      assert.deepStrictEqual(unstable([runs[0], runs[0]]), [])
    }), { timeout: 60_000 })

  it.scoped(
    `each broken mode gets the same verdicts over ${times} consecutive runs, and is caught each time`,
    () =>
      Effect.gen(function*() {
        assert.isAbove(modes.length, 0, `DETERMINISM_MODES=${only.join(",")} names no broken mode`)
        const sim = yield* CriteoSimulator.CriteoSimulator
        const results = yield* Effect.forEach(modes, (m) =>
          Effect.gen(function*() {
            const command = (yield* BuiltinAdapters.command(`broken:${m.mode}`))!
            const judged = [...m.catches, ...m.notApplicable, ...m.passes]
            const cases = Catalogue.cases.filter((c) => judged.includes(c.id))
            const runs = yield* repeatVerdicts(
              times,
              Runner.run(sim, { adapter: { label: `broken:${m.mode}`, command }, cases })
            )
            const wanted = Object.fromEntries(cases.map((c) => [
              c.id,
              m.notApplicable.includes(c.id)
                ? "N/A"
                : m.passes.includes(c.id)
                ? "PASS"
                : c.level === "MUST"
                ? "FAIL"
                : "WARN"
            ]))
            return {
              mode: m.mode,
              unstable: unstable(runs),
              // the runs that did not give every case the verdict its defect deserves
              wrong: runs.flatMap((verdicts, i) =>
                Object.entries(wanted).filter(([id, verdict]) => verdicts[id] !== verdict).map(([id]) =>
                  `run ${i + 1}: ${id} ${verdicts[id]}`
                )
              )
            }
          }), { concurrency: 3 })
        const unstableModes = results.filter((r) => r.unstable.length > 0).map((r) =>
          `broken:${r.mode} — ${r.unstable.join("; ")}`
        )
        assert.deepStrictEqual(unstableModes, [], `verdicts differ between runs:\n${unstableModes.join("\n")}`)
        const missed = results.filter((r) => r.wrong.length > 0).map((r) => `broken:${r.mode} — ${r.wrong.join("; ")}`)
        assert.deepStrictEqual(missed, [], `not caught in every run:\n${missed.join("\n")}`)
      }),
    { timeout: 900_000 }
  )
})
