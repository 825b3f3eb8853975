/** The group "redirects": a redirect must not carry credentials or tokens to another origin. */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as CriteoSimulator from "../../CriteoSimulator.js"
import type * as Journal from "../../Journal.js"
import * as Evidence from "../evidence.js"
import * as Mappings from "../mappings.js"
import * as Stubs from "../stubs.js"

const group = "redirects" as const

/**
 * This client's requests matching `request`, on the simulator's own origin, are answered `status` with a
 * `Location` on the other origin; then one call.
 */
const callRedirected = (
  ctx: ConformanceCase.Context,
  stub: {
    readonly name: string
    readonly request: Mappings.RequestPattern
    readonly status: number
    readonly location: string
  }
) =>
  Effect.gen(function*() {
    const origin = new URL(ctx.baseUrl)
    yield* ctx.addStub({
      name: stub.name,
      priority: Mappings.priority.caseOverride,
      request: { ...stub.request, headers: { Host: { equalTo: origin.host } } },
      response: { status: stub.status, headers: { Location: stub.location } }
    })
    yield* ctx.call("call", { timeout: "20 seconds" })
  })

/**
 * The call is answered, and none of `requests` sent to the other origin carries what `leaks` looks for
 * (`secret`: the credentials, the token): the redirect was not followed, or followed without it.
 */
const nothingLeakedElsewhere = <R extends Journal.TokenRequest | Journal.ApiRequest>(
  evidence: ConformanceCase.Evidence,
  requests: ReadonlyArray<R>,
  leaks: (request: R) => boolean,
  secret: { readonly name: string; readonly without: string; readonly with: string }
) => {
  const home = new URL(evidence.baseUrl).host
  const elsewhere = requests.filter((r) => Evidence.reveal(r.headers["host"]) !== home)
  const leaked = elsewhere.filter(leaks)
  return [
    Evidence.answeredAll(evidence, "call"),
    Evidence.check(
      `no ${secret.name} sent to the other origin`,
      leaked.length === 0,
      leaked.length === 0
        ? elsewhere.length === 0 ? "the redirect was not followed" : `followed without ${secret.without}`
        : `${Evidence.plural(leaked.length, "request")} to ${
          new URL(Stubs.otherOrigin(evidence.baseUrl)).host
        } with ${secret.with}`
    )
  ]
}

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
      callRedirected(ctx, {
        name: "token: 307 to another origin (redirect.token-endpoint)",
        request: { method: "POST", urlPath: "/oauth2/token", formParameters: { client_id: { equalTo: ctx.clientId } } },
        status: 307,
        location: `${Stubs.otherOrigin(ctx.baseUrl)}/oauth2/token`
      }),
    check: (evidence) =>
      nothingLeakedElsewhere(
        evidence,
        evidence.tokenRequests,
        (r) => r.form["client_secret"] !== undefined || r.headers["authorization"] !== undefined,
        { name: "credentials", without: "the credentials", with: "the client credentials" }
      )
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
      callRedirected(ctx, {
        name: "api: 302 to another origin (redirect.api)",
        request: { method: "ANY", urlPathPattern: "/[0-9]{4}-[0-9]{2}/.+" },
        status: 302,
        location: `${Stubs.otherOrigin(ctx.baseUrl)}/${CriteoSimulator.apiVersions.current}/advertisers/me`
      }),
    check: (evidence) =>
      nothingLeakedElsewhere(
        evidence,
        evidence.apiRequests,
        (r) => r.headers["authorization"] !== undefined,
        { name: "token", without: "the Authorization header", with: "Authorization" }
      )
  })
]
