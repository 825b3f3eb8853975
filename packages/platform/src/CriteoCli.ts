/**
 * The `criteo-auth` command-line tool: `criteo-auth token` obtains a token with the configured
 * credentials, `criteo-auth request METHOD PATH` makes an authenticated API call. Settings come from
 * the `CRITEO_*` environment variables (see `CriteoConfig`), and flags override them.
 *
 * Expected failures print one sentence on stderr and end with the exit code of their category (see
 * `ExitCode`). Nothing printed contains the client secret, the authorization code, a refresh token or
 * the access token, except the access token itself with `token --raw` or `token --json`, which ask
 * for it.
 *
 * @since 0.1.0
 */
import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Path from "@effect/platform/Path"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import { text as readAll } from "node:stream/consumers"
import * as CriteoConfig from "./CriteoConfig.js"
import type * as CriteoLayer from "./CriteoLayer.js"
import * as CriteoNode from "./CriteoNode.js"

// -----------------------------------------------------------------------------
// exit codes
// -----------------------------------------------------------------------------

/**
 * The exit code of each outcome. Every expected failure has its own code, so scripts can tell a
 * revoked consent (5, 6) from a rate limit (8) or an outage (9) without parsing messages.
 *
 * | code | outcome |
 * | --- | --- |
 * | 0 | success |
 * | 1 | unexpected error (a bug: please report it) |
 * | 2 | usage: unknown command or flag, bad argument, invalid `--data` |
 * | 3 | configuration: missing or malformed variable or flag, refused http URL, unreadable file |
 * | 4 | invalid credentials: `invalid_client` (wrong client id or secret) |
 * | 5 | grant refused: `invalid_grant` (code or refresh token invalid, expired, used; consent withdrawn) |
 * | 6 | forbidden: the API answered 403 (consent revoked or permission missing) |
 * | 7 | unauthorized: the API answered 401 even with a fresh token |
 * | 8 | rate limited: 429 from the token endpoint or the API |
 * | 9 | unavailable: 5xx from the token endpoint or the API, after retries |
 * | 10 | network: connection refused or reset, DNS or TLS failure, timeout |
 * | 11 | token request rejected for another reason (`unauthorized_client`, ...) or unusable token response |
 * | 12 | the API answered another 4xx (the body is printed) |
 * | 130 | interrupted (Ctrl-C) |
 *
 * @since 0.1.0
 * @category exit codes
 */
export const ExitCode = {
  Success: 0,
  Unexpected: 1,
  Usage: 2,
  Configuration: 3,
  InvalidCredentials: 4,
  GrantRefused: 5,
  Forbidden: 6,
  Unauthorized: 7,
  RateLimited: 8,
  Unavailable: 9,
  Network: 10,
  TokenRequestRejected: 11,
  ApiError: 12,
  Interrupted: 130
} as const

/**
 * @since 0.1.0
 * @category exit codes
 */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/** An expected failure of the tool itself, already phrased for the user. */
class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly code: ExitCode
  readonly sentence: string
}> {}

/** A command line that parses but makes no sense (`--raw --json`, invalid `--data`), caught before any request. */
class CriteoUsage extends Data.TaggedError("CriteoUsage")<{ readonly sentence: string }> {}

// -----------------------------------------------------------------------------
// output: everything printed goes through here, with the known secrets scrubbed out
// -----------------------------------------------------------------------------

interface Printer {
  /** Prints a line on stdout, known secrets replaced by `<redacted>`. */
  readonly out: (text: string) => Effect.Effect<void>
  /** Prints a line on stderr, known secrets replaced by `<redacted>`. */
  readonly err: (text: string) => Effect.Effect<void>
  /** Prints a line on stdout as it is: only for the access token the user asked for. */
  readonly reveal: (text: string) => Effect.Effect<void>
  /** Adds a value to scrub from all later output. */
  readonly hide: (value: string) => Effect.Effect<void>
}

