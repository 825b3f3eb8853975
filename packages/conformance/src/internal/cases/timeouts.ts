/** The group "timeouts": an endpoint that does not answer in time. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as Evidence from "../evidence.js"
import { endpointName, faultReached, requestsTo, robustness, type Target, warmUp } from "./common/faulted.js"

/** An endpoint that answers after 30 s, against a client configured with a short timeout for it. */
const slow = (options: {
  readonly id: string
  readonly target: Target
  readonly variable: string
  readonly timeout: string
  readonly setup: string
  readonly expectation: string
  readonly extraChecks: (evidence: ConformanceCase.Evidence) => ReadonlyArray<ConformanceCase.Check>
}) => {
  const name = endpointName(options.target)
  return ConformanceCase.make({
    id: options.id,
    title: `${
      options.target === "token" ? "A token endpoint" : "An API"
    } that does not answer does not hang the client`,
    group: "timeouts",
    level: "MUST",
    preconditions: faultReached(options.target),
    needs: { configurableTimeouts: true },
    requirements: [
      robustness,
      {
        source: "Adapter protocol",
        text: `${options.variable} (here ${options.timeout}) is the timeout the client is configured with`
      }
    ],
    setup: `${options.setup} The adapter gets ${options.variable}=${options.timeout}.`,
    expectation: options.expectation,
    env: () => ({ [options.variable]: options.timeout }),
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* warmUp(ctx, options.target)
        yield* ctx.simulate(
          "slow",
          `every ${name} request answered after 30 s`,
          ctx.setFault(options.target, Fault.latency(Duration.seconds(30)))
        )
        const answer = yield* ctx.call("slow", { timeout: "15 seconds" })
        if (!Evidence.isAnswered(answer)) return
        yield* ctx.simulate("cleared", `the ${name} is fast again`, ctx.clearFaults)
        yield* ctx.call("after")
      }),
    check: (evidence) => [
      Evidence.failedCleanly(evidence, "slow", "the call ends in an error within 15 s"),
      ...options.extraChecks(evidence),
      Evidence.recovered(evidence)
    ]
  })
}

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  slow({
    id: "timeout.token-endpoint",
    target: "token",
    variable: "CRITEO_TOKEN_TIMEOUT",
    timeout: "500ms",
    setup: "The token endpoint answers after 30 s.",
    expectation: "The call ends in an error within 15 s (retries included); once the endpoint is fast again, the " +
      "next call succeeds.",
    extraChecks: (evidence) => [Evidence.noBogusBearer(evidence)]
  }),
  slow({
    id: "timeout.api",
    target: "api",
    variable: "CRITEO_API_TIMEOUT",
    timeout: "1s",
    setup: "After a first call, the API answers after 30 s.",
    expectation: "The call ends in an error within 15 s; once the API is fast again, the next call succeeds.",
    extraChecks: (evidence) => [
      Evidence.check(
        "at most 3 attempts for the call",
        requestsTo(evidence, "api", "slow", "cleared").length <= 3,
        Evidence.plural(requestsTo(evidence, "api", "slow", "cleared").length, "API request")
      )
    ]
  })
]
