/** The group "rate limits": a 429 with Criteo's x-ratelimit-* headers, from the token endpoint and the API. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as Evidence from "../evidence.js"
import { endpointName, faultReached, injectFault, requestsTo, type Target } from "./common/faulted.js"

const criteoRateLimits = {
  source: "Criteo: rate limits",
  text: "over the limit: 429 with x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (epoch seconds); " +
    "wait until x-ratelimit-reset"
}

/** 429 with x-ratelimit-reset (whole seconds) 1 to 2 s ahead. */
const rateLimit = Fault.rateLimit({ resetAfter: Duration.seconds(2) })

/** Every request to `target` gets a 429: no request before x-ratelimit-reset, at most 5. */
const backoff = (options: { readonly id: string; readonly target: Target }) => {
  const { target } = options
  const name = endpointName(target)
  return ConformanceCase.make({
    id: options.id,
    title: `A 429 from the ${name} is waited out, not hammered`,
    group: "rate limits",
    level: "MUST",
    preconditions: faultReached(target),
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
        Evidence.failedCleanly(evidence, "limited", "the call ends in the 429 or an error"),
        Evidence.check(
          `at most 5 requests to the ${name}`,
          during.length <= 5,
          Evidence.plural(during.length, "request")
        ),
        Evidence.honoursRateLimitReset(during, name),
        ...(target === "token" ? [Evidence.noApiRequest(evidence)] : [])
      ]
    }
  })
}

/** The next request to `target` gets a 429: the client waits for x-ratelimit-reset and succeeds. */
const recovers = (options: { readonly id: string; readonly target: Target }) => {
  const { target } = options
  const name = endpointName(target)
  return ConformanceCase.make({
    id: options.id,
    title: `After a 429 from the ${name}, the client waits for x-ratelimit-reset and succeeds`,
    group: "rate limits",
    level: "SHOULD",
    preconditions: faultReached(target),
    requirements: [criteoRateLimits],
    setup: `The next request to the ${name} gets 429 with x-ratelimit-reset (whole seconds) 1 to 2 s ahead; then it ` +
      "is normal.",
    expectation: "The client waits until x-ratelimit-reset, retries, and the call succeeds.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* injectFault(ctx, { target, fault: rateLimit, what: "429" }, "the next", "limited")
        yield* ctx.call("call")
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "call", "the call succeeds after the rate limit"),
      Evidence.honoursRateLimitReset(requestsTo(evidence, target, "limited"), name)
    ]
  })
}

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  backoff({ id: "rate-limit.token-backoff", target: "token" }),
  recovers({ id: "rate-limit.token-recovers", target: "token" }),
  backoff({ id: "rate-limit.api-backoff", target: "api" }),
  recovers({ id: "rate-limit.api-recovers", target: "api" })
]
