/**
 * The results of a conformance run, as the JSON report writes them and the other reports (terminal
 * scorecard, JUnit XML, HTML) read them. Nothing in a report is a secret: tokens appear as
 * fingerprints (`tok_` + 12 hex digits, core's `AccessToken.fingerprint`), secrets as `<redacted>`.
 *
 * @since 0.1.0
 */
import type * as ConformanceCase from "./ConformanceCase.js"
import type * as Protocol from "./Protocol.js"

/**
 * The status of a case once expected failures are taken into account: `xfail` is a listed case that
 * failed or was blocked (fine), `xpass` a listed case that passed (the entry is stale). `blocked`: a
 * precondition was not met (it fails the run for a MUST); `na`: not tested, the adapter does not claim
 * what the case needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "pass" | "fail" | "warn" | "blocked" | "na" | "error" | "xfail" | "xpass"

/**
 * Every status, in the order reports list them.
 *
 * @since 0.2.0
 * @category constants
 */
export const statuses: ReadonlyArray<Status> = ["pass", "fail", "warn", "blocked", "na", "error", "xfail", "xpass"]

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
  blocked: "BLOCKED",
  na: "N/A",
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
  /**
   * MUST or SHOULD.
   *
   * @since 0.2.0
   */
  readonly level: ConformanceCase.Level
  /**
   * The level under its old name (`FAIL`, `WARN`), still written in report.json.
   *
   * @deprecated since 0.2.0: use `level`.
   */
  readonly grade?: ConformanceCase.Grade | undefined
  readonly requirements: ReadonlyArray<ConformanceCase.Requirement>
  readonly setup: string
  readonly expectation: string
  readonly verdict: ConformanceCase.Verdict
  readonly status: Status
  /**
   * The preconditions that were not met, when the case is `BLOCKED` (`the client obtains a token`).
   *
   * @since 0.2.0
   */
  readonly blockedBy?: string | undefined
  /**
   * What the adapter does not claim and the case needs, when it is `N/A` (`the authorization_code grant`).
   *
   * @since 0.2.0
   */
  readonly notTested?: ReadonlyArray<string> | undefined
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
  /** @since 0.2.0 */
  readonly blocked: number
  /**
   * Cases not tested (`N/A`).
   *
   * @since 0.2.0
   */
  readonly na: number
  readonly error: number
  readonly xfail: number
  readonly xpass: number
  /** MUST cases that passed, out of all MUST cases tested (`N/A` ones left out). */
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
  /**
   * The protocol version the adapter announced.
   *
   * @since 0.2.0
   */
  readonly protocol?: number | undefined
  /**
   * What the adapter claimed in its `ready` line (everything, for protocol version 1).
   *
   * @since 0.2.0
   */
  readonly capabilities?: Protocol.Capabilities | undefined
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
  verdict === "N/A"
    ? "na"
    : expected
    ? verdict === "PASS" ? "xpass" : "xfail"
    : verdict === "PASS"
    ? "pass"
    : verdict === "FAIL"
    ? "fail"
    : verdict === "WARN"
    ? "warn"
    : verdict === "BLOCKED"
    ? "blocked"
    : "error"

/**
 * Whether a result fails the run: a failure, an error, a MUST case blocked (unless listed as expected);
 * with `strict`, a stale expected failure too.
 *
 * @since 0.2.0
 * @category queries
 */
export const failsRun = (
  result: Pick<CaseResult, "status" | "level">,
  options: { readonly strict?: boolean } = {}
): boolean =>
  result.status === "fail" || result.status === "error" || (result.status === "blocked" && result.level === "MUST") ||
  (options.strict === true && result.status === "xpass")

/**
 * @since 0.1.0
 * @category constructors
 */
