/**
 * The simulator's WireMock stub mappings, built by pure functions: the one home of what a fault, an
 * expiry, a revoked consent, a rate limit or a token answer looks like on the wire, whoever installs it.
 * Nothing here talks to WireMock; the shells post what these functions return:
 *
 * - `CriteoSimulator` (the public service: faults and expiry for the whole simulator),
 * - `internal/caseSimulator` (the same, for one case's port: `onPort` adds a `Host` matcher),
 * - `SimulatorConsents` (consents in the fixtures and at run time),
 * - `internal/stubs` (the cases' own token answers),
 * - `internal/fixtures.ts`, which builds the files of `fixtures/mappings` and the token bodies of
 *   `fixtures/__files/token` (generated with `pnpm --filter @criteo-auth/conformance fixtures`;
 *   `test/mappings.test.ts` fails when a file differs).
 *
 * ## Priorities
 *
 * WireMock serves the matching stub of lowest `priority`; between equal priorities, the one added last.
 * `priority` below is the whole table — fixtures, faults, cases and consents — each row with its reason.
 * Never write a bare number in a mapping: name the row (add one if none fits, saying why).
 *
 * ## Adding a behaviour (one place)
 *
 * - A new canned answer or refusal (a short lifetime, a late 401 for one token, a delayed answer, a check
 *   on a header...): one function here returning a `Mapping` (or several), built from `requestOf`,
 *   `tokenForm`, the bodies and a `priority` row. A case installs it with `ctx.addStub(Mappings.x(...))`
 *   (its port and metadata are added by the case simulator), a test of the whole simulator with
 *   `sim.addStub(...)`. Unit-test the mapping in `test/mappings.test.ts` (no simulator needed).
 * - A new fault: a variant in `Fault.ts` (the public type), then its branch in `faultResponse` and
 *   `describeFault` here (`Fault.match` is exhaustive: the compiler names the missing branch). Both
 *   simulators then serve it, with `times` and per case, without further change.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Fault from "../Fault.js"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * How WireMock matches one value (a header, a form or query parameter).
 *
 * @since 0.2.0
 * @category models
 */
export type ValuePattern =
  | { readonly equalTo: string }
  | { readonly matches: string }
  | { readonly doesNotMatch: string }
  | { readonly contains: string }
  | { readonly absent: true }
  | { readonly before: string; readonly actualFormat: string }

/**
 * @since 0.2.0
 * @category models
 */
export type RequestPattern = {
  readonly method: string
  readonly urlPath?: string
  readonly urlPathPattern?: string
  readonly headers?: Readonly<Record<string, ValuePattern>>
  readonly queryParameters?: Readonly<Record<string, ValuePattern>>
  readonly formParameters?: Readonly<Record<string, ValuePattern>>
}

/**
 * @since 0.2.0
 * @category models
 */
export type ResponseDefinition = {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  /** A body with handlebars when `transformers` has `response-template`. */
  readonly body?: string
  readonly jsonBody?: unknown
  /** A file under `fixtures/__files`. */
  readonly bodyFileName?: string
  readonly fault?: Fault.NetworkFault
  readonly fixedDelayMilliseconds?: number
  /** A random delay, in milliseconds, drawn uniformly between `lower` and `upper`. */
  readonly delayDistribution?: { readonly type: "uniform"; readonly lower: number; readonly upper: number }
  readonly transformers?: ReadonlyArray<string>
}

/**
 * A WireMock stub mapping, in WireMock's JSON format (what `POST /__admin/mappings` takes).
 *
 * @since 0.2.0
 * @category models
 */
export type Mapping = {
  readonly id?: string
  /** WireMock answers it in `Matched-Stub-Name`; the journal and the reports show it. */
  readonly name: string
  readonly priority: number
  readonly request: RequestPattern
  readonly response: ResponseDefinition
  readonly metadata?: Readonly<Record<string, unknown>>
  readonly scenarioName?: string
  readonly requiredScenarioState?: string
  readonly newScenarioState?: string
}

// -----------------------------------------------------------------------------
// priorities
// -----------------------------------------------------------------------------

/**
 * Every stub priority of the simulator (lower wins), with its reason. The fixture files use the same
 * numbers (checked by `test/mappings.test.ts`).
 *
 * @since 0.2.0
 * @category priorities
 */
