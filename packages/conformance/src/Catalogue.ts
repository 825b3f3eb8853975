/**
 * The conformance catalogue: every case, in the order they run, and the selection of cases by id
 * pattern (`--cases`).
 *
 * @since 0.1.0
 */
import * as ConformanceCase from "./ConformanceCase.js"
import * as Faults from "./internal/cases/faults.js"
import * as Grants from "./internal/cases/grants.js"
import * as TokenLifecycle from "./internal/cases/tokenLifecycle.js"
import * as TokenRequest from "./internal/cases/tokenRequest.js"
import * as TokenResponse from "./internal/cases/tokenResponse.js"

const all: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ...TokenRequest.cases,
  ...TokenLifecycle.cases,
  ...Faults.cases,
  ...TokenResponse.cases,
  ...Grants.cases
]

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
