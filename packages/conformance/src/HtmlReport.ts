/**
 * The HTML report: one self-contained page (no external asset; one inline script, pinned by the page's
 * Content-Security-Policy, for the filters) with a summary per adapter, filters by verdict and level and a
 * search box, the case × adapter verdict matrix, and per case the requirement (linked to its RFC section or
 * Criteo page), the setup, the checks with what was seen, the timeline of the workload, the simulator's
 * journal (tokens as fingerprints, secrets redacted) and the client's output.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as BuiltinAdapters from "./BuiltinAdapters.js"
import * as ConformanceCase from "./ConformanceCase.js"
import * as Report from "./Report.js"

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const labels = Report.statusLabels

const titles: Record<Report.Status, string> = {
  pass: "passed",
  fail: "failed (a MUST)",
  warn: "warning (a SHOULD)",
  blocked: "blocked: a precondition was not met, so the point of the case was never reached (fails the run for a MUST)",
  na: "not tested: the adapter does not claim what the case needs",
  error: "could not be judged: the adapter or the simulator failed",
  xfail: "failed, as the expected-failures file says",
  xpass: "passed, but listed as expected to fail: the entry is stale"
}

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

/** A requirement's source, linked to its RFC section or Criteo page when it has one. */
const requirementLink = (requirement: ConformanceCase.Requirement): string => {
  const url = ConformanceCase.requirementUrl(requirement)
  return url === undefined
    ? escape(requirement.source)
    : `<a class="requirement" href="${escape(url)}" rel="noreferrer noopener" target="_blank">${
      escape(requirement.source)
    }</a>`
}

/**
 * The filters: the verdicts and levels checked, and the search text, decide which cases show, in the matrix
 * (a row shows when one of its adapters' verdicts is checked) and in the details. It reads only the page's own
 * attributes and text, and changes only `hidden`.
 */
const script = `(() => {
  const form = document.getElementById("filters");
  const apply = () => {
    const checked = (name) => new Set(Array.from(form.querySelectorAll("input[name=" + name + "]:checked"), (i) => i.value));
    const statuses = checked("status");
    const levels = checked("level");
    const words = form.querySelector("#search").value.toLowerCase().split(/\\s+/).filter((w) => w.length > 0);
    const matches = (element) => {
      const text = element.textContent.toLowerCase();
      return words.every((w) => text.includes(w));
    };
    let shown = 0;
    document.querySelectorAll("#matrix-table tbody tr[data-case]").forEach((row) => {
      const visible = levels.has(row.dataset.level) &&
        row.dataset.statuses.split(" ").some((s) => statuses.has(s)) && matches(row);
      row.hidden = !visible;
      if (visible) shown++;
    });
    document.querySelectorAll("#matrix-table tbody tr.group").forEach((group) => {
      let next = group.nextElementSibling;
      let any = false;
      while (next !== null && !next.classList.contains("group")) {
        if (!next.hidden) any = true;
        next = next.nextElementSibling;
      }
      group.hidden = !any;
    });
    document.querySelectorAll("details.case").forEach((details) => {
      details.hidden = !(statuses.has(details.dataset.status) && levels.has(details.dataset.level) && matches(details));
    });
    document.getElementById("shown").textContent = shown + " of " + document.querySelectorAll("#matrix-table tbody tr[data-case]").length + " cases shown";
  };
  form.addEventListener("input", apply);
  form.addEventListener("submit", (event) => event.preventDefault());
  apply();
})();`

const scriptHash = createHash("sha256").update(script).digest("base64")

