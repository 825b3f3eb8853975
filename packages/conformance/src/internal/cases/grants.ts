/** The authorization_code and refresh_token grants, redirects, and what the client prints. */
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as CriteoSimulator from "../../CriteoSimulator.js"
import * as Fault from "../../Fault.js"
import type * as Journal from "../../Journal.js"
import * as SimulatorError from "../../SimulatorError.js"
import * as E from "../evidence.js"
import * as Stubs from "../stubs.js"
import * as Refused from "./refused.js"

const demo = CriteoSimulator.demoCredentials
const demoCode = "demo-code"

const codeEnv = (): Readonly<Record<string, string>> => ({
  CRITEO_GRANT_TYPE: "authorization_code",
  CRITEO_AUTHORIZATION_CODE: demoCode,
  CRITEO_REDIRECT_URI: demo.redirectUri
})

const criteoCode = {
  source: "Criteo: Authentication",
  text: "grant_type=authorization_code with the code of the consent redirect and the exact redirect_uri"
}

const rotation = {
  source: "RFC 6749 §6",
  text: "when a new refresh token is issued, the client MUST discard the old one and use the new one"
}

/** Three calls, each after every token issued so far has been refused, so that the client refreshes. */
const threeRefreshes = (ctx: ConformanceCase.Context) =>
  Effect.gen(function*() {
    yield* ctx.call("call")
    for (const n of [1, 2]) {
      yield* ctx.simulate(`expired-${n}`, "refuse every token issued so far (401)", ctx.expireTokens)
      yield* ctx.call("call")
    }
  })

const grantsOf = (requests: ReadonlyArray<Journal.TokenRequest>) =>
  requests.map((r) => r.grantType ?? "none").join(", ")

/** Each refresh_token request uses the refresh token issued by the answer before it. */
const rotationCheck = (evidence: ConformanceCase.Evidence, first?: string) => {
  const problems: Array<string> = []
  let current = first
  evidence.tokenRequests.forEach((r, i) => {
    if (r.grantType === "refresh_token") {
      const sent = E.plain(r.form["refresh_token"])
      if (current === undefined) problems.push(`request ${i + 1} refreshed without any refresh token issued before`)
      else if (sent !== current) {
        problems.push(
          `request ${i + 1} sent ${sent === undefined ? "no refresh token" : "a refresh token already replaced"}`
        )
      }
    }
    if (r.issuedRefreshToken !== undefined) current = E.plain(r.issuedRefreshToken)
  })
  const refreshes = evidence.tokenRequests.filter((r) => r.grantType === "refresh_token").length
  return E.check(
    "every refresh uses the latest refresh token",
    refreshes >= 2 && problems.length === 0,
    refreshes < 2
      ? `${E.plural(refreshes, "refresh_token request")} (grants: ${grantsOf(evidence.tokenRequests)})`
      : problems.length === 0
      ? `${E.plural(refreshes, "refresh")}, each with the refresh token of the answer before`
      : problems.join("; ")
  )
}

