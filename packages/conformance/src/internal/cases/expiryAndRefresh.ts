/** The group "expiry and refresh": expiry, refresh ahead and on 401, single flight on 401, no refresh on 403. */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import type * as Journal from "../../Journal.js"
import * as Evidence from "../evidence.js"
import * as Mappings from "../mappings.js"
import * as Stubs from "../stubs.js"
import { criteoLifetime, singleFlight } from "./common/requirements.js"

const group = "expiry and refresh" as const

/** The lifetime and the delay of the token answers of the steady-traffic cases. */
const steady = { lifetime: 3, delayMillis: 250, durationMillis: 6800, everyMillis: 50 }

const steadySetup = `This client's tokens live ${steady.lifetime} s, and the token endpoint answers after ` +
  `${steady.delayMillis} ms: each token is minted before the answer leaves, so it expires ${steady.delayMillis} ms ` +
  "sooner than expires_in counted from the answer's arrival (as at any real token endpoint, only more). The API " +
  "refuses a token after its expiry instant. A margin of 10 % of the lifetime is enough; the lifetime counted from " +
  "the request's sending is exact."

/**
 * A call every 50 ms for 6.8 s: the first token (requested at 0) expires at 3 s, the next (requested at 2.25 to
 * 3.25 s) before 6.5 s. A client without a margin, counting from the answer's arrival, sends its token in the last
 * 250 ms of each life (about 5 calls each time), so it is seen twice, whatever the load.
 */
const steadyTraffic = (ctx: ConformanceCase.Context) =>
  Effect.gen(function*() {
    yield* Stubs.tokenAnswer(ctx, { lifetime: steady.lifetime, delayMillis: steady.delayMillis })
    const start = yield* Clock.currentTimeMillis
    while ((yield* Clock.currentTimeMillis) - start < steady.durationMillis) {
      yield* ctx.call("steady")
      yield* Effect.sleep(Duration.millis(steady.everyMillis))
    }
  })

/**
 * Like `ctx.expireTokens` (every token issued so far refused, 401 authorization-token-expired), with each 401
 * answered after a delay drawn uniformly between `lower` and `upper` ms.
 */
const refuseIssuedTokens = (ctx: ConformanceCase.Context, delay: { readonly lower: number; readonly upper: number }) =>
  Effect.flatMap(
    Clock.currentTimeMillis,
    (issuedAt) => ctx.addStub(Mappings.expired({ issuedAt, lifetime: ctx.sim.tokenLifetime, late: delay }))
  )

