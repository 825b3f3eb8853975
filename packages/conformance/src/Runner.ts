/**
 * Runs conformance cases against an adapter on one simulator. Each case gets its own client id, its own
 * port (a relay to the simulator: its requests are told apart by their `Host` header, and its stubs and
 * faults match only them) and a fresh adapter process; so several cases run at once (`concurrency`) —
 * and several runs can share one simulator. Cases that use a scenario all clients share (the consent
 * chain of the authorization code) take turns in a lane of their own, each after the scenario is set
 * back to its start. The adapters of the next cases are started ahead (`lookahead`): an adapter must
 * not send any request before its first command.
 *
 * @since 0.1.0
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Adapter from "./Adapter.js"
import * as ConformanceCase from "./ConformanceCase.js"
import * as CriteoSimulator from "./CriteoSimulator.js"
import * as ExpectedFailures from "./ExpectedFailures.js"
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

const answerText = (answer: ConformanceCase.Answer): string =>
  `${Evidence.describe(answer)}${
    answer.error !== undefined && answer.message !== undefined ? ` (${answer.message.slice(0, 160)})` : ""
  } in ${answer.elapsedMillis} ms`

/** What a result shows of a case that was not run (`N/A`) or could not be judged (`ERROR`). */
const emptyEvidence = {
  error: undefined,
  checks: [],
  timeline: [],
  journal: [],
  output: [],
  outputTruncated: false
} as const

const scenarioLocks = new Map<string, Effect.Semaphore>()

/** The lock of a shared scenario of one simulator, for this process. */
const scenarioLock = (sim: CriteoSimulator.Service, scenario: string): Effect.Semaphore => {
  const key = `${sim.baseUrl} ${scenario}`
  const existing = scenarioLocks.get(key)
  if (existing !== undefined) return existing
  const lock = Effect.unsafeMakeSemaphore(1)
  scenarioLocks.set(key, lock)
  return lock
}