/** Only the page's own styles and its one script: nothing is fetched, nothing else runs. */
const contentSecurityPolicy = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; ` +
  "base-uri 'none'; form-action 'none'"

const filters = (report: Report.RunReport): string => {
  const present = new Set(report.runs.flatMap((run) => run.results.map((r) => r.status)))
  const box = (name: string, value: string, label: string, extra = "") =>
    `<label><input type="checkbox" name="${name}" value="${value}" checked> ${label}${extra}</label>`
  return `<form id="filters" class="filters" role="search">
  <fieldset><legend>Verdict</legend>${
    Report.statuses.filter((s) => present.has(s)).map((s) => box("status", s, badge(s))).join(" ")
  }</fieldset>
  <fieldset><legend>Level</legend>${box("level", "MUST", "MUST")} ${box("level", "SHOULD", "SHOULD")}</fieldset>
  <fieldset class="grow"><legend>Search</legend><input type="search" id="search" placeholder="id, title, requirement, check, output…" aria-label="search the cases"></fieldset>
  <p class="legend" id="shown"></p>
</form>`
}

const anchor = (runIndex: number, id: string) => `r${runIndex}-${id.replace(/[^A-Za-z0-9_-]/g, "-")}`

const badge = (status: Report.Status) =>
  `<span class="badge ${status}" title="${escape(titles[status])}">${labels[status]}</span>`

const style = `
:root { --pass: #1a7f37; --fail: #cf222e; --warn: #9a6700; --error: #8250df; --blocked: #bc4c00; --na: #8c959f; --xfail: #6e7781; --xpass: #0969da;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1320px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h4 { margin: 14px 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.meta { color: var(--muted); margin: 0; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--soft); }
.card h3 { margin: 0 0 6px; font-size: 15px; }
.card .verdict { font-size: 20px; font-weight: 600; margin: 2px 0 6px; }
.card .verdict.ok { color: var(--pass); } .card .verdict.ko { color: var(--fail); }
.card .verdict.except { color: var(--warn); border-left: 4px solid var(--warn); padding-left: 6px; }
.card ul { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 6px; }
.card li { border-radius: 10px; padding: 1px 8px; background: #fff; border: 1px solid var(--line); font-size: 12px; }
.card .small { color: var(--muted); font-size: 12px; margin: 2px 0; word-break: break-all; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
thead th { position: sticky; top: 0; background: var(--bg); z-index: 1; font-size: 12px; color: var(--muted); }
tr.group th { background: var(--soft); font-size: 13px; text-transform: capitalize; }
.matrix td.cell { text-align: center; white-space: nowrap; }
.matrix .title { color: var(--muted); font-size: 12.5px; }
.grade { font-size: 11px; font-weight: 600; border-radius: 4px; padding: 0 5px; border: 1px solid var(--line); }
.grade.MUST { color: var(--fail); } .grade.SHOULD { color: var(--warn); }
.badge { display: inline-block; min-width: 54px; text-align: center; font-weight: 700; font-size: 11.5px; border-radius: 4px;
  padding: 1px 6px; color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); } .badge.warn { background: var(--warn); }
.badge.error { background: var(--error); } .badge.blocked { background: var(--blocked); } .badge.na { background: var(--na); } .badge.xfail { background: var(--xfail); } .badge.xpass { background: var(--xpass); }
a { color: inherit; }
.legend { color: var(--muted); font-size: 12.5px; }
.legend .badge { min-width: 0; margin-right: 2px; }
details.case { border: 1px solid var(--line); border-radius: 8px; margin: 8px 0; background: var(--bg); }
details.case > summary { cursor: pointer; padding: 8px 12px; display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
details.case > summary .duration { margin-left: auto; color: var(--muted); font-size: 12px; }
details.case[open] > summary { border-bottom: 1px solid var(--line); background: var(--soft); }
details.case .body { padding: 6px 14px 14px; }
dl { display: grid; grid-template-columns: 150px 1fr; gap: 4px 12px; margin: 8px 0; }
dt { color: var(--muted); } dd { margin: 0; }
dd ul { margin: 0; padding-left: 18px; }
table.checks td.mark { width: 22px; font-weight: 700; }
table.checks tr.ok td.mark { color: var(--pass); } table.checks tr.ko td.mark { color: var(--fail); }
table.checks tr.ko td.name { font-weight: 600; }
table.journal td { font-size: 12.5px; }
table.journal td.details { color: var(--muted); }
ol.timeline { margin: 0; padding-left: 20px; } ol.timeline .t { color: var(--muted); display: inline-block; min-width: 70px; }
pre.output, pre.error { background: #0d1117; color: #e6edf3; padding: 10px; border-radius: 6px; overflow-x: auto; max-height: 360px; white-space: pre-wrap; word-break: break-all; }
.stderr { color: #ffa198; }
.none { color: var(--muted); font-style: italic; }
.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; position: sticky; top: 0; z-index: 2;
  background: var(--bg); padding: 8px 0; border-bottom: 1px solid var(--line); margin-bottom: 10px; }
.filters fieldset { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; margin: 0; }
.filters fieldset.grow { flex: 1; } .filters input[type=search] { width: 100%; min-width: 220px; padding: 3px 6px; }
.filters label { margin-right: 6px; white-space: nowrap; } .filters .badge { min-width: 0; }
[hidden] { display: none !important; }
a.requirement { color: var(--xpass); }
`

const summaryCard = (run: Report.AdapterRun, index: number): string => {
  const s = run.summary
  const h = Report.headline(run)
  const verdictClass = h.conformance === "conforms" ? "ok" : h.conformance === "conforms-except" ? "except" : "ko"
  return `<div class="card" id="summary-${index}" data-adapter="${escape(run.label)}">
  <h3>${escape(run.label)}${
    run.name !== undefined && run.name !== run.label
      ? ` <span class="small">(${escape(run.name)}${run.version === undefined ? "" : ` ${escape(run.version)}`})</span>`
      : run.version === undefined
      ? ""
      : ` <span class="small">${escape(run.version)}</span>`
  }</h3>
  <p class="verdict ${verdictClass}" data-conformance="${h.conformance}">${
    escape(h.text)
  }: MUST ${s.mustPassed}/${s.mustTotal} · SHOULD ${s.shouldPassed}/${s.shouldTotal}</p>
  <ul>
    <li class="count-pass">${s.pass} passed</li><li class="count-warn">${s.warn} warned</li><li class="count-fail">${s.fail} failed</li>
    <li class="count-blocked">${s.blocked} blocked</li><li class="count-na">${s.na} not tested</li>
    <li class="count-error">${s.error} errors</li><li class="count-xfail">${s.xfail} expected failures</li><li class="count-xpass">${s.xpass} stale expected failures</li>
  </ul>
  <p class="small">${s.total} cases in ${seconds(run.durationMillis)}</p>
  <p class="small">command: <code>${escape(run.command)}</code></p>
  <p class="small">expected failures: ${escape(run.expectedSource)}${
    run.unknownExpectations.length === 0
      ? ""
      : ` — entries matching no case: ${escape(run.unknownExpectations.join(", "))}`
  }</p>
</div>`
}

const matrix = (report: Report.RunReport): string => {
  const ids = Array.from(new Set(report.runs.flatMap((r) => r.results.map((c) => c.id))))
  const byId = new Map(report.runs.flatMap((r) => r.results.map((c) => [c.id, c] as const)))
  const rows = ConformanceCase.groups.flatMap((group) => {
    const inGroup = ids.filter((id) => byId.get(id)?.group === group)
    if (inGroup.length === 0) return []
    return [
      `<tr class="group"><th colspan="${3 + report.runs.length}">${escape(group)}</th></tr>`,
      ...inGroup.map((id) => {
        const c = byId.get(id)!
        const cells = report.runs.map((run, i) => {
          const result = run.results.find((r) => r.id === id)
          return result === undefined
            ? `<td class="cell">·</td>`
            : `<td class="cell" data-adapter="${escape(run.label)}" data-status="${result.status}"><a href="#${
              anchor(i, id)
            }">${badge(result.status)}</a></td>`
        })
        const statuses = report.runs.flatMap((run) => run.results.filter((r) => r.id === id).map((r) => r.status))
        return `<tr data-case="${escape(id)}" data-level="${c.level}" data-statuses="${statuses.join(" ")}"><td><code>${
          escape(id)
        }</code><div class="title">${escape(c.title)}</div></td>` +
          `<td><span class="grade ${c.level}">${c.level}</span></td>` +
          `<td class="title">${c.requirements.map((r) => requirementLink(r)).join("; ")}</td>${cells.join("")}</tr>`
      })
    ]
  })
  return `<table class="matrix" id="matrix-table">
  <thead><tr><th>Case</th><th>Grade</th><th>Requirement</th>${
    report.runs.map((r) => `<th class="cell">${escape(r.label)}</th>`).join("")
  }</tr></thead>
  <tbody>
${rows.join("\n")}
  </tbody>
</table>`
}

