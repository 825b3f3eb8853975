/** The group "OAuth errors": the token endpoint refuses the client for good (RFC 6749 §5.2). */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Evidence from "../evidence.js"
import * as Stubs from "../stubs.js"
import * as Refused from "./common/refused.js"

const group = "OAuth errors" as const

const noRetry = (evidence: ConformanceCase.Evidence) =>
  Refused.refusedTwice(
    evidence,
    Evidence.tokenRequestCount(evidence, { max: 2 }, "at most 2 token requests for 2 calls (no retry)")
  )

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "oauth-error.invalid-client",
    title: "invalid_client is reported, not retried",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
    requirements: [
      { source: "RFC 6749 §5.2", text: "invalid_client (401): client authentication failed" },
      {
        source: "Criteo: Authentication",
        text: "401 invalid_client: client_id doesn't exist or the client_secret is invalid"
      }
    ],
    setup: "The adapter is given a wrong client secret: the token endpoint answers 401 invalid_client.",
    expectation: "Two calls end in an error, with at most one token request each (a wrong secret does not get " +
      "better by asking again), and no API request.",
    env: () => ({ CRITEO_CLIENT_SECRET: "not-the-secret" }),
    hangIsFailure: true,
    run: Refused.twoCalls,
    check: noRetry
  }),

  ConformanceCase.make({
    id: "oauth-error.unauthorized-client",
    title: "Other OAuth errors (unauthorized_client) are reported, not retried",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
    requirements: [{
      source: "RFC 6749 §5.2",
      text: "invalid_request, unauthorized_client, unsupported_grant_type, invalid_scope (400) are final"
    }],
    setup:
      "This client's token requests are answered 400 {\"error\": \"unauthorized_client\", \"error_description\": …}.",
    expectation: "Two calls end in an error, with at most one token request each, and no API request.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, {
          status: 400,
          body: JSON.stringify({
            error: "unauthorized_client",
            error_description: "This client is not allowed to use the client_credentials grant"
          })
        })
        yield* Refused.twoCalls(ctx)
      }),
    check: noRetry
  })
]