const Printer = Context.GenericTag<Printer>("@criteo-auth/platform/CriteoCli/Printer")

interface Scrubber {
  readonly scrub: (text: string) => string
  readonly add: (value: string) => void
}

const makeScrubber = (): Scrubber => {
  const secrets: Array<string> = []
  return {
    scrub: (text) => secrets.reduce((acc, value) => acc.split(value).join("<redacted>"), text),
    add: (value) => {
      if (value.length >= 4 && !secrets.includes(value)) secrets.push(value)
    }
  }
}

const makePrinter = (scrubber: Scrubber): Printer => ({
  out: (text) => Effect.suspend(() => Console.log(scrubber.scrub(text))),
  err: (text) => Effect.suspend(() => Console.error(scrubber.scrub(text))),
  reveal: (text) => Console.log(text),
  hide: (value) => Effect.sync(() => scrubber.add(value))
})

// -----------------------------------------------------------------------------
// configuration: flags over the environment
// -----------------------------------------------------------------------------

const v = CriteoConfig.variables

/** The flag that overrides each variable, for messages. */
const flagOf: Record<string, string> = {
  [v.clientId]: "--client-id",
  [v.clientSecret]: "--client-secret-file",
  [v.grantType]: "--grant-type",
  [v.authorizationCode]: "--authorization-code",
  [v.redirectUri]: "--redirect-uri",
  [v.refreshToken]: "--refresh-token-file",
  [v.tokenUrl]: "--token-url",
  [v.apiUrl]: "--api-url",
  [v.apiVersion]: "--api-version",
  [v.allowInsecureHttp]: "--allow-insecure-http"
}

const connectionOptions = {
  clientId: Options.text("client-id").pipe(
    Options.withDescription(`The OAuth client id (overrides ${v.clientId}).`),
    Options.optional
  ),
  clientSecretFile: Options.file("client-secret-file").pipe(
    Options.withDescription(
      `A file holding the client secret (overrides ${v.clientSecret}). The secret is never taken as a flag: ` +
        "flags are visible to other users in the process list and kept in shell history."
    ),
    Options.optional
  ),
  grantType: Options.choice("grant-type", ["client_credentials", "authorization_code", "refresh_token"]).pipe(
    Options.withDescription(
      `The OAuth grant (overrides ${v.grantType}). Inferred when not set: refresh_token with a refresh token, ` +
        "authorization_code with a code, client_credentials otherwise."
    ),
    Options.optional
  ),
  authorizationCode: Options.text("authorization-code").pipe(
    Options.withDescription(
      `The code of the consent redirect, for the authorization_code grant (overrides ${v.authorizationCode}). ` +
        "A code works once; keep the refresh token it yields with --refresh-token-file."
    ),
    Options.optional
  ),
  redirectUri: Options.text("redirect-uri").pipe(
    Options.withDescription(`The redirect URI of the consent request (overrides ${v.redirectUri}).`),
    Options.optional
  ),
  refreshTokenFile: Options.file("refresh-token-file").pipe(
    Options.withDescription(
      `A file holding the refresh token (overrides ${v.refreshToken}). Criteo rotates refresh tokens: each new ` +
        "one is written back to this file (mode 600) before it is used. With the authorization_code grant the " +
        "file receives the first refresh token."
    ),
    Options.optional
  ),
  tokenUrl: Options.text("token-url").pipe(
    Options.withDescription(`The token endpoint (overrides ${v.tokenUrl}).`),
    Options.optional
  ),
  apiUrl: Options.text("api-url").pipe(
    Options.withDescription(`The API host (overrides ${v.apiUrl}).`),
    Options.optional
  ),
  apiVersion: Options.text("api-version").pipe(
    Options.withDescription(
      `The API version, YYYY-MM, preview or none (overrides ${v.apiVersion}; default ${CriteoHttpClient.defaultApiVersion}).`
    ),
    Options.optional
  ),
  allowInsecureHttp: Options.boolean("allow-insecure-http").pipe(
    Options.withDescription(
      `Allow sending credentials over plain http to a host other than this machine (as ${v.allowInsecureHttp}=true).`
    )
  )
}

