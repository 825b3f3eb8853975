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
 * A case has a level (`MUST` or `SHOULD`), preconditions (what must have happened for its point to be
 * reached: one not met makes it `BLOCKED`, never a pass) and needs (its grant, configurable timeouts, API
 * paths: an adapter that does not claim them gets `N/A`). The README's "Adding a case" has a template.
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
 * The requirement level of a case (RFC 2119): a `MUST` that is missed fails the run (verdict `FAIL`); a
 * `SHOULD` that is missed is reported (verdict `WARN`).
 *
 * @since 0.2.0
 * @category models
 */
export type Level = "MUST" | "SHOULD"

/**
 * The requirement level under its old name: `FAIL` for a MUST, `WARN` for a SHOULD.
 *
 * @since 0.1.0
 * @category models
 * @deprecated since 0.2.0: use `Level` (`"MUST" | "SHOULD"`); `FAIL` and `WARN` read as verdicts.
 */
export type Grade = "FAIL" | "WARN"

/**
 * The old name of a level.
 *
 * @since 0.2.0
 * @category conversions
 */
export const gradeOf = (level: Level): Grade => (level === "MUST" ? "FAIL" : "WARN")

/**
 * The level of an old grade.
 *
 * @since 0.2.0
 * @category conversions
 */
export const levelOf = (grade: Grade): Level => (grade === "FAIL" ? "MUST" : "SHOULD")

/**
 * The outcome of a case:
 * - `PASS`: every check passed;
 * - `FAIL` or `WARN`: a check failed (`FAIL` for a MUST, `WARN` for a SHOULD);
 * - `BLOCKED`: a precondition of the case was not met (no token obtained, no API call made, ...), so its
 *   point was never reached: not a pass, and for a MUST it fails the run like a `FAIL`;
 * - `N/A`: the case needs a capability the adapter does not claim (a grant, configurable timeouts, ...):
 *   not tested, and said so in the headline;
 * - `ERROR`: the adapter or the simulator did not do its part, so the client could not be judged.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = "PASS" | "FAIL" | "WARN" | "BLOCKED" | "N/A" | "ERROR"

/**
 * Every verdict, in the order reports list them.
 *
 * @since 0.2.0
 * @category models
 */
export const verdicts: ReadonlyArray<Verdict> = ["PASS", "FAIL", "WARN", "BLOCKED", "N/A", "ERROR"]

/**
 * @since 0.1.0
 * @category models
 */
export interface Requirement {
  /** `RFC 6749 §4.4.2`, `Criteo: Authentication`, ... */
  readonly source: string
  /** What it says, briefly. */
  readonly text: string
  /**
   * Where to read it: the RFC section or Criteo's page. Default: derived from `source` (`RFC 6749 §4.4.2`
   * links to that section on rfc-editor.org; see `requirementUrl`).
   *
   * @since 0.2.0
   */
  readonly url?: string | undefined
}

const criteoDocs = "https://developers.criteo.com/marketing-solutions/docs"

/** Criteo's pages by the subject a `Criteo: <subject>` source names; the first match wins. */
const criteoPages: ReadonlyArray<readonly [RegExp, string]> = [
  [/rate limit/i, `${criteoDocs}/rate-limits`],
  [/error/i, `${criteoDocs}/api-error-types`],
  [/version/i, `${criteoDocs}/versioning-policy`],
  [/authori[sz]ation code|consent/i, `${criteoDocs}/authorization-code-setup`],
  [/openapi/i, "https://developers.criteo.com/marketing-solutions/reference"],
  [/./, `${criteoDocs}/authentication`]
]

/**
 * Where a requirement can be read: its own `url`, else, for `RFC 6749 §4.4.2` (the first section named), the
 * section on rfc-editor.org, for `Criteo: ...` the page of Criteo's developer documentation on the subject;
 * `undefined` for the kit's own requirements (`Robustness`, `Adapter protocol`).
 *
 * @since 0.2.0
 * @category accessors
 */
export const requirementUrl = (requirement: Requirement): string | undefined => {
  if (requirement.url !== undefined) return requirement.url
  const rfc = /^RFC (\d+)(?: §(\d+(?:\.\d+)*)| Appendix ([A-Z](?:\.\d+)*))?/.exec(requirement.source)
  if (rfc !== null) {
    const fragment = rfc[2] !== undefined ? `#section-${rfc[2]}` : rfc[3] !== undefined ? `#appendix-${rfc[3]}` : ""
    return `https://www.rfc-editor.org/rfc/rfc${rfc[1]}.html${fragment}`
  }
  if (/^Criteo\b/.test(requirement.source)) {
    return criteoPages.find(([pattern]) => pattern.test(requirement.source.replace(/^Criteo:?\s*/, "")))?.[1]
  }
  return undefined
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
  /**
   * A precondition of the case rather than its point (the client obtained a token, called the API, ...):
   * when it does not hold, the case is `BLOCKED`, naming it, whatever the other checks say.
   *
   * @since 0.2.0
   */
  readonly precondition?: boolean | undefined
}

/**
 * A precondition of a case: a check on its evidence that must hold for the case's point to have been
 * reached. `Evidence` (the helpers of the catalogue) has the usual ones: a token requested, a token
 * response served, the API called, a labelled call succeeded.
 *
 * @since 0.2.0
 * @category models
 */
