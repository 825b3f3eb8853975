/**
 * The `criteo-conformance` command-line tool:
 *
 * ```
 * criteo-conformance run --adapter "<command>" [--adapter ...] [--cases PATTERN,...] [--report-dir DIR]
 *                        [--expected [LABEL=]FILE ...] [--no-expected] [--runtime auto|process|container]
 *                        [--concurrency N] [--lookahead N] [--ready-timeout SECONDS] [--strict]
 *                        [--color auto|always|never]
 * criteo-conformance list [--json] [--adapters]
 * ```
 *
 * Exit codes: 0 when every MUST case passed (or failed as expected, or was not applicable: N/A) and no
 * case was an ERROR; 1 otherwise (a MUST case FAIL or BLOCKED, an ERROR); 2 when the run could not happen (usage, unreadable file, no simulator).
 *
 * @since 0.1.0
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import * as Path from "node:path"
import * as BuiltinAdapters from "./BuiltinAdapters.js"
import * as Catalogue from "./Catalogue.js"
import * as ConformanceCase from "./ConformanceCase.js"
import * as CriteoSimulator from "./CriteoSimulator.js"
import * as ExpectedFailures from "./ExpectedFailures.js"
import * as HtmlReport from "./HtmlReport.js"
import * as Version from "./internal/version.js"
import * as JUnitReport from "./JUnitReport.js"
import * as Protocol from "./Protocol.js"
import * as Report from "./Report.js"
import * as Runner from "./Runner.js"
import * as Scorecard from "./Scorecard.js"

/**
 * The version of this package, read from its package.json when the module loads (`../package.json` from
 * both `src/` and `dist/`): never a number kept by hand.
 *
 * @since 0.1.0
 * @category constants
 * @deprecated since 0.2.0: the tool reads its version with the platform's FileSystem (`--version`, the
 * reports); this constant stays for the callers of 0.1.0.
 */
export const version: string = (() => {
  try {
    const json: unknown = createRequire(import.meta.url)("../package.json")
    return typeof json === "object" && json !== null && typeof (json as { version?: unknown }).version === "string"
      ? (json as { version: string }).version
      : "unknown"
  } catch {
    return "unknown"
  }
})()

/**
 * @since 0.1.0
 * @category exit codes
 */
export const ExitCode = { Success: 0, Failed: 1, CannotRun: 2 } as const

/**
 * An expected failure of the tool itself, already phrased for the user: printed as
 * `criteo-conformance: <sentence>` and ending with `code` (the same class as the criteo-auth CLI's).
 */
class UserError extends Data.TaggedError("UserError")<{
  readonly code: typeof ExitCode[keyof typeof ExitCode]
  readonly sentence: string
}> {}

const cannotRun = (sentence: string) => new UserError({ code: ExitCode.CannotRun, sentence })

/** The run happened and failed: the scorecard says why. */
class RunFailed extends Data.TaggedError("RunFailed")<{}> {}

/** Where relative paths given on the command line are resolved: the directory `pnpm` was started from. */
const workingDirectory = () => process.env["INIT_CWD"] ?? process.cwd()

const resolvePath = (path: string) => Path.resolve(workingDirectory(), path)

// -----------------------------------------------------------------------------
// run
// -----------------------------------------------------------------------------