const codeCases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "authorization-code.exchange",
    title: "The authorization code is exchanged with the exact redirect_uri",
    group: "authorization code",
    grade: "FAIL",
    requirements: [
      {
        source: "RFC 6749 §4.1.3",
        text: "grant_type=authorization_code, code, redirect_uri identical to the authorization request's"
      },
      criteoCode
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "The adapter gets CRITEO_GRANT_TYPE=authorization_code, the demo code and its redirect URI.",
    expectation: "The first token request exchanges the code (form body: grant_type, code, redirect_uri, " +
      "client_id, client_secret) and the call succeeds.",
    env: codeEnv,
    run: (ctx) => Effect.asVoid(ctx.call("call")),
    check: (evidence) => {
      const first = evidence.tokenRequests[0]
      return [
        E.succeeded(evidence, "call"),
        E.check(
          "the code is exchanged as specified",
          first !== undefined && first.grantType === "authorization_code" &&
            E.plain(first.form["code"]) === demoCode && E.plain(first.form["redirect_uri"]) === demo.redirectUri &&
            first.clientId === evidence.clientId && E.plain(first.form["client_secret"]) === evidence.clientSecret,
          first === undefined
            ? "no token request"
            : `grant_type ${first.grantType ?? "missing"}, code ${
              E.plain(first.form["code"]) === demoCode ? "as given" : "missing or different"
            }, redirect_uri ${
              E.plain(first.form["redirect_uri"]) === demo.redirectUri ? "identical" : "missing or different"
            }, client credentials ${
              first.clientId === evidence.clientId && E.plain(first.form["client_secret"]) === evidence.clientSecret
                ? "in the body"
                : "missing from the body"
            }`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "authorization-code.used-once",
    title: "The authorization code is used once; later tokens come from the refresh token",
    group: "authorization code",
    grade: "FAIL",
    requirements: [
      { source: "RFC 6749 §4.1.2, §10.5", text: "the client MUST NOT use the authorization code more than once" },
      criteoCode
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "The code works once. Twice, every token issued so far is refused (401).",
    expectation: "Three calls succeed: one authorization_code request, then refresh_token requests.",
    env: codeEnv,
    run: threeRefreshes,
    check: (evidence) => {
      const codes = evidence.tokenRequests.filter((r) => r.grantType === "authorization_code")
      return [
        E.succeeded(evidence, "call", "the three calls succeed"),
        E.check(
          "exactly one authorization_code request, then refresh_token requests",
          codes.length === 1 && evidence.tokenRequests.slice(1).every((r) => r.grantType === "refresh_token") &&
            evidence.tokenRequests[0]?.grantType === "authorization_code",
          `grants: ${grantsOf(evidence.tokenRequests) || "none"}`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "authorization-code.refresh-rotation",
    title: "Rotated refresh tokens replace the old ones",
    group: "authorization code",
    grade: "FAIL",
    requirements: [rotation, {
      source: "RFC 9700 §4.14.2",
      text: "refresh token rotation: an old refresh token is refused"
    }],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "Every refresh answers a new refresh token and refuses the previous one (invalid_grant). Twice, every " +
      "token issued so far is refused (401).",
    expectation: "Three calls succeed; each refresh sends the refresh token of the answer before.",
    env: codeEnv,
    run: threeRefreshes,
    check: (evidence) => [E.succeeded(evidence, "call", "the three calls succeed"), rotationCheck(evidence)]
  }),

  ConformanceCase.make({
    id: "authorization-code.invalid-grant",
    title: "invalid_grant is reported and the code is not tried again",
    group: "authorization code",
    grade: "FAIL",
    requirements: [
      {
        source: "RFC 6749 §5.2",
        text: "invalid_grant: the code is invalid, used, or was issued for another redirect_uri"
      },
      { source: "RFC 6749 §4.1.2", text: "the code is single-use: retrying it cannot succeed" }
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "The adapter's redirect URI differs from the one the code was issued for: 400 invalid_grant.",
    expectation: "Two calls end in an error; the code is sent once at most; no API request.",
    env: () => ({ ...codeEnv(), CRITEO_REDIRECT_URI: "https://localhost:8443/elsewhere/callback" }),
    hangIsFailure: true,
    run: Refused.twoCalls,
    check: (evidence) =>
      Refused.refusedTwice(
        evidence,
        E.tokenRequestCount(
          evidence,
          { max: 1 },
          "the code is sent once at most",
          evidence.tokenRequests.filter((r) => r.grantType === "authorization_code")
        )
      )
  }),

  ConformanceCase.make({
    id: "authorization-code.configured-refresh-token",
    title: "A configured refresh token is used, then replaced by the rotated one",
    group: "authorization code",
    grade: "FAIL",
    requirements: [
      rotation,
      { source: "RFC 6749 §6", text: "grant_type=refresh_token with the refresh token and the client credentials" }
    ],
    grant: "refresh_token",
    scenario: "authorization",
    setup: "The runner exchanges the demo code and gives the adapter the refresh token (CRITEO_GRANT_TYPE=" +
      "refresh_token, CRITEO_REFRESH_TOKEN). Then every token issued so far is refused once (401).",
    expectation: "The first token request is a refresh_token grant with the configured token; the next one uses " +
      "the refresh token that answer rotated in; both calls succeed.",
    prepare: (environment) =>
      Effect.gen(function*() {
        const { json, status } = yield* environment.requestToken({
          grant_type: "authorization_code",
          client_id: environment.clientId,
          client_secret: environment.clientSecret,
          code: demoCode,
          redirect_uri: demo.redirectUri
        })
        const refreshToken = (json as { refresh_token?: unknown } | undefined)?.refresh_token
        if (status !== 200 || typeof refreshToken !== "string") {
          return yield* new SimulatorError.SimulatorAdminError({
            operation: "prepare",
            status,
            detail: "the simulator did not exchange the demo code"
          })
        }
        return { CRITEO_GRANT_TYPE: "refresh_token", CRITEO_REFRESH_TOKEN: refreshToken }
      }),
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("call")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("call")
      }),
    check: (evidence) => {
      const configured = evidence.env["CRITEO_REFRESH_TOKEN"]
      const first = evidence.tokenRequests[0]
      return [
        E.succeeded(evidence, "call", "both calls succeed"),
        E.check(
          "the first token request uses the configured refresh token",
          first !== undefined && first.grantType === "refresh_token" &&
            E.plain(first.form["refresh_token"]) === configured,
          first === undefined
            ? "no token request"
            : `grant_type ${first.grantType ?? "missing"}, refresh_token ${
              E.plain(first.form["refresh_token"]) === configured ? "as configured" : "missing or different"
            }`
        ),
        rotationCheck({ ...evidence, tokenRequests: evidence.tokenRequests }, configured)
      ]
    }
  })
]

const redirectCases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "redirect.token-endpoint",
    title: "A redirect from the token endpoint does not carry the credentials to another origin",
    group: "redirects",
    grade: "FAIL",
    requirements: [
      {
        source: "RFC 9700 §4.12",
        text: "a 307 redirect makes the user agent re-send a POST body, credentials included"
      },
      { source: "RFC 6749 §2.3.1, §3.2", text: "client credentials go to the token endpoint, over a protected channel" }
    ],
    setup: "This client's token request is answered 307 Temporary Redirect to the same path on another origin " +
      "(localhost instead of 127.0.0.1, or the reverse), which would issue a token.",
    expectation: "The client does not re-send its credentials to the other origin (it does not follow, or drops " +
      "them); the call may fail.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        const origin = new URL(ctx.baseUrl)
        yield* ctx.addStub({
          name: "token: 307 to another origin (redirect.token-endpoint)",
          priority: 1,
          request: {
            method: "POST",
            urlPath: "/oauth2/token",
            headers: { Host: { equalTo: origin.host } },
            formParameters: { client_id: { equalTo: ctx.clientId } }
          },
          response: { status: 307, headers: { Location: `${Stubs.otherOrigin(ctx.baseUrl)}/oauth2/token` } }
        })
        yield* ctx.call("call", { timeout: "20 seconds" })
      }),
    check: (evidence) => {
      const home = new URL(evidence.baseUrl).host
      const elsewhere = evidence.tokenRequests.filter((r) => E.plain(r.headers["host"]) !== home)
      const leaked = elsewhere.filter((r) =>
        r.form["client_secret"] !== undefined || r.headers["authorization"] !== undefined
      )
      return [
        E.answeredAll(evidence, "call"),
        E.check(
          "no credentials sent to the other origin",
          leaked.length === 0,
          leaked.length === 0
            ? elsewhere.length === 0 ? "the redirect was not followed" : "followed without the credentials"
            : `${E.plural(leaked.length, "request")} to ${
              new URL(Stubs.otherOrigin(evidence.baseUrl)).host
            } with the client credentials`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "redirect.api",
    title: "A redirect from the API does not carry the token to another origin",
    group: "redirects",
    grade: "FAIL",
    requirements: [
      {
        source: "RFC 6750 §5.3",
        text: "client implementations MUST ensure bearer tokens are not leaked to unintended parties"
      },
      { source: "RFC 9110 §15.4", text: "a client following a cross-origin redirect drops Authorization" }
    ],
    setup: "The API answers 302 Found to the same path on another origin (localhost instead of 127.0.0.1, or the " +
      "reverse).",
    expectation: "The client does not send its token to the other origin (it does not follow, or drops the " +
      "Authorization header).",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        const origin = new URL(ctx.baseUrl)
        yield* ctx.addStub({
          name: "api: 302 to another origin (redirect.api)",
          priority: 1,
          request: {
            method: "ANY",
            urlPathPattern: "/[0-9]{4}-[0-9]{2}/.+",
            headers: { Host: { equalTo: origin.host } }
          },
          response: {
            status: 302,
            headers: {
              Location: `${Stubs.otherOrigin(ctx.baseUrl)}/${CriteoSimulator.apiVersions.current}/advertisers/me`
            }
          }
        })
        yield* ctx.call("call", { timeout: "20 seconds" })
      }),
    check: (evidence) => {
      const home = new URL(evidence.baseUrl).host
      const elsewhere = evidence.apiRequests.filter((r) => E.plain(r.headers["host"]) !== home)
      const leaked = elsewhere.filter((r) => r.headers["authorization"] !== undefined)
      return [
        E.answeredAll(evidence, "call"),
        E.check(
          "no token sent to the other origin",
          leaked.length === 0,
          leaked.length === 0
            ? elsewhere.length === 0 ? "the redirect was not followed" : "followed without the Authorization header"
            : `${E.plural(leaked.length, "request")} to ${
              new URL(Stubs.otherOrigin(evidence.baseUrl)).host
            } with Authorization`
        )
      ]
    }
  })
]

