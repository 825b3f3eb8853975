/** Rate limits, server errors, transport faults and slow endpoints, on both endpoints. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import type * as Journal from "../../Journal.js"
import * as E from "../evidence.js"

type Target = Fault.Target

const endpointName = (target: Target) => (target === "token" ? "token endpoint" : "API")

const criteoRateLimits = {
  source: "Criteo: rate limits",
  text: "over the limit: 429 with x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (epoch seconds); " +
    "wait until x-ratelimit-reset"
}

/** 429 with x-ratelimit-reset (whole seconds) 1 to 2 s ahead. */
const rateLimit = Fault.rateLimit({ resetAfter: Duration.seconds(2) })

const criteo5xx = { source: "Criteo: API errors", text: "5xx are transient: retry with exponential backoff" }

const robustness = {
  source: "Robustness",
  text: "a failure of the network or the server ends in a typed error after bounded, spaced retries: no crash, no " +
    "hang, no token made up from a broken answer"
}

/** The requests that reached `target` between two marks. */
const requestsTo = (
  evidence: ConformanceCase.Evidence,
  target: Target,
  from: string,
  to?: string
): ReadonlyArray<Journal.TokenRequest | Journal.ApiRequest> => {
  const all: ReadonlyArray<Journal.TokenRequest | Journal.ApiRequest> = target === "token"
    ? evidence.tokenRequests
    : evidence.apiRequests
  const start = E.mark(evidence, from) ?? 0
  const end = to === undefined ? undefined : E.mark(evidence, to)
  return all.filter((r) => r.loggedAt.epochMillis >= start && (end === undefined || r.loggedAt.epochMillis < end))
}

const spaced = (requests: ReadonlyArray<{ readonly loggedAt: { readonly epochMillis: number } }>, what: string) => {
  const gaps = requests.slice(1).map((r, i) => r.loggedAt.epochMillis - requests[i].loggedAt.epochMillis)
  const shortest = gaps.length === 0 ? undefined : Math.min(...gaps)
  return E.check(
    `retries of the ${what} back off (at least 100 ms apart)`,
    shortest === undefined || shortest >= 100,
    shortest === undefined ? "no retry" : `${E.plural(requests.length, "request")}, shortest gap ${shortest} ms`
  )
}

/** Warms the client up when the fault is on the API, so that the fault meets a client with a token. */
const warmUp = (ctx: ConformanceCase.Context, target: Target) =>
  target === "api" ? Effect.asVoid(ctx.call("warm-up")) : Effect.void

/** A fault set on one endpoint, and what the case calls it. */
interface FaultCase {
  readonly id: string
  readonly group: ConformanceCase.Group
  readonly target: Target
  readonly fault: Fault.Fault
  readonly what: string
  readonly requirements: ReadonlyArray<ConformanceCase.Requirement>
}

/** Warms the client up where needed, then sets the fault on every request to its endpoint, or the next one. */
const injectFault = (
  ctx: ConformanceCase.Context,
  options: Pick<FaultCase, "target" | "fault" | "what">,
  which: "every" | "the next",
  mark = "fault"
) =>
  Effect.zipRight(
    warmUp(ctx, options.target),
    ctx.simulate(
      mark,
      `${options.what} on ${which} ${endpointName(options.target)} request`,
      which === "every"
        ? ctx.setFault(options.target, options.fault)
        : ctx.setFault(options.target, options.fault, { times: 1 })
    )
  )

