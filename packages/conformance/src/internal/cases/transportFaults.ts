/** The group "transport faults": WireMock's network faults on the token endpoint and the API. */
import type * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import { robustness, sticky, transient } from "./common/faulted.js"

const group = "transport faults" as const

const reset = { fault: Fault.connectionReset, what: "a connection reset" }
const empty = { fault: Fault.emptyResponse, what: "an empty response (connection closed)" }
const malformed = { fault: Fault.malformedResponseChunk, what: "a 200 status line then a broken chunked body" }
const random = { fault: Fault.randomDataThenClose, what: "random bytes that are not HTTP" }

/** Every request gets the fault: a clean error after at most 6 spaced requests. */
const bounded = { group, requirements: [robustness], maxRequests: 6 }

const idempotent = {
  source: "RFC 9110 §9.2.2",
  text: "idempotent requests (a GET, and a token request, which changes nothing) can be retried automatically"
}

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  sticky({ id: "transport.token-connection-reset", target: "token", ...reset, ...bounded }),
  sticky({ id: "transport.token-empty-response", target: "token", ...empty, ...bounded }),
  sticky({ id: "transport.token-malformed-chunk", target: "token", ...malformed, ...bounded }),
  sticky({ id: "transport.token-random-data", target: "token", ...random, ...bounded }),
  transient({ id: "transport.token-reset-once", group, target: "token", ...reset, requirements: [idempotent] }),
  sticky({ id: "transport.api-connection-reset", target: "api", ...reset, ...bounded }),
  sticky({ id: "transport.api-empty-response", target: "api", ...empty, ...bounded }),
  sticky({ id: "transport.api-malformed-chunk", target: "api", ...malformed, ...bounded }),
  sticky({ id: "transport.api-random-data", target: "api", ...random, ...bounded }),
  transient({ id: "transport.api-reset-once", group, target: "api", ...reset, requirements: [idempotent] })
]