export const priority = {
  /** `setFault`: a fault replaces every answer of its target. */
  fault: 1,
  /**
   * A case's answer that replaces every other one for its requests, its own answers included (a redirect of
   * the token endpoint or the API, the API's answer for one given token).
   */
  caseOverride: 1,
  /** A case's own answers (`stubs.tokenAnswer`, a case's API stubs): above every refusal of the fixtures. */
  caseAnswer: 2,
  /** API: a decommissioned version is 410 whatever the token. */
  versionDecommissioned: 2,
  /** Token endpoint: rate limited (fixture scenario `token-rate-limit`), before any check of the request. */
  tokenRateLimited: 3,
  /** API: no token, or not one of the simulator's (401 invalid), before any check of its expiry. */
  tokenInvalid: 3,
  /** Token endpoint: no or another `Content-Type` (400 invalid_request): the form cannot be read. */
  contentType: 4,
  /** API: an expired token (401), in real time (fixtures) or by `expireTokens`: no answer for it after this. */
  tokenExpired: 4,
  /** Token endpoint: `grant_type`, `client_id` or `client_secret` missing (400 invalid_request). */
  missingParameter: 5,
  /** API: rate limited (fixture scenario `api-rate-limit`), for a valid token. */
  apiRateLimited: 5,
  /** Token endpoint: unknown client or wrong secret (401 invalid_client). */
  invalidClient: 6,
  /** API: the consent was revoked (403), for a valid token, before any answer. */
  consentRevoked: 6,
  /** API: the answer for one consent's tokens, before the generic answers. */
  consentAnswer: 6,
  /** Token endpoint: a grant type Criteo does not know (400 unsupported_grant_type). */
  unsupportedGrant: 7,
  /** API: the normal answers (`__files/api`). */
  apiAnswer: 7,
  /** Token endpoint: a grant without its own parameter (`code`, `redirect_uri`, `refresh_token`). */
  missingGrantParameter: 8,
  /** Token endpoint: the code exchange (first use). */
  codeGrant: 9,
  /** The consent page (`GET /request`): the redirect with a consent's code, for a well-formed request. */
  consentPage: 9,
  /** Token endpoint: refresh tokens refused once the consent is revoked: before the rotation grants. */
  refreshRevoked: 9,
  /** Token endpoint: client_credentials, and the refresh of the current refresh token (rotation). */
  grant: 10,
  /** Token endpoint: the demo code with another redirect URI (invalid_grant), after the first use. */
  redirectMismatch: 11,
  /** Token endpoint: the demo code again (invalid_grant), after the redirect check. */
  codeReused: 12,
  /** The consent page: 400 for a request no redirect stub took. */
  consentPageRefusal: 12,
  /** Token endpoint: any other code or refresh token (invalid_grant): what no grant took. */
  unknownGrant: 13,
  /** API: no stub matched the path (404). */
  notFound: 20
} as const

// -----------------------------------------------------------------------------
// requests
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category requests
 */
export const tokenPath = "/oauth2/token"

/**
 * Every versioned API path (`/2026-07/...`).
 *
 * @since 0.2.0
 * @category requests
 */
export const apiPathPattern = "/[0-9]{4}-[0-9]{2}/.+"

/**
 * A form `Content-Type`, as Criteo accepts it (any case, optional parameters).
 *
 * @since 0.2.0
 * @category requests
 */
export const formContentType: ValuePattern = { matches: "(?i)application/x-www-form-urlencoded( *;.*)?" }

/**
 * Every request to a target: `POST /oauth2/token`, or any method on a versioned API path.
 *
 * @since 0.2.0
 * @category requests
 */
export const requestOf = (target: Fault.Target): RequestPattern =>
  target === "token" ? { method: "POST", urlPath: tokenPath } : { method: "ANY", urlPathPattern: apiPathPattern }

/**
 * A regular expression matching exactly `value` (WireMock refuses a `%` that is not an escape).
 *
 * @since 0.2.0
 * @category requests
 */