interface ConnectionArgs {
  readonly clientId: Option.Option<string>
  readonly clientSecretFile: Option.Option<string>
  readonly grantType: Option.Option<Grant.GrantType>
  readonly authorizationCode: Option.Option<string>
  readonly redirectUri: Option.Option<string>
  readonly refreshTokenFile: Option.Option<string>
  readonly tokenUrl: Option.Option<string>
  readonly apiUrl: Option.Option<string>
  readonly apiVersion: Option.Option<string>
  readonly allowInsecureHttp: boolean
}

const describeFileError = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "reason" in error && typeof error.reason === "string") {
    switch (error.reason) {
      case "NotFound":
        return "no such file"
      case "PermissionDenied":
        return "permission denied"
      default:
        return error.reason
    }
  }
  return "unreadable"
}

const readSecretFile = (fs: FileSystem.FileSystem, path: string, what: string) =>
  fs.readFileString(path).pipe(
    Effect.map((text) => text.trim()),
    Effect.mapError((error) =>
      new CliFailure({
        code: ExitCode.Configuration,
        sentence: `Cannot read the ${what} file ${path} (${describeFileError(error)})`
      })
    )
  )

/** The values the flags set, as the variables they override. */
const flagValues = (args: ConnectionArgs) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const values = new Map<string, string>()
    const set = (name: string, value: Option.Option<string>) => {
      if (Option.isSome(value)) values.set(name, value.value)
    }
    set(v.clientId, args.clientId)
    set(v.grantType, args.grantType)
    set(v.authorizationCode, args.authorizationCode)
    set(v.redirectUri, args.redirectUri)
    set(v.tokenUrl, args.tokenUrl)
    set(v.apiUrl, args.apiUrl)
    set(v.apiVersion, args.apiVersion)
    if (args.allowInsecureHttp) values.set(v.allowInsecureHttp, "true")
    if (Option.isSome(args.clientSecretFile)) {
      values.set(v.clientSecret, yield* readSecretFile(fs, args.clientSecretFile.value, "client secret"))
    }
    if (Option.isSome(args.refreshTokenFile)) {
      const path = args.refreshTokenFile.value
      // A missing file is fine: with the authorization_code grant it is where the first refresh token goes.
      const exists = yield* Effect.orElseSucceed(fs.exists(path), () => false)
      if (exists) {
        const token = yield* readSecretFile(fs, path, "refresh token")
        if (token.length > 0) values.set(v.refreshToken, token)
      }
    }
    return values
  })

/**
 * The options from the current `ConfigProvider` (the environment, in the bin) with the flags on top.
 * The raw values are merged first and decoded once, so a flag and a variable get the same validation
 * and the same messages.
 */
const loadOptions = (args: ConnectionArgs) =>
  Effect.gen(function*() {
    const flags = yield* flagValues(args)
    const merged = new Map<string, string>()
    for (const name of Object.values(v)) {
      const ambient = yield* Config.option(Config.string(name))
      if (Option.isSome(ambient)) merged.set(name, ambient.value)
    }
    for (const [name, value] of flags) merged.set(name, value)
    return yield* Effect.withConfigProvider(CriteoConfig.config, ConfigProvider.fromMap(merged))
  })

// -----------------------------------------------------------------------------
// sessions: the client layer, with refresh-token rotation written back
// -----------------------------------------------------------------------------

interface Rotation {
  readonly fingerprint: string
  readonly savedTo: Option.Option<string>
  readonly failure: Option.Option<string>
}

interface Session {
  readonly options: CriteoConfig.Options
  readonly layer: Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError>
  /** Fails if a rotated refresh token could not be saved; warns if it was not saved at all. */
  readonly checkRotation: Effect.Effect<Option.Option<Rotation>, CliFailure>
}

