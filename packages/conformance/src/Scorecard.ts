/**
 * The terminal scorecard: a line per case as it completes (with the failed checks under it), a summary
 * per adapter and, for several adapters, the case × adapter matrix. Colours with @effect/printer-ansi
 * when the output is a terminal.
 *
 * @since 0.1.0
 */
import * as Ansi from "@effect/printer-ansi/Ansi"
import * as AnsiDoc from "@effect/printer-ansi/AnsiDoc"
import * as Doc from "@effect/printer/Doc"
import type * as BuiltinAdapters from "./BuiltinAdapters.js"
import type * as ConformanceCase from "./ConformanceCase.js"
import { forTerminal } from "./internal/sanitize.js"
import * as Report from "./Report.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Style {
  readonly color: boolean
}

const labels = Report.statusLabels

/**
 * Every piece of text goes through here: what came from an adapter (its name, errors, output quoted in
 * check details) may hold escape sequences, shown instead of interpreted.
 */
const text = (value: string) => Doc.text(forTerminal(value))

const colors: Record<Report.Status, Ansi.Ansi> = {
  pass: Ansi.green,
  fail: Ansi.combine(Ansi.red, Ansi.bold),
  warn: Ansi.yellow,
  blocked: Ansi.combine(Ansi.red, Ansi.underlined),
  na: Ansi.blackBright,
  error: Ansi.combine(Ansi.magenta, Ansi.bold),
  xfail: Ansi.blackBright,
  xpass: Ansi.cyan
}

const headlineColors: Record<Report.Headline["conformance"], Ansi.Ansi> = {
  conforms: Ansi.combine(Ansi.green, Ansi.bold),
  "conforms-except": Ansi.combine(Ansi.yellow, Ansi.bold),
  "does-not-conform": Ansi.combine(Ansi.red, Ansi.bold)
}

const render = (doc: Doc.Doc<Ansi.Ansi>, style: Style): string =>
  style.color
    ? AnsiDoc.render(doc, { style: "pretty" })
    : Doc.render(Doc.unAnnotate(doc), { style: "pretty" })

const pad = (text: string, width: number) => (text.length >= width ? text : text + " ".repeat(width - text.length))

