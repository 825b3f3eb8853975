/**
 * Reading the evidence of a case: answers, token and API requests, output; and the checks the cases share.
 * Cases import it as `Evidence` (`Evidence.succeeded(evidence, "call")`). Nothing here returns or describes
 * a secret: tokens are shown by fingerprint (`reveal` gives a redacted value back, to compare it, never to
 * print it).
 *
 * Index
 * - checks:        `check`, `precondition`; common checks `succeeded`, `answeredAll`, `failedCleanly`,
 *                  `tokenRequestCount`, `apiRequestCount`, `noBogusBearer`, `noApiRequest`, `recovered`,
 *                  `honoursRateLimitReset`
 * - preconditions: `tokenRequested`, `tokenResponseServed`, `apiCalled`, `callSucceeded` (a case lists them
 *                  in its `preconditions`: one not met makes it BLOCKED)
 * - answers:       `answers`, `answer`, `isSuccess`, `isAnswered`, `describe`, `describeAll`
 * - requests:      `issuedTokens`, `issuedRefreshTokens`, `bearerOf`, `embeddedExpiry`, `expiredSends`,
 *                  `bogusBearers`, `since`, `mark`, `describeRequests`, `earlyRetries`, `reveal`
 * - words:         `plural`, `fingerprint`
 */
import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as Redacted from "effect/Redacted"
import * as ConformanceCase from "../ConformanceCase.js"
import type * as Journal from "../Journal.js"

type Evidence = ConformanceCase.Evidence
type Answer = ConformanceCase.Answer

/** A check (the one constructor: `ConformanceCase.check`). */
export const check = ConformanceCase.check

/** A check that is a precondition: not met, it makes the case BLOCKED. */
export const precondition = (name: string, met: boolean, detail: string): ConformanceCase.Check =>
  ConformanceCase.asPrecondition(check(name, met, detail))

/**
 * Core's fingerprint of a token (`tok_` and 12 hex digits, `AccessToken.fingerprint`): the same token reads the
 * same in a report, in the CLI's output and in the library's logs.
 */
export const fingerprint = (value: string): string => AccessToken.fingerprint(Redacted.make(value))

/** The value of a journal field, revealed if it was redacted (to compare it: never print it). */
export const reveal = (value: Journal.FieldValue | undefined): string | undefined =>
  value === undefined ? undefined : Redacted.isRedacted(value) ? Redacted.value(value) : value

export const answers = (evidence: Evidence, label: string): ReadonlyArray<Answer> => evidence.answers.get(label) ?? []

export const answer = (evidence: Evidence, label: string): Answer | undefined => answers(evidence, label)[0]

export const isSuccess = (a: Answer | undefined): boolean =>
  a !== undefined && a.status !== undefined && a.status >= 200 && a.status < 300

export const isAnswered = (a: Answer | undefined): boolean => a !== undefined && !a.hung && !a.crashed

/** `200`, `error TransportError`, `no answer within 15 s`, ... */
export const describe = (a: Answer | undefined): string => {
  if (a === undefined) return "not sent"
  if (a.hung) return `no answer within ${(a.elapsedMillis / 1000).toFixed(0)} s`
  if (a.crashed) return "the adapter crashed"
  if (a.status !== undefined) return `HTTP ${a.status}`
  return `error ${a.error}`
}

export const describeAll = (all: ReadonlyArray<Answer>): string => {
  const counts = new Map<string, number>()
  for (const a of all) counts.set(describe(a), (counts.get(describe(a)) ?? 0) + 1)
  return Array.from(counts, ([text, n]) => (n === 1 ? text : `${n} × ${text}`)).join(", ") || "nothing"
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** Every access token the simulator issued during the case. */
export const issuedTokens = (evidence: Evidence): ReadonlySet<string> =>
  new Set(
    evidence.tokenRequests.flatMap((r) =>
      r.issuedAccessToken === undefined ? [] : [Redacted.value(r.issuedAccessToken)]
    )
  )

/** Every refresh token the simulator issued during the case. */
export const issuedRefreshTokens = (evidence: Evidence): ReadonlyArray<string> =>
  evidence.tokenRequests.flatMap((r) =>
    r.issuedRefreshToken === undefined ? [] : [Redacted.value(r.issuedRefreshToken)]
  )

/** The token of an `Authorization: Bearer` header, whatever the case of the scheme. */
export const bearerOf = (request: Journal.ApiRequest): string | undefined => {
  const header = reveal(request.headers["authorization"])
  if (header === undefined) return undefined
  const match = /^bearer\s+(.*)$/i.exec(header)
  return match === null ? undefined : match[1]
}

/** The expiry instant a simulator token carries (`sim.20261128T174524.869044625Z`), in epoch ms. */
export const embeddedExpiry = (token: string): number | undefined => {
  const match = /^sim\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})\d{6}Z$/.exec(token)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s, ms] = match.map(Number)
  return Date.UTC(y, mo - 1, d, h, mi, s, ms)
}