interface Prepared {
  readonly scope: Scope.CloseableScope
  readonly relay: Relay.Relay
  readonly env: Readonly<Record<string, string>>
  readonly session: Fiber.RuntimeFiber<Adapter.Session, Adapter.AdapterError>
}

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

    const prepared = new Map<number, Prepared>()

    /** The relay and the adapter of a case, started in a scope of its own. */
    const prepare = (
      index: number,
      extra: (
        environment: ConformanceCase.Environment
      ) => Effect.Effect<Readonly<Record<string, string>>, SimulatorError.SimulatorAdminError>
    ) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(runScope, ExecutionStrategy.sequential)
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
        }).pipe(Scope.extend(scope), Effect.provide(executor), Effect.forkIn(runScope))
        const value: Prepared = { scope, relay, env, session }
        prepared.set(index, value)
        return value
      })

    // Cases that use a shared scenario take turns in a lane of their own; the others share the slots.
    const laned = cases.flatMap((c, i) => (c.scenario === undefined ? [] : [i]))
    const pooled = cases.flatMap((c, i) => (c.scenario === undefined ? [i] : []))

    const prepareAhead = (order: ReadonlyArray<number>, position: number) =>
      Effect.forEach(
        order.slice(position + 1, position + 1 + lookahead).filter((i) =>
          !prepared.has(i) && cases[i].prepare === undefined
        ),
        (i) => Effect.ignore(prepare(i, () => Effect.succeed({}))),
        { discard: true }
      )

    const runCase = (index: number) =>
      Effect.gen(function*() {
        const c = cases[index]
        const caseStarted = yield* Clock.currentTimeMillis
        const { env, relay, scope, session: launched } = prepared.get(index) ??
          (yield* prepare(index, (environment) => c.prepare?.(environment) ?? Effect.succeed({})))
        const environment = environmentOf(index, relay.port)
        const caseSim = CaseSimulator.make(sim, relay.port, keys[index])
        const timeline: Array<ConformanceCase.Step> = []
        const answers = new Map<string, Array<ConformanceCase.Answer>>()
        const marks = new Map<string, number>()
        const step = (kind: ConformanceCase.Step["kind"], label: string, text: string, at?: number) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            timeline.push({ at: (at ?? now) - startedAt, kind, label, text })
          })

        const outcome = yield* Effect.gen(function*() {
          const session = yield* Fiber.join(launched)
          yield* Ref.update(announced, (a) => Option.orElse(a, () => Option.some(session)))
          return session
        }).pipe(Effect.either)
        if (Either.isLeft(outcome)) {
          yield* Effect.all([Scope.close(scope, Exit.void), caseSim.cleanup], { concurrency: 2, discard: true })
          return yield* Effect.fail(outcome.left)
        }
        const session = outcome.right
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

        const record = (label: string, all: ReadonlyArray<ConformanceCase.Answer>) => {
          answers.set(label, [...(answers.get(label) ?? []), ...all])
        }
        /** Sends a command; in cases that look for hangs and crashes, those become answers. */
        const perform = <A>(effect: Effect.Effect<A, Adapter.AdapterError>) =>
          Effect.gen(function*() {
            const sentAt = yield* Clock.currentTimeMillis
            const result = yield* Effect.either(effect)
            const now = yield* Clock.currentTimeMillis
            if (Either.isRight(result)) return { ok: result.right, sentAt, now }
            const error = result.left
            if (c.hangIsFailure === true && (error.reason === "Timeout" || error.reason === "Exited")) {
              const stalled: ConformanceCase.Answer = error.reason === "Timeout"
                ? { error: "Hung", sentAt, elapsedMillis: now - sentAt, hung: true }
                : { error: "Crashed", sentAt, elapsedMillis: now - sentAt, crashed: true }
              return { stalled, sentAt, now }
            }
            return yield* Effect.fail(error)
          })
        const requestOf = (o: ConformanceCase.CallOptions = {}): Protocol.ApiRequest => ({
          method: o.method ?? "GET",
          path: o.path ?? "/advertisers/me"
        })
        const asAnswer = (outcome: Protocol.Outcome, sentAt: number, now: number): ConformanceCase.Answer => ({
          ...outcome,
          sentAt,
          elapsedMillis: now - sentAt
        })

        const context: ConformanceCase.Context = {
          ...environment,
          call: (label, o) =>
            Effect.gen(function*() {
              const request = requestOf(o)
              const result = yield* perform(session.call(request, o?.timeout ?? Duration.seconds(30)))
              const answer = "stalled" in result ? result.stalled : asAnswer(result.ok, result.sentAt, result.now)
              record(label, [answer])
              yield* step("call", label, `${request.method} ${request.path} → ${answerText(answer)}`, result.sentAt)
              return answer
            }),
          calls: (label, count, o) =>
            Effect.gen(function*() {
              const request = requestOf(o)
              const result = yield* perform(session.calls(count, request, o?.timeout ?? Duration.seconds(30)))
              const all = "stalled" in result
                ? [result.stalled]
                : result.ok.map((outcome) => asAnswer(outcome, result.sentAt, result.now))
              record(label, all)
              yield* step(
                "calls",
                label,
                `${count} × ${request.method} ${request.path} → ${Evidence.describeAll(all)} in ${
                  result.now - result.sentAt
                } ms`,
                result.sentAt
              )
              return all
            }),
          wait: (duration, why) =>
            Effect.zipRight(
              step("wait", why, `wait ${Duration.format(Duration.decode(duration))}: ${why}`),
              Effect.sleep(duration)
            ),
          simulate: (label, description, effect) =>
            Effect.tap(effect, () =>
              Effect.flatMap(Clock.currentTimeMillis, (now) => {
                marks.set(label, now)
                return step("simulator", label, description)
              })),
          addStub: caseSim.addStub,
          setFault: caseSim.setFault,
          clearFaults: caseSim.clearFaults,
          expireTokens: caseSim.expireTokens,
          revokeConsent: caseSim.revokeConsent
        }

        const workload = yield* Effect.exit(c.run(context))
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
            detail:
              `the adapter sent ${Evidence.plural(early.length, "request")} before its first command (adapters are ` +
              "started ahead of their case: create the client lazily, or run with --lookahead 0)"
          })
        }
        const evidence: ConformanceCase.Evidence = {
          ...environment,
          env,
          answers,
          marks,
          tokenRequests,
          apiRequests,
          output,
          exit: exitBefore,
          timeline,
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

    // Results are reported in catalogue order, whatever order the cases finish in.
    const results: Array<Report.CaseResult | undefined> = cases.map(() => undefined)
    const reporting = yield* Effect.makeSemaphore(1)
    const next = yield* Ref.make(0)
    const settle = (index: number, result: Report.CaseResult) =>
      reporting.withPermits(1)(Effect.gen(function*() {
        results[index] = result
        let i = yield* Ref.get(next)
        while (i < cases.length && results[i] !== undefined) {
          yield* options.onCaseEnd?.(results[i]!, i) ?? Effect.void
          i++
        }
        yield* Ref.set(next, i)
      }))

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
        yield* settle(index, result)
      })

    const lane = yield* Effect.fork(Effect.forEach(laned, (index, position) =>
      Effect.gen(function*() {
        yield* prepareAhead(laned, position)
        const scenario = cases[index].scenario!
        // One case at a time per scenario and simulator, whatever other runs share the simulator.
        yield* scenarioLock(sim, scenario).withPermits(1)(
          Effect.zipRight(Effect.ignore(sim.setScenarioState(scenario, "Started")), judge(index))
        )
      }), { discard: true }))

    const slots = yield* Effect.makeSemaphore(concurrency)
    const running: Array<Fiber.RuntimeFiber<void>> = [lane]
    for (let position = 0; position < pooled.length; position++) {
      const index = pooled[position]
      yield* prepareAhead(pooled, position)
      yield* slots.take(1)
      running.push(yield* Effect.fork(Effect.ensuring(judge(index), slots.release(1))))
    }
    yield* Fiber.joinAll(running)

    const ended = yield* Clock.currentTimeMillis
    const first = Option.getOrUndefined(yield* Ref.get(announced))
    const all = results.filter((r): r is Report.CaseResult => r !== undefined)
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