// -----------------------------------------------------------------------------
// leakage
// -----------------------------------------------------------------------------

/** A secret of this client only, long enough that finding it in output cannot be a coincidence. */
const leakSecret = (clientId: string) => `sk_${createHash("sha256").update(clientId).digest("hex").slice(0, 28)}`

interface Secret {
  readonly name: string
  readonly value: string
}

const secretsOf = (evidence: ConformanceCase.Evidence): ReadonlyArray<Secret> => {
  const secret = evidence.env["CRITEO_CLIENT_SECRET"] ?? evidence.clientSecret
  const code = evidence.env["CRITEO_AUTHORIZATION_CODE"]
  return [
    { name: "the client secret", value: secret },
    { name: "the client secret (form-encoded)", value: encodeURIComponent(secret) },
    {
      name: "the client secret (in a Basic header)",
      value: Buffer.from(`${evidence.clientId}:${secret}`).toString("base64")
    },
    ...(code === undefined ? [] : [{ name: "the authorization code", value: code }]),
    ...Array.from(E.issuedTokens(evidence), (value) => ({ name: `access token ${E.fingerprint(value)}`, value })),
    ...E.issuedRefreshTokens(evidence).map((value) => ({ name: `refresh token ${E.fingerprint(value)}`, value }))
  ].filter((s, i, all) => s.value.length >= 8 && all.findIndex((t) => t.value === s.value) === i)
}

