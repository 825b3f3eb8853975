/**
 * Runs conformance cases against an adapter on one simulator. Each case gets its own client id, its own
 * port (a relay to the simulator: its requests are told apart by their `Host` header, and its stubs and
 * faults match only them) and a fresh adapter process; so several cases run at once (`concurrency`) —
 * and several runs can share one simulator. Cases that use a scenario all clients share (the consent
 * chain of the authorization code) take turns in a lane of their own, each after the scenario is set
 * back to its start. The adapters of the next cases are started ahead (`lookahead`): an adapter must
 * not send any request before its first command.
 *
 * The bookkeeping is Effect's: the pool is an `Effect.forEach` with `concurrency`, the adapters started
 * ahead are fibers of a `FiberMap` (each ending in its case's launch `Deferred`), each case's result is a
 * `Deferred` that one reporter fiber awaits in catalogue order; a case's workload context is
 * `internal/caseContext`.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Adapter from "./Adapter.js"
import * as ConformanceCase from "./ConformanceCase.js"
import * as CriteoSimulator from "./CriteoSimulator.js"
import * as ExpectedFailures from "./ExpectedFailures.js"
import * as CaseContext from "./internal/caseContext.js"
import * as Leakage from "./internal/cases/leakage.js"
import * as CaseSimulator from "./internal/caseSimulator.js"
import * as Evidence from "./internal/evidence.js"
import * as Excerpts from "./internal/excerpts.js"
import * as Relay from "./internal/relay.js"
import * as Protocol from "./Protocol.js"
import * as Report from "./Report.js"
import * as SimulatorError from "./SimulatorError.js"

/**
 * How to start the client under test.
 *
 * @since 0.1.0
 * @category models
 */
export interface AdapterSpec {
  /** A name for reports: a built-in adapter's name, or the command. */
  readonly label: string
  /** The shell command line. */
  readonly command: string
  readonly cwd?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly adapter: AdapterSpec
  readonly cases: ReadonlyArray<ConformanceCase.ConformanceCase>
  readonly expected?: ExpectedFailures.Expectations | undefined
  /** How many cases run at once. Default 4; 1 runs them one after the other. */
  readonly concurrency?: number | undefined
  /** How many adapters of the next cases to start ahead. Default 2; 0 starts each when its case starts. */
  readonly lookahead?: number | undefined
  /** How long an adapter may take to print `ready`. Default 30 s. */
  readonly readyTimeout?: Duration.DurationInput | undefined
  /** Variables every adapter inherits (default: this process's, without any `CRITEO_*`). */
  readonly baseEnv?: Readonly<Record<string, string>> | undefined
  /** Called with each result, in catalogue order. */
  readonly onCaseEnd?: ((result: Report.CaseResult, index: number) => Effect.Effect<void>) | undefined
}

/**
 * The environment adapters inherit: this process's, without the caller's own Criteo settings.
 *
 * @since 0.1.0
 * @category running
 */
export const inheritedEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] =>
      entry[1] !== undefined && !entry[0].startsWith("CRITEO_")
    )
  )

const randomSuffix = Effect.map(
  Effect.all(Array.from({ length: 4 }, () => Random.nextIntBetween(0, 36))),
  (digits) => digits.map((d) => d.toString(36)).join("")
)

/** What a result shows of a case that was not run (`N/A`) or could not be judged (`ERROR`). */
const emptyEvidence = {
  error: undefined,
  checks: [],
  timeline: [],
  journal: [],
  output: [],
  outputTruncated: false
} as const

/**
 * The locks of the shared scenarios, per simulator (held weakly: they go with it) and scenario: several runs
 * in one process may share a simulator, and one case at a time may use a scenario.
 */
const scenarioLocks = globalValue(
  Symbol.for("@criteo-auth/conformance/Runner/scenarioLocks"),
  () => new WeakMap<CriteoSimulator.Service, Map<string, Effect.Semaphore>>()
)

/** The lock of a shared scenario of one simulator. */
const scenarioLock = (sim: CriteoSimulator.Service, scenario: string): Effect.Effect<Effect.Semaphore> =>
  Effect.sync(() => {
    const locks = scenarioLocks.get(sim) ?? new Map<string, Effect.Semaphore>()
    scenarioLocks.set(sim, locks)
    const lock = locks.get(scenario) ?? Effect.unsafeMakeSemaphore(1)
    locks.set(scenario, lock)
    return lock
  })

