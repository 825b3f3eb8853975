/**
 * The reference client, criteo-auth (CriteoNode + CriteoHttpClient, bundled), through the whole
 * catalogue: every FAIL case passes, and the only cases it misses are those its expected-failures file
 * lists — each verdict is asserted, case by case.
 */
import { BuiltinAdapters, Catalogue, CriteoSimulator, ExpectedFailures, Report, Runner } from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { conformanceLayer, explain } from "./utils.js"

layer(conformanceLayer, { excludeTestServices: true, timeout: Duration.minutes(2) })("criteo-auth", (it) => {
  it.scoped(
    "passes every MUST case of the catalogue; misses only the SHOULDs it is known to miss",
    () =>
      Effect.gen(function*() {
        const sim = yield* CriteoSimulator.CriteoSimulator
        const builtin = BuiltinAdapters.find("criteo-auth")!
        const expected = yield* ExpectedFailures.load(builtin.expected.path, builtin.expected.section)
        const command = yield* BuiltinAdapters.command("criteo-auth")
        const run = yield* Runner.run(sim, {
          adapter: { label: "criteo-auth", command: command! },
          cases: Catalogue.cases,
          expected
        })

        const verdicts = Object.fromEntries(run.results.map((r) => [r.id, r.verdict]))
        const wanted = Object.fromEntries(
          Catalogue.cases.map((
            c
          ) => [c.id, ExpectedFailures.reasonFor(expected, c.id) === undefined ? "PASS" : c.grade])
        )
        assert.deepStrictEqual(verdicts, wanted, explain(run))
        // the known misses are SHOULDs only, and none is stale
        for (const entry of expected.entries) assert.strictEqual(Catalogue.get(entry.pattern)?.grade, "WARN")
        assert.strictEqual(run.summary.mustPassed, run.summary.mustTotal)
        assert.strictEqual(run.summary.xpass, 0)
        assert.strictEqual(run.name, "criteo-auth")
        assert.isFalse(Report.failed({ ...emptyReport, runs: [run] }))
      }),
    { timeout: 120_000 }
  )
})

const emptyReport: Report.RunReport = {
  tool: "criteo-conformance",
  version: "test",
  protocol: 1,
  startedAt: "",
  durationMillis: 0,
  simulator: { runtime: "process", baseUrl: "", startupMillis: 0 },
  runs: []
}
