/**
 * The evidence of a case as reports show it: journal entries and output with every secret replaced by
 * `<redacted>` or a fingerprint.
 */
import * as Redacted from "effect/Redacted"
import type * as ConformanceCase from "../ConformanceCase.js"
import type * as Journal from "../Journal.js"
import type * as Report from "../Report.js"
import * as Evidence from "./evidence.js"

const maxOutputLines = 200

/** The values to hide in this case's output: secrets from the environment, every token issued. */
export const secretValues = (evidence: ConformanceCase.Evidence): ReadonlyArray<readonly [string, string]> => {
  const fromEnv = ["CRITEO_CLIENT_SECRET", "CRITEO_AUTHORIZATION_CODE", "CRITEO_REFRESH_TOKEN"].flatMap((name) => {
    const value = evidence.env[name]
    return value === undefined || value.length < 4 ? [] : [[name.replace(/^CRITEO_/, "").toLowerCase(), value] as const]
  })
  const secret = evidence.env["CRITEO_CLIENT_SECRET"] ?? evidence.clientSecret
  return [
    ...fromEnv,
    ["client_secret", encodeURIComponent(secret)] as const,
    ["client_secret (Basic)", Buffer.from(`${evidence.clientId}:${secret}`).toString("base64")] as const,
    ...Array.from(Evidence.issuedTokens(evidence), (value) => [Evidence.fingerprint(value), value] as const),
    ...Evidence.issuedRefreshTokens(evidence).map((value) => [`refresh ${Evidence.fingerprint(value)}`, value] as const)
  ].filter(([, value]) => value.length >= 4).sort((a, b) => b[1].length - a[1].length)
}

export const scrub = (text: string, secrets: ReadonlyArray<readonly [string, string]>): string => {
  let result = text
  for (const [name, value] of secrets) {
    if (result.includes(value)) result = result.split(value).join(`<redacted: ${name}>`)
  }
  return result.length > 2000 ? `${result.slice(0, 2000)}…` : result
}

const fieldText = (name: string, value: Journal.FieldValue, issued: ReadonlySet<string>): string => {
  if (!Redacted.isRedacted(value)) return `${name}=${value.length > 120 ? `${value.slice(0, 120)}…` : value}`
  const secret = Redacted.value(value)
  if (secret.length === 0) return `${name}=(empty)`
  return issued.has(secret) || name === "refresh_token" || name === "access_token"
    ? `${name}=${Evidence.fingerprint(secret)}`
    : `${name}=<redacted>`
}

const authorizationText = (header: Journal.FieldValue | undefined, issued: ReadonlySet<string>): string | undefined => {
  const value = Evidence.reveal(header)
  if (value === undefined) return undefined
  const [scheme, ...rest] = value.split(" ")
  const credential = rest.join(" ")
  if (/^basic$/i.test(scheme)) return `Authorization: ${scheme} <redacted>`
  if (/^(undefined|null)?$/.test(credential)) {
    return `Authorization: ${scheme} ${credential === "" ? "(empty)" : credential}`
  }
  return `Authorization: ${scheme} ${Evidence.fingerprint(credential)}${
    issued.has(credential) ? "" : ` (not issued by the token endpoint, ${credential.length} chars)`
  }`
}

const urlOf = (request: Journal.TokenRequest | Journal.ApiRequest, issued: ReadonlySet<string>) =>
  request.query.length === 0
    ? request.path
    : `${request.path}?${request.query.map(([name, value]) => fieldText(name, value, issued)).join("&")}`

const expiryNote = (request: Journal.ApiRequest): string | undefined => {
  const token = Evidence.bearerOf(request)
  const expiry = token === undefined ? undefined : Evidence.embeddedExpiry(token)
  if (expiry === undefined) return undefined
  const left = expiry - request.loggedAt.epochMillis
  return left <= 0 ? `token expired ${-left} ms before` : `token valid ${(left / 1000).toFixed(1)} s more`
}

/** The response headers worth showing: when a rate limit ends, where a redirect points. */
const responseNotes = (request: Journal.TokenRequest | Journal.ApiRequest): ReadonlyArray<string> => [
  ...(request.responseHeaders["x-ratelimit-reset"] === undefined
    ? []
    : [`x-ratelimit-reset: ${request.responseHeaders["x-ratelimit-reset"]}`]),
  ...(request.responseHeaders["location"] === undefined ? [] : [`Location: ${request.responseHeaders["location"]}`])
]

const entry = (
  evidence: ConformanceCase.Evidence,
  request: Journal.TokenRequest | Journal.ApiRequest,
  endpoint: Report.JournalEntry["endpoint"],
  issued: ReadonlySet<string>
) => ({
  at: request.loggedAt.epochMillis - evidence.startedAt,
  endpoint,
  method: request.method,
  url: urlOf(request, issued),
  host: Evidence.reveal(request.headers["host"]),
  status: request.status,
  stub: request.stub
})

export const journal = (evidence: ConformanceCase.Evidence): ReadonlyArray<Report.JournalEntry> => {
  const issued = Evidence.issuedTokens(evidence)
  const token = evidence.tokenRequests.map((r): Report.JournalEntry => ({
    ...entry(evidence, r, "token", issued),
    details: [
      `Content-Type: ${Evidence.reveal(r.headers["content-type"]) ?? "none"}`,
      ...(r.headers["accept"] === undefined ? [] : [`Accept: ${Evidence.reveal(r.headers["accept"])}`]),
      ...[authorizationText(r.headers["authorization"], issued)].filter((t): t is string => t !== undefined),
      r.formEntries.length === 0
        ? "no form body"
        : `form: ${r.formEntries.map(([name, value]) => fieldText(name, value, issued)).join("&")}`,
      ...(r.issuedAccessToken === undefined
        ? []
        : [`issued ${Evidence.fingerprint(Redacted.value(r.issuedAccessToken))}`]),
      ...(r.issuedRefreshToken === undefined
        ? []
        : [`issued refresh token ${Evidence.fingerprint(Redacted.value(r.issuedRefreshToken))}`]),
      ...responseNotes(r)
    ]
  }))
  const api = evidence.apiRequests.map((r): Report.JournalEntry => ({
    ...entry(evidence, r, "api", issued),
    details: [
      authorizationText(r.headers["authorization"], issued) ?? "no Authorization header",
      ...[expiryNote(r)].filter((t): t is string => t !== undefined),
      ...responseNotes(r)
    ]
  }))
  return [...token, ...api].sort((a, b) => a.at - b.at)
}

export const output = (evidence: ConformanceCase.Evidence) => {
  const secrets = secretValues(evidence)
  return {
    output: evidence.output.slice(0, maxOutputLines).map((line) => ({
      stream: line.stream,
      text: scrub(line.text, secrets)
    })),
    truncated: evidence.output.length > maxOutputLines
  }
}