const runOptions = {
  adapter: Options.text("adapter").pipe(
    Options.withDescription(
      `The client under test: a shell command speaking the adapter protocol, or a shipped adapter (${
        ["criteo-auth", "naive-curl", "oauth2-client", "broken:<mode>"].join(", ")
      }). Repeat to compare several.`
    ),
    Options.atLeast(1)
  ),
  cases: Options.text("cases").pipe(
    Options.withDescription("Case ids or globs, comma-separated or repeated (e.g. \"expiry.*,request.form-encoding\")"),
    Options.repeated
  ),
  reportDir: Options.directory("report-dir", { exists: "either" }).pipe(
    Options.withDescription("Where to write index.html, report.json and junit.xml"),
    Options.withDefault("reports/conformance")
  ),
  expected: Options.text("expected").pipe(
    Options.withDescription(
      "An expected-failures file, `FILE` or `LABEL=FILE` (LABEL: the --adapter it applies to). Shipped adapters " +
        "use theirs (adapters/expected/) unless given one"
    ),
    Options.repeated
  ),
  noExpected: Options.boolean("no-expected").pipe(
    Options.withDescription("Ignore every expected-failures file: report each failure as a failure")
  ),
  runtime: Options.choice("runtime", ["auto", "process", "container"]).pipe(
    Options.withDescription(
      "Where the simulator runs: auto (a container if Docker answers, else Java), process, container"
    ),
    Options.withDefault("auto" as const)
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.withDescription("How many cases run at once (each on its own port of the one simulator)"),
    Options.withDefault(4)
  ),
  lookahead: Options.integer("lookahead").pipe(
    Options.withDescription("How many adapters of the next cases to start ahead (0: each when its case starts)"),
    Options.withDefault(2)
  ),
  readyTimeout: Options.integer("ready-timeout").pipe(
    Options.withDescription("Seconds an adapter may take to print its ready line"),
    Options.withDefault(30)
  ),
  summaryMd: Options.file("summary-md").pipe(
    Options.withDescription(
      "Also write a Markdown summary (headline, counts, failures) to this file, e.g. $GITHUB_STEP_SUMMARY"
    ),
    Options.optional
  ),
  strict: Options.boolean("strict").pipe(
    Options.withDescription("Also fail when an expected failure passes (a stale entry)")
  ),
  color: Options.choice("color", ["auto", "always", "never"]).pipe(Options.withDefault("auto" as const))
}

interface Resolved {
  readonly spec: Runner.AdapterSpec
  readonly expected: ExpectedFailures.Expectations
}

const parseExpected = (values: ReadonlyArray<string>) =>
  values.map((value) => {
    const match = /^([^=]+)=(.+)$/.exec(value)
    // `LABEL=FILE` unless the whole value is an existing-looking path with '=' in it
    return match !== null && !value.startsWith(".") && !value.startsWith("/")
      ? { label: match[1], path: resolvePath(match[2]) }
      : { label: undefined, path: resolvePath(value) }
  })

const resolveAdapters = (
  adapters: ReadonlyArray<string>,
  expectedArgs: ReadonlyArray<string>,
  noExpected: boolean
) =>
  Effect.gen(function*() {
    const given = parseExpected(expectedArgs)
    const unlabeled = given.filter((g) => g.label === undefined)
    if (unlabeled.length > 0 && adapters.length > 1) {
      return yield* cannotRun(
        "with several --adapter, say which adapter each --expected file is for: --expected LABEL=FILE"
      )
    }
    return yield* Effect.forEach(adapters, (label) =>
      Effect.gen(function*() {
        const builtin = BuiltinAdapters.find(label)
        const command = yield* BuiltinAdapters.command(label).pipe(
          Effect.mapError((error) => cannotRun(error.message))
        )
        const spec: Runner.AdapterSpec = { label, command: command ?? label, cwd: workingDirectory() }
        const file = given.find((g) => g.label === label) ?? (adapters.length === 1 ? unlabeled[0] : undefined)
        const expected = noExpected
          ? ExpectedFailures.empty
          : file !== undefined
          ? yield* ExpectedFailures.load(file.path, label)
          : builtin !== undefined
          ? yield* ExpectedFailures.load(builtin.expected.path, builtin.expected.section)
          : ExpectedFailures.empty
        return { spec, expected } satisfies Resolved
      }))
  }).pipe(
    Effect.catchTag("ExpectedFailuresError", (error) => Effect.fail(cannotRun(error.message)))
  )

const writeReports = (dir: string, report: Report.RunReport) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dir, { recursive: true })
    yield* fs.writeFileString(Path.join(dir, "report.json"), Report.toJson(report))
    yield* fs.writeFileString(Path.join(dir, "junit.xml"), JUnitReport.render(report))
    yield* fs.writeFileString(Path.join(dir, "index.html"), HtmlReport.render(report))
  }).pipe(
    Effect.mapError((error) => cannotRun(`cannot write the reports to ${dir}: ${error.message}`))
  )

