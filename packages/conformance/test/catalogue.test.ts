/**
 * The catalogue's shape, the protocol's line parsing, expected-failures files and the reports, without
 * a simulator.
 */
import {
  BuiltinAdapters,
  Catalogue,
  ConformanceCase,
  ExpectedFailures,
  HtmlReport,
  JUnitReport,
  Protocol,
  Report,
  Scorecard
} from "@criteo-auth/conformance"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

describe("the catalogue", () => {
  it("has unique ids of the form group.name, each with a requirement, grouped in order", () => {
    const ids = Catalogue.cases.map((c) => c.id)
    assert.strictEqual(new Set(ids).size, ids.length)
    for (const c of Catalogue.cases) {
      assert.match(c.id, /^[a-z-]+\.[a-z0-9-]+$/)
      assert.isAbove(c.requirements.length, 0, c.id)
      assert.isAbove(c.title.length, 10, c.id)
      assert.include(["MUST", "SHOULD"], c.level)
      assert.strictEqual(c.grade, ConformanceCase.gradeOf(c.level), c.id)
    }
    const order = Catalogue.cases.map((c) => ConformanceCase.groups.indexOf(c.group))
    assert.deepStrictEqual(order, [...order].sort((a, b) => a - b))
    assert.isAtLeast(Catalogue.cases.length, 50)
  })

  it("request.form-encoding's secret is printable ASCII (RFC 6749 Appendix A.2 VSCHAR): a validating client is not failed", () => {
    const formEncoding = Catalogue.cases.find((c) => c.id === "request.form-encoding")!
    const secret = formEncoding.env!({} as ConformanceCase.Environment)["CRITEO_CLIENT_SECRET"]
    assert.match(secret, /^[\x20-\x7E]+$/)
    // Still the characters form encoding gets wrong.
    for (const char of ["+", "/", "=", "&", "%", " "]) assert.include(secret, char)
  })

  it("covers what issue 5 lists", () => {
    for (
      const id of [
        "request.client-credentials",
        "request.no-credentials-in-url",
        "request.form-encoding",
        "reuse.cached-token",
        "expiry.refresh-ahead",
        "expiry.reactive-401",
        "expiry.no-refresh-loop",
        "reuse.single-flight",
        "expiry.single-flight-401",
        "expiry.no-refresh-on-403",
        "rate-limit.api-backoff",
        "server-error.token-503",
        "server-error.api-503",
        "transport.token-connection-reset",
        "transport.api-random-data",
        "timeout.token-endpoint",
        "timeout.api",
        "response.missing-access-token",
        "response.not-json",
        "authorization-code.exchange",
        "authorization-code.refresh-rotation",
        "leak.client-credentials"
      ]
    ) assert.isDefined(Catalogue.get(id), id)
    // each network fault on both endpoints
    for (const target of ["token", "api"]) {
      for (const fault of ["connection-reset", "empty-response", "malformed-chunk", "random-data"]) {
        assert.isDefined(Catalogue.get(`transport.${target}-${fault}`))
      }
    }
  })

  it("selects by id and glob, in catalogue order, and names what matches nothing", () => {
    const { cases, unmatched } = Catalogue.select(["expiry.*,request.form-encoding", "nothing.here"])
    assert.deepStrictEqual(cases.map((c) => c.id), [
      "request.form-encoding",
      ...Catalogue.cases.filter((c) => c.id.startsWith("expiry.")).map((c) => c.id)
    ])
    assert.deepStrictEqual(unmatched, ["nothing.here"])
    assert.strictEqual(Catalogue.select([]).cases.length, Catalogue.cases.length)
    assert.isTrue(Catalogue.matches("*-503", "server-error.api-503"))
    assert.isFalse(Catalogue.matches("expiry.new", "expiry.new-token"))
  })

  it("has one case file per group, named after it, where each id is written literally (grep finds it)", () => {
    const dir = Path.join(import.meta.dirname, "..", "src", "internal", "cases")
    const fileOf = (group: string) =>
      `${group.toLowerCase().replace(/ ([a-z])/g, (_, c: string) => c.toUpperCase())}.ts`
    const files = ConformanceCase.groups.map(fileOf)
    const onDisk = Fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))
    assert.deepStrictEqual([...onDisk].sort(), [...files].sort(), "one file per group, and only those")
    for (const c of Catalogue.cases) {
      assert.include(Fs.readFileSync(Path.join(dir, fileOf(c.group)), "utf8"), `"${c.id}"`, c.id)
    }
  })
})

