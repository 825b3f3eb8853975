/**
 * The deliberately broken clients: the baseline (`broken:none`) passes the whole catalogue, and every
 * other mode is caught — FAIL or WARN, by the case's grade — by each case meant for it. Every case of the
 * catalogue is meant for at least one mode, so a case that cannot fail is caught here. A client that claims
 * only the client_credentials grant (`broken:client-credentials-only`) gets N/A, not FAIL, for the others.
 */
import { BuiltinAdapters, Catalogue, CriteoSimulator, Report, Runner } from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { conformanceLayer, explain } from "./utils.js"

// the modes with a defect to catch (none and wide-margin must pass everything)
const modes = BuiltinAdapters.brokenModes.filter((m) => m.catches.length > 0)

const runMode = (sim: CriteoSimulator.Service, mode: string, cases: ReadonlyArray<string>) =>
  Effect.flatMap(BuiltinAdapters.command(`broken:${mode}`), (command) =>
    Runner.run(sim, {
      adapter: { label: `broken:${mode}`, command: command! },
      cases: Catalogue.cases.filter((c) => cases.includes(c.id))
    }))

layer(conformanceLayer, { excludeTestServices: true, timeout: Duration.minutes(2) })("broken clients", (it) => {
  it.effect("every case of the catalogue is meant to catch at least one broken mode", () =>
    Effect.sync(() => {
      const meant = new Set(modes.flatMap((m) => m.catches))
      assert.deepStrictEqual(Catalogue.cases.map((c) => c.id).filter((id) => !meant.has(id)), [])
      for (const id of meant) assert.isDefined(Catalogue.get(id), `broken-modes.json names an unknown case ${id}`)
    }))

  it.scoped("the baseline passes every case: each mode fails for its own defect", () =>
    Effect.gen(function*() {
      const sim = yield* CriteoSimulator.CriteoSimulator
      const run = yield* runMode(sim, "none", Catalogue.cases.map((c) => c.id))
      assert.strictEqual(run.results.length, Catalogue.cases.length)
      assert.deepStrictEqual(run.results.filter((r) => r.verdict !== "PASS").map((r) => r.id), [], explain(run))
    }), { timeout: 120_000 })

  it.scoped("each broken mode is caught by every case meant for it", () =>
    Effect.gen(function*() {
      const sim = yield* CriteoSimulator.CriteoSimulator
      // Several runs share the simulator at once: each case has its own port (the authorization_code
      // cases, which share the consent chain, take turns).
      const runs = yield* Effect.forEach(modes, (m) => runMode(sim, m.mode, m.catches), { concurrency: 3 })
      const seen = Object.fromEntries(
        runs.map((run) => [run.label, Object.fromEntries(run.results.map((r) => [r.id, r.verdict]))])
      )
      const wanted = Object.fromEntries(
        modes.map((m) => [
          `broken:${m.mode}`,
          Object.fromEntries(m.catches.map((id) => [id, Catalogue.get(id)!.grade]))
        ])
      )
      assert.deepStrictEqual(seen, wanted)
      const detection = BuiltinAdapters.detection(runs)!
      assert.strictEqual(detection.caughtModes, modes.length)
      assert.strictEqual(detection.caughtPairs, detection.pairs)
    }), { timeout: 420_000 })

  it.scoped(
    "a client claiming only client_credentials: the other grants' cases are N/A, the run passes",
    () =>
      Effect.gen(function*() {
        const sim = yield* CriteoSimulator.CriteoSimulator
        const mode = BuiltinAdapters.brokenModes.find((m) => m.mode === "client-credentials-only")!
        // every case of another grant (authorization_code, refresh_token) is in the mode's notApplicable
        const otherGrants = Catalogue.cases.filter((c) => (c.grant ?? "client_credentials") !== "client_credentials")
        assert.deepStrictEqual([...mode.notApplicable].sort(), otherGrants.map((c) => c.id).sort())
        assert.deepStrictEqual(mode.passes, ["request.client-credentials"])
        const run = yield* runMode(sim, mode.mode, [...mode.notApplicable, ...mode.passes])
        assert.deepStrictEqual(run.capabilities?.grants, ["client_credentials"])
        assert.deepStrictEqual(
          Object.fromEntries(run.results.map((r) => [r.id, r.verdict])),
          Object.fromEntries([
            ...mode.notApplicable.map((id) => [id, "N/A"]),
            ["request.client-credentials", "PASS"]
          ]),
          explain(run)
        )
        for (const r of run.results.filter((r) => r.verdict === "N/A")) {
          assert.deepStrictEqual(r.notTested, [`the ${Catalogue.get(r.id)!.grant} grant`], r.id)
        }
        // N/A does not fail the run
        assert.deepStrictEqual(run.results.filter((r) => Report.failsRun(r)).map((r) => r.id), [])
        const headline = Report.headline(run)
        assert.strictEqual(headline.conformance, "conforms")
        assert.deepStrictEqual(headline.notTested, {
          cases: 7,
          needing: ["the authorization_code grant", "the refresh_token grant"]
        })
        assert.strictEqual(
          headline.text,
          "Conforms; not tested: 7 cases (needing the authorization_code grant, the refresh_token grant)"
        )
      }),
    { timeout: 120_000 }
  )

  it.scoped(
    "short simulated lifetimes tell a margin from a misread lifetime, and expiry drives the code cases",
    () =>
      Effect.gen(function*() {
        const sim = yield* CriteoSimulator.CriteoSimulator
        // A 60 s margin renews the kit's 2-3 s tokens at every call: that is not reading expires_in as 0.
        const short = Catalogue.cases.filter((c) => /^(expiry|response|authorization-code)\./.test(c.id)).map((c) =>
          c.id
        )
        const [wide, onExpiry] = yield* Effect.all([
          runMode(sim, "wide-margin", short),
          // A client that refreshes only on expiry (never on a 401) is seen using the code once and rotating its
          // refresh tokens when its tokens expire.
          runMode(sim, "refresh-only-on-expiry", ["authorization-code.refresh-on-expiry"])
        ], { concurrency: 2 })
        assert.deepStrictEqual(wide.results.filter((r) => r.verdict !== "PASS").map((r) => r.id), [], explain(wide))
        assert.deepStrictEqual(onExpiry.results.map((r) => r.verdict), ["PASS"], explain(onExpiry))
        const string = wide.results.find((r) => r.id === "response.expires-in-string")!
        assert.include(string.checks.map((c) => c.detail).join(" "), "a margin of its own, not a misread lifetime")
      }),
    { timeout: 180_000 }
  )
})