/** Appends (a CI job summary file is shared by the job's steps) the Markdown summary to `path`. */
const writeSummary = (path: string, report: Report.RunReport) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(Path.dirname(path), { recursive: true })
    yield* fs.writeFileString(path, Report.toMarkdown(report), { flag: "a" })
  }).pipe(
    Effect.mapError((error) => cannotRun(`cannot write the Markdown summary to ${path}: ${error.message}`))
  )

const runCommand = Command.make("run", runOptions, (options) =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const version = yield* Version.version
    const style: Scorecard.Style = {
      color: options.color === "always" ||
        (options.color === "auto" && process.stdout.isTTY === true && !process.env["NO_COLOR"])
    }
    const selection = Catalogue.select(options.cases)
    if (selection.unmatched.length > 0) {
      return yield* cannotRun(`no case matches ${selection.unmatched.join(", ")} (see criteo-conformance list)`)
    }
    if (selection.cases.length === 0) return yield* cannotRun("no case selected")
    const adapters = yield* resolveAdapters(options.adapter, options.expected, options.noExpected)
    const reportDir = resolvePath(options.reportDir)

    yield* Console.log(
      `criteo-conformance ${version}: ${selection.cases.length} cases × ${adapters.length} adapter${
        adapters.length === 1 ? "" : "s"
      }; starting the Criteo simulator (${options.runtime})…`
    )
    const simStarted = yield* Clock.currentTimeMillis
    const sim = yield* CriteoSimulator.make({ runtime: options.runtime }).pipe(
      Effect.catchAll((error) => Effect.fail(cannotRun(error.message)))
    )
    const simReady = yield* Clock.currentTimeMillis
    yield* Console.log(
      `simulator: ${sim.runtime} at ${sim.baseUrl}, ready in ${((simReady - simStarted) / 1000).toFixed(1)} s`
    )

    const runs: Array<Report.AdapterRun> = []
    for (const { expected, spec } of adapters) {
      yield* Console.log(
        Scorecard.adapterHeader(spec.label, spec.command, expected.source, selection.cases.length, style)
      )
      let group: string | undefined
      const run = yield* Runner.run(sim, {
        adapter: spec,
        cases: selection.cases,
        expected,
        concurrency: options.concurrency,
        lookahead: options.lookahead,
        readyTimeout: `${Math.max(1, options.readyTimeout)} seconds`,
        onCaseEnd: (result) =>
          Effect.gen(function*() {
            if (result.group !== group) {
              group = result.group
              yield* Console.log(Scorecard.groupHeader(result.group, style))
            }
            yield* Console.log(Scorecard.caseLine(result, style))
          })
      })
      runs.push(run)
      yield* Console.log(Scorecard.adapterSummary(run, style))
    }

    const ended = yield* Clock.currentTimeMillis
    const report: Report.RunReport = {
      tool: "criteo-conformance",
      version,
      protocol: Protocol.version,
      startedAt: DateTime.formatIso(DateTime.unsafeMake(started)),
      durationMillis: ended - started,
      simulator: { runtime: sim.runtime, baseUrl: sim.baseUrl, startupMillis: simReady - simStarted },
      runs
    }
    if (runs.length > 1) yield* Console.log(Scorecard.matrix(report, style))
    const detection = BuiltinAdapters.detection(runs)
    if (detection !== undefined) yield* Console.log(Scorecard.detection(detection, style))
    yield* writeReports(reportDir, report)
    if (Option.isSome(options.summaryMd)) yield* writeSummary(resolvePath(options.summaryMd.value), report)
    const failed = Report.failed(report, { strict: options.strict })
    const accepted = report.runs.reduce((n, run) => n + Report.headline(run).acceptedFailures, 0)
    yield* Console.log("")
    yield* Console.log(`HTML report:  ${Path.join(reportDir, "index.html")}`)
    yield* Console.log(`JSON, JUnit:  ${Path.join(reportDir, "report.json")}, ${Path.join(reportDir, "junit.xml")}`)
    yield* Console.log(
      `${
        failed
          ? "FAILED"
          : accepted > 0
          ? `OK except ${accepted} accepted MUST failure${accepted === 1 ? "" : "s"}`
          : "OK"
      }: ${selection.cases.length} cases × ${runs.length} adapter${runs.length === 1 ? "" : "s"} in ${
        ((ended - started) / 1000).toFixed(1)
      } s (simulator start ${((simReady - simStarted) / 1000).toFixed(1)} s, cases ${
        ((ended - simReady) / 1000).toFixed(1)
      } s)`
    )
    if (failed) return yield* new RunFailed()
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription("Run the conformance catalogue against one or more adapters on a fresh simulator")
  )