const sticky = (options: FaultCase & { readonly maxRequests: number }) =>
  ConformanceCase.make({
    id: options.id,
    title: `${options.what} from the ${endpointName(options.target)}: a clean error, bounded retries`,
    group: options.group,
    grade: "FAIL",
    requirements: options.requirements,
    setup: `Every request to the ${endpointName(options.target)} gets ${options.what}, until the fault is removed.`,
    expectation: `The call ends in an error (or the last ${options.target === "api" ? "status" : "answer"}) after ` +
      `at most ${options.maxRequests} spaced requests, without crashing or hanging${
        options.target === "token" ? ", and never calls the API with a made-up token" : ""
      }; once the fault is gone the next call succeeds.`,
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* injectFault(ctx, options, "every")
        const during = yield* ctx.call("during", { timeout: "30 seconds" })
        if (!E.isAnswered(during)) return
        yield* ctx.simulate("cleared", "remove the fault", ctx.clearFaults)
        yield* ctx.call("after")
      }),
    check: (evidence) => {
      const during = requestsTo(evidence, options.target, "fault", "cleared")
      return [
        E.failedCleanly(evidence, "during", "the call during the fault ends in an error or an error status"),
        E.check(
          `at most ${options.maxRequests} requests to the ${endpointName(options.target)} for the call`,
          during.length <= options.maxRequests,
          `${E.plural(during.length, "request")}`
        ),
        spaced(during, endpointName(options.target)),
        ...(options.target === "token"
          ? [
            E.check(
              "no API request while no token could be obtained",
              requestsTo(evidence, "api", "fault", "cleared").length === 0,
              `${E.plural(requestsTo(evidence, "api", "fault", "cleared").length, "API request")}`
            ),
            E.noBogusBearer(evidence)
          ]
          : []),
        E.recovered(evidence)
      ]
    }
  })

const transient = (options: FaultCase) =>
  ConformanceCase.make({
    id: options.id,
    title: `${options.what} once from the ${endpointName(options.target)} is retried`,
    group: options.group,
    grade: "WARN",
    requirements: options.requirements,
    setup: `The next request to the ${
      endpointName(options.target)
    } gets ${options.what}; the ones after it are normal.`,
    expectation: "The client retries (after a short backoff) and the call succeeds.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* injectFault(ctx, options, "the next")
        yield* ctx.call("call")
      }),
    check: (evidence) => [
      E.succeeded(evidence, "call", "the call succeeds despite the transient failure"),
      E.check(
        `the ${endpointName(options.target)} was asked again`,
        requestsTo(evidence, options.target, "fault").length >= 2,
        `${E.plural(requestsTo(evidence, options.target, "fault").length, "request")} after the fault was set`
      )
    ]
  })

const networkFaults: ReadonlyArray<readonly [string, Fault.Fault, string]> = [
  ["connection-reset", Fault.connectionReset, "a connection reset"],
  ["empty-response", Fault.emptyResponse, "an empty response (connection closed)"],
  ["malformed-chunk", Fault.malformedResponseChunk, "a 200 status line then a broken chunked body"],
  ["random-data", Fault.randomDataThenClose, "random bytes that are not HTTP"]
]

const targets: ReadonlyArray<Target> = ["token", "api"]

const rateLimitCases: ReadonlyArray<ConformanceCase.ConformanceCase> = targets.flatMap((target) => {
  const name = endpointName(target)
  return [
    ConformanceCase.make({
      id: `rate-limit.${target}-backoff`,
      title: `A 429 from the ${name} is waited out, not hammered`,
      group: "rate limits",
      grade: "FAIL",
      requirements: [criteoRateLimits, { source: "RFC 6585 §4", text: "429 Too Many Requests" }],
      setup: `The ${name} answers 429 to every request, with x-ratelimit-reset (whole seconds) 1 to 2 s ahead.`,
      expectation: `No request before the x-ratelimit-reset instant of the previous 429, at most 5 in all; the call ` +
        `ends in the 429 or an error${target === "token" ? ", and the API is not called without a token" : ""}.`,
      hangIsFailure: true,
      run: (ctx) =>
        Effect.gen(function*() {
          yield* injectFault(ctx, { target, fault: rateLimit, what: "429" }, "every", "limited")
          yield* ctx.call("limited", { timeout: "30 seconds" })
        }),
      check: (evidence) => {
        const during = requestsTo(evidence, target, "limited")
        return [
          E.failedCleanly(evidence, "limited", "the call ends in the 429 or an error"),
          E.check(`at most 5 requests to the ${name}`, during.length <= 5, E.plural(during.length, "request")),
          E.honoursRateLimitReset(during, name),
          ...(target === "token" ? [E.noApiRequest(evidence)] : [])
        ]
      }
    }),
    ConformanceCase.make({
      id: `rate-limit.${target}-recovers`,
      title: `After a 429 from the ${name}, the client waits for x-ratelimit-reset and succeeds`,
      group: "rate limits",
      grade: "WARN",
      requirements: [criteoRateLimits],
      setup:
        `The next request to the ${name} gets 429 with x-ratelimit-reset (whole seconds) 1 to 2 s ahead; then it ` +
        "is normal.",
      expectation: "The client waits until x-ratelimit-reset, retries, and the call succeeds.",
      hangIsFailure: true,
      run: (ctx) =>
        Effect.gen(function*() {
          yield* injectFault(ctx, { target, fault: rateLimit, what: "429" }, "the next", "limited")
          yield* ctx.call("call")
        }),
      check: (evidence) => [
        E.succeeded(evidence, "call", "the call succeeds after the rate limit"),
        E.honoursRateLimitReset(requestsTo(evidence, target, "limited"), name)
      ]
    })
  ]
})

