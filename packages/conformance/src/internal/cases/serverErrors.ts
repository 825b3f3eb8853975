/** The group "server errors": a 503 from the token endpoint and the API, for good or once. */
import type * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import { robustness, sticky, transient } from "./common/faulted.js"

const group = "server errors" as const

const criteo5xx = { source: "Criteo: API errors", text: "5xx are transient: retry with exponential backoff" }

const unavailable = { fault: Fault.serverError(503), what: "503 Service Unavailable" }

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  sticky({
    id: "server-error.token-503",
    group,
    target: "token",
    ...unavailable,
    requirements: [criteo5xx, robustness],
    maxRequests: 6
  }),
  transient({ id: "server-error.token-503-once", group, target: "token", ...unavailable, requirements: [criteo5xx] }),
  sticky({
    id: "server-error.api-503",
    group,
    target: "api",
    ...unavailable,
    requirements: [criteo5xx, robustness],
    maxRequests: 6
  }),
  transient({ id: "server-error.api-503-once", group, target: "api", ...unavailable, requirements: [criteo5xx] })
]