// -----------------------------------------------------------------------------
// list
// -----------------------------------------------------------------------------

const listCommand = Command.make("list", {
  json: Options.boolean("json").pipe(Options.withDescription("Print the catalogue as JSON")),
  adapters: Options.boolean("adapters").pipe(Options.withDescription("List the shipped adapters instead"))
}, ({ adapters, json }) =>
  Effect.gen(function*() {
    if (adapters) {
      const rows = BuiltinAdapters.builtins.map((b) => ({
        name: b.name,
        description: b.description,
        catches: BuiltinAdapters.brokenModes.find((m) => `broken:${m.mode}` === b.name)?.catches ?? []
      }))
      if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
      for (const row of rows) {
        yield* Console.log(
          `${row.name.padEnd(36)} ${row.description}${
            row.catches.length === 0 ? "" : ` — caught by ${row.catches.join(", ")}`
          }`
        )
      }
      return
    }
    if (json) {
      return yield* Console.log(JSON.stringify(
        Catalogue.cases.map(ConformanceCase.describe),
        null,
        2
      ))
    }
    let group: string | undefined
    for (const c of Catalogue.cases) {
      if (c.group !== group) {
        group = c.group
        yield* Console.log(`\n${c.group}`)
      }
      yield* Console.log(`  ${c.level.padEnd(6)}  ${c.id.padEnd(44)} ${c.title}`)
      yield* Console.log(`          ${"".padEnd(44)} ${c.requirements.map((r) => r.source).join("; ")}`)
    }
    const must = Catalogue.cases.filter((c) => c.level === "MUST").length
    yield* Console.log(`\n${Catalogue.cases.length} cases: ${must} MUST, ${Catalogue.cases.length - must} SHOULD`)
  })).pipe(Command.withDescription("List the cases of the catalogue (or the shipped adapters)"))

const root = Command.make("criteo-conformance").pipe(
  Command.withDescription(
    "The Criteo OAuth2 conformance suite: run clients against the simulator, report what they get wrong"
  ),
  Command.withSubcommands([runCommand, listCommand])
)

/**
 * Runs the tool on `argv` (`process.argv`) and returns the exit code.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<
  number,
  never,
  CliApp.CliApp.Environment | CommandExecutor.CommandExecutor
> =>
  Effect.flatMap(Version.version, (version) => Command.run(root, { name: "criteo-conformance", version })(argv)).pipe(
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.as<number>(ExitCode.Success),
    Effect.catchAll((error): Effect.Effect<number> => {
      if (error instanceof RunFailed) return Effect.succeed(ExitCode.Failed)
      if (error instanceof UserError) {
        return Effect.as(Console.error(`criteo-conformance: ${error.sentence}`), error.code)
      }
      if (ValidationError.isValidationError(error)) {
        return Effect.succeed(ExitCode.CannotRun)
      }
      return Effect.as(
        Console.error(`criteo-conformance: ${String((error as { message?: unknown })?.message ?? error)}`),
        ExitCode.CannotRun
      )
    }),
    Effect.catchAllDefect((defect) =>
      Effect.as(Console.error(`criteo-conformance: unexpected error: ${String(defect)}`), ExitCode.CannotRun)
    )
  )
