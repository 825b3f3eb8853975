/**
 * The results of a conformance run, as the JSON report writes them and the other reports (terminal
 * scorecard, JUnit XML, HTML) read them. Nothing in a report is a secret: tokens appear as
 * fingerprints (`tok_` + 8 hex digits), secrets as `<redacted>`.
 *
 * @since 0.1.0
 */
import type * as ConformanceCase from "./ConformanceCase.js"

/**
 * The status of a case once expected failures are taken into account: `xfail` is a listed case that
 * failed (fine), `xpass` a listed case that passed (the entry is stale).
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "pass" | "fail" | "warn" | "error" | "xfail" | "xpass"

/**
 * How each status is printed.
 *
 * @since 0.1.0
 * @category constants
 */
export const statusLabels: Record<Status, string> = {
  pass: "PASS",
  fail: "FAIL",
  warn: "WARN",
  error: "ERROR",
  xfail: "XFAIL",
  xpass: "XPASS"
}

/**
 * A request of the simulator's journal, redacted.
 *
 * @since 0.1.0
 * @category models
 */
export interface JournalEntry {
  /** Milliseconds since the case started. */
  readonly at: number
  readonly endpoint: "token" | "api"
  readonly method: string
  /** Path and query, secrets redacted. */
  readonly url: string
  readonly host: string | undefined
  /** The status answered, or `undefined` for a network fault. */
  readonly status: number | undefined
  /** The stub that answered (which behaviour of the simulator). */
  readonly stub: string | undefined
  /** A summary of the request: form fields and headers that matter, tokens as fingerprints. */
  readonly details: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CaseResult {
  readonly id: string
  readonly title: string
  readonly group: ConformanceCase.Group
  readonly grade: ConformanceCase.Grade
  readonly requirements: ReadonlyArray<ConformanceCase.Requirement>
  readonly setup: string
  readonly expectation: string
  readonly verdict: ConformanceCase.Verdict
  readonly status: Status
  /** Why the case is in the expected-failures file, when it is. */
  readonly expectedReason: string | undefined
  /** Why the case could not be judged (`ERROR`). */
  readonly error: string | undefined
  readonly durationMillis: number
  readonly checks: ReadonlyArray<ConformanceCase.Check>
  readonly timeline: ReadonlyArray<ConformanceCase.Step>
  readonly journal: ReadonlyArray<JournalEntry>
  /** The client's output, secrets replaced by `<redacted: …>`; at most 200 lines. */
  readonly output: ReadonlyArray<{ readonly stream: "stdout" | "stderr"; readonly text: string }>
  readonly outputTruncated: boolean
  /** The client id the case used. */
  readonly clientId: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly total: number
  readonly pass: number
  readonly fail: number
  readonly warn: number
  readonly error: number
  readonly xfail: number
  readonly xpass: number
  /** FAIL-grade cases that passed (or failed as expected), out of all FAIL-grade cases. */
  readonly mustPassed: number
  readonly mustTotal: number
  readonly shouldPassed: number
  readonly shouldTotal: number
}

/**
 * The run of the catalogue against one adapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdapterRun {
  /** How the adapter was named on the command line (`criteo-auth`, `broken:never-caches`, a command). */
  readonly label: string
  readonly command: string
  /** What the adapter announced in its `ready` line (the first case's). */
  readonly name: string | undefined
  readonly version: string | undefined
  readonly expectedSource: string
  /** Expected-failure patterns that match no case of the catalogue. */
  readonly unknownExpectations: ReadonlyArray<string>
  readonly results: ReadonlyArray<CaseResult>
  readonly summary: Summary
  readonly durationMillis: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunReport {
  readonly tool: "criteo-conformance"
  readonly version: string
  readonly protocol: number
  readonly startedAt: string
  readonly durationMillis: number
  readonly simulator: {
    readonly runtime: string
    readonly baseUrl: string
    readonly startupMillis: number
  }
  readonly runs: ReadonlyArray<AdapterRun>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const statusOf = (verdict: ConformanceCase.Verdict, expected: boolean): Status =>
  expected
    ? verdict === "PASS" ? "xpass" : "xfail"
    : verdict === "PASS"
    ? "pass"
    : verdict === "FAIL"
    ? "fail"
    : verdict === "WARN"
    ? "warn"
    : "error"

/**
 * @since 0.1.0
 * @category constructors
 */
export const summarize = (results: ReadonlyArray<CaseResult>): Summary => {
  const count = (status: Status) => results.filter((r) => r.status === status).length
  const must = results.filter((r) => r.grade === "FAIL")
  const should = results.filter((r) => r.grade === "WARN")
  return {
    total: results.length,
    pass: count("pass"),
    fail: count("fail"),
    warn: count("warn"),
    error: count("error"),
    xfail: count("xfail"),
    xpass: count("xpass"),
    mustPassed: must.filter((r) => r.verdict === "PASS").length,
    mustTotal: must.length,
    shouldPassed: should.filter((r) => r.verdict === "PASS").length,
    shouldTotal: should.length
  }
}

/**
 * Whether the run fails: a FAIL-grade case failed unexpectedly or a case could not be judged
 * (`ERROR`, not expected); with `strict`, a stale expected failure (`XPASS`) too.
 *
 * @since 0.1.0
 * @category queries
 */
export const failed = (report: RunReport, options: { readonly strict?: boolean } = {}): boolean =>
  report.runs.some((run) =>
    run.results.some((r) =>
      r.status === "fail" || r.status === "error" || (options.strict === true && r.status === "xpass")
    )
  )

/**
 * What a run says about its client at a glance. `conforms-except`: every MUST case passed but some that
 * failed are listed as expected (accepted) failures — never worded or coloured as plain conformance.
 *
 * @since 0.2.0
 * @category models
 */
export interface Headline {
  readonly conformance: "conforms" | "conforms-except" | "does-not-conform"
  /** MUST (FAIL-grade) cases that failed but are listed as expected failures. */
  readonly acceptedFailures: number
  /** `Conforms`, `Conforms except 3 accepted MUST failures` or `Does not conform`. */
  readonly text: string
}

/**
 * The headline of one adapter's run.
 *
 * @since 0.2.0
 * @category rendering
 */
export const headline = (run: Pick<AdapterRun, "results">): Headline => {
  // A SHOULD case can fail too (a leak found in its output): any unexpected failure.
  const mustFailed = run.results.filter((r) => r.status === "fail").length
  const errors = run.results.filter((r) => r.status === "error").length
  const acceptedFailures = run.results.filter((r) => r.grade === "FAIL" && r.status === "xfail").length
  if (mustFailed > 0 || errors > 0) {
    return { conformance: "does-not-conform", acceptedFailures, text: "Does not conform" }
  }
  if (acceptedFailures > 0) {
    return {
      conformance: "conforms-except",
      acceptedFailures,
      text: `Conforms except ${acceptedFailures} accepted MUST failure${acceptedFailures === 1 ? "" : "s"}`
    }
  }
  return { conformance: "conforms", acceptedFailures, text: "Conforms" }
}

/**
 * The JSON report: the run as it is, each adapter's run with its `headline`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson = (report: RunReport): string =>
  `${JSON.stringify({ ...report, runs: report.runs.map((run) => ({ ...run, headline: headline(run) })) }, null, 2)}\n`

/**
 * The failed and errored cases of a run grouped by their first failing check (or, for an `ERROR`, the
 * adapter's failure reason), largest group first: one root cause (wrong client authentication, a crash on a
 * valid token response) reads as one line rather than as 20 failures under titles that point elsewhere.
 *
 * @since 0.2.0
 * @category rendering
 */
export const byFirstFailure = (
  run: Pick<AdapterRun, "results">
): ReadonlyArray<{ readonly cause: string; readonly ids: ReadonlyArray<string> }> => {
  const groups = new Map<string, Array<string>>()
  for (const r of run.results) {
    if (r.status !== "fail" && r.status !== "error") continue
    const cause = r.status === "error"
      ? `ERROR ${(r.error ?? "").split("\n")[0].split(":")[0].slice(0, 80)}`
      : r.checks.find((c) => !c.passed)?.name ?? "failed"
    groups.set(cause, [...(groups.get(cause) ?? []), r.id])
  }
  return Array.from(groups, ([cause, ids]) => ({ cause, ids })).sort((a, b) => b.ids.length - a.ids.length)
}

const markdownCell = (text: string) =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001F\u007F-\u009F]/g, " ").replace(/\|/g, "\\|").replace(/[<>]/g, (c) =>
    c === "<" ? "&lt;" : "&gt;")

