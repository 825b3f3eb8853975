/**
 * The JUnit XML report: a `testsuite` per adapter, a `testcase` per case. A FAIL is a `failure`, an
 * ERROR an `error`, an expected failure `skipped`; a WARN passes with the failed checks in
 * `system-out` (CI tools have no warning state). A BLOCKED MUST case is a `failure` of type `BLOCKED`
 * naming the precondition not met (a BLOCKED SHOULD case passes, said in `system-out`); an N/A case is
 * `skipped`, saying what the adapter does not claim.
 *
 * @since 0.1.0
 */
import { forXml } from "./internal/sanitize.js"
import * as Report from "./Report.js"

/** Escapes XML's markup characters; the characters XML 1.0 does not allow at all become U+FFFD. */
const escape = (text: string): string =>
  forXml(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")

const seconds = (millis: number) => (millis / 1000).toFixed(3)

const failedChecks = (result: Report.CaseResult) =>
  result.checks.filter((c) => !c.passed).map((c) => `✗ ${c.name}: ${c.detail}`).join("\n")

const body = (result: Report.CaseResult): string => {
  const requirement = result.requirements.map((r) => `${r.source}: ${r.text}`).join("\n")
  switch (result.status) {
    case "fail":
      return `      <failure type="FAIL" message="${escape(result.checks.find((c) => !c.passed)?.name ?? "failed")}">${
        escape(`${failedChecks(result)}\n\n${requirement}`)
      }</failure>\n`
    case "blocked":
      return result.level === "MUST"
        ? `      <failure type="BLOCKED" message="${escape(`precondition not met: ${result.blockedBy ?? ""}`)}">${
          escape(`${failedChecks(result)}\n\n${requirement}`)
        }</failure>\n`
        : `      <system-out>${
          escape(`BLOCKED (a SHOULD of ${requirement}): precondition not met: ${result.blockedBy ?? ""}`)
        }</system-out>\n`
    case "na":
      return `      <skipped message="${
        escape(`not tested: the adapter does not claim ${(result.notTested ?? []).join(", ")}`)
      }"/>\n`
    case "error":
      return `      <error type="ERROR" message="${escape((result.error ?? "error").split("\n")[0])}">${
        escape(result.error ?? "")
      }</error>\n`
    case "xfail":
      return `      <skipped message="${
        escape(`expected failure (${result.verdict}): ${result.expectedReason ?? ""}`)
      }"/>\n`
    case "warn":
      return `      <system-out>${escape(`WARN (a SHOULD of ${requirement})\n${failedChecks(result)}`)}</system-out>\n`
    case "xpass":
      return `      <system-out>${
        escape(`passes, but is listed as expected to fail (${result.expectedReason ?? ""}): remove the entry`)
      }</system-out>\n`
    case "pass":
      return ""
  }
}

/**
 * @since 0.1.0
 * @category encoding
 */
export const render = (report: Report.RunReport): string => {
  const all = report.runs.flatMap((r) => r.results)
  const count = (f: (r: Report.CaseResult) => boolean) => all.filter(f).length
  const suites = report.runs.map((run) => {
    const c = (f: (r: Report.CaseResult) => boolean) => run.results.filter(f).length
    const failures = (r: Report.CaseResult) => r.status === "fail" || (r.status === "blocked" && r.level === "MUST")
    const skipped = (r: Report.CaseResult) => r.status === "xfail" || r.status === "na"
    const cases = run.results.map((result) => {
      const inner = body(result)
      const open = `    <testcase classname="criteo-conformance.${escape(result.group)}" name="${
        escape(`${result.id}: ${result.title}`)
      }" time="${seconds(result.durationMillis)}"`
      return inner.length === 0 ? `${open}/>\n` : `${open}>\n${inner}    </testcase>\n`
    }).join("")
    return `  <testsuite name="${escape(run.label)}" tests="${run.results.length}" failures="${c(failures)}" errors="${
      c((r) => r.status === "error")
    }" skipped="${c(skipped)}" time="${seconds(run.durationMillis)}" timestamp="${
      escape(report.startedAt)
    }">\n    <properties>\n      <property name="headline" value="${
      escape(Report.headline(run).text)
    }"/>\n      <property name="command" value="${escape(run.command)}"/>\n      <property name="adapter" value="${
      escape(`${run.name ?? "?"} ${run.version ?? ""}`.trim())
    }"/>\n` +
      `      <property name="expected" value="${
        escape(run.expectedSource)
      }"/>\n    </properties>\n${cases}  </testsuite>\n`
  }).join("")
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="criteo-conformance" tests="${all.length}" failures="${
    count((r) => r.status === "fail" || (r.status === "blocked" && r.level === "MUST"))
  }" errors="${count((r) => r.status === "error")}" skipped="${
    count((r) => r.status === "xfail" || r.status === "na")
  }" time="${seconds(report.durationMillis)}">\n${suites}</testsuites>\n`
}