export const exactly = (value: string): string =>
  value.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`).replace(/%/g, "\\x25")

/**
 * A form-encoded token request whose fields match `form`.
 *
 * @since 0.2.0
 * @category requests
 */
export const tokenForm = (form: Readonly<Record<string, ValuePattern>>): RequestPattern => ({
  method: "POST",
  urlPath: tokenPath,
  headers: { "Content-Type": formContentType },
  formParameters: form
})

/**
 * Matches the `Host` header of requests sent to `port` (whatever the host name): how a case's stubs
 * apply to its own relay port only.
 *
 * @since 0.2.0
 * @category requests
 */
export const hostMatcher = (port: number): ValuePattern => ({ matches: `^[^:/]+:${port}$` })

/**
 * A mapping restricted to requests sent to `port` (unless it matches `Host` itself), its metadata merged
 * with `metadata` and its name suffixed with `label`.
 *
 * @since 0.2.0
 * @category scoping
 */
export const onPort = (
  mapping: Readonly<Record<string, unknown>>,
  port: number,
  options: { readonly metadata: Readonly<Record<string, unknown>>; readonly label?: string | undefined }
): Record<string, unknown> => {
  const request = (mapping["request"] ?? {}) as Record<string, unknown>
  const headers = (request["headers"] ?? {}) as Record<string, unknown>
  const name = mapping["name"]
  return {
    ...mapping,
    ...(typeof name === "string" && options.label !== undefined ? { name: `${name} (${options.label})` } : {}),
    request: { ...request, headers: { Host: hostMatcher(port), ...headers } },
    metadata: { ...(mapping["metadata"] as Record<string, unknown> | undefined), ...options.metadata }
  }
}

// -----------------------------------------------------------------------------
// tokens
// -----------------------------------------------------------------------------

/**
 * A token lifetime in whole seconds, or `"environment"`: `WIREMOCK_TOKEN_LIFETIME` (default 900), read by
 * the templates on each request, as the fixtures do (the simulator sets it at launch).
 *
 * @since 0.2.0
 * @category tokens
 */
export type Lifetime = number | "environment"

const environmentLifetime = "systemValue type='ENVIRONMENT' key='WIREMOCK_TOKEN_LIFETIME' default='900'"

/**
 * The `Authorization` value of a simulator token, in the format of WireMock's date matcher: the expiry
 * instant it carries (UTC), to the nanosecond (milliseconds then six more digits).
 *
 * @since 0.2.0
 * @category tokens
 */
export const tokenFormat = "'Bearer sim.'yyyyMMdd'T'HHmmss.SSSSSSSSSX"

/**
 * A simulator token as a regular expression on the `Authorization` header: any, or one whose last six
 * digits are `digits` (a consent's).
 *
 * @since 0.2.0
 * @category tokens
 */
export const bearerPattern = (digits?: string): string =>
  `Bearer sim\\.[0-9]{8}T[0-9]{6}\\.${digits === undefined ? "[0-9]{9}" : `[0-9]{3}${digits}`}Z`

/**
 * The handlebars of a simulator access token valid for `lifetime`: `sim.<expiry instant>` then six
 * `digits` (random by default; a consent's number for its tokens) and `Z`. The API accepts it until that
 * instant (the date matcher of `expired`).
 *
 * @since 0.2.0
 * @category tokens
 */
export const accessToken = (lifetime: Lifetime, digits = "{{randomValue length=6 type='NUMERIC'}}"): string => {
  const offset = lifetime === "environment" ? `(join (${environmentLifetime}) 'seconds' ' ')` : `'${lifetime} seconds'`
  return `sim.{{now offset=${offset} format="yyyyMMdd'T'HHmmss.SSS"}}${digits}Z`
}

/**
 * The handlebars of a refresh token: `prefix.` then 40 random letters and digits (lower case).
 *
 * @since 0.2.0
 * @category tokens
 */
export const refreshToken = (prefix: string): string => `${prefix}.{{randomValue length=40 type='ALPHANUMERIC'}}`

/**
 * A token response as the fixtures write it (`__files/token/*.json`, the consents): an access token for
 * `lifetime`, `expires_in` saying the same, and a refresh token when given (`refreshToken(...)`).
 *
 * @since 0.2.0
 * @category tokens
 */
export const tokenResponseBody = (options: {
  readonly lifetime: Lifetime
  readonly digits?: string | undefined
  readonly refreshToken?: string | undefined
}): string => {
  const expiresIn = options.lifetime === "environment" ? `{{${environmentLifetime}}}` : String(options.lifetime)
  const lines = [
    `  "access_token": "${accessToken(options.lifetime, options.digits)}"`,
    `  "token_type": "Bearer"`,
    `  "expires_in": ${expiresIn}`,
    ...(options.refreshToken === undefined ? [] : [`  "refresh_token": "${options.refreshToken}"`])
  ]
  return `{\n${lines.join(",\n")}\n}`
}

