/** The group "expiry and refresh": expiry, refresh ahead and on 401, single flight on 401, no refresh on 403. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as Evidence from "../evidence.js"
import * as Stubs from "../stubs.js"
import { criteoLifetime, singleFlight } from "./common/requirements.js"

const group = "expiry and refresh" as const

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
    setup: "This client's tokens live 3 s.",
    expectation: "A call every 200 ms for 3.6 s: all succeed, and no call ever sends an expired token (no 401).",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { lifetime: 3 })
        for (let i = 0; i < 18; i++) {
          yield* ctx.call("steady")
          yield* ctx.wait(Duration.millis(200), "steady traffic")
        }
      }),
    check: (evidence) => {
      const expired = Evidence.expiredSends(evidence)
      return [
        Evidence.succeeded(evidence, "steady", "every call succeeds"),
        Evidence.check(
          "no API request carries an expired token",
          expired.length === 0,
          expired.length === 0
            ? `${Evidence.plural(evidence.apiRequests.length, "API request")}, none with an expired token`
            : `${Evidence.plural(expired.length, "API request")} sent with an expired token (answered ${
              Evidence.describeRequests(expired)
            })`
        ),
        Evidence.tokenRequestCount(evidence, { min: 2 }, "the token was renewed (at least 2 token requests)")
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
    title: "A burst of 401s for the same token makes one refresh",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [
      singleFlight,
      { source: "RFC 6750 §3.1", text: "invalid_token (401): the client may request a new token and retry" }
    ],
    setup: "After a first call, every token issued so far is refused (401).",
    expectation: "20 concurrent calls all get a 401 for the same token: exactly one new token request, and all " +
      "20 replays succeed.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("first")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.calls("storm", 20)
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "storm", "the 20 concurrent calls succeed"),
      Evidence.tokenRequestCount(
        evidence,
        { min: 1, max: 1 },
        "exactly one new token request for 20 concurrent 401s",
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
