/** The group "timeouts": an endpoint that does not answer in time. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as SimulatorError from "../../SimulatorError.js"
import * as Evidence from "../evidence.js"
import { endpointName, faultReached, requestsTo, robustness, type Target, warmUp } from "./common/faulted.js"

/** An endpoint that answers after 30 s, against a client configured with a short timeout for it. */
const slow = (options: {
  readonly id: string
  readonly target: Target
  readonly variable: string
  readonly timeout: string
  readonly setup: string
  /** What judges the client's default timeout, said plainly in the setup. */
  readonly defaults: string
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
    setup: `${options.setup} The adapter gets ${options.variable}=${options.timeout}: the client is judged with the ` +
      `kit's timeout, not its own default. ${options.defaults}`,
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

/** The bound on the client's own timeout: no request it sends waits longer for its answer. */
const defaultBoundMillis = 120_000

/** How many requests to the token endpoint this case's client sent so far (WireMock's count, on its port). */
const tokenRequestsSoFar = (ctx: ConformanceCase.Context) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(`${ctx.sim.baseUrl}/__admin/requests/count`, {
        method: "POST",
        signal,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          method: "POST",
          urlPath: "/oauth2/token",
          headers: { Host: { matches: `^[^:/]+:${new URL(ctx.baseUrl).port}$` } }
        })
      }).then((response) => response.json() as Promise<{ readonly count: number }>),
    catch: (error) => new SimulatorError.SimulatorAdminError({ operation: "count requests", detail: String(error) })
  }).pipe(
    Effect.timeoutFail({
      duration: Duration.seconds(5),
      onTimeout: () => new SimulatorError.SimulatorAdminError({ operation: "count requests", detail: "no answer" })
    }),
    Effect.map((body) => body.count)
  )

const tokenEndpointDefault = ConformanceCase.make({
  id: "timeout.token-endpoint-default",
  title: "With no timeout configured, a token endpoint that does not answer does not hang the client forever",
  group: "timeouts",
  level: "MUST",
  preconditions: [Evidence.tokenRequested],
  requirements: [
    robustness,
    {
      source: "Robustness",
      text: `every wait has a timeout, the client's own when it is given none: here ${
        defaultBoundMillis / 1000
      } s at most`
    }
  ],
  setup: "The adapter gets no CRITEO_TOKEN_TIMEOUT or CRITEO_API_TIMEOUT: the client's defaults apply. The token " +
    "endpoint answers after 150 s.",
  expectation:
    `The client gives the token request up by itself within ${
      defaultBoundMillis / 1000
    } s: the call ends in an error, or a new token request shows it gave the first up (the case ends there: a ` +
    "10 s default takes 10 s to see). A client without a timeout of its own is seen hanging for 125 s.",
  hangIsFailure: true,
  run: (ctx) =>
    Effect.gen(function*() {
      yield* ctx.simulate(
        "slow",
        "every token request answered after 150 s",
        ctx.setFault("token", Fault.latency(Duration.seconds(150)))
      )
      const gaveUp = Effect.repeat(tokenRequestsSoFar(ctx), {
        schedule: Schedule.spaced(Duration.millis(250)),
        until: (count) => count >= 2
      })
      yield* Effect.raceFirst(
        Effect.asVoid(ctx.call("slow", { timeout: Duration.millis(defaultBoundMillis + 5_000) })),
        Effect.zipRight(
          gaveUp,
          ctx.simulate("retried", "a new token request: the client gave the first up", Effect.void)
        )
      )
    }),
  check: (evidence) => {
    const answer = Evidence.answer(evidence, "slow")
    const [first, second] = evidence.tokenRequests
    const retriedAfter = first !== undefined && second !== undefined
      ? second.loggedAt.epochMillis - first.loggedAt.epochMillis
      : undefined
    const answeredIn = answer !== undefined && Evidence.isAnswered(answer) ? answer.elapsedMillis : undefined
    const within = (retriedAfter !== undefined && retriedAfter <= defaultBoundMillis) ||
      (answeredIn !== undefined && answeredIn <= defaultBoundMillis)
    return [
      Evidence.check(
        `the client gives the token request up by itself within ${defaultBoundMillis / 1000} s`,
        within,
        retriedAfter !== undefined
          ? `a new token request ${(retriedAfter / 1000).toFixed(1)} s after the first (its own timeout)`
          : answeredIn !== undefined
          ? `the call ended after ${(answeredIn / 1000).toFixed(1)} s (${Evidence.describe(answer)})`
          : `no answer and no new token request within ${(defaultBoundMillis + 5_000) / 1000} s: no timeout of its own`
      ),
      Evidence.noBogusBearer(evidence)
    ]
  }
})

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  slow({
    id: "timeout.token-endpoint",
    target: "token",
    variable: "CRITEO_TOKEN_TIMEOUT",
    timeout: "500ms",
    setup: "The token endpoint answers after 30 s.",
    defaults: "Its default is judged by timeout.token-endpoint-default.",
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
    defaults: "Its default API timeout is not judged by the catalogue (a sensible default, 60 s for criteo-auth, " +
      "would make it a minute long): a client with none passes here if its adapter passes the variable on.",
    expectation: "The call ends in an error within 15 s; once the API is fast again, the next call succeeds.",
    extraChecks: (evidence) => [
      Evidence.check(
        "at most 3 attempts for the call",
        requestsTo(evidence, "api", "slow", "cleared").length <= 3,
        Evidence.plural(requestsTo(evidence, "api", "slow", "cleared").length, "API request")
      )
    ]
  }),
  tokenEndpointDefault
]