const maxJournal = 40

/** The first 30 and the last 10 requests of a long journal. */
const shown = <A>(all: ReadonlyArray<A>): ReadonlyArray<A> =>
  all.length <= maxJournal ? all : [...all.slice(0, 30), ...all.slice(-10)]

const caseDetails = (result: Report.CaseResult, runIndex: number): string => {
  const checks = result.checks.length === 0
    ? `<p class="none">no check ran</p>`
    : `<table class="checks">${
      result.checks.map((c) =>
        `<tr class="${c.passed ? "ok" : "ko"}${c.precondition === true ? " precondition" : ""}"><td class="mark">${
          c.passed ? "✓" : "✗"
        }</td><td class="name">${c.precondition === true ? "precondition: " : ""}${escape(c.name)}</td><td>${
          escape(c.detail)
        }</td></tr>`
      ).join("")
    }</table>`
  const timeline = result.timeline.length === 0
    ? `<p class="none">no step</p>`
    : `<ol class="timeline">${
      result.timeline.map((s) =>
        `<li><span class="t mono">+${(s.at / 1000).toFixed(3)} s</span> ${escape(s.text)}</li>`
      ).join("")
    }</ol>`
  const journal = result.journal.length === 0
    ? `<p class="none">no request reached the simulator</p>`
    : `<table class="journal"><thead><tr><th>time</th><th>endpoint</th><th>request</th><th>host</th><th>status</th><th>stub</th><th>details</th></tr></thead><tbody>${
      shown(result.journal).map((j) =>
        `<tr><td class="mono">+${(j.at / 1000).toFixed(3)} s</td><td>${j.endpoint}</td><td class="mono">${
          escape(`${j.method} ${j.url}`)
        }</td><td class="mono">${escape(j.host ?? "")}</td><td>${j.status ?? "fault"}</td><td>${
          escape(j.stub ?? "")
        }</td><td class="details">${escape(j.details.join(" · "))}</td></tr>`
      ).join("")
    }</tbody></table>${
      result.journal.length > maxJournal
        ? `<p class="none">${result.journal.length - maxJournal} more requests in the middle are in report.json</p>`
        : ""
    }`
  const output = result.output.length === 0
    ? `<p class="none">the client wrote nothing besides protocol messages</p>`
    : `<pre class="output">${
      result.output.map((
        l
      ) => (l.stream === "stderr" ? `<span class="stderr">${escape(l.text)}</span>` : escape(l.text)))
        .join("\n")
    }${result.outputTruncated ? "\n…" : ""}</pre>`
  return `<details class="case ${result.status}" id="${anchor(runIndex, result.id)}" data-case="${
    escape(result.id)
  }" data-status="${result.status}" data-level="${result.level}"${
    result.status === "pass" || result.status === "xfail" || result.status === "na" ? "" : " open"
  }>
  <summary>${badge(result.status)} <code>${escape(result.id)}</code> <span>${
    escape(result.title)
  }</span> <span class="grade ${result.level}">${result.level}</span><span class="duration">${
    seconds(result.durationMillis)
  }</span></summary>
  <div class="body">
    <dl>
      <dt>Requirement</dt><dd><ul>${
    result.requirements.map((r) => `<li><b>${requirementLink(r)}</b>: ${escape(r.text)}</li>`).join("")
  }</ul></dd>
      <dt>Simulator</dt><dd>${escape(result.setup)}</dd>
      <dt>Client must</dt><dd>${escape(result.expectation)}</dd>
      <dt>Client id</dt><dd><code>${escape(result.clientId)}</code></dd>
      ${result.expectedReason === undefined ? "" : `<dt>Expected to fail</dt><dd>${escape(result.expectedReason)}</dd>`}
      ${result.error === undefined ? "" : `<dt>Error</dt><dd><pre class="error">${escape(result.error)}</pre></dd>`}
      ${
    result.blockedBy === undefined
      ? ""
      : `<dt>Blocked</dt><dd class="blocked">precondition not met: ${escape(result.blockedBy)}</dd>`
  }
      ${
    result.notTested === undefined
      ? ""
      : `<dt>Not tested</dt><dd class="na">the adapter does not claim ${escape(result.notTested.join(", "))}</dd>`
  }
    </dl>
    <h4>Checks</h4>${checks}
    <h4>Workload</h4>${timeline}
    <h4>Simulator journal</h4>${journal}
    <h4>Client output</h4>${output}
  </div>
</details>`
}

