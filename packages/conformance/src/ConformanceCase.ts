/**
 * A conformance case: one requirement of RFC 6749 / 6750 / 9700 or of Criteo's documentation, the
 * simulator's setup that puts a client to the test, the workload the client runs through its adapter,
 * and the checks made on the simulator's journal, the client's answers and its output.
 *
 * Cases are isolated: each has its own client id, its own port on the simulator (a relay: its requests
 * are told apart by their `Host` header, and its stubs and faults match only them) and a new adapter
 * process, so cases can run side by side on one simulator, and any one can run alone
 * (`criteo-conformance run --cases <id>`). Cases that use a scenario every client shares run one at
 * a time (`scenario`).
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Adapter from "./Adapter.js"
import type * as CriteoSimulator from "./CriteoSimulator.js"
import type * as Fault from "./Fault.js"
import type * as Journal from "./Journal.js"
import type * as Protocol from "./Protocol.js"
import type * as SimulatorError from "./SimulatorError.js"

/**
 * `FAIL`: the requirement is a MUST, a miss fails the run. `WARN`: a SHOULD, a miss is reported.
 *
 * @since 0.1.0
 * @category models
 */
export type Grade = "FAIL" | "WARN"

/**
 * The outcome of a case: `PASS`; `FAIL` or `WARN` (a check failed, by the case's grade); `ERROR` (the
 * adapter or the simulator did not do its part, so the client could not be judged).
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = "PASS" | "FAIL" | "WARN" | "ERROR"

/**
 * @since 0.1.0
 * @category models
 */
export interface Requirement {
  /** `RFC 6749 §4.4.2`, `Criteo: Authentication`, ... */
  readonly source: string
  /** What it says, briefly. */
  readonly text: string
}

/**
 * The sections of the catalogue, in the order the catalogue runs them.
 *
 * @since 0.1.0
 * @category models
 */
export const groups = [
  "token request",
  "token reuse",
  "expiry and refresh",
  "rate limits",
  "server errors",
  "transport faults",
  "timeouts",
  "token responses",
  "OAuth errors",
  "authorization code",
  "redirects",
  "leakage"
] as const

/**
 * @since 0.1.0
 * @category models
 */
export type Group = typeof groups[number]

/**
 * @since 0.1.0
 * @category models
 */
export type GrantType = "client_credentials" | "authorization_code" | "refresh_token"

/**
 * What a case knows before the adapter starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Environment {
  /** The simulator, shared with the cases running at the same time: set up through `Context`, not here. */
  readonly sim: CriteoSimulator.Service
  /**
   * This case's address of the simulator, `http://127.0.0.1:<port>`: a relay of its own, so that every
   * request of this case's client carries the port in its `Host` header.
   */
  readonly baseUrl: string
  /** `<baseUrl>/oauth2/token`. */
  readonly tokenUrl: string
  /** The client id of this case (`demo-client-<case>-<run>`), accepted by the simulator. */
  readonly clientId: string
  /** The simulator's demo secret. */
  readonly clientSecret: string
  /**
   * A token request made by the runner itself (e.g. to obtain a refresh token to configure the client
   * with): the form is POSTed to the token endpoint, the JSON answer returned.
   */
  readonly requestToken: (
    form: Readonly<Record<string, string>>
  ) => Effect.Effect<{ readonly status: number; readonly json: unknown }, SimulatorError.SimulatorAdminError>
}

/**
 * A call the adapter is asked to make: by default `GET /advertisers/me`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  readonly method?: Protocol.ApiRequest["method"] | undefined
  readonly path?: string | undefined
  /** How long to wait for the answer. Default 30 s. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * What the client answered to one call, with when the call was sent and how long it took. `hung` and
 * `crashed` appear only in cases where hanging or crashing is what the case checks for.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer extends Protocol.Outcome {
  /** When the command was sent (epoch milliseconds). */
  readonly sentAt: number
  readonly elapsedMillis: number
  /** No answer came within the timeout. */
  readonly hung?: true | undefined
  /** The adapter exited (crashed) before answering. */
  readonly crashed?: true | undefined
}