/**
 * Stands for a fresh simulator access token in `tokenBody`.
 *
 * @since 0.2.0
 * @category tokens
 */
export const token = "__SIMULATOR_TOKEN__"

/**
 * Any token response body: `fields` as JSON, where the string `token` stands for a fresh simulator token
 * valid for `seconds` (so that a case can send odd fields: a string `expires_in`, no `token_type`...).
 *
 * @since 0.2.0
 * @category tokens
 */
export const tokenBody = (fields: Readonly<Record<string, unknown>>, seconds = 900): string =>
  JSON.stringify(fields).replace(`"${token}"`, `"${accessToken(seconds)}"`)

// -----------------------------------------------------------------------------
// bodies and headers
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category bodies
 */
export const jsonHeaders: Readonly<Record<string, string>> = { "Content-Type": "application/json; charset=utf-8" }

/**
 * The headers of every token endpoint answer (RFC 6749 §5.1: not cached).
 *
 * @since 0.2.0
 * @category bodies
 */
export const tokenHeaders: Readonly<Record<string, string>> = {
  ...jsonHeaders,
  "Cache-Control": "no-store",
  Pragma: "no-cache"
}

/**
 * @since 0.2.0
 * @category bodies
 */
export const errorUri = "https://developers.criteo.com/marketing-solutions/docs/authorization-code-setup"

/**
 * The token endpoint's error body (RFC 6749 §5.2, as Criteo sends it).
 *
 * @since 0.2.0
 * @category bodies
 */
export const oauthError = (error: string, description: string) => ({
  error,
  error_description: description,
  error_uri: errorUri
})

/**
 * The API's error body (`{"errors": [...]}`), with a random trace id and the request's path (templated).
 *
 * @since 0.2.0
 * @category bodies
 */
export const criteoErrors = (error: {
  readonly type: string
  readonly code: string
  readonly title: string
  readonly detail?: string | undefined
}) => ({
  errors: [{
    traceId: "{{randomValue type='UUID'}}",
    traceIdentifier: "{{randomValue type='UUID'}}",
    type: error.type,
    code: error.code,
    instance: "{{request.path}}",
    title: error.title,
    ...(error.detail === undefined ? {} : { detail: error.detail })
  }]
})

/**
 * The body of a canned answer without one: the target's error format, with a code for the status.
 *
 * @since 0.2.0
 * @category bodies
 */
export const errorBody = (target: Fault.Target, status: number): string => {
  const title = `The simulator answers ${status} on purpose`
  return JSON.stringify(
    target === "token"
      ? oauthError(status >= 500 ? "server_error" : status === 429 ? "rate_limited" : "invalid_request", title)
      : criteoErrors({
        type: status >= 500 ? "availability" : status === 429 ? "quota" : "validation",
        code: status >= 500 ? "server-error" : status === 429 ? "rate-limit-exceeded" : `http-${status}`,
        title
      })
  )
}

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

/**
 * Response templating (handlebars in the body and headers), per stub.
 *
 * @since 0.2.0
 * @category responses
 */
export const templated: ReadonlyArray<string> = ["response-template"]

/**
 * 429 with `x-ratelimit-limit`, `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (epoch seconds,
 * `resetAfter` from now), in the target's error format.
 *
 * @since 0.2.0
 * @category responses
 */
export const rateLimited = (
  target: Fault.Target,
  options: { readonly limit: number; readonly resetAfter: Duration.Duration }
): ResponseDefinition => ({
  status: 429,
  headers: {
    ...(target === "token" ? tokenHeaders : jsonHeaders),
    "x-ratelimit-limit": String(options.limit),
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset": `{{now offset='${
      Math.max(0, Math.ceil(Duration.toSeconds(options.resetAfter)))
    } seconds' format='unix'}}`
  },
  jsonBody: target === "token"
    ? oauthError("rate_limited", "Too many token requests; retry after x-ratelimit-reset")
    : criteoErrors({
      type: "quota",
      code: "rate-limit-exceeded",
      title: "Too many requests",
      detail: "The rate limit of the application was exceeded"
    }),
  transformers: templated
})

/**
 * What a slow endpoint eventually answers when its normal stubs cannot be edited (a case shares the
 * simulator): a usable answer, after `delay`.
 *
 * @since 0.2.0
 * @category responses
 */