export type Precondition = (evidence: Evidence) => Check

/**
 * What a case needs of the adapter besides the grant it is configured with (see `Protocol.Capabilities`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Needs {
  /** API paths the workload calls. Default `["/advertisers/me"]`, the default path of a call. */
  readonly apiPaths?: ReadonlyArray<string> | undefined
  /** The case gives the client its timeouts (`CRITEO_TOKEN_TIMEOUT`, `CRITEO_API_TIMEOUT`). */
  readonly configurableTimeouts?: boolean | undefined
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
  /**
   * MUST or SHOULD.
   *
   * @since 0.2.0
   */
  readonly level: Level
  /**
   * The level under its old name (`FAIL` for MUST, `WARN` for SHOULD), kept in step by `make`.
   *
   * @deprecated since 0.2.0: use `level`.
   */
  readonly grade: Grade
  readonly requirements: ReadonlyArray<Requirement>
  /** What the simulator does, in a sentence or two. */
  readonly setup: string
  /** What a compliant client does. */
  readonly expectation: string
  /** The grant the adapter is configured with. Default `client_credentials`. */
  readonly grant?: GrantType | undefined
  /**
   * What the case needs of the adapter besides its grant; an adapter that does not claim it (in its
   * `ready` line) gets `N/A` for the case.
   *
   * @since 0.2.0
   */
  readonly needs?: Needs | undefined
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
  /**
   * What must have happened for the case's point to be reached (e.g. the client obtained a token): checked
   * first; one that does not hold makes the case `BLOCKED`, naming it. A check returned by `check` with
   * `precondition: true` counts the same.
   *
   * @since 0.2.0
   */
  readonly preconditions?: ReadonlyArray<Precondition> | undefined
  /** The checks; the case passes when all pass. */
  readonly check: (evidence: Evidence) => ReadonlyArray<Check>
}

/**
 * What `make` takes: a case with its `level`, or (deprecated) its `grade`.
 *
 * @since 0.2.0
 * @category models
 */
export type Definition =
  & Omit<ConformanceCase, "level" | "grade">
  & (
    | { readonly level: Level; readonly grade?: undefined }
    | {
      /** @deprecated since 0.2.0: use `level`. */
      readonly grade: Grade
      readonly level?: undefined
    }
  )

/**
 * Defines a case: fixes its type, and its `level` (from a deprecated `grade` if that is what it has).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (definition: Definition): ConformanceCase => {
  const level = definition.level ?? levelOf(definition.grade!)
  return { ...definition, level, grade: gradeOf(level) }
}

/**
 * A check.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (name: string, passed: boolean, detail: string): Check => ({ name, passed, detail })

/**
 * A check made a precondition: when it does not hold, the case is `BLOCKED`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const asPrecondition = (check: Check): Check => ({ ...check, precondition: true })

/**
 * The preconditions that did not hold.
 *
 * @since 0.2.0
 * @category verdicts
 */
export const unmetPreconditions = (checks: ReadonlyArray<Check>): ReadonlyArray<Check> =>
  checks.filter((c) => c.precondition === true && !c.passed)

/**
 * The verdict of a case from its checks: `BLOCKED` when a precondition did not hold, else `PASS` when
 * every check passed, else `FAIL` (a MUST) or `WARN` (a SHOULD).
 *
 * @since 0.1.0
 * @category verdicts
 */
export const verdictOf = (level: Level | Grade, checks: ReadonlyArray<Check>): Verdict =>
  unmetPreconditions(checks).length > 0
    ? "BLOCKED"
    : checks.every((c) => c.passed)
    ? "PASS"
    : level === "MUST" || level === "FAIL"
    ? "FAIL"
    : "WARN"

/**
 * Runs a case's checks on its evidence: its preconditions first (marked as such), then its own checks.
 *
 * @since 0.2.0
 * @category verdicts
 */
export const checksOf = (self: ConformanceCase, evidence: Evidence): ReadonlyArray<Check> => [
  ...(self.preconditions ?? []).map((precondition) => asPrecondition(precondition(evidence))),
  ...self.check(evidence)
]

/**
 * What the adapter must claim for the case to be tested: its grant, its API paths, configurable timeouts.
 * An adapter of protocol version 1 (no capabilities in its `ready` line) claims everything.
 *
 * @since 0.2.0
 * @category capabilities
 */
export const unclaimed = (self: ConformanceCase, capabilities: Protocol.Capabilities): ReadonlyArray<string> => {
  const grant = self.grant ?? "client_credentials"
  const paths = self.needs?.apiPaths ?? ["/advertisers/me"]
  return [
    ...(capabilities.grants === "any" || capabilities.grants.includes(grant) ? [] : [`the ${grant} grant`]),
    ...(capabilities.apiPaths === "any"
      ? []
      : paths.filter((p) => !(capabilities.apiPaths as ReadonlyArray<string>).includes(p)).map((p) =>
        `the API path ${p}`
      )),
    ...(self.needs?.configurableTimeouts === true && !capabilities.configurableTimeouts
      ? ["configurable timeouts"]
      : [])
  ]
}

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
  level: self.level,
  /** @deprecated since 0.2.0: use `level`. */
  grade: self.grade,
  requirements: self.requirements,
  setup: self.setup,
  expectation: self.expectation
})
