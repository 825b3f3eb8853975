/**
 * The settings of the command line, each declared once: the variable it overrides, its flag, its kind
 * and its help text. The `@effect/cli` options are derived from this table, and so is the
 * configuration: the flags become a `ConfigProvider` put in front of the ambient one (the
 * environment), and `CriteoConfig.config` decodes the result once, so a flag and a variable get the
 * same validation and the same messages.
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Record from "effect/Record"
import * as CriteoConfig from "../../CriteoConfig.js"
import * as Failure from "./failure.js"

const v = CriteoConfig.variables

/**
 * How a flag turns into the value of its variable:
 * - `text`: the flag's value (a URL, a duration, ...: `CriteoConfig.config` checks it like the variable);
 * - `integer`: a whole number (checked by the parser: a malformed flag must not fall back to the variable);
 * - `choice`: one of `choices`;
 * - `switch`: a boolean flag, `"true"` when present, the variable's value otherwise;
 * - `file`: the contents of the named file, trimmed (secrets are never taken as flags: flags are
 *   visible in the process list and kept in shell history); `optional-file` also accepts a file that
 *   does not exist yet, or is empty (the refresh token file, which a rotated token is written to).
 *
 * @internal
 */
export type Kind = "text" | "integer" | "choice" | "switch" | "file" | "optional-file"

/** @internal */
export interface Setting {
  readonly variable: string
  readonly flag: string
  readonly kind: Kind
  readonly choices?: ReadonlyArray<string>
  /** The name of the value in the help (`--token-url URL`). */
  readonly placeholder?: string
  /** For files: what the file holds, for messages. */
  readonly holds?: string
  readonly description: string
}

/**
 * Every setting of the command line, in the order of `--help`.
 *
 * @internal
 */
export const settings = {
  clientId: {
    variable: v.clientId,
    flag: "client-id",
    placeholder: "ID",
    kind: "text",
    description: `The OAuth client id (overrides ${v.clientId}).`
  },
  clientSecret: {
    variable: v.clientSecret,
    flag: "client-secret-file",
    placeholder: "FILE",
    kind: "file",
    holds: "client secret",
    description: `A file holding the client secret (overrides ${v.clientSecret}). The secret is never taken as a ` +
      "flag: flags are visible to other users in the process list and kept in shell history."
  },
  grantType: {
    variable: v.grantType,
    flag: "grant-type",
    kind: "choice",
    choices: Grant.grantTypes,
    description: `The OAuth grant (overrides ${v.grantType}). Inferred when not set: refresh_token with a refresh ` +
      "token, authorization_code with a code, client_credentials otherwise."
  },
  authorizationCode: {
    variable: v.authorizationCode,
    flag: "authorization-code",
    placeholder: "CODE",
    kind: "text",
    description: "The code of the consent redirect, for the authorization_code grant (overrides " +
      `${v.authorizationCode}). A code works once; keep the refresh token it yields with --refresh-token-file.`
  },
  redirectUri: {
    variable: v.redirectUri,
    flag: "redirect-uri",
    placeholder: "URI",
    kind: "text",
    description: `The redirect URI of the consent request (overrides ${v.redirectUri}).`
  },
  refreshToken: {
    variable: v.refreshToken,
    flag: "refresh-token-file",
    placeholder: "FILE",
    kind: "optional-file",
    holds: "refresh token",
    description: `A file holding the refresh token (overrides ${v.refreshToken}). Criteo rotates refresh tokens: ` +
      "each new one is written back to this file (mode 600) before it is used. With the authorization_code grant " +
      "the file receives the first refresh token."
  },
  tokenUrl: {
    variable: v.tokenUrl,
    flag: "token-url",
    placeholder: "URL",
    kind: "text",
    description: `The token endpoint (overrides ${v.tokenUrl}).`
  },
  apiUrl: {
    variable: v.apiUrl,
    flag: "api-url",
    placeholder: "URL",
    kind: "text",
    description: `The API host (overrides ${v.apiUrl}).`
  },
  apiVersion: {
    variable: v.apiVersion,
    flag: "api-version",
    placeholder: "VERSION",
    kind: "text",
    description: `The API version, YYYY-MM, preview or none (overrides ${v.apiVersion}; default ` +
      `${CriteoHttpClient.defaultApiVersion}).`
  },
  tokenTimeout: {
    variable: v.tokenTimeout,
    flag: "token-timeout",
    placeholder: "DURATION",
    kind: "text",
    description: `How long one token request may take, e.g. 10s or 1m (overrides ${v.tokenTimeout}; default 10s).`
  },
  apiTimeout: {
    variable: v.apiTimeout,
    flag: "api-timeout",
    placeholder: "DURATION",
    kind: "text",
    description: "How long one API attempt may wait for the answer, and then for its whole body, e.g. 30s (overrides " +
      `${v.apiTimeout}; default 60s).`
  },
  maxAttempts: {
    variable: v.maxAttempts,
    flag: "max-attempts",
    placeholder: "N",
    kind: "integer",
    description: "Attempts per token request and per API call, 1 to 10, when the server fails (5xx, 429) or the " +
      `network does (overrides ${v.maxAttempts}; default 4 for tokens, 3 for API calls).`
  },
  maxRateLimitWait: {
    variable: v.maxRateLimitWait,
    flag: "max-rate-limit-wait",
    placeholder: "DURATION",
    kind: "text",
    description: "The longest wait a 429 answer may impose before the next attempt; a longer demand fails at once " +
      `(overrides ${v.maxRateLimitWait}; default 60s).`
  },
  allowInsecureHttp: {
    variable: v.allowInsecureHttp,
    flag: "allow-insecure-http",
    kind: "switch",
    description: "Allow sending credentials over plain http to a host other than this machine (as " +
      `${v.allowInsecureHttp}=true).`
  }
} satisfies Record<string, Setting>

