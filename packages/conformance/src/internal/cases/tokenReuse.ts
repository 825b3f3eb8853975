/** The group "token reuse": a valid token is reused, and concurrent first calls share one token request. */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Evidence from "../evidence.js"
import { criteoLifetime, singleFlight } from "./common/requirements.js"

const group = "token reuse" as const

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "reuse.cached-token",
    title: "A valid token is reused, not requested for every call",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [criteoLifetime, { source: "RFC 6749 §5.1", text: "expires_in: the lifetime of the token" }],
    setup: "The fixtures: 900 s tokens.",
    expectation: "10 calls in sequence, then 10 concurrent calls, on one token: exactly one token request.",
    run: (ctx) =>
      Effect.gen(function*() {
        for (let i = 0; i < 10; i++) yield* ctx.call("sequential")
        yield* ctx.calls("concurrent", 10)
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "sequential", "the 10 sequential calls succeed"),
      Evidence.succeeded(evidence, "concurrent", "the 10 concurrent calls succeed"),
      Evidence.tokenRequestCount(evidence, { min: 1, max: 1 }, "exactly one token request for 20 calls")
    ]
  }),

  ConformanceCase.make({
    id: "reuse.single-flight",
    title: "Concurrent first calls share one token request",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed, Evidence.apiCalled],
    requirements: [singleFlight],
    setup: "The fixtures; the client has no token yet.",
    expectation: "20 concurrent first calls make exactly one token request and all succeed.",
    run: (ctx) => Effect.asVoid(ctx.calls("burst", 20)),
    check: (evidence) => [
      Evidence.succeeded(evidence, "burst", "the 20 concurrent calls succeed"),
      Evidence.tokenRequestCount(evidence, { min: 1, max: 1 }, "exactly one token request for 20 concurrent calls")
    ]
  })
]