const headlineIcon: Record<Headline["conformance"], string> = {
  conforms: "✅",
  "conforms-except": "⚠️",
  "does-not-conform": "❌"
}

/**
 * A Markdown summary for a CI job summary or a pull-request comment: the headline of each adapter, its
 * counts, and its failures (first failing check first), at most `maxFailures` per adapter.
 *
 * @since 0.2.0
 * @category encoding
 */
export const toMarkdown = (report: RunReport, options: { readonly maxFailures?: number } = {}): string => {
  const maxFailures = options.maxFailures ?? 30
  const lines = [
    `## criteo-conformance ${markdownCell(report.version)}: ${
      report.runs.length === 1 ? "1 adapter" : `${report.runs.length} adapters`
    }`,
    "",
    "| adapter | verdict | MUST | SHOULD | passed | failed | errors | accepted failures | stale entries |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.runs.map((run) => {
      const h = headline(run)
      const s = run.summary
      return `| ${markdownCell(run.label)} | ${headlineIcon[h.conformance]} ${
        markdownCell(h.text)
      } | ${s.mustPassed}/${s.mustTotal} | ${s.shouldPassed}/${s.shouldTotal} | ${s.pass} | ${s.fail} | ${s.error} | ${s.xfail} | ${s.xpass} |`
    })
  ]
  for (const run of report.runs) {
    const causes = byFirstFailure(run)
    if (causes.length > 0) {
      lines.push("", `### ${markdownCell(run.label)}: failures by first failing check`, "")
      for (const { cause, ids } of causes) {
        lines.push(
          `- ${markdownCell(cause)} — ${ids.length}: ${
            ids.slice(0, 12).map((id) => `\`${markdownCell(id)}\``).join(", ")
          }${ids.length > 12 ? ", …" : ""}`
        )
      }
    }
    const notPassed = run.results.filter((r) =>
      r.status === "fail" || r.status === "error" || r.status === "warn" || r.status === "xfail" || r.status === "xpass"
    )
    if (notPassed.length === 0) continue
    lines.push("", `### ${markdownCell(run.label)}`, "")
    for (const r of notPassed.slice(0, maxFailures)) {
      const first = r.checks.find((c) => !c.passed)
      const why = r.error ?? (first === undefined ? "" : `${first.name}: ${first.detail}`)
      const accepted = r.status === "xfail"
        ? ` (accepted: ${r.expectedReason ?? ""})`
        : r.status === "xpass"
        ? " (listed as expected to fail: remove the entry)"
        : ""
      lines.push(
        `- **${statusLabels[r.status]}** \`${markdownCell(r.id)}\` ${r.grade === "FAIL" ? "MUST" : "SHOULD"} — ${
          markdownCell(r.title)
        }: ${markdownCell(why.split("\n")[0].slice(0, 300))}${markdownCell(accepted)}`
      )
    }
    if (notPassed.length > maxFailures) {
      lines.push(`- … and ${notPassed.length - maxFailures} more (see the HTML report)`)
    }
  }
  return `${lines.join("\n")}\n`
}
