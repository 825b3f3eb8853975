/** The group "redirects": a redirect must not carry credentials or tokens to another origin. */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as CriteoSimulator from "../../CriteoSimulator.js"
import * as Evidence from "../evidence.js"
import * as Mappings from "../mappings.js"
import * as Stubs from "../stubs.js"

const group = "redirects" as const

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "redirect.token-endpoint",
    title: "A redirect from the token endpoint does not carry the credentials to another origin",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
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
          priority: Mappings.priority.caseOverride,
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
      const elsewhere = evidence.tokenRequests.filter((r) => Evidence.reveal(r.headers["host"]) !== home)
      const leaked = elsewhere.filter((r) =>
        r.form["client_secret"] !== undefined || r.headers["authorization"] !== undefined
      )
      return [
        Evidence.answeredAll(evidence, "call"),
        Evidence.check(
          "no credentials sent to the other origin",
          leaked.length === 0,
          leaked.length === 0
            ? elsewhere.length === 0 ? "the redirect was not followed" : "followed without the credentials"
            : `${Evidence.plural(leaked.length, "request")} to ${
              new URL(Stubs.otherOrigin(evidence.baseUrl)).host
            } with the client credentials`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "redirect.api",
    title: "A redirect from the API does not carry the token to another origin",
    group,
    level: "MUST",
    preconditions: [Evidence.apiCalled],
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
          priority: Mappings.priority.caseOverride,
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
      const elsewhere = evidence.apiRequests.filter((r) => Evidence.reveal(r.headers["host"]) !== home)
      const leaked = elsewhere.filter((r) => r.headers["authorization"] !== undefined)
      return [
        Evidence.answeredAll(evidence, "call"),
        Evidence.check(
          "no token sent to the other origin",
          leaked.length === 0,
          leaked.length === 0
            ? elsewhere.length === 0 ? "the redirect was not followed" : "followed without the Authorization header"
            : `${Evidence.plural(leaked.length, "request")} to ${
              new URL(Stubs.otherOrigin(evidence.baseUrl)).host
            } with Authorization`
        )
      ]
    }
  })
]
