import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import * as CriteoAuth from "../src/CriteoAuth.js"
import type * as CriteoAuthError from "../src/CriteoAuthError.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import * as Grant from "../src/Grant.js"
import * as Redaction from "../src/Redaction.js"
import { makeFakeCriteo, type Reply } from "./utils.js"

const SECRET = "client-secret-XYZ-0001+/&="
const CODE = "authorization code XYZ-0002"
const REFRESH = "refresh-token-XYZ-0003"
const ACCESS = "access-token-XYZ-0004"
const NEW_REFRESH = "refresh-token-XYZ-0005"
const secrets = [SECRET, CODE, REFRESH, ACCESS, NEW_REFRESH]

/** Every spelling of a secret on the wire, computed here independently of core's scrubber. */
const spellings = (value: string): ReadonlyArray<string> => [
  value,
  new URLSearchParams({ v: value }).toString().slice(2),
  encodeURIComponent(value),
  JSON.stringify(value).slice(1, -1),
  Buffer.from(value).toString("base64"),
  Buffer.from(`client-1:${value}`).toString("base64")
]

const assertClean = (label: string, text: string) => {
  for (const secret of secrets) {
    for (const spelling of spellings(secret)) assert.notInclude(text, spelling, `${label} leaks ${secret}`)
  }
}

/** Every way an error may be rendered. */
const renderings = (error: unknown): Record<string, string> => ({
  String: String(error),
  message: String((error as Error).message ?? ""),
  stack: String((error as Error).stack ?? ""),
  JSON: JSON.stringify(error),
  toJSON: JSON.stringify(Inspectable.toJSON(error)),
  "Cause.pretty": Cause.pretty(Cause.fail(error)),
  "Cause.pretty(die)": Cause.pretty(Cause.die(error)),
  inspect: Inspectable.format(error)
})

const codeGrant = Grant.authorizationCode({
  clientId: "client-1",
  clientSecret: Redacted.make(SECRET),
  code: Redacted.make(CODE),
  redirectUri: "https://app.example/callback"
})
const refreshGrant = Grant.refreshToken({
  clientId: "client-1",
  clientSecret: Redacted.make(SECRET),
  refreshToken: Redacted.make(REFRESH)
})

/** A careless server echoing what it received. */
const echo = (echoed: string): Reply => ({
  status: 400,
  body: { error: "invalid_request", error_description: `bad request: ${echoed}` }
})

const scenarios: ReadonlyArray<[string, Grant.Grant, (n: number) => Reply | undefined, (Reply | undefined)?]> = [
  ["invalid_client", codeGrant, () => ({ status: 401, body: { error: "invalid_client", error_description: SECRET } })],
  [
    "invalid_grant",
    refreshGrant,
    () => ({ status: 400, body: { error: "invalid_grant", error_description: REFRESH } })
  ],
  ["echoing invalid_request (code)", codeGrant, () => echo(`client_secret=${SECRET}&code=${CODE}`)],
  ["echoing invalid_request (refresh)", refreshGrant, () => echo(`client_secret=${SECRET}&refresh_token=${REFRESH}`)],
  ["rate limited", codeGrant, () => ({ status: 429, headers: { "retry-after": "3600" } })],
  ["unavailable", codeGrant, () => ({ status: 503, body: SECRET })],
  ["transport", refreshGrant, () => ({ fail: "transport" })],
  ["malformed", codeGrant, () => ({ status: 200, body: { access_token: ACCESS, token_type: "mac", expires_in: 900 } })],
  ["malformed expiry", codeGrant, () => ({ status: 200, body: { access_token: ACCESS, token_type: "Bearer" } })],
  [
    "unauthorized",
    codeGrant,
    () => ({
      status: 200,
      body: { access_token: ACCESS, token_type: "Bearer", expires_in: 900, refresh_token: NEW_REFRESH }
    }),
    { status: 401, body: { errors: [{ code: "authorization-token-invalid", detail: ACCESS }] } }
  ],
  [
    "forbidden, the token echoed in the error code and trace id",
    refreshGrant,
    () => ({
      status: 200,
      body: { access_token: ACCESS, token_type: "Bearer", expires_in: 900, refresh_token: NEW_REFRESH }
    }),
    {
      status: 403,
      body: { errors: [{ code: `consent-revoked for ${ACCESS}`, traceId: Buffer.from(ACCESS).toString("base64") }] }
    }
  ],
  [
    "unauthorized, the token echoed in the error code",
    codeGrant,
    () => ({ status: 200, body: { access_token: ACCESS, token_type: "Bearer", expires_in: 900 } }),
    { status: 401, body: { errors: [{ code: `Bearer ${encodeURIComponent(ACCESS)}` }] } }
  ],
  ["echoing the form-encoded request", codeGrant, () => echo(new URLSearchParams({ s: SECRET, c: CODE }).toString())],
  [
    "echoing the request as JSON",
    refreshGrant,
    () => echo(JSON.stringify({ client_secret: SECRET, refresh_token: REFRESH }))
  ],
  [
    "echoing the Basic credentials",
    codeGrant,
    () => echo(`Authorization: Basic ${Buffer.from(`client-1:${SECRET}`).toString("base64")}`)
  ],
  [
    "echoing the secret in token_type",
    codeGrant,
    () => ({ status: 200, body: { access_token: ACCESS, token_type: `x${SECRET}`, expires_in: 900 } })
  ],
  [
    "forbidden",
    refreshGrant,
    () => ({
      status: 200,
      body: { access_token: ACCESS, token_type: "Bearer", expires_in: 900, refresh_token: NEW_REFRESH }
    }),
    { status: 403, body: { errors: [{ code: "consent-revoked", detail: ACCESS }] } }
  ]
]