describe("the adapter protocol", () => {
  const pending = new Set(["7"])
  it("reads messages, and keeps anything else as the client's output", () => {
    assert.deepStrictEqual(Protocol.parseLine(`{"type":"ready","name":"x"}`, pending), {
      _tag: "Message",
      message: { type: "ready", name: "x" }
    })
    assert.deepStrictEqual(Protocol.parseLine(`{"id":"7","type":"result","status":200}`, pending), {
      _tag: "Message",
      message: { id: "7", type: "result", status: 200 }
    })
    assert.strictEqual(Protocol.parseLine("INFO got a token", pending)._tag, "Output")
    assert.strictEqual(Protocol.parseLine(`{"level":30,"msg":"pino log line"}`, pending)._tag, "Output")
    assert.strictEqual(Protocol.parseLine(`[1, 2]`, pending)._tag, "Output")
  })

  it("refuses a line that claims to be a message and is not one", () => {
    assert.strictEqual(Protocol.parseLine(`{"id":"7","type":"result","status":"ok"}`, pending)._tag, "Invalid")
    assert.strictEqual(
      Protocol.parseLine(`{"id":"7","type":"result","status":200,"error":"X"}`, pending)._tag,
      "Invalid"
    )
    assert.strictEqual(Protocol.parseLine(`{"id":"7","oops":true}`, pending)._tag, "Invalid")
    assert.strictEqual(Protocol.parseLine(`{"type":"results","id":"7","results":[{}]}`, pending)._tag, "Invalid")
  })
})