/** The name of the leak check, which the runner adds to every case that has none. */
export const leakCheckName = "no secret, code or token in the client's output or errors"

/**
 * Whether the client wrote a secret, code or token anywhere: its output (stdout, stderr) and the errors it
 * reported. The runner runs it on every case, not only the `leak.*` ones.
 */
export const leakCheck = (evidence: ConformanceCase.Evidence) => {
  const secrets = secretsOf(evidence)
  const places: Array<readonly [string, string]> = [
    ...evidence.output.map((line, i) => [`${line.stream} line ${i + 1}`, line.text] as const),
    ...Array.from(evidence.answers).flatMap(([label, all]) =>
      all.flatMap((a) =>
        [a.error, a.message].filter((t): t is string => t !== undefined).map((t) =>
          [`the error reported for "${label}"`, t] as const
        )
      )
    )
  ]
  const found = secrets.flatMap((secret) =>
    places.filter(([, text]) => text.includes(secret.value)).map(([where]) => `${secret.name} in ${where}`)
  )
  return E.check(
    leakCheckName,
    found.length === 0,
    found.length === 0
      ? `${E.plural(evidence.output.length, "line")} of output searched for ${E.plural(secrets.length, "secret value")}`
      : Array.from(new Set(found)).slice(0, 6).join("; ")
  )
}

