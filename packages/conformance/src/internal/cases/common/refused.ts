/** The shape shared by the cases where the token endpoint refuses the client for good. */
import * as Effect from "effect/Effect"
import type * as ConformanceCase from "../../../ConformanceCase.js"
import * as Evidence from "../../evidence.js"

/** Two calls in a row, each allowed 20 s (retries included). */
export const twoCalls = (ctx: ConformanceCase.Context) =>
  Effect.gen(function*() {
    yield* ctx.call("first", { timeout: "20 seconds" })
    yield* ctx.call("second", { timeout: "20 seconds" })
  })

/** Both calls of `twoCalls` end in an error, the token requests are within `tokens`, no API request. */
export const refusedTwice = (
  evidence: ConformanceCase.Evidence,
  tokens: ConformanceCase.Check
): ReadonlyArray<ConformanceCase.Check> => [
  Evidence.failedCleanly(evidence, "first"),
  Evidence.failedCleanly(evidence, "second"),
  tokens,
  Evidence.noApiRequest(evidence)
]
