/**
 * The HTML report, opened in headless Chromium (Debian's `chromium`, driven by playwright-core): what
 * a person sees — the summary, the case × adapter matrix, failed cases open with their evidence, passed
 * ones folded — and what nobody may see: a secret or a token.
 */
import type { Report } from "@criteo-auth/conformance"
import {
  BuiltinAdapters,
  Catalogue,
  CriteoSimulator,
  ExpectedFailures,
  HtmlReport,
  Runner
} from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { chromium } from "playwright-core"
import { conformanceLayer } from "./utils.js"

const executablePath = process.env["CHROMIUM"] ?? "/usr/bin/chromium"
const available = Fs.existsSync(executablePath)
// In CI a missing browser is a failure, not a skip (.ci/run installs Debian's chromium).
const runIf = available || process.env["CI"] !== undefined

const cases = ["reuse.cached-token", "leak.client-credentials", "expiry.reactive-401"]
const selectedOrder = Catalogue.cases.map((c) => c.id)
const byCatalogue = (a: string, b: string) => selectedOrder.indexOf(a) - selectedOrder.indexOf(b)

const runReport = Effect.gen(function*() {
  const sim = yield* CriteoSimulator.CriteoSimulator
  const selected = Catalogue.cases.filter((c) => cases.includes(c.id))
  const runs = yield* Effect.forEach(
    ["criteo-auth", "broken:prints-token", "broken:never-caches"],
    (label) =>
      Effect.gen(function*() {
        const builtin = BuiltinAdapters.find(label)!
        const expected = label === "broken:never-caches"
          ? yield* ExpectedFailures.load(builtin.expected.path, builtin.expected.section)
          : ExpectedFailures.empty
        return yield* Runner.run(sim, {
          adapter: { label, command: (yield* BuiltinAdapters.command(label))! },
          cases: selected,
          expected
        })
      })
  )
  const report: Report.RunReport = {
    tool: "criteo-conformance",
    version: "test",
    protocol: 1,
    startedAt: new Date().toISOString(),
    durationMillis: 1000,
    simulator: { runtime: sim.runtime, baseUrl: sim.baseUrl, startupMillis: 0 },
    runs
  }
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "conformance-html-"))
  const file = Path.join(dir, "index.html")
  Fs.writeFileSync(file, HtmlReport.render(report))
  return { file, report }
})