const truncate = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`)

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

const status = (s: Report.Status, width = 7) => Doc.annotate(text(pad(labels[s], width)), colors[s])

const dim = (value: string) => Doc.annotate(text(value), Ansi.blackBright)

/**
 * The header printed before an adapter's cases.
 *
 * @since 0.1.0
 * @category rendering
 */
export const adapterHeader = (
  label: string,
  command: string,
  expectedSource: string,
  total: number,
  style: Style
): string =>
  render(
    Doc.vsep([
      Doc.empty,
      Doc.hsep([Doc.annotate(text(`▶ ${label}`), Ansi.bold), dim(`(${total} cases)`)]),
      dim(`  command:  ${truncate(command, 150)}`),
      dim(`  expected: ${expectedSource}`)
    ]),
    style
  )

/**
 * The group heading printed when a new group of cases starts.
 *
 * @since 0.1.0
 * @category rendering
 */
export const groupHeader = (group: ConformanceCase.Group, style: Style): string =>
  render(Doc.annotate(text(`  ${group}`), Ansi.combine(Ansi.bold, Ansi.blackBright)), style)

/**
 * One case: its status, id, title and duration; then the failed checks (or the error, or why it is
 * expected to fail).
 *
 * @since 0.1.0
 * @category rendering
 */
export const caseLine = (result: Report.CaseResult, style: Style): string => {
  const head = Doc.hsep([
    text("   "),
    status(result.status),
    text(pad(result.id, 44)),
    text(pad(truncate(result.title, 70), 70)),
    dim(`${pad(result.level, 6)} ${pad(seconds(result.durationMillis), 7)}`)
  ])
  const details: Array<Doc.Doc<Ansi.Ansi>> = []
  if (result.error !== undefined) details.push(text(`          ${truncate(result.error.split("\n")[0], 160)}`))
  if (result.verdict === "N/A") {
    details.push(dim(`          not tested: the adapter does not claim ${(result.notTested ?? []).join(", ")}`))
  }
  if (result.verdict === "BLOCKED") {
    details.push(
      Doc.annotate(text(`          blocked: precondition not met: ${result.blockedBy ?? ""}`), colors.blocked)
    )
  }
  if (result.status !== "pass" && result.status !== "xpass" && result.status !== "na") {
    for (const check of result.checks.filter((c) => !c.passed)) {
      details.push(
        Doc.hsep([
          text("         "),
          Doc.annotate(text("✗"), colors[result.status]),
          text(`${check.name}:`),
          dim(truncate(check.detail, 140))
        ])
      )
    }
  }
  if (result.expectedReason !== undefined) {
    details.push(
      dim(
        `          ${
          result.status === "xpass" ? "passes, but is listed as expected to fail: remove the entry" : "expected"
        }: ${truncate(result.expectedReason, 130)}`
      )
    )
  }
  return render(Doc.vsep([head, ...details]), style)
}

/**
 * The summary of one adapter's run.
 *
 * @since 0.1.0
 * @category rendering
 */
export const adapterSummary = (run: Report.AdapterRun, style: Style): string => {
  const s = run.summary
  const headline = Report.headline(run)
  const causes = Report.byFirstFailure(run)
  const counts: Array<Doc.Doc<Ansi.Ansi>> = [
    Doc.annotate(text(`${s.pass} passed`), Ansi.green),
    Doc.annotate(text(`${s.warn} warned`), s.warn > 0 ? Ansi.yellow : Ansi.blackBright),
    Doc.annotate(text(`${s.fail} failed`), s.fail > 0 ? colors.fail : Ansi.blackBright),
    Doc.annotate(text(`${s.blocked} blocked`), s.blocked > 0 ? colors.blocked : Ansi.blackBright),
    Doc.annotate(text(`${s.error} errors`), s.error > 0 ? colors.error : Ansi.blackBright),
    Doc.annotate(text(`${s.na} not tested`), Ansi.blackBright),
    Doc.annotate(text(`${s.xfail} expected failures`), Ansi.blackBright),
    Doc.annotate(text(`${s.xpass} stale expected failures`), s.xpass > 0 ? Ansi.cyan : Ansi.blackBright)
  ]
  return render(
    Doc.vsep([
      Doc.hsep([
        Doc.annotate(text(`  ${run.label}${run.version === undefined ? "" : ` ${run.version}`}:`), Ansi.bold),
        text(`${s.total} cases in ${seconds(run.durationMillis)} —`),
        Doc.concatWith(counts, (a, b) => Doc.cat(a, Doc.cat(text(", "), b)))
      ]),
      Doc.hsep([
        Doc.annotate(text(`  ${headline.text}:`), headlineColors[headline.conformance]),
        text(`MUST ${s.mustPassed}/${s.mustTotal} passed · SHOULD ${s.shouldPassed}/${s.shouldTotal} passed`)
      ]),
      ...(causes.length === 0 ? [] : [text("  failures by first failing check:")]),
      ...causes.slice(0, 8).map(({ cause, ids }) =>
        text(`    ${ids.length} × ${truncate(cause, 90)}: ${truncate(ids.join(", "), 120)}`)
      ),
      ...(run.unknownExpectations.length === 0
        ? []
        : [Doc.annotate(
          text(`  expected-failure entries matching no case: ${run.unknownExpectations.join(", ")}`),
          Ansi.cyan
        )])
    ]),
    style
  )
}

const matrixCell: Record<Report.Status, string> = {
  pass: "✓",
  fail: "F",
  warn: "W",
  blocked: "B",
  na: "-",
  error: "E",
  xfail: "x",
  xpass: "!"
}

/**
 * The case × adapter matrix of a run with several adapters.
 *
 * @since 0.1.0
 * @category rendering
 */
export const matrix = (report: Report.RunReport, style: Style): string => {
  const runs = report.runs
  const ids = Array.from(new Set(runs.flatMap((r) => r.results.map((c) => c.id))))
  const columns = runs.map((r, i) => `${i + 1}`)
  const lines: Array<Doc.Doc<Ansi.Ansi>> = [
    text(""),
    Doc.annotate(
      text(
        "  Verdicts (✓ pass, F fail, W warn, B blocked, - not tested, E error, x expected failure, ! stale expected failure)"
      ),
      Ansi.bold
    ),
    ...runs.map((r, i) => dim(`   ${pad(columns[i], 3)} ${r.label}`)),
    text(`  ${pad("case", 46)} ${columns.map((c) => pad(c, 3)).join("")}`)
  ]
  for (const id of ids) {
    const cells = runs.map((r) => {
      const result = r.results.find((c) => c.id === id)
      return result === undefined
        ? text(pad("·", 3))
        : Doc.annotate(text(pad(matrixCell[result.status], 3)), colors[result.status])
    })
    lines.push(Doc.hcat([text(`  ${pad(id, 46)} `), ...cells]))
  }
  return render(Doc.vsep(lines), style)
}

/**
 * The detection score of the broken modes that were run.
 *
 * @since 0.1.0
 * @category rendering
 */
export const detection = (detection: BuiltinAdapters.Detection, style: Style): string =>
  render(
    Doc.vsep([
      text(""),
      Doc.annotate(
        text(
          `  Detection: ${detection.caughtModes}/${detection.modes.length} broken modes caught by the cases meant for them ` +
            `(${detection.caughtPairs}/${detection.pairs} mode × case pairs)`
        ),
        Ansi.bold
      ),
      ...detection.modes.filter((m) => !m.caught).map((m) =>
        Doc.annotate(
          text(`    missed: broken:${m.mode} — ${
            m.cases.filter((c) => !c.caught).map((c) => `${c.id} ${c.verdict}`).join(", ")
          }`),
          colors.fail
        )
      )
    ]),
    style
  )
