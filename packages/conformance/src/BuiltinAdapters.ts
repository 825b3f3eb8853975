/**
 * The adapters shipped with the suite, by name: `criteo-auth` (this repository's client),
 * `naive-curl` (Criteo's sample request in a shell loop), `oauth2-client` (`@badgateway/oauth2-client`)
 * and `broken:<mode>` (a client that is right in every way but one).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** `packages/conformance/adapters`, from `src/` or `dist/`. */
const adaptersDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../adapters")

/**
 * @since 0.1.0
 * @category constants
 */
export const directory: string = adaptersDir

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

const node = quote(process.execPath)

/**
 * A mode of the deliberately broken client, and the cases meant to catch it.
 *
 * @since 0.1.0
 * @category models
 */
export interface BrokenMode {
  readonly mode: string
  readonly description: string
  /** The cases written to catch this mistake. */
  readonly catches: ReadonlyArray<string>
  /**
   * The cases this client does not claim to support (its `ready` line's capabilities): they must be `N/A`.
   *
   * @since 0.2.0
   */
  readonly notApplicable: ReadonlyArray<string>
  /**
   * Cases this client must pass (for a mode that is not a defect, e.g. a client_credentials-only client).
   *
   * @since 0.2.0
   */
  readonly passes: ReadonlyArray<string>
}

const BrokenModes = Schema.Record({
  key: Schema.String,
  value: Schema.Struct({
    description: Schema.String,
    catches: Schema.Array(Schema.String),
    notApplicable: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
    passes: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
  })
})

/**
 * The modes of `broken.mjs`, from `adapters/broken-modes.json`. `none` is the well-behaved baseline;
 * `client-credentials-only` is not a defect either: it claims only the client_credentials grant, and the
 * cases of the other grants must be `N/A` for it (`notApplicable`).
 *
 * @since 0.1.0
 * @category broken
 */
export const brokenModes: ReadonlyArray<BrokenMode> = Object.entries(
  Schema.decodeUnknownSync(BrokenModes)(
    JSON.parse(Fs.readFileSync(Path.join(adaptersDir, "broken-modes.json"), "utf8"))
  )
).map(([mode, { catches, description, notApplicable, passes }]) => ({
  mode,
  description,
  catches,
  notApplicable,
  passes
}))

/**
 * A shipped adapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Builtin {
  readonly name: string
  readonly description: string
  /** Its expected-failures file, and the section of it when the file holds several adapters. */
  readonly expected: { readonly path: string; readonly section?: string | undefined }
}

/**
 * @since 0.1.0
 * @category builtins
 */
export const builtins: ReadonlyArray<Builtin> = [
  {
    name: "criteo-auth",
    description: "this repository's client: @criteo-auth/platform's CriteoNode layer (configured from CRITEO_*) " +
      "and CriteoHttpClient, bundled with esbuild at startup",
    expected: { path: Path.join(adaptersDir, "expected", "criteo-auth.json") }
  },
  {
    name: "naive-curl",
    description: "Criteo's sample curl request, pasted in a bash loop: a token per call, no timeout",
    expected: { path: Path.join(adaptersDir, "expected", "naive-curl.json") }
  },
  {
    name: "oauth2-client",
    description: "@badgateway/oauth2-client 3.x (OAuth2Client + OAuth2Fetch), configured for client_secret_post",
    expected: { path: Path.join(adaptersDir, "expected", "oauth2-client.json") }
  },
  ...brokenModes.map((mode): Builtin => ({
    name: `broken:${mode.mode}`,
    description: mode.description,
    expected: { path: Path.join(adaptersDir, "expected", "broken.json"), section: `broken:${mode.mode}` }
  }))
]

/**
 * @since 0.1.0
 * @category builtins
 */
export const find = (name: string): Builtin | undefined => builtins.find((b) => b.name === name)

/**
 * Bundles the criteo-auth adapter (TypeScript, workspace sources) into one JavaScript file with
 * esbuild, in a temporary directory removed with the scope: it then starts in a fraction of a second.
 *
 * @since 0.1.0
 * @category builtins
 */
export const bundleCriteoAuth: Effect.Effect<string, Error, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "criteo-conformance-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const outfile = Path.join(dir, "criteo-auth.mjs")
  yield* Effect.tryPromise({
    try: async () => {
      const esbuild = await import("esbuild")
      await esbuild.build({
        entryPoints: [Path.join(adaptersDir, "criteo-auth.ts")],
        outfile,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        conditions: ["source"],
        logLevel: "silent",
        // undici `require`s node built-ins: give the ES module a require.
        banner: {
          js:
            "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
        }
      }).finally(() => esbuild.stop())
    },
    catch: (error) =>
      new Error(`cannot bundle the criteo-auth adapter: ${error instanceof Error ? error.message : String(error)}`)
  })
  return outfile
})

/**
 * The command line of a shipped adapter (the criteo-auth adapter is bundled first), or `undefined`
 * when `name` is not one.
 *
 * @since 0.1.0
 * @category builtins
 */
export const command = (name: string): Effect.Effect<string | undefined, Error, Scope.Scope> => {
  if (name === "criteo-auth") return Effect.map(bundleCriteoAuth, (file) => `exec ${node} ${quote(file)}`)
  if (name === "naive-curl") return Effect.succeed(`exec bash ${quote(Path.join(adaptersDir, "naive-curl.sh"))}`)
  if (name === "oauth2-client") {
    return Effect.succeed(`exec ${node} ${quote(Path.join(adaptersDir, "oauth2-client.mjs"))}`)
  }
  if (name.startsWith("broken:") && brokenModes.some((m) => `broken:${m.mode}` === name)) {
    return Effect.succeed(`exec ${node} ${quote(Path.join(adaptersDir, "broken.mjs"))} ${quote(name.slice(7))}`)
  }
  return Effect.succeed(undefined)
}

/**
 * How well the suite catches the broken modes in a report: for each `broken:<mode>` run, the verdict of
 * each case meant to catch it. A pair is caught when the case did not pass (FAIL or WARN by its grade).
 *
 * @since 0.1.0
 * @category broken
 */
export interface Detection {
  readonly modes: ReadonlyArray<{
    readonly mode: string
    readonly cases: ReadonlyArray<{ readonly id: string; readonly verdict: string; readonly caught: boolean }>
    readonly caught: boolean
  }>
  readonly caughtPairs: number
  readonly pairs: number
  readonly caughtModes: number
}

/**
 * @since 0.1.0
 * @category broken
 */
export const detection = (
  runs: ReadonlyArray<{
    readonly label: string
    readonly results: ReadonlyArray<{ readonly id: string; readonly verdict: string }>
  }>
): Detection | undefined => {
  const modes = runs.flatMap((run) => {
    const mode = brokenModes.find((m) => `broken:${m.mode}` === run.label)
    if (mode === undefined || mode.catches.length === 0) return []
    const cases = mode.catches.flatMap((id) => {
      const result = run.results.find((r) => r.id === id)
      return result === undefined
        ? []
        : [{ id, verdict: result.verdict, caught: result.verdict === "FAIL" || result.verdict === "WARN" }]
    })
    return cases.length === 0 ? [] : [{ mode: mode.mode, cases, caught: cases.every((c) => c.caught) }]
  })
  if (modes.length === 0) return undefined
  const pairs = modes.flatMap((m) => m.cases)
  return {
    modes,
    pairs: pairs.length,
    caughtPairs: pairs.filter((p) => p.caught).length,
    caughtModes: modes.filter((m) => m.caught).length
  }
}