describe("redaction", () => {
  for (const [name, grant, tokenReply, apiReply] of scenarios) {
    it.scoped(`${name}: no secret in the error, its renderings, the logs or the spans`, () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const capture = Logger.make((options) => {
          lines.push(Logger.logfmtLogger.log(options))
          lines.push(
            Logger.structuredLogger.log(options) === undefined
              ? ""
              : JSON.stringify(Logger.structuredLogger.log(options))
          )
        })
        const spans: Array<Tracer.Span> = []
        const base = yield* Effect.tracer
        const recording = Tracer.make({
          span: (...args) => {
            const span = base.span(...args)
            spans.push(span)
            return span
          },
          context: base.context
        })

        const fake = yield* makeFakeCriteo({
          tokenReply: (n) => tokenReply(n),
          apiReply: () => apiReply
        })
        const layer = CriteoHttpClient.layer({ retry: { maxAttempts: 1 } }).pipe(
          Layer.provide(CriteoAuth.layer({ grant, retry: { maxAttempts: 2, baseDelay: 0 } })),
          Layer.provide(fake.layer),
          Layer.provide(Logger.replace(Logger.defaultLogger, capture)),
          Layer.provide(Logger.minimumLogLevel(LogLevel.All))
        )
        const error = yield* Effect.gen(function*() {
          const client = yield* CriteoHttpClient.CriteoHttpClient
          return yield* client.get("/advertisers/me").pipe(
            Effect.flatMap(() => Effect.fail("no error" as const)),
            Effect.flip
          )
        }).pipe(
          Effect.provide(layer),
          Effect.withTracer(recording),
          Logger.withMinimumLogLevel(LogLevel.All),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture))
        )
        assert.notStrictEqual(error, "no error")
        const typed = error as CriteoAuthError.CriteoAuthError
        assert.isString(typed._tag)
        for (const [how, text] of Object.entries(renderings(typed))) assertClean(`${name} ${how}`, text)
        for (const line of lines) assertClean(`${name} log`, line)
        for (const span of spans) {
          assertClean(`${name} span ${span.name}`, JSON.stringify([span.name, [...span.attributes]]))
        }
        // the spans we promise exist, annotated with the client id and the outcome
        const acquire = spans.find((span) => span.name === "CriteoAuth.acquire")
        assert.isDefined(acquire)
        assert.strictEqual(acquire!.attributes.get("criteo.client_id"), "client-1")
        assert.isString(acquire!.attributes.get("outcome"))
      }))
  }

  it("grants and tokens render redacted", () => {
    for (const [how, text] of Object.entries(renderings(codeGrant))) assertClean(`grant ${how}`, text)
    for (const [how, text] of Object.entries(renderings(refreshGrant))) assertClean(`grant ${how}`, text)
  })
})

describe("Redaction.scrub", () => {
  const secret = "s3cr3t +/&=%é\"\\<"
  const form = new URLSearchParams({ v: secret }).toString().slice(2)
  const spellings: Record<string, string> = {
    raw: secret,
    form,
    "form, lower-case hex": form.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    percent: encodeURIComponent(secret),
    "JSON string": JSON.stringify(secret).slice(1, -1),
    "JSON string, \\/ escaped": JSON.stringify(secret).slice(1, -1).replace(/\//g, "\\/"),
    "JSON string, ASCII only": JSON.stringify(secret).slice(1, -1).replace(/é/g, "\\u00e9"),
    base64: Buffer.from(secret).toString("base64"),
    base64url: Buffer.from(secret).toString("base64url")
  }
  for (const [name, spelling] of Object.entries(spellings)) {
    it(`replaces the ${name} spelling`, () => {
      const text = Redaction.scrub(`before ${spelling} after`, [Redacted.make(secret)])
      assert.strictEqual(text, "before <redacted> after")
    })
  }

  it("replaces the Basic credentials of a client id and secret, both spellings", () => {
    const raw = Buffer.from(`client id:${secret}`).toString("base64")
    const rfc = Buffer.from(`client+id:${form}`).toString("base64")
    const text = Redaction.scrub(
      `Authorization: Basic ${raw}; Basic ${rfc}`,
      Redaction.basicCredentials("client id", Redacted.make(secret))
    )
    assert.strictEqual(text, "Authorization: Basic <redacted>; Basic <redacted>")
  })

  it("sanitize escapes control characters and cuts after scrubbing", () => {
    const text = Redaction.sanitize(`a\r\nb\u0000\u001b[31m${secret}${"x".repeat(100)}`, [secret], 44)
    assert.strictEqual(text, "a\\u000d\\u000ab\\u0000\\u001b[31m<redacted>xxxx…")
  })
})