const leakCases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "leak.client-credentials",
    title: "The secret and the tokens never appear in the client's output",
    group: "leakage",
    grade: "FAIL",
    requirements: [
      { source: "RFC 6750 §5.3", text: "bearer tokens MUST NOT leak to unintended parties (logs included)" },
      { source: "RFC 6749 §10.3, §2.3.1", text: "access tokens and client credentials are confidential" }
    ],
    setup: "A run through every path a client may log on: success, 403, a refresh after 401, a 500 from the token " +
      "endpoint, invalid_client. The client has its own long secret.",
    expectation: "Neither the client secret (raw, form-encoded or in a Basic header), nor any access token appears " +
      "on stdout, stderr, or in the errors reported.",
    env: (environment) => ({ CRITEO_CLIENT_SECRET: leakSecret(environment.clientId) }),
    run: (ctx) =>
      Effect.gen(function*() {
        const secret = leakSecret(ctx.clientId)
        yield* Stubs.tokenAnswer(ctx, { secret })
        yield* ctx.call("success")
        yield* ctx.simulate(
          "forbidden",
          "the next API request gets 403",
          ctx.setFault("api", Fault.response(403), { times: 1 })
        )
        yield* ctx.call("403")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh after 401")
        yield* ctx.simulate(
          "500",
          "the next token request gets 500",
          ctx.setFault("token", Fault.serverError(500), { times: 1 })
        )
        yield* ctx.simulate("expired-again", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh after 500")
        yield* ctx.simulate(
          "invalid-client",
          "the token endpoint answers invalid_client",
          ctx.setFault(
            "token",
            Fault.response(401, {
              body: JSON.stringify({
                error: "invalid_client",
                error_description: "client_id doesn't exist or the client_secret is invalid"
              })
            })
          )
        )
        yield* ctx.simulate("expired-last", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("invalid_client", { timeout: "20 seconds" })
      }),
    check: (evidence) => [E.succeeded(evidence, "success", "the first call succeeds"), leakCheck(evidence)]
  }),

  ConformanceCase.make({
    id: "leak.authorization-code",
    title: "The code and refresh tokens never appear in the client's output",
    group: "leakage",
    grade: "FAIL",
    requirements: [
      { source: "RFC 6749 §10.4, §10.5", text: "refresh tokens and authorization codes are confidential" },
      { source: "RFC 6750 §5.3", text: "bearer tokens MUST NOT leak to unintended parties (logs included)" }
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "The authorization_code grant: the code is exchanged, the token refreshed after a 401, then the consent " +
      "is revoked so that the next refresh is refused (invalid_grant).",
    expectation: "Neither the secret, the code, a refresh token nor an access token appears in the output or errors.",
    env: codeEnv,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("exchange")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh")
        yield* ctx.simulate("revoked", "revoke the consent: refreshes refused, the API answers 403", ctx.revokeConsent)
        yield* ctx.simulate("expired-again", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("revoked", { timeout: "20 seconds" })
      }),
    check: (evidence) => [E.succeeded(evidence, "exchange", "the first call succeeds"), leakCheck(evidence)]
  })
]

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [...codeCases, ...redirectCases, ...leakCases]
