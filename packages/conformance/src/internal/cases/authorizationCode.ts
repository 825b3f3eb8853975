/** The group "authorization code": the authorization_code and refresh_token grants, the consent chain. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as CriteoSimulator from "../../CriteoSimulator.js"
import type * as Journal from "../../Journal.js"
import * as SimulatorError from "../../SimulatorError.js"
import * as Evidence from "../evidence.js"
import * as Mappings from "../mappings.js"
import * as Refused from "./common/refused.js"

const group = "authorization code" as const

const demo = CriteoSimulator.demoCredentials
const demoCode = "demo-code"

export const codeEnv = (): Readonly<Record<string, string>> => ({
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

/** The lifetime of the tokens of authorization-code.refresh-on-expiry, in seconds. */
const shortLifetime = 2

/**
 * The consent chain of the fixtures (scenario `authorization`: the code once, then refresh tokens rotating between
 * generations a and b), for this case's client only, with tokens of `shortLifetime` seconds.
 */
const shortLivedChain = (ctx: ConformanceCase.Context) =>
  Effect.forEach(
    Mappings.codeChain({
      code: demoCode,
      redirectUri: demo.redirectUri,
      form: { client_id: { equalTo: ctx.clientId }, client_secret: { equalTo: ctx.clientSecret } },
      priority: { code: Mappings.priority.caseAnswer, refresh: Mappings.priority.caseAnswer },
      label: `${shortLifetime} s tokens, authorization-code.refresh-on-expiry`,
      answer: (issued) => ({
        status: 200,
        headers: Mappings.tokenHeaders,
        body: Mappings.tokenResponseBody({
          lifetime: shortLifetime,
          refreshToken: Mappings.refreshToken(`rt.${issued}`)
        }),
        transformers: Mappings.templated
      })
    }),
    (mapping) => ctx.addStub(mapping),
    { discard: true }
  )

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
      const sent = Evidence.reveal(r.form["refresh_token"])
      if (current === undefined) problems.push(`request ${i + 1} refreshed without any refresh token issued before`)
      else if (sent !== current) {
        problems.push(
          `request ${i + 1} sent ${sent === undefined ? "no refresh token" : "a refresh token already replaced"}`
        )
      }
    }
    if (r.issuedRefreshToken !== undefined) current = Evidence.reveal(r.issuedRefreshToken)
  })
  const refreshes = evidence.tokenRequests.filter((r) => r.grantType === "refresh_token").length
  return Evidence.check(
    "every refresh uses the latest refresh token",
    refreshes >= 2 && problems.length === 0,
    refreshes < 2
      ? `${Evidence.plural(refreshes, "refresh_token request")} (grants: ${grantsOf(evidence.tokenRequests)})`
      : problems.length === 0
      ? `${Evidence.plural(refreshes, "refresh")}, each with the refresh token of the answer before`
      : problems.join("; ")
  )
}

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "authorization-code.exchange",
    title: "The authorization code is exchanged with the exact redirect_uri",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
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
        Evidence.succeeded(evidence, "call"),
        Evidence.check(
          "the code is exchanged as specified",
          first !== undefined && first.grantType === "authorization_code" &&
            Evidence.reveal(first.form["code"]) === demoCode &&
            Evidence.reveal(first.form["redirect_uri"]) === demo.redirectUri &&
            first.clientId === evidence.clientId &&
            Evidence.reveal(first.form["client_secret"]) === evidence.clientSecret,
          first === undefined
            ? "no token request"
            : `grant_type ${first.grantType ?? "missing"}, code ${
              Evidence.reveal(first.form["code"]) === demoCode ? "as given" : "missing or different"
            }, redirect_uri ${
              Evidence.reveal(first.form["redirect_uri"]) === demo.redirectUri ? "identical" : "missing or different"
            }, client credentials ${
              first.clientId === evidence.clientId &&
                Evidence.reveal(first.form["client_secret"]) === evidence.clientSecret
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
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
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
        Evidence.succeeded(evidence, "call", "the three calls succeed"),
        Evidence.check(
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
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
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
    check: (evidence) => [Evidence.succeeded(evidence, "call", "the three calls succeed"), rotationCheck(evidence)]
  }),

  ConformanceCase.make({
    id: "authorization-code.refresh-on-expiry",
    title: "When its tokens expire, the client refreshes with the latest refresh token, never the code again",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      { source: "RFC 6749 §4.1.2, §10.5", text: "the client MUST NOT use the authorization code more than once" },
      rotation,
      criteoCode
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: `This client's tokens from the code and from each refresh live ${shortLifetime} s (the consent chain as ` +
      "usual: the code works once, each refresh rotates the refresh token). Nothing is refused early: the client " +
      "renews its token because it expires (ahead of time, or on the 401 of the expired token).",
    expectation: `A call, ${shortLifetime + 0.5} s of idleness, a call, ${shortLifetime + 0.5} s, a call: all ` +
      "succeed; one authorization_code request, then refresh_token requests, each with the refresh token of the " +
      "answer before.",
    env: codeEnv,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* shortLivedChain(ctx)
        yield* ctx.call("call")
        for (const n of [1, 2]) {
          yield* ctx.wait(Duration.millis(shortLifetime * 1000 + 500), `the token expires (${n})`)
          yield* ctx.call("call")
        }
      }),
    check: (evidence) => {
      const codes = evidence.tokenRequests.filter((r) => r.grantType === "authorization_code")
      return [
        Evidence.succeeded(evidence, "call", "the three calls succeed"),
        Evidence.check(
          "the code is used once, then refresh_token requests",
          codes.length === 1 && evidence.tokenRequests[0]?.grantType === "authorization_code" &&
            evidence.tokenRequests.slice(1).every((r) => r.grantType === "refresh_token"),
          `grants: ${grantsOf(evidence.tokenRequests) || "none"}`
        ),
        rotationCheck(evidence)
      ]
    }
  }),

  ConformanceCase.make({
    id: "authorization-code.invalid-grant",
    title: "invalid_grant is reported and the code is not tried again",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
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
        Evidence.tokenRequestCount(
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
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
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
        Evidence.succeeded(evidence, "call", "both calls succeed"),
        Evidence.check(
          "the first token request uses the configured refresh token",
          first !== undefined && first.grantType === "refresh_token" &&
            Evidence.reveal(first.form["refresh_token"]) === configured,
          first === undefined
            ? "no token request"
            : `grant_type ${first.grantType ?? "missing"}, refresh_token ${
              Evidence.reveal(first.form["refresh_token"]) === configured ? "as configured" : "missing or different"
            }`
        ),
        rotationCheck({ ...evidence, tokenRequests: evidence.tokenRequests }, configured)
      ]
    }
  })
]