export const lateAnswer = (target: Fault.Target, delay: Duration.Duration): ResponseDefinition =>
  target === "token"
    ? {
      status: 200,
      headers: jsonHeaders,
      body: tokenBody({ access_token: token, token_type: "Bearer", expires_in: 900 }),
      fixedDelayMilliseconds: Duration.toMillis(delay),
      transformers: templated
    }
    : {
      status: 200,
      headers: jsonHeaders,
      bodyFileName: "api/advertisers-me.json",
      fixedDelayMilliseconds: Duration.toMillis(delay)
    }

/**
 * A stub's response (as WireMock lists it) sent after `delay`, any other delay removed: how the whole
 * simulator's latency fault slows the normal answers.
 *
 * @since 0.2.0
 * @category responses
 */
export const withDelay = (
  response: Readonly<Record<string, unknown>>,
  delay: Duration.Duration
): Record<string, unknown> => {
  const { chunkedDribbleDelay: _dribble, delayDistribution: _distribution, ...rest } = response
  return { ...rest, fixedDelayMilliseconds: Duration.toMillis(delay) }
}

/**
 * The answer of a fault (latency: `lateAnswer`).
 *
 * @since 0.2.0
 * @category faults
 */
export const faultResponse = (target: Fault.Target, fault: Fault.Fault): ResponseDefinition =>
  Fault.match(fault, {
    Network: ({ fault }) => ({ fault }),
    Latency: ({ delay }) => lateAnswer(target, delay),
    Response: ({ body, headers, status }) => ({
      status,
      headers: { ...jsonHeaders, ...headers },
      body: body.length > 0 ? body : errorBody(target, status),
      transformers: templated
    }),
    RateLimit: ({ limit, resetAfter }) => rateLimited(target, { limit, resetAfter })
  })

/**
 * A fault in a few words, for stub names.
 *
 * @since 0.2.0
 * @category faults
 */
export const describeFault = (fault: Fault.Fault): string =>
  Fault.match(fault, {
    Network: ({ fault }) => fault,
    Latency: ({ delay }) => `answers after ${Duration.format(delay)}`,
    Response: ({ status }) => `${status}`,
    RateLimit: () => "429 rate limited"
  })

// -----------------------------------------------------------------------------
// mappings
// -----------------------------------------------------------------------------

/**
 * `mapping` for the next `times` matching requests only: a chain of `times` stubs in the scenario
 * `scenarioName` (`Started` → `served-1` → ... → `served-<times>`), each moving it one step; once the
 * last has fired, none matches and the normal answers come back.
 *
 * @since 0.2.0
 * @category mappings
 */
export const times = (mapping: Mapping, count: number, scenarioName: string): ReadonlyArray<Mapping> =>
  Array.from({ length: Math.max(1, Math.floor(count)) }, (_, i) => ({
    ...mapping,
    scenarioName,
    requiredScenarioState: i === 0 ? "Started" : `served-${i}`,
    newScenarioState: `served-${i + 1}`
  }))

/**
 * The stubs of a fault on a target: until removed, or for the next `times` requests (then `scenarioName`
 * names its chain and must be unique on the simulator).
 *
 * @since 0.2.0
 * @category faults
 */
export const fault = (
  target: Fault.Target,
  fault: Fault.Fault,
  options: {
    readonly times?: number | undefined
    readonly scenarioName: string
    readonly metadata?: Readonly<Record<string, unknown>> | undefined
  }
): ReadonlyArray<Mapping> => {
  const count = options.times === undefined ? undefined : Math.max(1, Math.floor(options.times))
  const mapping: Mapping = {
    name: `${target}: ${describeFault(fault)}${count === undefined ? "" : ` (${count} time${count === 1 ? "" : "s"})`}`,
    priority: priority.fault,
    request: requestOf(target),
    response: faultResponse(target, fault),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata })
  }
  return count === undefined ? [mapping] : times(mapping, count, options.scenarioName)
}

/**
 * What a case's token answer says (`tokenAnswer`).
 *
 * @since 0.2.0
 * @category models
 */
export interface TokenAnswer {
  /** The status. Default 200. */
  readonly status?: number
  /** The raw body. Default a normal token response with `lifetime`. */
  readonly body?: string
  /** `expires_in`, and the validity of the token. Default 900. */
  readonly lifetime?: number
  readonly headers?: Readonly<Record<string, string>>
  /** The grant type this answer is for. Default `client_credentials`. */
  readonly grantType?: string
  readonly delayMillis?: number
  readonly name?: string
}