const writeSecretFile = (fs: FileSystem.FileSystem, path: Path.Path, file: string, value: string) =>
  Effect.gen(function*() {
    const suffix = yield* Random.nextIntBetween(100_000, 999_999)
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${suffix}.tmp`)
    yield* fs.writeFileString(temporary, `${value}\n`, { mode: 0o600 }).pipe(
      Effect.zipRight(fs.rename(temporary, file)),
      Effect.tapError(() => Effect.ignore(fs.remove(temporary)))
    )
  })

const connect = (args: ConnectionArgs) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const options = yield* loadOptions(args)
    yield* Effect.forEach(Grant.secrets(options.grant), (secret) => printer.hide(Redacted.value(secret)))
    const rotation = yield* Ref.make(Option.none<Rotation>())
    const keepsRefreshTokens = options.grant._tag !== "ClientCredentials"

    const onRefreshToken = (refreshToken: Redacted.Redacted<string>, token: AccessToken.AccessToken) =>
      Effect.gen(function*() {
        yield* printer.hide(Redacted.value(refreshToken))
        yield* printer.hide(Redacted.value(token.value))
        if (!keepsRefreshTokens) return
        const fingerprint = AccessToken.fingerprint(refreshToken)
        const outcome: Rotation = yield* Option.match(args.refreshTokenFile, {
          onNone: () => Effect.succeed({ fingerprint, savedTo: Option.none(), failure: Option.none() }),
          onSome: (file) =>
            writeSecretFile(fs, path, file, Redacted.value(refreshToken)).pipe(
              Effect.as<Rotation>({ fingerprint, savedTo: Option.some(file), failure: Option.none() }),
              Effect.catchAll((error) =>
                Effect.succeed<Rotation>({
                  fingerprint,
                  savedTo: Option.none(),
                  failure: Option.some(`${file} (${describeFileError(error)})`)
                })
              )
            )
        })
        yield* Ref.set(rotation, Option.some(outcome))
      })

    const checkRotation = Effect.flatMap(Ref.get(rotation), (current): Effect.Effect<
      Option.Option<Rotation>,
      CliFailure
    > => {
      if (Option.isNone(current)) return Effect.succeed(current)
      const { failure, fingerprint, savedTo } = current.value
      if (Option.isSome(failure)) {
        return Effect.fail(
          new CliFailure({
            code: ExitCode.Configuration,
            sentence:
              `Criteo issued a new refresh token (${fingerprint}) but it could not be saved to ${failure.value}; ` +
              "the previous refresh token may no longer work"
          })
        )
      }
      if (Option.isNone(savedTo)) {
        return Effect.as(
          printer.err(
            `criteo-auth: warning: Criteo issued a new refresh token (${fingerprint}) that was not saved, and the ` +
              "previous one may no longer work: pass --refresh-token-file PATH to keep it."
          ),
          current
        )
      }
      return Effect.succeed(current)
    })

    return {
      options,
      layer: CriteoNode.layer({ ...options, onRefreshToken }),
      checkRotation
    } satisfies Session
  })

// -----------------------------------------------------------------------------
// criteo-auth token
// -----------------------------------------------------------------------------

const seconds = (duration: Duration.Duration) => Math.round(Duration.toSeconds(duration))

const tokenCommand = Command.make(
  "token",
  {
    ...connectionOptions,
    raw: Options.boolean("raw").pipe(
      Options.withDescription("Print only the access token, e.g. for curl -H \"Authorization: Bearer $(...)\".")
    ),
    json: Options.boolean("json").pipe(
      Options.withDescription("Print a JSON object, access token included.")
    )
  },
  (args) =>
    Effect.gen(function*() {
      if (args.raw && args.json) {
        return yield* new CriteoUsage({ sentence: "--raw and --json cannot be used together" })
      }
      const printer = yield* Printer
      const session = yield* connect(args)
      const token = yield* Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token).pipe(
        Effect.provide(session.layer)
      )
      yield* printer.hide(Redacted.value(token.value))
      const rotation = yield* session.checkRotation
      const grantType = session.options.grant.grantType
      const clientId = session.options.grant.clientId
      if (args.raw) {
        return yield* printer.reveal(Redacted.value(token.value))
      }
      if (args.json) {
        return yield* printer.reveal(JSON.stringify(
          {
            access_token: Redacted.value(token.value),
            token_type: token.tokenType,
            expires_in: seconds(token.expiresIn),
            issued_at: DateTime.formatIso(token.issuedAt),
            expires_at: DateTime.formatIso(token.expiresAt),
            fingerprint: token.fingerprint,
            client_id: clientId,
            grant_type: grantType,
            refresh_token_fingerprint: Option.match(rotation, { onNone: () => null, onSome: (r) => r.fingerprint }),
            refresh_token_file: Option.match(rotation, {
              onNone: () => null,
              onSome: (r) => Option.getOrNull(r.savedTo)
            })
          },
          null,
          2
        ))
      }
      const rows: Array<readonly [string, string]> = [
        ["Token type", token.tokenType],
        ["Lifetime", `${Duration.format(token.expiresIn)} (${seconds(token.expiresIn)} s)`],
        ["Expires at", DateTime.formatIso(token.expiresAt)],
        ["Fingerprint", token.fingerprint],
        ["Client id", clientId],
        ["Grant type", grantType]
      ]
      if (Option.isSome(rotation)) {
        rows.push([
          "Refresh token",
          Option.match(rotation.value.savedTo, {
            onNone: () => `${rotation.value.fingerprint} (not saved)`,
            onSome: (file) => `${rotation.value.fingerprint}, saved to ${file}`
          })
        ])
      }
      const width = Math.max(...rows.map(([label]) => label.length)) + 2
      yield* printer.out(rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join("\n"))
    })
).pipe(
  Command.withDescription(
    "Obtain an access token with the configured credentials and print its type, lifetime, expiry instant and " +
      "fingerprint (never the token itself, unless --raw or --json)."
  )
)

// -----------------------------------------------------------------------------
// criteo-auth request METHOD PATH
// -----------------------------------------------------------------------------

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const
type Method = typeof methods[number]

const methodArg = Args.text({ name: "METHOD" }).pipe(
  Args.withDescription(`The HTTP method: ${methods.join(", ")}.`),
  Args.mapEffect((input) => {
    const method = input.toUpperCase()
    return (methods as ReadonlyArray<string>).includes(method)
      ? Effect.succeed(method as Method)
      : Effect.fail(HelpDoc.p(`Unknown HTTP method "${input}": use one of ${methods.join(", ")}`))
  })
)

const pathArg = Args.text({ name: "PATH" }).pipe(
  Args.withDescription(
    "The path under the API version, e.g. /advertisers/me (a query string may follow). The host and the " +
      "version come from --api-url and --api-version."
  ),
  Args.mapEffect((input) =>
    /^[a-z][a-z0-9+.-]*:/i.test(input)
      ? Effect.fail(HelpDoc.p(`PATH must be a path such as /advertisers/me, not a URL: the host comes from --api-url`))
      : Effect.succeed(input.startsWith("/") ? input : `/${input}`)
  )
)

const readData = (data: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(data)) return Option.none<string>()
    const fs = yield* FileSystem.FileSystem
    const input = data.value
    const text = input === "@-"
      ? yield* Effect.tryPromise({
        try: () => readAll(process.stdin),
        catch: () => new CriteoUsage({ sentence: "Cannot read --data from standard input" })
      })
      : input.startsWith("@")
      ? yield* fs.readFileString(input.slice(1)).pipe(
        Effect.mapError((error) =>
          new CriteoUsage({ sentence: `Cannot read the --data file ${input.slice(1)} (${describeFileError(error)})` })
        )
      )
      : input
    return yield* Either.try({
      try: () => Option.some(JSON.stringify(JSON.parse(text))),
      catch: (error) =>
        new CriteoUsage({
          sentence: `--data is not valid JSON (${error instanceof Error ? error.message.slice(0, 120) : "parse error"})`
        })
    })
  })

const reasonPhrase = (status: number) => Http.STATUS_CODES[status] ?? ""

const statusLine = (response: HttpClientResponse.HttpClientResponse) =>
  `HTTP ${response.status} ${reasonPhrase(response.status)}`.trim()

const CriteoErrors = Schema.Struct({
  errors: Schema.NonEmptyArray(Schema.Struct({
    code: Schema.optional(Schema.String),
    title: Schema.optional(Schema.String)
  }))
})

const decodeCriteoErrors = Schema.decodeUnknownOption(Schema.parseJson(CriteoErrors))

/** Criteo's own error code and title from an error body, when there is one. */
const errorSummary = (body: string): string =>
  Option.match(decodeCriteoErrors(body), {
    onNone: () => "",
    onSome: ({ errors: [first] }) => {
      const parts = [first.code, first.title === undefined ? undefined : JSON.stringify(first.title.slice(0, 120))]
        .filter((part) => part !== undefined)
      return parts.length === 0 ? "" : ` (${parts.join(": ")})`
    }
  })

const rateLimitWait = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(DateTime.now, (now) => {
    const reset = Number(response.headers["x-ratelimit-reset"])
    if (!Number.isFinite(reset) || reset <= 0) return Option.none<Duration.Duration>()
    const waitMillis = reset >= 1_000_000_000 ? reset * 1000 - DateTime.toEpochMillis(now) : reset * 1000
    return Option.some(Duration.millis(Math.max(0, Math.ceil(waitMillis / 1000) * 1000)))
  })

const statusFailure = (response: HttpClientResponse.HttpClientResponse, body: string) =>
  Effect.gen(function*() {
    const target = `${response.request.method} ${response.request.url}`
    if (response.status === 429) {
      const wait = yield* rateLimitWait(response)
      const limit = response.headers["x-ratelimit-limit"]
      return new CliFailure({
        code: ExitCode.RateLimited,
        sentence: `Criteo rate-limited ${target} (HTTP 429${limit === undefined ? "" : `, limit ${limit}`}): ${
          Option.match(wait, {
            onNone: () => "the server did not say when to retry",
            onSome: (duration) => `retry in ${Duration.format(duration)}`
          })
        }`
      })
    }
    if (response.status >= 500) {
      return new CliFailure({
        code: ExitCode.Unavailable,
        sentence: `The Criteo API is unavailable: it answered ${statusLine(response)} to ${target}${errorSummary(body)}`
      })
    }
    return new CliFailure({
      code: ExitCode.ApiError,
      sentence: `Criteo answered ${statusLine(response)} to ${target}${errorSummary(body)}`
    })
  })

const prettyBody = (body: string): string =>
  Either.match(Either.try(() => JSON.parse(body) as unknown), {
    onLeft: () => body,
    onRight: (json) => JSON.stringify(json, null, 2)
  })

const requestCommand = Command.make(
  "request",
  {
    ...connectionOptions,
    method: methodArg,
    path: pathArg,
    data: Options.text("data").pipe(
      Options.withDescription("A JSON body: inline, @FILE to read a file, or @- to read standard input."),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const printer = yield* Printer
      const data = yield* readData(args.data)
      if (Option.isSome(data) && (args.method === "GET" || args.method === "HEAD")) {
        return yield* new CriteoUsage({ sentence: `--data cannot be sent with ${args.method}` })
      }
      const session = yield* connect(args)
      const request = HttpClientRequest.make(args.method)(args.path).pipe(
        (request) => Option.isSome(data) ? HttpClientRequest.bodyText(request, data.value, "application/json") : request
      )
      const [response, body] = yield* Effect.gen(function*() {
        const client = yield* CriteoHttpClient.CriteoHttpClient
        const response = yield* client.execute(request)
        const body = yield* response.text
        const token = yield* Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token)
        yield* printer.hide(Redacted.value(token.value))
        return [response, body] as const
      }).pipe(Effect.provide(session.layer))
      yield* session.checkRotation
      const ok = response.status < 400
      if (ok) yield* printer.err(statusLine(response))
      if (body.length > 0) yield* printer.out(prettyBody(body))
      if (!ok) return yield* Effect.flatMap(statusFailure(response, body), Effect.fail)
    })
).pipe(
  Command.withDescription(
    "Make an authenticated call to the Criteo API: the bearer token is obtained and renewed on a 401 as needed. " +
      "The status goes to stderr and the pretty-printed JSON body to stdout."
  )
)

// -----------------------------------------------------------------------------
// the tool
// -----------------------------------------------------------------------------

const rootCommand = Command.make(
  "criteo-auth",
  {},
  () =>
    new CriteoUsage({
      sentence: "Missing command: use criteo-auth token or criteo-auth request METHOD PATH (see criteo-auth --help)"
    })
).pipe(
  Command.withDescription(
    "Obtain Criteo API access tokens and make authenticated calls. Settings come from the CRITEO_* environment " +
      "variables; flags override them."
  ),
  Command.withSubcommands([tokenCommand, requestCommand])
)

const PackageJson = Schema.parseJson(Schema.Struct({ version: Schema.String }))

/** The version of this package, from its package.json (`../package.json` from both src and dist). */
const version = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const file = yield* path.fromFileUrl(new URL("../package.json", import.meta.url))
  const text = yield* fs.readFileString(file)
  return (yield* Schema.decodeUnknown(PackageJson)(text)).version
}).pipe(Effect.orElseSucceed(() => "unknown"))

// -----------------------------------------------------------------------------
// failures: one sentence and an exit code
// -----------------------------------------------------------------------------

interface Issue {
  readonly kind: "missing" | "invalid"
  readonly name: string
  readonly message: string
}

const issuesOf = (error: ConfigError.ConfigError): ReadonlyArray<Issue> =>
  ConfigError.reduceWithContext<undefined, ReadonlyArray<Issue>>(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }],
    missingDataCase: (_, path, message) => [{ kind: "missing", name: path.join("."), message }],
    sourceUnavailableCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }],
    unsupportedCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }]
  })

const variableWithFlag = (name: string) => flagOf[name] === undefined ? name : `${name} (or ${flagOf[name]})`

const stripPeriod = (text: string) => text.replace(/\.+$/, "")

/**
 * A `ConfigError` as one sentence naming every variable at fault, with the flag that sets it.
 *
 * @since 0.1.0
 * @category failures
 */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const seen = new Set<string>()
  const parts: Array<string> = []
  for (const issue of issuesOf(error)) {
    const key = `${issue.kind}:${issue.name}`
    if (seen.has(key)) continue
    seen.add(key)
    // Effect replaces the messages about a redacted value with "<redacted>": there is nothing to add then.
    const hidden = issue.message === "<redacted>"
    if (issue.kind === "missing") {
      const detail = hidden || issue.message.startsWith("Expected ") ? "" : `: ${stripPeriod(issue.message)}`
      parts.push(`${variableWithFlag(issue.name)} is not set${detail}`)
    } else {
      const detail = hidden ? " (the value is secret and not shown: is it empty?)" : `: ${stripPeriod(issue.message)}`
      parts.push(`${variableWithFlag(issue.name)} is invalid${detail}`)
    }
  }
  return `Invalid configuration: ${parts.join("; ")}`
}

const describeTransport = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause
  const details: Array<string> = []
  if (error.description !== undefined) details.push(error.description)
  if (typeof cause === "object" && cause !== null) {
    const message = (cause as { message?: unknown }).message
    if (typeof message === "string" && message.length > 0) details.push(message)
    const code = (cause as { code?: unknown }).code ?? (cause as { cause?: { code?: unknown } }).cause?.code
    if (typeof code === "string" && !details.some((detail) => detail.includes(code))) details.push(code)
  }
  return details.length === 0 ? error.reason : details.join(": ").slice(0, 300)
}

const classify = (error: unknown): readonly [ExitCode, string] => {
  if (error instanceof CliFailure) return [error.code, error.sentence]
  if (error instanceof CriteoUsage) return [ExitCode.Usage, error.sentence]
  if (ConfigError.isConfigError(error)) return [ExitCode.Configuration, describeConfigError(error)]
  if (CriteoConfig.isUrlError(error)) return [ExitCode.Configuration, error.message]
  if (CriteoAuthError.isCriteoAuthError(error)) {
    switch (error._tag) {
      case "InvalidClientError":
        return [ExitCode.InvalidCredentials, error.message]
      case "InvalidGrantError":
        return [ExitCode.GrantRefused, error.message]
      case "ForbiddenError":
        return [ExitCode.Forbidden, error.message]
      case "UnauthorizedError":
        return [ExitCode.Unauthorized, error.message]
      case "RateLimitedError":
        return [ExitCode.RateLimited, error.message]
      case "TokenEndpointUnavailableError":
        return [ExitCode.Unavailable, error.message]
      case "TransportError":
        return [ExitCode.Network, error.message]
      case "TokenRequestRejectedError":
      case "MalformedTokenResponseError":
        return [ExitCode.TokenRequestRejected, error.message]
    }
  }
  if (HttpClientError.isHttpClientError(error)) {
    const target = `${error.request.method} ${error.request.url}`
    return error._tag === "RequestError"
      ? [ExitCode.Network, `Could not reach the Criteo API (${target}): ${describeTransport(error)}`]
      : [ExitCode.Network, `Could not read the answer of the Criteo API (${target}): ${describeTransport(error)}`]
  }
  return [ExitCode.Unexpected, `Unexpected error: ${String(error)}`]
}

const report = (printer: Printer, cause: Cause.Cause<unknown>): Effect.Effect<ExitCode> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.succeed(ExitCode.Interrupted)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    // @effect/cli has already printed what was wrong with the command line, with the usage.
    if (ValidationError.isValidationError(failure.value)) return Effect.succeed(ExitCode.Usage)
    const [code, sentence] = classify(failure.value)
    return Effect.as(printer.err(`criteo-auth: ${stripPeriod(sentence)}.`), code)
  }
  return Effect.as(
    printer.err(`criteo-auth: unexpected error (please report it): ${Cause.pretty(cause)}`),
    ExitCode.Unexpected
  )
}

/**
 * Logs go to stderr (stdout is for results), from level Warning; `--log-level debug` shows more.
 * Log lines carry client ids and token fingerprints, never secrets; they are scrubbed all the same.
 */
const loggerLayer = (scrubber: Scrubber) =>
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.map(Logger.logfmtLogger, scrubber.scrub)))

/**
 * The command tree, for embedding or documentation.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = rootCommand

/**
 * Runs the tool on `argv` (`process.argv`: the runtime and script first) and returns the exit code.
 * Never fails: every failure has been printed as one sentence on stderr by then.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<ExitCode, never, CliApp.CliApp.Environment> =>
  Effect.gen(function*() {
    const scrubber = makeScrubber()
    const printer = makePrinter(scrubber)
    const cli = Command.run(rootCommand, { name: "criteo-auth", version: yield* version })
    return yield* cli(argv).pipe(
      Effect.as<ExitCode>(ExitCode.Success),
      Effect.provideService(Printer, printer),
      Effect.catchAllCause((cause) => report(printer, cause)),
      Effect.provide(loggerLayer(scrubber)),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    )
  })