/** How long after its token's expiry a request was sent, in ms. */
const lateBy = (request: Journal.ApiRequest) =>
  request.loggedAt.epochMillis -
  (Evidence.embeddedExpiry(Evidence.bearerOf(request) ?? "") ?? request.loggedAt.epochMillis)

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "expiry.new-token",
    title: "After its token expires, the client gets a new one",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [criteoLifetime, { source: "RFC 6749 §5.1", text: "expires_in: the lifetime of the token" }],
    setup: "This client's tokens live 1 s (expires_in: 1); the API refuses a token after its expiry instant.",
    expectation: "A call, 1.5 s of idleness, a call: both succeed, the second with a new token (obtained ahead of " +
      "expiry or after the 401).",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { lifetime: 1 })
        yield* ctx.call("before")
        yield* ctx.wait(Duration.millis(1500), "the token expires")
        yield* ctx.call("after")
      }),
    check: (evidence) => {
      const ok = evidence.apiRequests.filter((r) => r.status === 200).map(Evidence.bearerOf)
      return [
        Evidence.succeeded(evidence, "before"),
        Evidence.succeeded(evidence, "after", "the call after expiry succeeds"),
        Evidence.check(
          "the call after expiry used a new token",
          ok.length >= 2 && ok[ok.length - 1] !== ok[0],
          `${Evidence.plural(evidence.tokenRequests.length, "token request")}; ${
            Evidence.plural(new Set(ok).size, "distinct token")
          } accepted by the API`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "expiry.refresh-ahead",
    title: "The token is renewed before it expires",
    group,
    level: "SHOULD",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      { source: "RFC 6749 §5.1", text: "expires_in tells the client when the token stops working" },
      {
        source: "Criteo SDKs (for comparison)",
        text: "Criteo's Python SDK refreshes after expiry: every call at the edge fails once"
      }
    ],
    setup: steadySetup,
    expectation: "A call every 50 ms for 6.8 s, across two expiries: no call ever sends an expired token (no 401). " +
      "A client that counts the lifetime from the answer's arrival and keeps no margin surely sends one.",
    run: steadyTraffic,
    check: (evidence) => {
      const expired = Evidence.expiredSends(evidence)
      return [
        Evidence.check(
          "no API request carries an expired token",
          evidence.apiRequests.length > 0 && expired.length === 0,
          expired.length === 0
            ? `${Evidence.plural(evidence.apiRequests.length, "API request")}, none with an expired token`
            : `${Evidence.plural(expired.length, "API request")} sent with an expired token (answered ${
              Evidence.describeRequests(expired)
            }), up to ${Math.max(...expired.map(lateBy))} ms after its expiry`
        ),
        Evidence.tokenRequestCount(evidence, { min: 2 }, "the token was renewed (at least 2 token requests)")
      ]
    }
  }),

  ConformanceCase.make({
    id: "expiry.no-401-to-caller",
    title: "No 401 caused by an expired token reaches the caller",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      criteoLifetime,
      {
        source: "RFC 6750 §3.1",
        text: "an expired token is answered 401 invalid_token: the client gets a new token (ahead of expiry, or on " +
          "the 401 and replays the request)"
      }
    ],
    setup: steadySetup,
    expectation: "A call every 50 ms for 6.8 s, across two expiries: every call succeeds. Sending an expired token " +
      "is expiry.refresh-ahead's (a SHOULD); returning its 401 to the caller is a failure.",
    run: steadyTraffic,
    check: (evidence) => {
      const all = Evidence.answers(evidence, "steady")
      const refused = all.filter((a) => a.status === 401)
      return [
        Evidence.check(
          "no call returns a 401 to its caller",
          all.length > 0 && refused.length === 0,
          `${Evidence.plural(all.length, "call")}: ${Evidence.describeAll(all)}`
        ),
        Evidence.succeeded(evidence, "steady", "every call succeeds")
      ]
    }
  }),

  ConformanceCase.make({
    id: "expiry.reactive-401",
    title: "On a 401, the client gets a new token and replays the request once",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      { source: "RFC 6750 §3.1", text: "invalid_token (401): the client may request a new token and retry" },
      criteoLifetime
    ],
    setup: "After a first call, every token issued so far is refused (401 authorization-token-expired), though " +
      "its expires_in has not run out.",
    expectation: "The next call gets a 401, obtains one new token, replays the request once and succeeds.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("first")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("after")
      }),
    check: (evidence) => {
      const at = Evidence.mark(evidence, "expired")
      const api = Evidence.since(evidence.apiRequests, at)
      const tokens = Evidence.since(evidence.tokenRequests, at)
      return [
        Evidence.succeeded(evidence, "first"),
        Evidence.succeeded(evidence, "after", "the call after the 401 succeeds"),
        Evidence.check(
          "the refused request was replayed once, with a new token",
          // A client that got a new token before calling was never refused: nothing to replay.
          (api.length === 1 && api[0].status === 200) ||
            (api.length === 2 && api[0].status === 401 && api[1].status === 200 &&
              Evidence.bearerOf(api[0]) !== Evidence.bearerOf(api[1]) && api[0].path === api[1].path),
          `API answers after the expiry: ${Evidence.describeRequests(api)}`
        ),
        Evidence.tokenRequestCount(evidence, { min: 1, max: 1 }, "exactly one new token request", tokens)
      ]
    }
  }),

  ConformanceCase.make({
    id: "expiry.no-refresh-loop",
    title: "A token refused again after a refresh is an error, not a loop",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      { source: "RFC 6750 §3.1", text: "invalid_token: retry with a new token (once)" },
      { source: "Robustness", text: "every retry has a bound" }
    ],
    setup: "The API answers 401 authorization-token-invalid to every request, whatever the token.",
    expectation: "One call: at most one refresh and one replay, then the 401 (or an error) is returned.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.simulate(
          "refusing",
          "answer 401 to every API request",
          ctx.setFault(
            "api",
            Fault.response(401, {
              body: Stubs.criteoError("authorization-token-invalid", "The authorization token is invalid")
            })
          )
        )
        yield* ctx.call("refused", { timeout: "20 seconds" })
      }),
    check: (evidence) => [
      Evidence.answeredAll(evidence, "refused", "the call is answered"),
      Evidence.check(
        "the call returns the refusal (401 or an error)",
        Evidence.isAnswered(Evidence.answer(evidence, "refused")) &&
          !Evidence.isSuccess(Evidence.answer(evidence, "refused")),
        `answered ${Evidence.describe(Evidence.answer(evidence, "refused"))}`
      ),
      Evidence.apiRequestCount(evidence, { max: 2 }, "at most 2 API requests (the request and one replay)"),
      Evidence.tokenRequestCount(evidence, { max: 2 }, "at most 2 token requests (the first token and one refresh)")
    ]
  }),

  ConformanceCase.make({
    id: "expiry.single-flight-401",
    title: "A burst of 401s for the same token makes one refresh, and late 401s do not discard the new token",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      singleFlight,
      { source: "RFC 6750 §3.1", text: "invalid_token (401): the client may request a new token and retry" },
      {
        source: "Compare-and-swap",
        text: "a 401 invalidates the token that failed, not whatever token is current (Criteo's Java SDK does this)"
      }
    ],
    setup: "After a first call, every token issued so far is refused (401), each refusal answered after a delay " +
      "spread over 0 to 1.5 s: most 401s for the old token arrive after the client already has a new one.",
    expectation: "20 concurrent calls all get a 401 for the same token: exactly one new token request (a late 401 " +
      "for the old token does not discard the new one), and all 20 replays succeed.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("first")
        yield* ctx.simulate(
          "expired",
          "refuse every token issued so far (401), answering after 0 to 1.5 s",
          refuseIssuedTokens(ctx, { lower: 0, upper: 1500 })
        )
        yield* ctx.calls("storm", 20)
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "storm", "the 20 concurrent calls succeed"),
      Evidence.tokenRequestCount(
        evidence,
        { min: 1, max: 1 },
        "exactly one new token request for 20 401s, early and late",
        Evidence.since(evidence.tokenRequests, Evidence.mark(evidence, "expired"))
      )
    ]
  }),

  ConformanceCase.make({
    id: "expiry.no-refresh-on-403",
    title: "A 403 is not an expired token: no refresh, no retry",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      {
        source: "Criteo: API errors",
        text: "403: the consent was revoked or a permission is missing; a new token does not help"
      },
      { source: "RFC 6750 §3.1", text: "insufficient_scope is 403, distinct from invalid_token (401)" }
    ],
    setup: "After a first call, the advertiser's consent is revoked: the API answers 403 consent-revoked.",
    expectation: "The next call returns the 403 (or a forbidden error) at once: no token request, one API request.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("first")
        yield* ctx.simulate("revoked", "revoke the consent (403)", ctx.revokeConsent)
        yield* ctx.call("forbidden")
      }),
    check: (evidence) => {
      const at = Evidence.mark(evidence, "revoked")
      return [
        Evidence.failedCleanly(evidence, "forbidden", "the call returns the 403 or an error"),
        Evidence.tokenRequestCount(
          evidence,
          { max: 0 },
          "no token request after the 403",
          Evidence.since(evidence.tokenRequests, at)
        ),
        Evidence.apiRequestCount(
          evidence,
          { max: 1 },
          "one API request: a 403 is not retried",
          Evidence.since(evidence.apiRequests, at)
        )
      ]
    }
  })
]