/** API requests sent with a token already past its expiry instant. */
export const expiredSends = (evidence: Evidence): ReadonlyArray<Journal.ApiRequest> =>
  evidence.apiRequests.filter((r) => {
    const token = bearerOf(r)
    const expiry = token === undefined ? undefined : embeddedExpiry(token)
    return expiry !== undefined && expiry <= r.loggedAt.epochMillis
  })

/** API requests without a bearer token the simulator issued: `Bearer undefined`, `Bearer `, none at all. */
export const bogusBearers = (evidence: Evidence): ReadonlyArray<Journal.ApiRequest> => {
  const issued = issuedTokens(evidence)
  return evidence.apiRequests.filter((r) => {
    const token = bearerOf(r)
    return token === undefined || !issued.has(token)
  })
}

export const since = <A extends { readonly loggedAt: { readonly epochMillis: number } }>(
  requests: ReadonlyArray<A>,
  millis: number | undefined
): ReadonlyArray<A> => millis === undefined ? requests : requests.filter((r) => r.loggedAt.epochMillis >= millis)

export const mark = (evidence: Evidence, label: string): number | undefined => evidence.marks.get(label)

/** `401, 200` for a few requests; `45 × 200, 4 × 503` for many. */
export const describeRequests = (requests: ReadonlyArray<{ readonly status?: number | undefined }>): string => {
  const statuses = requests.map((r) => (r.status === undefined ? "fault" : String(r.status)))
  if (statuses.length === 0) return "none"
  if (statuses.length <= 6) return statuses.join(", ")
  const counts = new Map<string, number>()
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1)
  return Array.from(counts, ([s, n]) => `${n} × ${s}`).join(", ")
}

// -----------------------------------------------------------------------------
// preconditions
// -----------------------------------------------------------------------------

/** The precondition `name`: `requests` holds at least one (counted as `noun`s); else `whenNone` says why. */
const someRequests = (name: string, requests: ReadonlyArray<unknown>, noun: string, whenNone: string) =>
  precondition(name, requests.length > 0, requests.length > 0 ? plural(requests.length, noun) : whenNone)

/** The client sent a token request (it was built, configured and started). */
export const tokenRequested: ConformanceCase.Precondition = (evidence) =>
  someRequests(
    "the client sends a token request",
    evidence.tokenRequests,
    "token request",
    "no token request reached the token endpoint"
  )

/**
 * A token request of the client was answered 200: the token endpoint served it this case's token
 * response (a client with the wrong client authentication is refused instead).
 */
export const tokenResponseServed: ConformanceCase.Precondition = (evidence) => {
  const served = evidence.tokenRequests.filter((r) => r.status === 200)
  return precondition(
    "a token request of the client is answered 200",
    served.length > 0,
    evidence.tokenRequests.length === 0
      ? "no token request reached the token endpoint"
      : `${plural(evidence.tokenRequests.length, "token request")}, answered ${
        describeRequests(evidence.tokenRequests)
      }`
  )
}

/** The client called the API (whatever the answer). */
export const apiCalled: ConformanceCase.Precondition = (evidence) =>
  someRequests(
    "the client calls the API",
    evidence.apiRequests,
    "API request",
    `no API request (${plural(evidence.tokenRequests.length, "token request")}, answered ${
      describeRequests(evidence.tokenRequests)
    })`
  )

/** The call recorded under `label` succeeded (a warm-up that gives the client a token before a fault). */
export const callSucceeded = (label: string, what = `the "${label}" call succeeds`): ConformanceCase.Precondition =>
(
  evidence
) => {
  const all = answers(evidence, label)
  return precondition(what, all.length > 0 && all.every(isSuccess), `answered ${describeAll(all)}`)
}

// -----------------------------------------------------------------------------
// common checks
// -----------------------------------------------------------------------------

export const succeeded = (evidence: Evidence, label: string, what = `the "${label}" call succeeds`) => {
  const all = answers(evidence, label)
  return check(what, all.length > 0 && all.every(isSuccess), `answered ${describeAll(all)}`)
}