export const summarize = (results: ReadonlyArray<CaseResult>): Summary => {
  const count = (status: Status) => results.filter((r) => r.status === status).length
  const tested = results.filter((r) => r.verdict !== "N/A")
  const must = tested.filter((r) => r.level === "MUST")
  const should = tested.filter((r) => r.level === "SHOULD")
  return {
    total: results.length,
    pass: count("pass"),
    fail: count("fail"),
    warn: count("warn"),
    blocked: count("blocked"),
    na: count("na"),
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
 * Whether the run fails: a MUST case failed or was blocked unexpectedly, or a case could not be judged
 * (`ERROR`, not expected); with `strict`, a stale expected failure (`XPASS`) too. `N/A` cases do not.
 *
 * @since 0.1.0
 * @category queries
 */
export const failed = (report: RunReport, options: { readonly strict?: boolean } = {}): boolean =>
  report.runs.some((run) => run.results.some((r) => failsRun(r, options)))

/**
 * What a run says about its client at a glance. `conforms-except`: every MUST case passed but some that
 * failed are listed as expected (accepted) failures — never worded or coloured as plain conformance.
 *
 * @since 0.2.0
 * @category models
 */
export interface Headline {
  readonly conformance: "conforms" | "conforms-except" | "does-not-conform"
  /** MUST cases that failed (or were blocked) but are listed as expected failures. */
  readonly acceptedFailures: number
  /**
   * The cases not tested (`N/A`) and what the adapter did not claim that they need.
   *
   * @since 0.2.0
   */
  readonly notTested: { readonly cases: number; readonly needing: ReadonlyArray<string> }
  /**
   * `Conforms`, `Conforms except 3 accepted MUST failures` or `Does not conform`; followed, when cases were
   * not tested, by `; not tested: 6 cases (needing the authorization_code grant)`.
   */
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
  const failing = run.results.filter((r) => failsRun(r)).length
  const acceptedFailures = run.results.filter((r) => r.level === "MUST" && r.status === "xfail").length
  const na = run.results.filter((r) => r.status === "na")
  const notTested = {
    cases: na.length,
    needing: Array.from(new Set(na.flatMap((r) => r.notTested ?? [])))
  }
  const suffix = notTested.cases === 0
    ? ""
    : `; not tested: ${notTested.cases} case${notTested.cases === 1 ? "" : "s"}${
      notTested.needing.length === 0 ? "" : ` (needing ${notTested.needing.join(", ")})`
    }`
  if (failing > 0) {
    return { conformance: "does-not-conform", acceptedFailures, notTested, text: `Does not conform${suffix}` }
  }
  if (acceptedFailures > 0) {
    return {
      conformance: "conforms-except",
      acceptedFailures,
      notTested,
      text: `Conforms except ${acceptedFailures} accepted MUST failure${acceptedFailures === 1 ? "" : "s"}${suffix}`
    }
  }
  return { conformance: "conforms", acceptedFailures, notTested, text: `Conforms${suffix}` }
}

/**
 * The JSON report: the run as it is, each adapter's run with its `headline`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toJson = (report: RunReport): string =>
  `${
    JSON.stringify(
      {
        ...report,
        runs: report.runs.map((run) => ({
          ...run,
          headline: headline(run),
          // `grade` is kept beside `level` for the readers of report.json written before 0.2.0.
          results: run.results.map((r) => ({ ...r, grade: r.level === "MUST" ? "FAIL" : "WARN" }))
        }))
      },
      null,
      2
    )
  }\n`

/**
 * The failed, blocked and errored cases of a run grouped by their first failing check (for a `BLOCKED`
 * case, the precondition not met; for an `ERROR`, the adapter's failure reason), largest group first: one
 * root cause (wrong client authentication, a crash on a valid token response) reads as one line rather
 * than as 20 failures under titles that point elsewhere.
 *
 * @since 0.2.0
 * @category rendering
 */
export const byFirstFailure = (
  run: Pick<AdapterRun, "results">
): ReadonlyArray<{ readonly cause: string; readonly ids: ReadonlyArray<string> }> => {
  const groups = new Map<string, Array<string>>()
  for (const r of run.results) {
    if (r.status !== "fail" && r.status !== "error" && r.status !== "blocked") continue
    const cause = r.status === "error"
      ? `ERROR ${(r.error ?? "").split("\n")[0].split(":")[0].slice(0, 80)}`
      : r.status === "blocked"
      ? `BLOCKED: ${r.blockedBy ?? "a precondition"}`
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
    "| adapter | verdict | MUST | SHOULD | passed | failed | blocked | errors | not tested | accepted failures | stale entries |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.runs.map((run) => {
      const h = headline(run)
      const s = run.summary
      return `| ${markdownCell(run.label)} | ${headlineIcon[h.conformance]} ${
        markdownCell(h.text)
      } | ${s.mustPassed}/${s.mustTotal} | ${s.shouldPassed}/${s.shouldTotal} | ${s.pass} | ${s.fail} | ${s.blocked} | ${s.error} | ${s.na} | ${s.xfail} | ${s.xpass} |`
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
    const notPassed = run.results.filter((r) => r.status !== "pass" && r.status !== "na")
    if (notPassed.length === 0) continue
    lines.push("", `### ${markdownCell(run.label)}`, "")
    for (const r of notPassed.slice(0, maxFailures)) {
      const first = r.checks.find((c) => !c.passed)
      const why = r.error ??
        (first === undefined
          ? ""
          : r.verdict === "BLOCKED"
          ? `precondition not met: ${first.name}: ${first.detail}`
          : `${first.name}: ${first.detail}`)
      const accepted = r.status === "xfail"
        ? ` (accepted: ${r.expectedReason ?? ""})`
        : r.status === "xpass"
        ? " (listed as expected to fail: remove the entry)"
        : ""
      lines.push(
        `- **${statusLabels[r.status]}** \`${markdownCell(r.id)}\` ${r.level} — ${markdownCell(r.title)}: ${
          markdownCell(why.split("\n")[0].slice(0, 300))
        }${markdownCell(accepted)}`
      )
    }
    if (notPassed.length > maxFailures) {
      lines.push(`- … and ${notPassed.length - maxFailures} more (see the HTML report)`)
    }
  }
  return `${lines.join("\n")}\n`
}