/** @internal */
export type Key = keyof typeof settings

/**
 * What the command line says about each setting: the flag's raw value (a path for the file kinds), or
 * none when the flag is absent.
 *
 * @internal
 */
export type Values = { readonly [K in Key]: Option.Option<string> }

const optionOf = (setting: Setting): Options.Options<Option.Option<string>> => {
  const named = <A>(options: Options.Options<A>) =>
    setting.placeholder === undefined ? options : Options.withPseudoName(options, setting.placeholder)
  switch (setting.kind) {
    case "text":
      return Options.text(setting.flag).pipe(named, Options.withDescription(setting.description), Options.optional)
    case "integer":
      return Options.integer(setting.flag).pipe(
        named,
        Options.withDescription(setting.description),
        Options.map(String),
        Options.optional
      )
    case "choice":
      return Options.choice(setting.flag, setting.choices ?? []).pipe(
        Options.withDescription(setting.description),
        Options.optional
      )
    case "switch":
      return Options.boolean(setting.flag).pipe(
        Options.withDescription(setting.description),
        Options.map((on) => on ? Option.some("true") : Option.none())
      )
    case "file":
    case "optional-file":
      return Options.file(setting.flag).pipe(named, Options.withDescription(setting.description), Options.optional)
  }
}

/**
 * The `@effect/cli` options of every setting, to spread into a command's config as one field.
 *
 * @internal
 */
export const options: { readonly [K in Key]: Options.Options<Option.Option<string>> } = Record.map(
  settings as Record<Key, Setting>,
  optionOf
)

/**
 * The options of every command that talks to Criteo with the configured client (`token`, `request`):
 * the settings, and the token cache's two flags.
 *
 * @internal
 */
export const common = {
  settings: options,
  noCache: Options.boolean("no-cache").pipe(
    Options.withDescription(
      "Do not read or write the token cache (encrypted files under $XDG_CACHE_HOME/criteo-auth, else " +
        "~/.cache/criteo-auth): every run then requests a new token."
    )
  ),
  account: Options.text("account").pipe(
    Options.withDescription("Act for an account connected with criteo-auth consent --account NAME."),
    Options.withPseudoName("NAME"),
    Options.optional
  )
}

const byVariable: ReadonlyMap<string, Setting> = new Map(
  Object.values(settings as Record<Key, Setting>).map((setting) => [setting.variable, setting])
)

/**
 * The flag that sets `variable`, as written on the command line (`--client-id`), for messages.
 *
 * @internal
 */
export const flagOf = (variable: string): string | undefined => {
  const setting = byVariable.get(variable)
  return setting === undefined ? undefined : `--${setting.flag}`
}

const readFile = (fs: FileSystem.FileSystem, path: string, what: string) =>
  fs.readFileString(path).pipe(
    Effect.map((text) => text.trim()),
    Effect.mapError((error) =>
      new Failure.UserError({
        code: Failure.ExitCode.Configuration,
        sentence: `Cannot read the ${what} file ${path} (${Failure.describeFileError(error)})`
      })
    )
  )

/** The value a flag gives its variable, if any (the contents of a file for the file kinds). */
const valueOf = (fs: FileSystem.FileSystem, setting: Setting, flag: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(flag)) return Option.none<string>()
    const what = setting.holds ?? setting.flag
    switch (setting.kind) {
      case "text":
      case "integer":
      case "choice":
      case "switch":
        return flag
      case "file":
        return Option.some(yield* readFile(fs, flag.value, what))
      case "optional-file": {
        // A missing file is fine: with the authorization_code grant it is where the first refresh token goes.
        const exists = yield* Effect.orElseSucceed(fs.exists(flag.value), () => false)
        if (!exists) return Option.none<string>()
        const text = yield* readFile(fs, flag.value, what)
        return text.length > 0 ? Option.some(text) : Option.none<string>()
      }
    }
  })

/**
 * The flags as a `ConfigProvider` of the variables they override.
 *
 * @internal
 */
export const provider = (values: Values): Effect.Effect<
  ConfigProvider.ConfigProvider,
  Failure.UserError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const map = new Map<string, string>()
    for (const key of Object.keys(settings) as Array<Key>) {
      const setting: Setting = settings[key]
      const value = yield* valueOf(fs, setting, values[key])
      if (Option.isSome(value)) map.set(setting.variable, value.value)
    }
    return ConfigProvider.fromMap(map)
  })

/**
 * The value of one setting: its flag's (the contents of the file for the file kinds), else its
 * variable's in the current `ConfigProvider`, else none.
 *
 * @internal
 */
export const value = (values: Values, key: Key): Effect.Effect<
  Option.Option<string>,
  Failure.UserError,
  FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const setting: Setting = settings[key]
    const flag = yield* valueOf(fs, setting, values[key])
    if (Option.isSome(flag)) return flag
    return yield* Config.option(Config.nonEmptyString(setting.variable)).pipe(
      Effect.orElseSucceed(() => Option.none<string>())
    )
  })

/**
 * The options from the flags over the current `ConfigProvider` (the environment, in the bin), decoded
 * once by `CriteoConfig.config`.
 *
 * @internal
 */
export const load = (values: Values) =>
  Effect.gen(function*() {
    const flags = yield* provider(values)
    return yield* Effect.configProviderWith((ambient) =>
      Effect.withConfigProvider(CriteoConfig.config, ConfigProvider.orElse(flags, () => ambient))
    )
  })