/**
 * The tools a case's workload uses. Every step is recorded in the case's timeline.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context extends Environment {
  /** One call, recorded under `label`. */
  readonly call: (label: string, options?: CallOptions) => Effect.Effect<Answer, Adapter.AdapterError>
  /** `count` concurrent calls, recorded under `label`. */
  readonly calls: (
    label: string,
    count: number,
    options?: CallOptions
  ) => Effect.Effect<ReadonlyArray<Answer>, Adapter.AdapterError>
  /** Waits (real time), saying why in the timeline. */
  readonly wait: (duration: Duration.DurationInput, why: string) => Effect.Effect<void>
  /** Runs a simulator operation, described in the timeline, and records the instant as mark `label`. */
  readonly simulate: <A>(
    label: string,
    description: string,
    effect: Effect.Effect<A, SimulatorError.SimulatorAdminError>
  ) => Effect.Effect<A, SimulatorError.SimulatorAdminError>
  /**
   * Adds a WireMock stub that applies to this case's requests only (a `Host` matcher for its port is
   * added, unless the mapping matches `Host` itself).
   */
  readonly addStub: (
    mapping: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** A fault for this case's requests to the token endpoint or the API; `times` limits it. */
  readonly setFault: (
    target: Fault.Target,
    fault: Fault.Fault,
    options?: { readonly times?: number }
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Removes this case's faults. */
  readonly clearFaults: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** The API refuses (401 authorization-token-expired) every token this case's client got so far. */
  readonly expireTokens: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** The API answers 403 consent-revoked and refresh tokens are refused, for this case's client. */
  readonly revokeConsent: Effect.Effect<void, SimulatorError.SimulatorAdminError>
}

/**
 * One step of the timeline shown in reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Step {
  /** Milliseconds since the case started. */
  readonly at: number
  readonly kind: "call" | "calls" | "wait" | "simulator"
  readonly label: string
  readonly text: string
}

/**
 * What a case's checks look at.
 *
 * @since 0.1.0
 * @category models
 */
export interface Evidence extends Environment {
  /** The environment the adapter was given (secrets included: checks compare against them). */
  readonly env: Readonly<Record<string, string>>
  /** The answers, by label: one `Answer` for `call`, several for `calls`. */
  readonly answers: ReadonlyMap<string, ReadonlyArray<Answer>>
  /** When each `simulate` step happened (epoch milliseconds), by label. */
  readonly marks: ReadonlyMap<string, number>
  /** Every token request of this case's client (on its port), oldest first. */
  readonly tokenRequests: ReadonlyArray<Journal.TokenRequest>
  /** Every other request of this case's client (the API, on its port), oldest first. */
  readonly apiRequests: ReadonlyArray<Journal.ApiRequest>
  /** What the client wrote on stdout (besides protocol messages) and stderr. */
  readonly output: ReadonlyArray<Adapter.OutputLine>
  /** How the adapter ended, if it did before the case's end. */
  readonly exit: Option.Option<Adapter.Exit>
  readonly timeline: ReadonlyArray<Step>
  /** When the workload started (epoch milliseconds). */
  readonly startedAt: number
}

/**
 * The result of one check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Check {
  readonly name: string
  readonly passed: boolean
  /** What was seen, in a sentence (never a secret). */
  readonly detail: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConformanceCase {
  /** `group.name`, stable: expected-failures files and `--cases` refer to it. */
  readonly id: string
  readonly title: string
  readonly group: Group
  readonly grade: Grade
  readonly requirements: ReadonlyArray<Requirement>
  /** What the simulator does, in a sentence or two. */
  readonly setup: string
  /** What a compliant client does. */
  readonly expectation: string
  /** The grant the adapter is configured with. Default `client_credentials`. */
  readonly grant?: GrantType | undefined
  /** Variables added to (or replacing) the adapter's environment. */
  readonly env?: ((environment: Environment) => Readonly<Record<string, string>>) | undefined
  /**
   * Runs on the reset simulator before the adapter starts (the adapter then cannot be started ahead
   * of the case); returns more environment variables.
   */
  readonly prepare?:
    | ((
      environment: Environment
    ) => Effect.Effect<Readonly<Record<string, string>>, SimulatorError.SimulatorAdminError>)
    | undefined
  /**
   * A scenario of the fixtures the case depends on, which every client of the simulator shares (the
   * `authorization` consent chain: one authorization code, rotating refresh tokens). The cases using a
   * scenario run one at a time, each after the scenario is set back to its start; other cases run
   * alongside.
   */
  readonly scenario?: string | undefined
  /**
   * A hung or crashed adapter is what this case looks for: it is recorded in the answer (`hung`,
   * `crashed`) and judged by the checks, instead of making the case an `ERROR`.
   */
  readonly hangIsFailure?: boolean | undefined
  /** The setup on the simulator and the workload. */
  readonly run: (context: Context) => Effect.Effect<void, Adapter.AdapterError | SimulatorError.SimulatorAdminError>
  /** The checks; the case passes when all pass. */
  readonly check: (evidence: Evidence) => ReadonlyArray<Check>
}

/**
 * Defines a case (an identity function that fixes the type).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (definition: ConformanceCase): ConformanceCase => definition

/**
 * A check.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (name: string, passed: boolean, detail: string): Check => ({ name, passed, detail })

/**
 * The verdict of a case from its checks.
 *
 * @since 0.1.0
 * @category verdicts
 */
export const verdictOf = (grade: Grade, checks: ReadonlyArray<Check>): Verdict =>
  checks.every((c) => c.passed) ? "PASS" : grade

/**
 * What a report says of a case before its result: the fields a person reads to know what it checks.
 *
 * @since 0.1.0
 * @category accessors
 */
export const describe = (self: ConformanceCase) => ({
  id: self.id,
  title: self.title,
  group: self.group,
  grade: self.grade,
  requirements: self.requirements,
  setup: self.setup,
  expectation: self.expectation
})
