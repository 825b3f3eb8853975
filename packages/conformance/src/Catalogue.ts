/**
 * The conformance catalogue: every case, in the order they run, and the selection of cases by id
 * pattern (`--cases`).
 *
 * @since 0.1.0
 */
import * as ConformanceCase from "./ConformanceCase.js"
import * as AuthorizationCode from "./internal/cases/authorizationCode.js"
import * as ExpiryAndRefresh from "./internal/cases/expiryAndRefresh.js"
import * as Leakage from "./internal/cases/leakage.js"
import * as OauthErrors from "./internal/cases/oauthErrors.js"
import * as RateLimits from "./internal/cases/rateLimits.js"
import * as Redirects from "./internal/cases/redirects.js"
import * as ServerErrors from "./internal/cases/serverErrors.js"
import * as Timeouts from "./internal/cases/timeouts.js"
import * as TokenRequest from "./internal/cases/tokenRequest.js"
import * as TokenResponses from "./internal/cases/tokenResponses.js"
import * as TokenReuse from "./internal/cases/tokenReuse.js"
import * as TransportFaults from "./internal/cases/transportFaults.js"

/**
 * One file per group, named after it (`internal/cases/<group in camelCase>.ts`); each case's id is written
 * literally in its file, so that grepping an id from a report finds its definition.
 */
const byGroup: Readonly<Record<ConformanceCase.Group, ReadonlyArray<ConformanceCase.ConformanceCase>>> = {
  "token request": TokenRequest.cases,
  "token reuse": TokenReuse.cases,
  "expiry and refresh": ExpiryAndRefresh.cases,
  "rate limits": RateLimits.cases,
  "server errors": ServerErrors.cases,
  "transport faults": TransportFaults.cases,
  "timeouts": Timeouts.cases,
  "token responses": TokenResponses.cases,
  "OAuth errors": OauthErrors.cases,
  "authorization code": AuthorizationCode.cases,
  "redirects": Redirects.cases,
  "leakage": Leakage.cases
}

const all: ReadonlyArray<ConformanceCase.ConformanceCase> = Object.values(byGroup).flat()

/**
 * Every case, grouped in the order of `ConformanceCase.groups`.
 *
 * @since 0.1.0
 * @category catalogue
 */
export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = ConformanceCase.groups.flatMap((group) =>
  all.filter((c) => c.group === group)
)

const duplicates = cases.map((c) => c.id).filter((id, i, ids) => ids.indexOf(id) !== i)
if (duplicates.length > 0) throw new Error(`duplicate case ids: ${duplicates.join(", ")}`)

/**
 * A pattern of case ids: an id, or a glob with `*` (`expiry.*`, `*-503`).
 *
 * @since 0.1.0
 * @category selection
 */
export const matches = (pattern: string, id: string): boolean => {
  const regex = new RegExp(
    `^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`
  )
  return regex.test(id)
}

/**
 * The cases matching any of the patterns (all when there is none), in catalogue order, and the
 * patterns that matched nothing.
 *
 * @since 0.1.0
 * @category selection
 */
export const select = (
  patterns: ReadonlyArray<string>
): { readonly cases: ReadonlyArray<ConformanceCase.ConformanceCase>; readonly unmatched: ReadonlyArray<string> } => {
  const trimmed = patterns.flatMap((p) => p.split(",")).map((p) => p.trim()).filter((p) => p.length > 0)
  if (trimmed.length === 0) return { cases, unmatched: [] }
  return {
    cases: cases.filter((c) => trimmed.some((p) => matches(p, c.id))),
    unmatched: trimmed.filter((p) => !cases.some((c) => matches(p, c.id)))
  }
}

/**
 * @since 0.1.0
 * @category catalogue
 */
export const get = (id: string): ConformanceCase.ConformanceCase | undefined => cases.find((c) => c.id === id)