export const answeredAll = (evidence: Evidence, label: string, what = `the "${label}" call is answered`) => {
  const all = answers(evidence, label)
  return check(what, all.length > 0 && all.every(isAnswered), `answered ${describeAll(all)}`)
}

export const failedCleanly = (evidence: Evidence, label: string, what?: string) => {
  const all = answers(evidence, label)
  return check(
    what ?? `the "${label}" call ends in an error, without hanging or crashing`,
    all.length > 0 && all.every((a) => isAnswered(a) && !isSuccess(a)),
    `answered ${describeAll(all)}`
  )
}

interface Bounds {
  readonly min?: number
  readonly max?: number
}

const requestCount = (
  requests: ReadonlyArray<{ readonly status?: number | undefined }>,
  noun: string,
  bounds: Bounds,
  what: string
) => {
  const n = requests.length
  const ok = (bounds.min === undefined || n >= bounds.min) && (bounds.max === undefined || n <= bounds.max)
  return check(what, ok, `${plural(n, noun)} (answers: ${describeRequests(requests)})`)
}

export const tokenRequestCount = (
  evidence: Evidence,
  bounds: Bounds,
  what: string,
  requests: ReadonlyArray<Journal.TokenRequest> = evidence.tokenRequests
) => requestCount(requests, "token request", bounds, what)

export const apiRequestCount = (
  evidence: Evidence,
  bounds: Bounds,
  what: string,
  requests: ReadonlyArray<Journal.ApiRequest> = evidence.apiRequests
) => requestCount(requests, "API request", bounds, what)

export const noBogusBearer = (evidence: Evidence) => {
  const bogus = bogusBearers(evidence)
  return check(
    "every API request carries a token the token endpoint issued",
    bogus.length === 0,
    bogus.length === 0
      ? `${plural(evidence.apiRequests.length, "API request")}, each with an issued token`
      : `${plural(bogus.length, "API request")} with ${
        bogus.map((r) => {
          const token = bearerOf(r)
          const header = reveal(r.headers["authorization"])
          return header === undefined
            ? "no Authorization header"
            : token === undefined
            ? "a non-Bearer Authorization header"
            : token.length === 0 || /^(undefined|null)$/.test(token)
            ? `"Bearer ${token}"`
            : `an unknown token (${token.length} chars)`
        }).join("; ")
      }`
  )
}

export const noApiRequest = (evidence: Evidence, what = "no API request is made without a token") =>
  check(
    what,
    evidence.apiRequests.length === 0,
    evidence.apiRequests.length === 0
      ? "no API request"
      : `${plural(evidence.apiRequests.length, "API request")}: ${describeRequests(evidence.apiRequests)}`
  )

export const recovered = (evidence: Evidence, label = "after") =>
  check(
    "once the fault is gone, the next call succeeds (the client is not stuck)",
    isSuccess(answer(evidence, label)),
    `answered ${describe(answer(evidence, label))}`
  )

/** Retries that came before the `x-ratelimit-reset` instant of the 429 answered just before them. */
export const earlyRetries = <A extends Journal.ApiRequest | Journal.TokenRequest>(
  requests: ReadonlyArray<A>,
  toleranceMillis = 150
): ReadonlyArray<{ readonly request: A; readonly earlyByMillis: number }> => {
  const early: Array<{ readonly request: A; readonly earlyByMillis: number }> = []
  for (let i = 1; i < requests.length; i++) {
    const previous = requests[i - 1]
    if (previous.status !== 429) continue
    const reset = Number(previous.responseHeaders["x-ratelimit-reset"])
    if (!Number.isFinite(reset)) continue
    const gap = reset * 1000 - requests[i].loggedAt.epochMillis
    if (gap > toleranceMillis) early.push({ request: requests[i], earlyByMillis: gap })
  }
  return early
}

export const honoursRateLimitReset = <A extends Journal.ApiRequest | Journal.TokenRequest>(
  requests: ReadonlyArray<A>,
  endpoint: string
) => {
  const early = earlyRetries(requests)
  return check(
    `no ${endpoint} request is sent before the x-ratelimit-reset instant of the 429 before it`,
    early.length === 0,
    early.length === 0
      ? `${plural(requests.length, `${endpoint} request`)}, none early`
      : `${plural(early.length, "request")} sent early, by up to ${Math.max(...early.map((e) => e.earlyByMillis))} ms`
  )
}