/**
 * Runs the cases and returns the adapter's results, in catalogue order.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  sim: CriteoSimulator.Service,
  options: Options
): Effect.Effect<Report.AdapterRun, never, CommandExecutor.CommandExecutor | HttpClient.HttpClient> =>
  Effect.scoped(Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const http = yield* HttpClient.HttpClient
    const executor = yield* Effect.context<CommandExecutor.CommandExecutor>()
    const runScope = yield* Effect.scope
    const expected = options.expected ?? ExpectedFailures.empty
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4))
    const lookahead = Math.max(0, Math.floor(options.lookahead ?? 2))
    const baseEnv = options.baseEnv ?? inheritedEnv()
    const runId = yield* randomSuffix
    const cases = options.cases
    const keys = cases.map((c) => `${c.id}-${runId}`)
    const clientIds = keys.map(CriteoSimulator.clientId)
    const clientSecret = Redacted.value(sim.credentials.clientSecret)
    const upstream = new URL(sim.baseUrl)
    const target = { host: upstream.hostname, port: Number(upstream.port) }
    const announced = yield* Ref.make<
      Option.Option<Pick<Adapter.Session, "name" | "version" | "protocol" | "capabilities">>
    >(Option.none())

    const requestToken = (form: Readonly<Record<string, string>>) =>
      http.execute(
        HttpClientRequest.post(sim.tokenUrl).pipe(HttpClientRequest.acceptJson, HttpClientRequest.bodyUrlParams(form))
      ).pipe(
        Effect.flatMap((response) =>
          Effect.map(response.text, (text) => ({
            status: response.status,
            json: Either.getOrUndefined(Either.try(() => JSON.parse(text) as unknown))
          }))
        ),
        Effect.scoped,
        Effect.timeout(Duration.seconds(10)),
        Effect.mapError((error) =>
          new SimulatorError.SimulatorAdminError({ operation: "requestToken", detail: error.message })
        )
      )

    const environmentOf = (index: number, port: number): ConformanceCase.Environment => ({
      sim,
      baseUrl: `http://127.0.0.1:${port}`,
      tokenUrl: `http://127.0.0.1:${port}/oauth2/token`,
      clientId: clientIds[index],
      clientSecret,
      requestToken
    })

    const envOf = (
      index: number,
      environment: ConformanceCase.Environment,
      extra: Readonly<Record<string, string>>
    ) => {
      const c = cases[index]
      return {
        ...baseEnv,
        [Protocol.variables.tokenUrl]: environment.tokenUrl,
        [Protocol.variables.apiUrl]: environment.baseUrl,
        [Protocol.variables.apiVersion]: CriteoSimulator.apiVersions.current,
        [Protocol.variables.clientId]: environment.clientId,
        [Protocol.variables.clientSecret]: clientSecret,
        [Protocol.variables.grantType]: c.grant ?? "client_credentials",
        [Protocol.variables.protocol]: String(Protocol.version),
        [Protocol.variables.caseId]: c.id,
        ...c.env?.(environment),
        ...extra
      }
    }

    /** A case's relay and adapter, ready: the adapter printed its `ready` line. */
    interface Launched {
      readonly scope: Scope.CloseableScope
      readonly relay: Relay.Relay
      readonly environment: ConformanceCase.Environment
      readonly env: Readonly<Record<string, string>>
      readonly session: Adapter.Session
    }

    /**
     * The relay and the adapter of a case, started in a scope of its own (closed here if the start fails;
     * by the case when it ends; with the run otherwise).
     */
    const launch = (
      index: number,
      extra: (
        environment: ConformanceCase.Environment
      ) => Effect.Effect<Readonly<Record<string, string>>, SimulatorError.SimulatorAdminError>
    ): Effect.Effect<Launched, Adapter.AdapterError | SimulatorError.SimulatorAdminError> =>
      Effect.flatMap(Scope.fork(runScope, ExecutionStrategy.sequential), (scope) =>
        Effect.gen(function*() {
          const relay = yield* Relay.make(target).pipe(
            Scope.extend(scope),
            Effect.mapError((error) =>
              new SimulatorError.SimulatorAdminError({ operation: "relay", detail: error.message })
            )
          )
          const environment = environmentOf(index, relay.port)
          const env = envOf(index, environment, yield* extra(environment))
          const session = yield* Adapter.start({
            command: options.adapter.command,
            cwd: options.adapter.cwd,
            env,
            readyTimeout: options.readyTimeout
          }).pipe(Scope.extend(scope), Effect.provide(executor))
          return { scope, relay, environment, env, session }
        }).pipe(Effect.onError(() => Scope.close(scope, Exit.void))))

    // Each case's launch ends in its Deferred; the launches started ahead of their case (`lookahead`) run as
    // fibers of a FiberMap keyed by the case, interrupted with the run.
    const launches = yield* Effect.forEach(
      cases,
      () => Deferred.make<Launched, Adapter.AdapterError | SimulatorError.SimulatorAdminError>()
    )
    const launching = yield* FiberMap.make<number>()
    const launched = (index: number) =>
      Effect.zipWith(FiberMap.has(launching, index), Deferred.isDone(launches[index]), (a, b) => a || b)
    const startLaunch = (index: number, extra: Parameters<typeof launch>[1]) =>
      Effect.flatMap(launched(index), (already) =>
        already
          ? Effect.void
          : Effect.asVoid(
            FiberMap.run(launching, index, Effect.intoDeferred(launch(index, extra), launches[index]), {
              onlyIfMissing: true
            })
          ))

    // Cases that use a shared scenario take turns in a lane of their own; the others share the slots.
    const laned = cases.flatMap((c, i) => (c.scenario === undefined ? [] : [i]))
    const pooled = cases.flatMap((c, i) => (c.scenario === undefined ? [i] : []))

    /** Starts the adapters of the next `lookahead` cases of `order` (not those that prepare the simulator). */
    const launchAhead = (order: ReadonlyArray<number>, position: number) =>
      Effect.forEach(
        order.slice(position + 1, position + 1 + lookahead).filter((i) => cases[i].prepare === undefined),
        (i) => startLaunch(i, () => Effect.succeed({})),
        { discard: true }
      )

    const runCase = (index: number) =>
      Effect.gen(function*() {
        const c = cases[index]
        const caseStarted = yield* Clock.currentTimeMillis
        yield* startLaunch(index, (environment) => c.prepare?.(environment) ?? Effect.succeed({}))
        const { env, environment, relay, scope, session } = yield* Deferred.await(launches[index])
        yield* Ref.update(announced, (a) => Option.orElse(a, () => Option.some(session)))
        const caseSim = CaseSimulator.make(sim, relay.port, keys[index])
        // N/A: the adapter does not claim what the case needs; it is not run.
        const unclaimed = ConformanceCase.unclaimed(c, session.capabilities)
        if (unclaimed.length > 0) {
          yield* Effect.all([Scope.close(scope, Exit.void), caseSim.cleanup], { concurrency: 2, discard: true })
          const now = yield* Clock.currentTimeMillis
          return resultFor(c, environment.clientId, {
            ...emptyEvidence,
            verdict: "N/A",
            notTested: unclaimed,
            durationMillis: now - caseStarted
          })
        }
        const startedAt = yield* Clock.currentTimeMillis
        const recorder = CaseContext.make({
          environment,
          session,
          caseSim,
          hangIsFailure: c.hangIsFailure === true,
          startedAt
        })

        const workload = yield* Effect.exit(c.run(recorder.context))
        const journal = yield* Effect.either(caseSim.requests)
        const exitBefore = yield* session.exit
        yield* Effect.all([Scope.close(scope, Exit.void), caseSim.cleanup], { concurrency: 2, discard: true })
        const output = yield* session.output
        const ended = yield* Clock.currentTimeMillis
        if (Either.isLeft(journal)) return yield* Effect.fail(journal.left)
        const { apiRequests, tokenRequests } = journal.right
        const early = [...tokenRequests, ...apiRequests].filter((r) => r.loggedAt.epochMillis < startedAt)
        if (early.length > 0) {
          return yield* new Adapter.AdapterError({
            reason: "Protocol",
            detail: `the adapter sent ${Evidence.plural(early.length, "request")} before its first command ` +
              "(adapters are started ahead of their case: create the client lazily, or run with --lookahead 0)"
          })
        }
        const evidence: ConformanceCase.Evidence = {
          ...environment,
          env,
          answers: recorder.answers,
          marks: recorder.marks,
          tokenRequests,
          apiRequests,
          output,
          exit: exitBefore,
          timeline: recorder.timeline,
          startedAt
        }
        return resultOf(c, evidence, workload, ended - caseStarted)
      })

    const resultOf = (
      c: ConformanceCase.ConformanceCase,
      evidence: ConformanceCase.Evidence,
      workload: Exit.Exit<void, Adapter.AdapterError | SimulatorError.SimulatorAdminError>,
      durationMillis: number
    ): Report.CaseResult => {
      const { output, truncated } = Excerpts.output(evidence)
      const secrets = Excerpts.secretValues(evidence)
      const common = {
        durationMillis,
        timeline: evidence.timeline.map((s) => ({ ...s, text: Excerpts.scrub(s.text, secrets) })),
        journal: Excerpts.journal(evidence),
        output,
        outputTruncated: truncated
      }
      if (Exit.isFailure(workload)) {
        const error = Option.match(Cause.failureOption(workload.cause), {
          onNone: () => `the runner failed: ${Cause.pretty(workload.cause).split("\n")[0]}`,
          onSome: (e) => e.message
        })
        return resultFor(c, evidence.clientId, {
          ...common,
          verdict: "ERROR",
          error: Excerpts.scrub(error, secrets),
          checks: []
        })
      }
      const crashed = Option.filter(evidence.exit, (e) => !e.killed)
      // Preconditions first: the first failing check of a blocked case is the precondition not met.
      const own = ConformanceCase.checksOf(c, evidence)
      // A leak is a leak whatever the case was about (a secret in a validation error was seen): every case
      // looks for one, and one found fails the case, even a SHOULD case (RFC 6750 §5.3 is a MUST).
      const leak = own.some((check) => check.name === Leakage.leakCheckName) ? undefined : Leakage.leakCheck(evidence)
      const checks = [
        ...own,
        ...(leak === undefined || leak.passed ? [] : [leak]),
        ...(Option.isSome(crashed) && c.hangIsFailure !== true
          ? [
            ConformanceCase.check(
              "the client stays up until it is shut down",
              false,
              `the adapter exited during the case (${
                crashed.value.code === undefined ? "killed by a signal" : `code ${crashed.value.code}`
              })`
            )
          ]
          : [])
      ].map((check) => ({ ...check, detail: Excerpts.scrub(check.detail, secrets) }))
      const unmet = ConformanceCase.unmetPreconditions(checks)
      // A leak fails the case even when a precondition was not met: it is a defect seen, not a point missed.
      const verdict = leak !== undefined && !leak.passed ? "FAIL" : ConformanceCase.verdictOf(c.level, checks)
      return resultFor(c, evidence.clientId, {
        ...common,
        verdict,
        ...(verdict === "BLOCKED" ? { blockedBy: unmet.map((check) => check.name).join("; ") } : {}),
        error: undefined,
        checks
      })
    }

    const resultFor = (
      c: ConformanceCase.ConformanceCase,
      clientId: string,
      rest:
        & Pick<
          Report.CaseResult,
          "verdict" | "error" | "durationMillis" | "checks" | "timeline" | "journal" | "output" | "outputTruncated"
        >
        & Pick<Report.CaseResult, "blockedBy" | "notTested">
    ): Report.CaseResult => {
      const expectedReason = ExpectedFailures.reasonFor(expected, c.id)
      return {
        ...ConformanceCase.describe(c),
        expectedReason,
        status: Report.statusOf(rest.verdict, expectedReason !== undefined),
        clientId,
        ...rest
      }
    }

    // One Deferred per case, completed when it is judged; a single reporter reports them in catalogue order,
    // whatever order the cases finish in.
    const results = yield* Effect.forEach(cases, () => Deferred.make<Report.CaseResult>())
    const reporter = Effect.forEach(
      results,
      (result, index) => Effect.tap(Deferred.await(result), (r) => options.onCaseEnd?.(r, index) ?? Effect.void)
    )

    const judge = (index: number) =>
      Effect.gen(function*() {
        const caseStarted = yield* Clock.currentTimeMillis
        const result = yield* runCase(index).pipe(
          Effect.catchAll((error) =>
            Effect.map(Clock.currentTimeMillis, (now) =>
              resultFor(cases[index], clientIds[index], {
                ...emptyEvidence,
                verdict: "ERROR",
                error: error.message,
                durationMillis: now - caseStarted
              }))
          )
        )
        yield* Deferred.succeed(results[index], result)
      })

    const lane = Effect.forEach(laned, (index, position) =>
      Effect.gen(function*() {
        yield* launchAhead(laned, position)
        const scenario = cases[index].scenario!
        // One case at a time per scenario and simulator, whatever other runs share the simulator.
        const lock = yield* scenarioLock(sim, scenario)
        yield* lock.withPermits(1)(
          Effect.zipRight(Effect.ignore(sim.setScenarioState(scenario, "Started")), judge(index))
        )
      }), { discard: true })

    // The pool: `concurrency` cases at a time; each starts the adapters of the next ones as it begins.
    const pool = Effect.forEach(
      pooled,
      (index, position) => Effect.zipRight(launchAhead(pooled, position), judge(index)),
      { concurrency, discard: true }
    )

    const [all] = yield* Effect.all([reporter, lane, pool], { concurrency: "unbounded" })

    const ended = yield* Clock.currentTimeMillis
    const first = Option.getOrUndefined(yield* Ref.get(announced))
    return {
      label: options.adapter.label,
      command: options.adapter.command,
      name: first?.name,
      version: first?.version,
      protocol: first?.protocol,
      capabilities: first?.capabilities,
      expectedSource: expected.source,
      unknownExpectations: ExpectedFailures.unknownPatterns(expected),
      results: all,
      summary: Report.summarize(all),
      durationMillis: ended - started
    } satisfies Report.AdapterRun
  }))