/**
 * The token endpoint answering one client (with its secret, form-encoded) as told, above the fixtures'
 * answers and refusals: how a case gives its client an unusual token response.
 *
 * @since 0.2.0
 * @category mappings
 */
export const tokenAnswer = (
  client: { readonly clientId: string; readonly clientSecret: string },
  answer: TokenAnswer = {}
): Mapping => {
  const lifetime = answer.lifetime ?? 900
  return {
    name: answer.name ?? `token: case answer for ${client.clientId}`,
    priority: priority.caseAnswer,
    request: tokenForm({
      grant_type: { equalTo: answer.grantType ?? "client_credentials" },
      client_id: { equalTo: client.clientId },
      client_secret: { matches: exactly(client.clientSecret) }
    }),
    response: {
      status: answer.status ?? 200,
      headers: { ...tokenHeaders, ...answer.headers },
      body: answer.body ?? tokenBody({ access_token: token, token_type: "Bearer", expires_in: lifetime }, lifetime),
      ...(answer.delayMillis === undefined ? {} : { fixedDelayMilliseconds: answer.delayMillis }),
      transformers: templated
    }
  }
}

/**
 * The API refuses expired tokens (401 authorization-token-expired): `"now"`, every token whose expiry
 * instant is past, in real time (the fixtures); or every token issued before `issuedAt` by a simulator
 * issuing `lifetime` tokens (`expireTokens`: such a token expires before `issuedAt + lifetime`, so the
 * cutoff is that instant plus 1 ms; tokens issued afterwards expire later and work).
 *
 * @since 0.2.0
 * @category mappings
 */
export const expired = (
  cutoff: "now" | {
    readonly issuedAt: number
    readonly lifetime: Duration.Duration
    /**
     * Each 401 answered after a delay drawn uniformly in this range (ms): a late refusal, at the fault
     * priority, so that it wins over the fixtures' immediate refusal of a token already past its instant.
     */
    readonly late?: { readonly lower: number; readonly upper: number } | undefined
  }
): Mapping => {
  const before = cutoff === "now"
    ? "now"
    : DateTime.formatIso(DateTime.unsafeMake(cutoff.issuedAt + Duration.toMillis(cutoff.lifetime) + 1))
  const late = cutoff === "now" ? undefined : cutoff.late
  return {
    name: cutoff === "now"
      ? "api: expired token (its expiry instant is past)"
      : `api: token issued before ${DateTime.formatIso(DateTime.unsafeMake(cutoff.issuedAt))} (${
        late === undefined ? "expireTokens" : `refused after ${late.lower}-${late.upper} ms`
      })`,
    priority: late === undefined ? priority.tokenExpired : priority.fault,
    request: {
      method: "ANY",
      urlPathPattern: apiPathPattern,
      headers: { Authorization: { before, actualFormat: tokenFormat } }
    },
    response: {
      status: 401,
      headers: jsonHeaders,
      transformers: templated,
      jsonBody: criteoErrors({
        type: "authorization",
        code: "authorization-token-expired",
        title: "The authorization token has expired",
        detail: "Generate a new token to continue"
      }),
      ...(late === undefined ? {} : { delayDistribution: { type: "uniform", ...late } })
    },
    metadata: { target: "api" }
  }
}

/**
 * The demo consent's chain (scenario `authorization`): the code `code` with `redirectUri` works once and
 * moves the scenario to `rotation-a`; then only the current generation's refresh token (`rt.a.*` in
 * `rotation-a`, `rt.b.*` in `rotation-b`) is accepted, and each refresh moves to the other generation, so a
 * rotated refresh token is refused (by the fixtures' fallbacks). `answer(issued, by)` is the token response
 * issuing generation `issued`; `form` narrows the chain (e.g. to one client). Returns the code exchange and
 * the refreshes of generations a and b.
 *
 * @since 0.2.0
 * @category mappings
 */