const serverErrorCases: ReadonlyArray<ConformanceCase.ConformanceCase> = targets.flatMap((target) => [
  sticky({
    id: `server-error.${target}-503`,
    group: "server errors",
    target,
    fault: Fault.serverError(503),
    what: "503 Service Unavailable",
    requirements: [criteo5xx, robustness],
    maxRequests: 6
  }),
  transient({
    id: `server-error.${target}-503-once`,
    group: "server errors",
    target,
    fault: Fault.serverError(503),
    what: "503 Service Unavailable",
    requirements: [criteo5xx]
  })
])

const transportCases: ReadonlyArray<ConformanceCase.ConformanceCase> = targets.flatMap((target) => [
  ...networkFaults.map(([name, fault, what]) =>
    sticky({
      id: `transport.${target}-${name}`,
      group: "transport faults",
      target,
      fault,
      what,
      requirements: [robustness],
      maxRequests: 6
    })
  ),
  transient({
    id: `transport.${target}-reset-once`,
    group: "transport faults",
    target,
    fault: Fault.connectionReset,
    what: "a connection reset",
    requirements: [{
      source: "RFC 9110 §9.2.2",
      text: "idempotent requests (a GET, and a token request, which changes nothing) can be retried automatically"
    }]
  })
])

/** An endpoint that answers after 30 s, against a client configured with a short timeout for it. */
const slow = (options: {
  readonly target: Target
  readonly variable: string
  readonly timeout: string
  readonly setup: string
  readonly expectation: string
  readonly extraChecks: (evidence: ConformanceCase.Evidence) => ReadonlyArray<ConformanceCase.Check>
}) => {
  const name = endpointName(options.target)
  return ConformanceCase.make({
    id: options.target === "token" ? "timeout.token-endpoint" : "timeout.api",
    title: `${
      options.target === "token" ? "A token endpoint" : "An API"
    } that does not answer does not hang the client`,
    group: "timeouts",
    grade: "FAIL",
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
        if (!E.isAnswered(answer)) return
        yield* ctx.simulate("cleared", `the ${name} is fast again`, ctx.clearFaults)
        yield* ctx.call("after")
      }),
    check: (evidence) => [
      E.failedCleanly(evidence, "slow", "the call ends in an error within 15 s"),
      ...options.extraChecks(evidence),
      E.recovered(evidence)
    ]
  })
}

const timeoutCases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  slow({
    target: "token",
    variable: "CRITEO_TOKEN_TIMEOUT",
    timeout: "500ms",
    setup: "The token endpoint answers after 30 s.",
    expectation: "The call ends in an error within 15 s (retries included); once the endpoint is fast again, the " +
      "next call succeeds.",
    extraChecks: (evidence) => [E.noBogusBearer(evidence)]
  }),
  slow({
    target: "api",
    variable: "CRITEO_API_TIMEOUT",
    timeout: "1s",
    setup: "After a first call, the API answers after 30 s.",
    expectation: "The call ends in an error within 15 s; once the API is fast again, the next call succeeds.",
    extraChecks: (evidence) => [
      E.check(
        "at most 3 attempts for the call",
        requestsTo(evidence, "api", "slow", "cleared").length <= 3,
        E.plural(requestsTo(evidence, "api", "slow", "cleared").length, "API request")
      )
    ]
  })
]

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ...rateLimitCases,
  ...serverErrorCases,
  ...transportCases,
  ...timeoutCases
]