describe("expected failures", () => {
  const write = (content: unknown) => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "expected-"))
    const path = Path.join(dir, "expected.json")
    Fs.writeFileSync(path, JSON.stringify(content))
    return path
  }

  it.effect("reads single and multi-adapter files; globs match; unknown patterns are named", () =>
    Effect.gen(function*() {
      const single = yield* ExpectedFailures.load(
        write({ expected: { "expiry.*": "no expiry handling", "nope.case": "typo" } }),
        undefined
      )
      assert.strictEqual(ExpectedFailures.reasonFor(single, "expiry.refresh-ahead"), "no expiry handling")
      assert.isUndefined(ExpectedFailures.reasonFor(single, "reuse.cached-token"))
      assert.deepStrictEqual(ExpectedFailures.unknownPatterns(single), ["nope.case"])
      const multi = yield* ExpectedFailures.load(write({ adapters: { a: { "reuse.*": "r" }, b: {} } }), "a")
      assert.strictEqual(ExpectedFailures.reasonFor(multi, "reuse.single-flight"), "r")
      const missing = yield* Effect.flip(ExpectedFailures.load(write({ adapters: { a: {} } }), "c"))
      assert.match(missing.message, /no section for adapter "c"/)
      const bad = yield* Effect.flip(ExpectedFailures.load(write({ expected: ["x"] }), undefined))
      assert.strictEqual(bad._tag, "ExpectedFailuresError")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("the shipped files name real cases, and every shipped adapter has one", () =>
    Effect.gen(function*() {
      for (const builtin of BuiltinAdapters.builtins) {
        const expectations = yield* ExpectedFailures.load(builtin.expected.path, builtin.expected.section)
        assert.deepStrictEqual(ExpectedFailures.unknownPatterns(expectations), [], builtin.name)
      }
    }).pipe(Effect.provide(NodeFileSystem.layer)))
})

const verdictOfStatus = (status: Report.Status, level: ConformanceCase.Level): ConformanceCase.Verdict =>
  status === "pass" || status === "xpass"
    ? "PASS"
    : status === "error"
    ? "ERROR"
    : status === "blocked"
    ? "BLOCKED"
    : status === "na"
    ? "N/A"
    : level === "MUST"
    ? "FAIL"
    : "WARN"

const result = (id: string, status: Report.Status, level: ConformanceCase.Level = "MUST"): Report.CaseResult => ({
  id,
  title: `the case <${id}> & more`,
  group: "token request",
  level,
  requirements: [{ source: "RFC 6749 §5.1", text: "a \"quoted\" requirement" }],
  setup: "setup",
  expectation: "expectation",
  verdict: verdictOfStatus(status, level),
  status,
  expectedReason: status === "xfail" || status === "xpass" ? "known" : undefined,
  error: status === "error" ? "adapter Timeout: no answer" : undefined,
  durationMillis: 1234,
  checks: [{ name: "a check", passed: status === "pass" || status === "xpass", detail: "2 token requests <b>" }],
  timeline: [],
  journal: [],
  output: [],
  outputTruncated: false,
  clientId: "demo-client-x"
})

const report = (results: ReadonlyArray<Report.CaseResult>): Report.RunReport => ({
  tool: "criteo-conformance",
  version: "0.1.0",
  protocol: 1,
  startedAt: "2026-11-28T00:00:00.000Z",
  durationMillis: 5000,
  simulator: { runtime: "process", baseUrl: "http://127.0.0.1:1", startupMillis: 2000 },
  runs: [{
    label: "my <client>",
    command: "node a.mjs",
    name: "x",
    version: "1",
    expectedSource: "none",
    unknownExpectations: [],
    results,
    summary: Report.summarize(results),
    durationMillis: 4000
  }]
})

describe("reports", () => {
  it("statuses: expected failures, stale entries, and what fails the run", () => {
    assert.strictEqual(Report.statusOf("FAIL", true), "xfail")
    assert.strictEqual(Report.statusOf("PASS", true), "xpass")
    assert.strictEqual(Report.statusOf("WARN", false), "warn")
    assert.isFalse(Report.failed(report([result("a", "pass"), result("b", "warn", "SHOULD"), result("c", "xfail")])))
    assert.isTrue(Report.failed(report([result("a", "fail")])))
    assert.isTrue(Report.failed(report([result("a", "error")])))
    assert.isFalse(Report.failed(report([result("a", "xpass")])))
    assert.isTrue(Report.failed(report([result("a", "xpass")]), { strict: true }))
    const summary = Report.summarize([result("a", "pass"), result("b", "warn", "SHOULD"), result("c", "xfail")])
    assert.deepStrictEqual([summary.mustPassed, summary.mustTotal, summary.shouldPassed, summary.shouldTotal], [
      1,
      2,
      0,
      1
    ])
  })

  it("JUnit: a testcase per case; failures, errors, skipped; everything escaped", () => {
    const xml = JUnitReport.render(
      report([
        result("a", "pass"),
        result("b", "fail"),
        result("c", "error"),
        result("d", "xfail"),
        result("e", "warn", "SHOULD")
      ])
    )
    assert.match(
      xml,
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="criteo-conformance" tests="5" failures="1" errors="1" skipped="1"/
    )
    assert.match(xml, /<testsuite name="my &lt;client&gt;" tests="5"/)
    assert.strictEqual(xml.match(/<testcase /g)?.length, 5)
    assert.match(xml, /<failure type="FAIL" message="a check">✗ a check: 2 token requests &lt;b&gt;/)
    assert.match(xml, /<error type="ERROR" message="adapter Timeout: no answer">/)
    assert.match(xml, /<skipped message="expected failure \(FAIL\): known"\/>/)
    assert.match(xml, /<system-out>WARN/)
    assert.notInclude(xml, "<client>")
  })

  // What an adapter wrote (its error, output quoted in a check) is hostile: XML 1.0 forbids U+FFFE, U+FFFF,
  // lone surrogates and most controls; a terminal interprets ESC and CSI (U+009B) sequences.
  const hostile = "x\uFFFE\uFFFF\uD800\u0001\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202Eevil"
  const hostileResult = (status: Report.Status): Report.CaseResult => ({
    ...result("h", status),
    error: status === "error" ? `adapter Protocol: ${hostile}` : undefined,
    checks: [{ name: `a check ${hostile}`, passed: false, detail: `the client said ${hostile}` }]
  })

  it("JUnit: characters XML 1.0 does not allow never reach junit.xml (it stays well-formed)", () => {
    const xml = JUnitReport.render({
      ...report([hostileResult("fail"), hostileResult("error"), hostileResult("warn")]),
      runs: report([]).runs.map((run) => ({
        ...run,
        label: `label ${hostile}`,
        version: hostile,
        results: [hostileResult("fail"), hostileResult("error"), hostileResult("warn")]
      }))
    })

    assert.notMatch(xml, /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u)
    assert.include(xml, "the client said x\uFFFD")
  })

  it("the scorecard shows adapter text's escape sequences instead of sending them to the terminal", () => {
    for (const color of [false, true]) {
      const lines = [
        Scorecard.caseLine(hostileResult("fail"), { color }),
        Scorecard.caseLine(hostileResult("error"), { color }),
        Scorecard.adapterHeader(`label ${hostile}`, `cmd ${hostile}`, hostile, 1, { color }),
        Scorecard.adapterSummary({ ...report([hostileResult("fail")]).runs[0], version: hostile }, { color })
      ].join("\n")
      // Only the scorecard's own colour sequences (ESC [ digits m) may remain.
      // eslint-disable-next-line no-control-regex
      const stripped = lines.replace(/\u001b\[[0-9;]*m/g, "")
      // eslint-disable-next-line no-control-regex
      assert.notMatch(stripped, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E]/)
      assert.include(stripped, "\\u001b]0;pwned\\u0007")
    }
  })

  it("a protocol line nested deeper than the limit is a protocol violation, whatever its depth", () => {
    for (const depth of [Protocol.maxDepth + 1, 100_000]) {
      const line = `{"id":"1","type":"result","status":200,"body":${"[".repeat(depth)}${"]".repeat(depth)}}`
      const parsed = Protocol.parseLine(line, new Set(["1"]))
      assert.strictEqual(parsed._tag, "Invalid")
      if (parsed._tag === "Invalid") assert.include(parsed.problem, `nested deeper than ${Protocol.maxDepth} levels`)
    }
    const fine = `{"id":"1","type":"result","status":200,"body":${"[".repeat(10)}"]]]"${"]".repeat(10)}}`
    assert.strictEqual(Protocol.parseLine(fine, new Set(["1"]))._tag, "Message")
    const deepOutput = `{"log":${"[".repeat(100_000)}${"]".repeat(100_000)}}`
    assert.strictEqual(Protocol.parseLine(deepOutput, new Set())._tag, "Output")
  })

  it("the headline never says Conforms when MUST cases failed, even as accepted (expected) failures", () => {
    const conforms = report([result("a", "pass"), result("b", "xfail", "SHOULD")])
    const except = report([result("a", "pass"), result("b", "xfail"), result("c", "xfail")])
    const fails = report([result("a", "fail"), result("b", "xfail")])
    assert.deepStrictEqual(Report.headline(conforms.runs[0]), {
      conformance: "conforms",
      acceptedFailures: 0,
      notTested: { cases: 0, needing: [] },
      text: "Conforms"
    })
    assert.deepStrictEqual(Report.headline(except.runs[0]), {
      conformance: "conforms-except",
      acceptedFailures: 2,
      notTested: { cases: 0, needing: [] },
      text: "Conforms except 2 accepted MUST failures"
    })
    assert.strictEqual(Report.headline(fails.runs[0]).conformance, "does-not-conform")
    assert.strictEqual(Report.headline(report([result("a", "error")]).runs[0]).text, "Does not conform")
    // The same words in every report: terminal (in yellow, not green), HTML, JSON, JUnit.
    const summary = Scorecard.adapterSummary(except.runs[0], { color: true })
    assert.include(summary, "33;1m  Conforms except 2 accepted MUST failures:")
    assert.notMatch(Scorecard.adapterSummary(except.runs[0], { color: false }), /Conforms:/)
    assert.include(Scorecard.adapterSummary(conforms.runs[0], { color: false }), "Conforms: MUST")
    assert.include(
      HtmlReport.render(except),
      `<p class="verdict except" data-conformance="conforms-except">Conforms except 2 accepted MUST failures: MUST`
    )
    assert.strictEqual(
      JSON.parse(Report.toJson(except)).runs[0].headline.text,
      "Conforms except 2 accepted MUST failures"
    )
    assert.include(
      JUnitReport.render(except),
      `<property name="headline" value="Conforms except 2 accepted MUST failures"/>`
    )
  })

  it("failures are grouped by their first failing check: one root cause reads as one line", () => {
    const generic = (id: string): Report.CaseResult => ({
      ...result(id, "fail"),
      checks: [
        { name: "the call succeeds", passed: false, detail: "InvalidClientError" },
        { name: "something specific", passed: false, detail: "x" }
      ]
    })
    const run = report([generic("a"), generic("b"), generic("c"), result("d", "fail"), result("e", "pass")]).runs[0]
    assert.deepStrictEqual(Report.byFirstFailure(run), [
      { cause: "the call succeeds", ids: ["a", "b", "c"] },
      { cause: "a check", ids: ["d"] }
    ])
    const summary = Scorecard.adapterSummary(run, { color: false })
    assert.include(summary, "failures by first failing check:")
    assert.include(summary, "3 × the call succeeds: a, b, c")
    assert.include(Report.toMarkdown(report(run.results)), "- the call succeeds — 3: `a`, `b`, `c`")
  })

  it("--summary-md: the headline and counts per adapter, then its failures with their first failing check", () => {
    const md = Report.toMarkdown(report([result("a", "pass"), result("b", "fail"), result("c", "xfail")]))
    const lines = md.split("\n")
    assert.strictEqual(lines[0], "## criteo-conformance 0.1.0: 1 adapter")
    assert.include(lines, "| my &lt;client&gt; | ❌ Does not conform | 1/3 | 0/0 | 1 | 1 | 0 | 0 | 0 | 1 | 0 |")
    assert.include(lines, "### my &lt;client&gt;")
    assert.include(lines, "- **FAIL** `b` MUST — the case &lt;b&gt; & more: a check: 2 token requests &lt;b&gt;")
    assert.include(
      lines,
      "- **XFAIL** `c` MUST — the case &lt;c&gt; & more: a check: 2 token requests &lt;b&gt; (accepted: known)"
    )
    assert.notInclude(md, "`a`")
    const piped = Report.toMarkdown(report([{ ...result("d", "error"), error: "a | b\u001b[31m\nsecond line" }]))
    assert.include(piped, "a \\| b [31m")
    assert.notInclude(piped, "second line")
  })

  it("the scorecard line of a failed case shows its failed checks", () => {
    const line = Scorecard.caseLine(result("b", "fail"), { color: false })
    assert.match(line, /FAIL\s+b\s+the case <b> & more/)
    assert.match(line, /✗ a check: 2 token requests <b>/)
    assert.notInclude(Scorecard.caseLine(result("a", "pass"), { color: false }), "✗")
    assert.include(Scorecard.caseLine(result("b", "fail"), { color: true }), "\u001b[")
  })
})

/** The evidence of a client that never obtained a token: its calls ended in an error, nothing reached the simulator. */
const nothingReached = (environment: Partial<ConformanceCase.Evidence> = {}): ConformanceCase.Evidence => ({
  sim: undefined as never,
  baseUrl: "http://127.0.0.1:40000",
  tokenUrl: "http://127.0.0.1:40000/oauth2/token",
  clientId: "demo-client-x",
  clientSecret: "demo-secret",
  requestToken: () => Effect.die("not here"),
  env: {},
  answers: new Map([["call", [{ error: "CrashedOnTokenResponse", sentAt: 0, elapsedMillis: 3 }]]]),
  marks: new Map(),
  tokenRequests: [],
  apiRequests: [],
  output: [],
  exit: Option.none(),
  timeline: [],
  startedAt: 0,
  ...environment
})

describe("verdicts: BLOCKED and N/A", () => {
  it("a precondition not met makes the case BLOCKED, whatever its other checks say", () => {
    const met = ConformanceCase.check("the point", true, "ok")
    const blocker = ConformanceCase.asPrecondition(ConformanceCase.check("the client obtains a token", false, "none"))
    assert.strictEqual(ConformanceCase.verdictOf("MUST", [met]), "PASS")
    assert.strictEqual(ConformanceCase.verdictOf("MUST", [blocker, met]), "BLOCKED")
    assert.strictEqual(ConformanceCase.verdictOf("SHOULD", [blocker, { ...met, passed: false }]), "BLOCKED")
    assert.strictEqual(ConformanceCase.verdictOf("SHOULD", [{ ...met, passed: false }]), "WARN")
    // the deprecated grade still gives the verdict
    assert.strictEqual(ConformanceCase.verdictOf("FAIL", [{ ...met, passed: false }]), "FAIL")
  })

  it("cases whose point needs a token are BLOCKED for a client that never obtained one, not PASS", () => {
    // The cases issue 11 names: a client crashing on the token response 'passed' them before.
    for (const id of ["response.missing-token-type", "response.missing-access-token", "redirect.token-endpoint"]) {
      const c = Catalogue.get(id)!
      const checks = ConformanceCase.checksOf(c, nothingReached())
      assert.strictEqual(ConformanceCase.verdictOf(c.level, checks), "BLOCKED", id)
      assert.isTrue(checks[0].precondition, id)
    }
    const api = Catalogue.get("redirect.api")!
    const checks = ConformanceCase.checksOf(api, nothingReached())
    assert.strictEqual(ConformanceCase.verdictOf(api.level, checks), "BLOCKED")
    assert.deepStrictEqual(ConformanceCase.unmetPreconditions(checks).map((c) => c.name), ["the client calls the API"])
    // every case of the catalogue states a precondition, but those whose point is the first token request itself
    const without = Catalogue.cases.filter((c) => (c.preconditions ?? []).length === 0).map((c) => c.id)
    assert.deepStrictEqual(without, ["request.client-credentials", "request.form-encoding"])
  })

  it("statuses, the run's failure and the headline: BLOCKED fails the run for a MUST; N/A never does", () => {
    assert.strictEqual(Report.statusOf("BLOCKED", false), "blocked")
    assert.strictEqual(Report.statusOf("BLOCKED", true), "xfail")
    assert.strictEqual(Report.statusOf("N/A", false), "na")
    assert.strictEqual(Report.statusOf("N/A", true), "na")
    assert.isTrue(Report.failed(report([result("a", "pass"), result("b", "blocked")])))
    assert.isFalse(Report.failed(report([result("a", "pass"), result("b", "blocked", "SHOULD")])))
    assert.isFalse(Report.failed(report([result("a", "pass"), result("b", "na")])))
    const blocked = { ...result("b", "blocked"), blockedBy: "the client obtains a token" }
    const na = { ...result("c", "na"), notTested: ["the authorization_code grant"] }
    const mixed = report([result("a", "pass"), blocked, na, { ...na, id: "d" }])
    const summary = mixed.runs[0].summary
    assert.deepStrictEqual(
      [summary.pass, summary.blocked, summary.na, summary.mustPassed, summary.mustTotal],
      [1, 1, 2, 1, 2]
    )
    assert.deepStrictEqual(Report.headline(mixed.runs[0]), {
      conformance: "does-not-conform",
      acceptedFailures: 0,
      notTested: { cases: 2, needing: ["the authorization_code grant"] },
      text: "Does not conform; not tested: 2 cases (needing the authorization_code grant)"
    })
    assert.strictEqual(
      Report.headline(report([result("a", "pass"), na]).runs[0]).text,
      "Conforms; not tested: 1 case (needing the authorization_code grant)"
    )
    assert.deepStrictEqual(Report.byFirstFailure(mixed.runs[0]), [
      { cause: "BLOCKED: the client obtains a token", ids: ["b"] }
    ])
  })

  it("every report shows BLOCKED (naming the precondition) and N/A (naming what is not claimed)", () => {
    const blocked: Report.CaseResult = {
      ...result("b", "blocked"),
      blockedBy: "the client obtains a token",
      checks: [{ name: "the client obtains a token", passed: false, detail: "no token request", precondition: true }]
    }
    const na = { ...result("c", "na"), notTested: ["the authorization_code grant"], checks: [] }
    const r = report([result("a", "pass"), blocked, na])
    const line = Scorecard.caseLine(blocked, { color: false })
    assert.match(line, /BLOCKED\s+b/)
    assert.include(line, "blocked: precondition not met: the client obtains a token")
    assert.match(Scorecard.caseLine(na, { color: false }), /N\/A\s+c[\s\S]*does not claim the authorization_code grant/)
    assert.include(Scorecard.adapterSummary(r.runs[0], { color: false }), "1 blocked")
    assert.include(Scorecard.adapterSummary(r.runs[0], { color: false }), "1 not tested")
    const json = JSON.parse(Report.toJson(r))
    assert.deepStrictEqual(json.runs[0].results.map((x: any) => [x.verdict, x.level, x.grade]), [
      ["PASS", "MUST", "FAIL"],
      ["BLOCKED", "MUST", "FAIL"],
      ["N/A", "MUST", "FAIL"]
    ])
    assert.strictEqual(json.runs[0].results[1].blockedBy, "the client obtains a token")
    const xml = JUnitReport.render(r)
    assert.match(xml, /tests="3" failures="1" errors="0" skipped="1"/)
    assert.include(xml, `<failure type="BLOCKED" message="precondition not met: the client obtains a token">`)
    assert.include(xml, `<skipped message="not tested: the adapter does not claim the authorization_code grant"/>`)
    const html = HtmlReport.render(r)
    assert.include(html, `<span class="badge blocked"`)
    assert.include(html, `<span class="badge na"`)
    assert.include(html, "precondition not met: the client obtains a token")
    const md = Report.toMarkdown(r)
    assert.include(md, "- BLOCKED: the client obtains a token — 1: `b`")
    assert.include(
      md,
      "- **BLOCKED** `b` MUST — the case &lt;b&gt; & more: precondition not met: the client obtains a token"
    )
    assert.include(md, "❌ Does not conform; not tested: 1 case (needing the authorization_code grant)")
  })

  it("capabilities: what an adapter does not claim makes a case N/A; a version-1 ready line claims everything", () => {
    const v1 = Protocol.parseLine(`{"type":"ready","name":"old","protocol":1}`, new Set())
    assert.strictEqual(v1._tag, "Message")
    const claims = (line: string) => {
      const parsed = Protocol.parseLine(line, new Set())
      if (parsed._tag !== "Message" || parsed.message.type !== "ready") throw new Error(line)
      return Protocol.capabilitiesOf(parsed.message)
    }
    assert.deepStrictEqual(claims(`{"type":"ready","name":"old","protocol":1}`), Protocol.allCapabilities)
    const ccOnly = claims(
      `{"type":"ready","protocol":2,"capabilities":{"grants":["client_credentials"],"configurableTimeouts":false}}`
    )
    assert.deepStrictEqual(ccOnly, { grants: ["client_credentials"], apiPaths: "any", configurableTimeouts: false })
    assert.strictEqual(
      Protocol.parseLine(`{"type":"ready","capabilities":{"grants":"all"}}`, new Set())._tag,
      "Invalid"
    )
    const unclaimed = (id: string, capabilities: Protocol.Capabilities) =>
      ConformanceCase.unclaimed(Catalogue.get(id)!, capabilities)
    assert.deepStrictEqual(unclaimed("authorization-code.exchange", ccOnly), ["the authorization_code grant"])
    assert.deepStrictEqual(unclaimed("authorization-code.configured-refresh-token", ccOnly), [
      "the refresh_token grant"
    ])
    assert.deepStrictEqual(unclaimed("timeout.api", ccOnly), ["configurable timeouts"])
    assert.deepStrictEqual(unclaimed("reuse.cached-token", ccOnly), [])
    assert.deepStrictEqual(unclaimed("reuse.cached-token", { ...ccOnly, apiPaths: ["/campaigns"] }), [
      "the API path /advertisers/me"
    ])
    for (const c of Catalogue.cases) assert.deepStrictEqual(unclaimed(c.id, Protocol.allCapabilities), [], c.id)
  })

  it("a case defined with the deprecated grade gets its level", () => {
    const c = ConformanceCase.make({
      id: "x.y",
      title: "an old case",
      group: "token request",
      grade: "WARN",
      requirements: [],
      setup: "",
      expectation: "",
      run: () => Effect.void,
      check: () => []
    })
    assert.strictEqual(c.level, "SHOULD")
    assert.strictEqual(c.grade, "WARN")
  })
})
