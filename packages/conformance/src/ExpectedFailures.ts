/**
 * Expected-failures files: the cases an adapter is known to fail, each with the reason, so that a team
 * can adopt the suite step by step. A listed case that fails is reported as `XFAIL` and does not fail
 * the run; a listed case that passes is reported as `XPASS`: the entry is stale and should go.
 *
 * ```json
 * {
 *   "adapter": "naive-curl",
 *   "expected": {
 *     "reuse.cached-token": "a new token for every call, as the sample does",
 *     "authorization-code.*": "client_credentials only"
 *   }
 * }
 * ```
 *
 * A file may also hold several adapters: `{ "adapters": { "<label>": { "<case>": "<reason>" } } }`.
 * Keys are case ids or globs with `*`.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Catalogue from "./Catalogue.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/conformance/ExpectedFailuresError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The file cannot be read or is not an expected-failures file.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExpectedFailuresError extends Schema.TaggedError<ExpectedFailuresError>(
  "@criteo-auth/conformance/ExpectedFailuresError"
)("ExpectedFailuresError", { path: Schema.String, detail: Schema.String }) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Cannot use the expected-failures file ${this.path}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isExpectedFailuresError = (u: unknown): u is ExpectedFailuresError => Predicate.hasProperty(u, TypeId)

const Entries = Schema.Record({ key: Schema.String, value: Schema.String })

const SingleFile = Schema.Struct({
  $comment: Schema.optional(Schema.String),
  adapter: Schema.optional(Schema.String),
  expected: Entries
})

const MultiFile = Schema.Struct({
  $comment: Schema.optional(Schema.String),
  adapters: Schema.Record({ key: Schema.String, value: Entries })
})

const File = Schema.Union(SingleFile, MultiFile)

/**
 * The expectations for one adapter: case id patterns and why each is expected to fail.
 *
 * @since 0.1.0
 * @category models
 */
export interface Expectations {
  /** Where they come from, for reports. */
  readonly source: string
  readonly entries: ReadonlyArray<{ readonly pattern: string; readonly reason: string }>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const empty: Expectations = { source: "none", entries: [] }

/**
 * The reason a case is expected to fail, if it is.
 *
 * @since 0.1.0
 * @category queries
 */
export const reasonFor = (expectations: Expectations, id: string): string | undefined =>
  expectations.entries.find((entry) => Catalogue.matches(entry.pattern, id))?.reason

/**
 * Patterns that match no case of the catalogue (a typo, or a case that was renamed).
 *
 * @since 0.1.0
 * @category queries
 */
export const unknownPatterns = (expectations: Expectations): ReadonlyArray<string> =>
  expectations.entries
    .map((entry) => entry.pattern)
    .filter((pattern) => !Catalogue.cases.some((c) => Catalogue.matches(pattern, c.id)))

/**
 * Reads a file. `adapter` picks the section of a multi-adapter file (and must match the `adapter` of a
 * single-adapter file when that names one).
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (
  path: string,
  adapter: string | undefined
): Effect.Effect<Expectations, ExpectedFailuresError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) => new ExpectedFailuresError({ path, detail: error.message }))
    )
    const file = yield* Schema.decodeUnknown(Schema.parseJson(File))(text).pipe(
      Effect.mapError((error) =>
        new ExpectedFailuresError({
          path,
          detail: `expected {"expected": {"<case id>": "<reason>"}} or {"adapters": {...}}: ${
            error.message.split("\n").slice(-1)[0]
          }`
        })
      )
    )
    if ("adapters" in file) {
      const section = adapter === undefined ? undefined : file.adapters[adapter]
      if (section === undefined) {
        return yield* new ExpectedFailuresError({
          path,
          detail: `no section for adapter "${adapter ?? "?"}" (sections: ${Object.keys(file.adapters).join(", ")})`
        })
      }
      return { source: `${path} (${adapter})`, entries: toEntries(section) }
    }
    return { source: path, entries: toEntries(file.expected) }
  })

const toEntries = (record: Readonly<Record<string, string>>) =>
  Object.entries(record).map(([pattern, reason]) => ({ pattern, reason }))
