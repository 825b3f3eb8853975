/**
 * What the fault groups share (rate limits, server errors, transport faults, timeouts): a fault set on one
 * endpoint, the requests it saw, and the two shapes of fault case — sticky (a clean error after bounded,
 * spaced retries) and transient (retried, then success).
 */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../../ConformanceCase.js"
import type * as Fault from "../../../Fault.js"
import type * as Journal from "../../../Journal.js"
import * as Evidence from "../../evidence.js"

export type Target = Fault.Target

export const endpointName = (target: Target) => (target === "token" ? "token endpoint" : "API")

export const robustness = {
  source: "Robustness",
  text: "a failure of the network or the server ends in a typed error after bounded, spaced retries: no crash, no " +
    "hang, no token made up from a broken answer"
}

/** The requests that reached `target` between two marks. */
export const requestsTo = (
  evidence: ConformanceCase.Evidence,
  target: Target,
  from: string,
  to?: string
): ReadonlyArray<Journal.TokenRequest | Journal.ApiRequest> => {
  const all: ReadonlyArray<Journal.TokenRequest | Journal.ApiRequest> = target === "token"
    ? evidence.tokenRequests
    : evidence.apiRequests
  const start = Evidence.mark(evidence, from) ?? 0
  const end = to === undefined ? undefined : Evidence.mark(evidence, to)
  return all.filter((r) => r.loggedAt.epochMillis >= start && (end === undefined || r.loggedAt.epochMillis < end))
}

export const spaced = (
  requests: ReadonlyArray<{ readonly loggedAt: { readonly epochMillis: number } }>,
  what: string
) => {
  const gaps = requests.slice(1).map((r, i) => r.loggedAt.epochMillis - requests[i].loggedAt.epochMillis)
  const shortest = gaps.length === 0 ? undefined : Math.min(...gaps)
  return Evidence.check(
    `retries of the ${what} back off (at least 100 ms apart)`,
    shortest === undefined || shortest >= 100,
    shortest === undefined ? "no retry" : `${Evidence.plural(requests.length, "request")}, shortest gap ${shortest} ms`
  )
}

/** Warms the client up when the fault is on the API, so that the fault meets a client with a token. */
export const warmUp = (ctx: ConformanceCase.Context, target: Target) =>
  target === "api" ? Effect.asVoid(ctx.call("warm-up")) : Effect.void

/**
 * What must have happened for a fault to meet the client: on the API, the warm-up call succeeded (the client
 * has a token when the fault starts); on the token endpoint, the client asked for a token.
 */
export const faultReached = (target: Target): ReadonlyArray<ConformanceCase.Precondition> =>
  target === "api"
    ? [Evidence.callSucceeded("warm-up", "the warm-up call succeeds (the client has a token when the fault starts)")]
    : [Evidence.tokenRequested]

/** A fault set on one endpoint, and what the case calls it. */
export interface FaultCase {
  readonly id: string
  readonly group: ConformanceCase.Group
  readonly target: Target
  readonly fault: Fault.Fault
  readonly what: string
  readonly requirements: ReadonlyArray<ConformanceCase.Requirement>
}

/** Warms the client up where needed, then sets the fault on every request to its endpoint, or the next one. */
export const injectFault = (
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

export const sticky = (options: FaultCase & { readonly maxRequests: number }) =>
  ConformanceCase.make({
    id: options.id,
    title: `${options.what} from the ${endpointName(options.target)}: a clean error, bounded retries`,
    group: options.group,
    level: "MUST",
    preconditions: faultReached(options.target),
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
        if (!Evidence.isAnswered(during)) return
        yield* ctx.simulate("cleared", "remove the fault", ctx.clearFaults)
        yield* ctx.call("after")
      }),
    check: (evidence) => {
      const during = requestsTo(evidence, options.target, "fault", "cleared")
      return [
        Evidence.failedCleanly(evidence, "during", "the call during the fault ends in an error or an error status"),
        Evidence.check(
          `at most ${options.maxRequests} requests to the ${endpointName(options.target)} for the call`,
          during.length <= options.maxRequests,
          `${Evidence.plural(during.length, "request")}`
        ),
        spaced(during, endpointName(options.target)),
        ...(options.target === "token"
          ? [
            Evidence.check(
              "no API request while no token could be obtained",
              requestsTo(evidence, "api", "fault", "cleared").length === 0,
              `${Evidence.plural(requestsTo(evidence, "api", "fault", "cleared").length, "API request")}`
            ),
            Evidence.noBogusBearer(evidence)
          ]
          : []),
        Evidence.recovered(evidence)
      ]
    }
  })

export const transient = (options: FaultCase) =>
  ConformanceCase.make({
    id: options.id,
    title: `${options.what} once from the ${endpointName(options.target)} is retried`,
    group: options.group,
    level: "SHOULD",
    preconditions: faultReached(options.target),
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
      Evidence.succeeded(evidence, "call", "the call succeeds despite the transient failure"),
      Evidence.check(
        `the ${endpointName(options.target)} was asked again`,
        requestsTo(evidence, options.target, "fault").length >= 2,
        `${Evidence.plural(requestsTo(evidence, options.target, "fault").length, "request")} after the fault was set`
      )
    ]
  })