layer(conformanceLayer, { excludeTestServices: true, timeout: Duration.minutes(2) })("the HTML report", (it) => {
  it.scoped.runIf(runIf)("shows the matrix and the evidence, and no secret, in Chromium", () =>
    Effect.gen(function*() {
      const { file, report } = yield* runReport
      const browser = yield* Effect.acquireRelease(
        Effect.promise(() =>
          chromium.launch({
            executablePath,
            args: [
              "--no-sandbox",
              "--disable-gpu",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync",
              "--no-first-run"
            ]
          })
        ),
        (browser) => Effect.promise(() => browser.close())
      )
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1400, height: 900 } }))
      // One self-contained file: the page loads nothing else, and its one script runs (the CSP allows it alone).
      const requests: Array<string> = []
      const errors: Array<string> = []
      page.on("request", (request) => requests.push(request.url()))
      page.on("console", (message) => message.type() === "error" && errors.push(message.text()))
      page.on("pageerror", (error) => errors.push(error.message))
      yield* Effect.promise(() => page.goto(`file://${file}`))
      const view = yield* Effect.promise(async () => {
        const matrixRows = await page.locator("#matrix-table tbody tr[data-case]").count()
        const cell = (adapter: string, id: string) =>
          page.locator(`tr[data-case="${id}"] td[data-adapter="${adapter}"] .badge`)
        const leakCell = cell("broken:prints-token", "leak.client-credentials")
        const failed = page.locator(
          `section.adapter[data-adapter="broken:prints-token"] details[data-case="leak.client-credentials"]`
        )
        const passed = page.locator(
          `section.adapter[data-adapter="criteo-auth"] details[data-case="reuse.cached-token"]`
        )
        return {
          title: await page.title(),
          summary: await page.locator("#summary").innerText(),
          matrixRows,
          okCell: await cell("criteo-auth", "leak.client-credentials").innerText(),
          leakCell: await leakCell.innerText(),
          leakCellColor: await leakCell.evaluate((e) => (globalThis as any).getComputedStyle(e).backgroundColor),
          xfailCell: await cell("broken:never-caches", "reuse.cached-token").innerText(),
          failedOpen: await failed.locator(".body").isVisible(),
          failedText: await failed.innerText(),
          passedBodyVisible: await passed.locator(".body").isVisible(),
          passedSummary: await passed.locator("summary").innerText(),
          detection: await page.locator("#detection").innerText(),
          everything: await page.evaluate(() => {
            const document = (globalThis as any).document
            document.querySelectorAll("details").forEach((d: any) => d.setAttribute("open", ""))
            return document.body.innerText as string
          })
        }
      })

      assert.strictEqual(view.title, "Criteo conformance — criteo-auth, broken:prints-token, broken:never-caches")
      assert.match(view.summary, /criteo-auth[\s\S]*Conforms: MUST 3\/3/)
      // It prints a token in every case: the leak check of every case catches it.
      assert.match(view.summary, /broken:prints-token[\s\S]*Does not conform: MUST 0\/3/)
      assert.strictEqual(view.matrixRows, cases.length)
      assert.strictEqual(view.okCell, "PASS")
      assert.strictEqual(view.leakCell, "FAIL")
      assert.strictEqual(view.leakCellColor, "rgb(207, 34, 46)")
      assert.strictEqual(view.xfailCell, "XFAIL")
      // the failed case is open: its requirement, the failed check, the journal and the (redacted) output show
      assert.isTrue(view.failedOpen)
      assert.include(view.failedText, "RFC 6750 §5.3")
      assert.match(view.failedText, /✗\s+no secret, code or token in the client's output or errors/)
      assert.include(view.failedText, "the client secret in stdout line")
      assert.match(view.failedText, /POST \/oauth2\/token/)
      assert.match(
        view.failedText,
        /got token <redacted: tok_[0-9a-f]{12}> for demo-client-leak\.client-credentials-\w+:<redacted: client_secret>/
      )
      // a passed case is folded
      assert.isFalse(view.passedBodyVisible)
      assert.match(view.passedSummary, /PASS\s+reuse\.cached-token/)
      assert.match(view.detection, /2\/2 broken modes caught/)

      // nothing on the page, even unfolded, is a secret or a token
      const leaked = report.runs.flatMap((run) =>
        run.results.flatMap((r) => {
          const secret = `sk_${createHash("sha256").update(r.clientId).digest("hex").slice(0, 28)}`
          return [secret, "demo-secret"].filter((s) => view.everything.includes(s))
        })
      )
      assert.deepStrictEqual(leaked, [])
      assert.notMatch(view.everything, /sim\.\d{8}T\d{6}\.\d{9}Z/)

      // Filters, search and links.
      const filtered = yield* Effect.promise(async () => {
        const rows = () =>
          page.locator("#matrix-table tbody tr[data-case]:visible").evaluateAll((all) =>
            all.map((row) => (row as any).dataset.case as string)
          )
        const details = (adapter: string, id: string) =>
          page.locator(`section.adapter[data-adapter="${adapter}"] details[data-case="${id}"]`)
        const all = await rows()
        const shown = await page.locator("#shown").innerText()
        // unchecking PASS hides the passed cases' details; a row stays while one of its verdicts is checked
        await page.locator(`#filters input[name=status][value=pass]`).uncheck()
        const passHidden = {
          passedDetails: await details("criteo-auth", "reuse.cached-token").isVisible(),
          failedDetails: await details("broken:prints-token", "leak.client-credentials").isVisible(),
          rows: await rows()
        }
        await page.locator(`#filters input[name=status][value=pass]`).check()
        // a level unchecked hides its cases (all three are MUST)
        await page.locator(`#filters input[name=level][value=MUST]`).uncheck()
        const noMust = { rows: await rows(), details: await page.locator("details.case:visible").count() }
        await page.locator(`#filters input[name=level][value=MUST]`).check()
        // the search box: every word must appear in the case
        await page.locator("#search").fill("reactive 401")
        const searched = {
          rows: await rows(),
          details: await page.locator("details.case:visible").evaluateAll((all) =>
            all.map((d) => (d as any).dataset.case as string)
          ),
          shown: await page.locator("#shown").innerText()
        }
        await page.locator("#search").fill("")
        const link = details("broken:prints-token", "leak.client-credentials").locator("a.requirement").first()
        return {
          all,
          shown,
          passHidden,
          noMust,
          searched,
          link: { text: await link.innerText(), href: await link.getAttribute("href") },
          matrixLinks: await page.locator("#matrix-table a.requirement").count()
        }
      })
      assert.deepStrictEqual(filtered.all, cases.filter((id) => selectedOrder.includes(id)).sort(byCatalogue))
      assert.strictEqual(filtered.shown, "3 of 3 cases shown")
      assert.isFalse(filtered.passHidden.passedDetails)
      assert.isTrue(filtered.passHidden.failedDetails)
      // every row has a non-PASS verdict somewhere (prints-token fails all three)
      assert.strictEqual(filtered.passHidden.rows.length, 3)
      assert.deepStrictEqual(filtered.noMust, { rows: [], details: 0 })
      assert.deepStrictEqual(filtered.searched.rows, ["expiry.reactive-401"])
      assert.deepStrictEqual(filtered.searched.details, [
        "expiry.reactive-401",
        "expiry.reactive-401",
        "expiry.reactive-401"
      ])
      assert.strictEqual(filtered.searched.shown, "1 of 3 cases shown")
      assert.deepStrictEqual(filtered.link, {
        text: "RFC 6750 §5.3",
        href: "https://www.rfc-editor.org/rfc/rfc6750.html#section-5.3"
      })
      assert.isAtLeast(filtered.matrixLinks, 3)
      assert.deepStrictEqual(requests.filter((url) => !url.startsWith("file://")), [])
      assert.deepStrictEqual(errors, [])
    }), { timeout: 120_000 })
})