const detectionSection = (report: Report.RunReport): string => {
  const detection = BuiltinAdapters.detection(report.runs)
  if (detection === undefined) return ""
  return `<section id="detection"><h2>Detection of the broken clients</h2>
<p><b>${detection.caughtModes}/${detection.modes.length}</b> broken modes caught by the cases meant for them
(${detection.caughtPairs}/${detection.pairs} mode × case pairs).</p>
<table class="detection"><thead><tr><th>mode</th><th>meant to be caught by</th><th>caught</th></tr></thead><tbody>
${
    detection.modes.map((m) =>
      `<tr data-mode="${escape(m.mode)}"><td><code>broken:${escape(m.mode)}</code></td><td>${
        m.cases.map((c) => `<code>${escape(c.id)}</code> ${escape(c.verdict)}`).join("<br>")
      }</td><td>${m.caught ? "yes" : "<b>no</b>"}</td></tr>`
    ).join("\n")
  }
</tbody></table></section>`
}

/**
 * @since 0.1.0
 * @category encoding
 */
export const render = (report: Report.RunReport): string => {
  const labelsText = report.runs.map((r) => r.label).join(", ")
  const total = report.runs.reduce((n, r) => n + r.results.length, 0)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Criteo conformance — ${escape(labelsText)}</title>
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy}">
<style>${style}</style>
</head>
<body>
<header>
  <h1>Criteo conformance report</h1>
  <p class="meta" id="meta">${escape(report.startedAt)} · ${total} case runs against ${report.runs.length} adapter${
    report.runs.length === 1 ? "" : "s"
  } in ${seconds(report.durationMillis)} · simulator: ${escape(report.simulator.runtime)} at <code>${
    escape(report.simulator.baseUrl)
  }</code>, started in ${seconds(report.simulator.startupMillis)} · ${escape(report.tool)} ${
    escape(report.version)
  }, adapter protocol ${report.protocol}</p>
</header>
<main>
<section id="summary"><h2>Summary</h2><div class="cards">
${report.runs.map(summaryCard).join("\n")}
</div></section>
${filters(report)}
<section id="matrix"><h2>Verdicts</h2>
<p class="legend">${
    (Object.keys(labels) as Array<Report.Status>).map((s) => `${badge(s)} ${escape(titles[s])}`).join(" &nbsp; ")
  }. MUST cases fail the run; SHOULD cases warn.</p>
${matrix(report)}
</section>
${detectionSection(report)}
<section id="details"><h2>Cases</h2>
${
    report.runs.map((run, i) =>
      `<section class="adapter" data-adapter="${escape(run.label)}"><h2>${escape(run.label)}</h2>\n${
        run.results.map((r) => caseDetails(r, i)).join("\n")
      }\n</section>`
    ).join("\n")
  }
</section>
</main>
<script>${script}</script>
</body>
</html>
`
}