export const codeChain = (options: {
  readonly code: string
  readonly redirectUri: string
  readonly answer: (issued: "a" | "b", by: "code" | "refresh") => ResponseDefinition
  readonly form?: Readonly<Record<string, ValuePattern>> | undefined
  readonly priority?: { readonly code: number; readonly refresh: number } | undefined
  readonly label?: string | undefined
}): readonly [code: Mapping, refreshA: Mapping, refreshB: Mapping] => {
  const suffix = options.label === undefined ? "" : ` (${options.label})`
  const refresh = (generation: "a" | "b"): Mapping => {
    const next = generation === "a" ? "b" : "a"
    return {
      name: `token: refresh_token, current generation ${generation}${suffix}`,
      priority: options.priority?.refresh ?? priority.grant,
      request: tokenForm({
        ...options.form,
        grant_type: { equalTo: "refresh_token" },
        refresh_token: { matches: `rt\\.${generation}\\.[a-z0-9]{40}` }
      }),
      response: options.answer(next, "refresh"),
      metadata: { target: "token" },
      scenarioName: "authorization",
      requiredScenarioState: `rotation-${generation}`,
      newScenarioState: `rotation-${next}`
    }
  }
  return [
    {
      name: `token: authorization_code, first use of the code${suffix}`,
      priority: options.priority?.code ?? priority.codeGrant,
      request: tokenForm({
        ...options.form,
        grant_type: { equalTo: "authorization_code" },
        code: { equalTo: options.code },
        redirect_uri: { equalTo: options.redirectUri }
      }),
      response: options.answer("a", "code"),
      metadata: { target: "token" },
      scenarioName: "authorization",
      requiredScenarioState: "Started",
      newScenarioState: "rotation-a"
    },
    refresh("a"),
    refresh("b")
  ]
}

/**
 * A revoked consent: the API answers 403 consent-revoked and refresh tokens are refused (400
 * invalid_grant). `authorization` and `refreshToken` (regular expressions) narrow it to one consent's
 * tokens; `scenario` makes both stubs wait for that scenario's state `revoked` (else they apply at once).
 *
 * @since 0.2.0
 * @category mappings
 */
export const consentRevoked = (options: {
  readonly label: string
  readonly scenario?: string | undefined
  readonly authorization?: string | undefined
  readonly refreshToken?: string | undefined
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}): readonly [api: Mapping, token: Mapping] => {
  const when = options.scenario === undefined
    ? {}
    : { scenarioName: options.scenario, requiredScenarioState: "revoked" }
  return [
    {
      name: `api: consent revoked (${options.label})`,
      priority: priority.consentRevoked,
      request: {
        method: "ANY",
        urlPathPattern: apiPathPattern,
        ...(options.authorization === undefined
          ? {}
          : { headers: { Authorization: { matches: options.authorization } } })
      },
      response: {
        status: 403,
        headers: jsonHeaders,
        transformers: templated,
        jsonBody: criteoErrors({
          type: "access-control",
          code: "consent-revoked",
          title: "The consent to access this account was revoked",
          detail: "The user withdrew the consent given to the application"
        })
      },
      metadata: { target: "api", ...options.metadata },
      ...when
    },
    {
      name: `token: refresh_token after consent revoked (${options.label})`,
      priority: priority.refreshRevoked,
      request: tokenForm({
        grant_type: { equalTo: "refresh_token" },
        ...(options.refreshToken === undefined ? {} : { refresh_token: { matches: options.refreshToken } })
      }),
      response: {
        status: 400,
        headers: tokenHeaders,
        jsonBody: oauthError("invalid_grant", "The consent was revoked: the user must authorize the application again")
      },
      metadata: { target: "token", ...options.metadata },
      ...when
    }
  ]
}

/**
 * A rate limit of 250 requests a minute, on while the scenario `scenario` is in state `limited` (the
 * fixtures' `api-rate-limit` and `token-rate-limit`).
 *
 * @since 0.2.0
 * @category mappings
 */
export const rateLimitScenario = (target: Fault.Target, scenario: string): Mapping => ({
  name: `${target}: rate limited (scenario ${scenario} = limited)`,
  priority: target === "token" ? priority.tokenRateLimited : priority.apiRateLimited,
  request: requestOf(target),
  response: rateLimited(target, { limit: 250, resetAfter: Duration.seconds(60) }),
  metadata: { target },
  scenarioName: scenario,
  requiredScenarioState: "limited"
})

/**
 * A mapping file of WireMock (`{"mappings": [...]}`), as the fixtures are written: two-space JSON and a
 * final newline.
 *
 * @since 0.2.0
 * @category mappings
 */
export const mappingsFile = (mappings: ReadonlyArray<Readonly<Record<string, unknown>>>): string =>
  `${JSON.stringify({ mappings }, null, 2)}\n`
