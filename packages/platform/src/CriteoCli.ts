/**
 * The `criteo-auth` command-line tool: `criteo-auth token` obtains a token with the configured
 * credentials, `criteo-auth request METHOD PATH` makes an authenticated API call, and
 * `criteo-auth consent --account NAME` connects an account of an authorization_code app (the redirect
 * pasted, or taken on a loopback listener with `--listen`). Settings come from the `CRITEO_*`
 * environment variables (see `CriteoConfig`), and flags override them.
 *
 * Expected failures print one sentence on stderr and end with the exit code of their category (see
 * `ExitCode`). Nothing printed contains the client secret, the authorization code, a refresh token or
 * the access token, except the access token itself with `token --raw` or `token --json`, which ask
 * for it.
 *
 * @since 0.1.0
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import type * as CliApp from "@effect/cli/CliApp"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as CriteoConfig from "./CriteoConfig.js"
import * as Consent from "./internal/cli/consent.js"
import * as Failure from "./internal/cli/failure.js"
import * as Help from "./internal/cli/help.js"
import * as Output from "./internal/cli/output.js"
import * as Progress from "./internal/cli/progress.js"
import * as Report from "./internal/cli/report.js"
import * as Request from "./internal/cli/request.js"
import * as Session from "./internal/cli/session.js"
import * as Settings from "./internal/cli/settings.js"
import * as Version from "./internal/cli/version.js"

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
 * | 13 | the API's answer has a body longer than `--max-body-size` (64 MiB by default; nothing printed) |
 * | 130 | interrupted (Ctrl-C) |
 *
 * @since 0.1.0
 * @category exit codes
 */
export const ExitCode: typeof Failure.ExitCode = Failure.ExitCode

/**
 * @since 0.1.0
 * @category exit codes
 */
export type ExitCode = Failure.ExitCode

// -----------------------------------------------------------------------------
// criteo-auth token
// -----------------------------------------------------------------------------

const seconds = (duration: Duration.Duration) => Math.round(Duration.toSeconds(duration))

const tokenCommand = Command.make(
  "token",
  {
    ...Settings.common,
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
        return yield* Failure.usage("--raw and --json cannot be used together")
      }
      const printer = yield* Output.Printer
      const session = yield* Session.connect(args.settings, undefined, {
        enabled: !args.noCache,
        account: args.account
      })
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
    HelpDoc.blocks([
      HelpDoc.p(
        "Obtain an access token with the configured credentials and print its type, lifetime, expiry instant and " +
          "fingerprint (never the token itself, unless --raw or --json)."
      ),
      Help.examples([
        "criteo-auth token",
        "criteo-auth token --client-id my-app --client-secret-file ~/.criteo/secret",
        "curl -H \"Authorization: Bearer $(criteo-auth token --raw)\" https://api.criteo.com/2026-07/advertisers/me",
        "criteo-auth token --refresh-token-file ~/.criteo/refresh-token --json"
      ])
    ])
  )
)

// -----------------------------------------------------------------------------
// criteo-auth request METHOD PATH
// -----------------------------------------------------------------------------

const requestCommand = Command.make(
  "request",
  {
    ...Settings.common,
    method: Request.methodArg,
    path: Request.pathArg,
    data: Options.text("data").pipe(
      Options.withAlias("d"),
      Options.withDescription("A JSON body: inline, @FILE to read a file, or @- to read standard input."),
      Options.optional
    ),
    header: Options.text("header").pipe(
      Options.withAlias("H"),
      Options.withDescription(
        "An extra request header, 'Name: value'; repeat for several. Authorization is set by criteo-auth."
      ),
      Options.repeated
    ),
    include: Options.boolean("include").pipe(
      Options.withAlias("i"),
      Options.withDescription("Print the status line and the response headers on stdout before the body.")
    ),
    output: Options.text("output").pipe(
      Options.withAlias("o"),
      Options.withDescription("Write the response body, as received, to FILE instead of stdout."),
      Options.withPseudoName("FILE"),
      Options.optional
    ),
    maxBodySize: Request.maxBodySizeOption
  },
  (args) =>
    Effect.gen(function*() {
      const printer = yield* Output.Printer
      const tracker = yield* Progress.TrackerTag
      const data = yield* Request.readData(args.data)
      if (Option.isSome(data) && (args.method === "GET" || args.method === "HEAD")) {
        return yield* Failure.usage(`--data cannot be sent with ${args.method}`)
      }
      const headers = yield* Effect.forEach(args.header, (header) => Request.parseHeader(header))
      let path = args.path
      const session = yield* Session.connect(args.settings, (options) =>
        Effect.map(
          Request.resolveTarget(
            args.path,
            options.apiUrl ?? CriteoHttpClient.defaultBaseUrl,
            options.apiVersion === undefined ? CriteoHttpClient.defaultApiVersion : options.apiVersion
          ),
          (target) => {
            path = target.path
            return { ...options, apiVersion: target.apiVersion }
          }
        ), { enabled: !args.noCache, account: args.account })
      const apiTimeout = Duration.decode(session.options.apiTimeout ?? CriteoConfig.defaultApiTimeout)
      const request = HttpClientRequest.make(args.method)(path).pipe(
        HttpClientRequest.setHeaders(Object.fromEntries(headers)),
        (request) => Option.isSome(data) ? HttpClientRequest.bodyText(request, data.value, "application/json") : request
      )
      const [response, body] = yield* Effect.gen(function*() {
        const client = yield* CriteoHttpClient.CriteoHttpClient
        const response = yield* client.execute(request)
        const target = `${response.request.method} ${response.request.url} with ${Request.statusLine(response)}`
        // The headers came in time; the body must too, and not be longer than --max-body-size: a server that
        // trickles it forever is given up on, one that sends too much is cut off (the request aborted there).
        const body = yield* Request.readBody(response, args.maxBodySize).pipe(
          Effect.timeoutFail({
            duration: apiTimeout,
            onTimeout: () =>
              new Failure.UserError({
                code: ExitCode.Network,
                sentence: `The Criteo API answered ${target} but did not send the whole body within ${
                  Duration.format(apiTimeout)
                } (--api-timeout)`
              })
          }),
          Effect.flatMap(Option.match({
            onNone: () =>
              Effect.fail(
                new Failure.UserError({
                  code: ExitCode.ResponseTooLarge,
                  sentence: `The Criteo API answered ${target} and a body longer than ${
                    Request.formatSize(args.maxBodySize)
                  } (--max-body-size): nothing printed, the rest not read; raise --max-body-size (at most ${
                    Request.formatSize(Request.maxMaxBodySize)
                  }) to read it`
                })
              ),
            onSome: Effect.succeed
          })),
          Effect.ensuring(Effect.sync(() => tracker.set({ _tag: "Idle" })))
        )
        const token = yield* Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token)
        yield* printer.hide(Redacted.value(token.value))
        return [response, body] as const
      }).pipe(Effect.provide(session.layer))
      yield* session.checkRotation
      const ok = response.status < 400
      if (args.include) yield* printer.out(`${Request.head(response)}\n`)
      else if (ok) yield* printer.err(Request.statusLine(response))
      if (Option.isSome(args.output)) {
        const fs = yield* FileSystem.FileSystem
        yield* fs.writeFileString(args.output.value, printer.scrub(body)).pipe(
          Effect.mapError((error) =>
            new Failure.UserError({
              code: ExitCode.Configuration,
              sentence: `Cannot write the body to ${args.output.pipe(Option.getOrElse(() => ""))} (${
                Failure.describeFileError(error)
              })`
            })
          )
        )
      } else if (body.length > 0) {
        yield* printer.out(args.include ? body : Request.prettyBody(body))
      }
      if (!ok) return yield* Effect.flatMap(Request.statusFailure(response, body), Effect.fail)
    })
).pipe(
  Command.withDescription(
    HelpDoc.blocks([
      HelpDoc.p(
        "Make an authenticated call to the Criteo API: the bearer token is obtained and renewed on a 401 as " +
          "needed. The status goes to stderr and the pretty-printed JSON body to stdout. The body must come within " +
          "--api-timeout and be at most --max-body-size (64MiB by default); --data from a file or stdin at most " +
          "16MiB."
      ),
      Help.examples([
        "criteo-auth request GET /advertisers/me",
        "criteo-auth request GET https://api.criteo.com/2026-07/advertisers/me",
        "criteo-auth request POST /marketing-solutions/reports -d @report.json -o report.json",
        "criteo-auth request GET /advertisers/me -i -H 'Accept-Language: fr'"
      ])
    ])
  )
)

// -----------------------------------------------------------------------------
// criteo-auth consent --account NAME --redirect-uri URI
// -----------------------------------------------------------------------------

const consentCommand = Command.make(
  "consent",
  {
    settings: Settings.options,
    account: Options.text("account").pipe(
      Options.withDescription("The name to keep the account under (then: criteo-auth request --account NAME)."),
      Options.withPseudoName("NAME")
    ),
    pkce: Options.boolean("pkce").pipe(Options.withDescription("Add a PKCE challenge (apps with PKCE enabled).")),
    consentUrl: Options.text("consent-url").pipe(
      Options.withDescription("Another consent page than https://consent.criteo.com/request (a simulator)."),
      Options.withPseudoName("URL"),
      Options.optional
    ),
    listen: Options.boolean("listen").pipe(
      Options.withDescription(
        "Take the redirect on a listener on this machine instead of stdin, for an app whose registered redirect " +
          "URI is a loopback one: --redirect-uri http://127.0.0.1:PORT/PATH (or localhost, [::1]), else " +
          "http://127.0.0.1:PORT/callback with --port."
      )
    ),
    port: Options.integer("port").pipe(
      Options.withDescription("With --listen and no --redirect-uri: the port to listen on (default: a free one)."),
      Options.withPseudoName("N"),
      Options.optional
    ),
    wait: Options.text("wait").pipe(
      Options.withDescription("How long to wait for the redirect, pasted or on the listener, e.g. 5m (default 15m)."),
      Options.withPseudoName("DURATION"),
      Options.optional
    )
  },
  (args) => Consent.run(args)
).pipe(
  Command.withDescription(
    HelpDoc.blocks([
      HelpDoc.p(
        "Connect an account of an authorization_code app: prints Criteo's consent link, then takes the redirect " +
          "back: the URL the consent page redirected to (or its code) pasted on stdin, or with --listen the " +
          "redirect itself, on a loopback listener. Checks its state, exchanges the code and keeps the refresh " +
          "token, encrypted, in the token cache. --redirect-uri (or CRITEO_REDIRECT_URI) is one of the app's " +
          "registered redirect URIs (Criteo requires HTTPS, except where a loopback one is allowed)."
      ),
      Help.examples([
        "criteo-auth consent --account acme --redirect-uri https://app.example.com/criteo/callback",
        "criteo-auth consent --account acme --listen --redirect-uri http://127.0.0.1:8765/criteo/callback"
      ])
    ])
  )
)

// -----------------------------------------------------------------------------
// the tool
// -----------------------------------------------------------------------------

const rootCommand = Command.make(
  "criteo-auth",
  {},
  () =>
    Failure.usage(
      "Missing command: use criteo-auth token, criteo-auth request METHOD PATH or criteo-auth consent --account NAME " +
        "(see criteo-auth --help)"
    )
).pipe(
  Command.withDescription(
    HelpDoc.blocks([
      HelpDoc.p(
        "Obtain Criteo API access tokens and make authenticated calls. Settings come from the CRITEO_* environment " +
          "variables; flags override them (see criteo-auth token --help). While the tool waits for more than a " +
          "second, a progress line on stderr says for what."
      ),
      HelpDoc.p(
        "Global flags: -h, --help (this text, or a command's); --version; --log-level LEVEL (debug, info, warning, " +
          "error, none: log lines on stderr, never a secret); --completions bash|zsh|fish (a completion script)."
      ),
      Help.examples([
        "criteo-auth token",
        "criteo-auth request GET /advertisers/me",
        "CRITEO_TOKEN_URL=http://127.0.0.1:8080/oauth2/token CRITEO_API_URL=http://127.0.0.1:8080 criteo-auth token"
      ])
    ])
  ),
  Command.withSubcommands([tokenCommand, requestCommand, consentCommand])
)

/**
 * A `ConfigError` as one sentence naming every variable at fault, with the flag that sets it.
 *
 * @since 0.1.0
 * @category failures
 */
export const describeConfigError: (error: ConfigError.ConfigError) => string = Report.describeConfigError

/**
 * The command tree, for embedding or documentation.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = rootCommand

const vocabulary: Help.Vocabulary = {
  program: "criteo-auth",
  commands: ["token", "request", "consent"],
  flags: [
    ...Object.values(Settings.settings).map((setting) => `--${setting.flag}`),
    "--raw",
    "--json",
    "--no-cache",
    "--account",
    "--pkce",
    "--consent-url",
    "--listen",
    "--port",
    "--wait",
    "--data",
    "--header",
    "--include",
    "--output",
    "--max-body-size",
    "--help",
    "--version",
    "--log-level",
    "--completions"
  ]
}

/**
 * Runs the tool on `argv` (`process.argv`: the runtime and script first) and returns the exit code.
 * Never fails: every failure has been printed as one sentence on stderr by then. Logs go to stderr
 * from level Warning; `--log-level debug` shows more.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<ExitCode, never, CliApp.CliApp.Environment> =>
  Effect.gen(function*() {
    const console = yield* Effect.console
    const scrubber = Output.makeScrubber()
    const printer = Output.makePrinter(scrubber, console)
    if (argv.slice(2).includes("--wizard")) {
      // @effect/cli's interactive wizard: not offered (it cannot take a secret safely, and scripts hang on it).
      yield* printer.err("criteo-auth: unknown flag --wizard (see criteo-auth --help)")
      return ExitCode.Usage
    }
    const tracker = new Progress.Tracker()
    const cli = Command.run(rootCommand, { name: "criteo-auth", version: yield* Version.version })
    const [exit, summary] = yield* Progress.around(
      cli(argv).pipe(
        Effect.provideService(Output.Printer, printer),
        Effect.provideService(Progress.TrackerTag, tracker),
        Effect.withConsole(Help.parserConsole(console, vocabulary, Help.wantsColor(), argv.slice(2))),
        Effect.provideService(CliConfig.CliConfig, Help.cliConfig),
        Effect.provide(Output.loggerLayer(scrubber, console)),
        Logger.withMinimumLogLevel(LogLevel.Warning)
      ),
      tracker,
      Progress.nodeDisplay(),
      scrubber
    )
    if (Exit.isSuccess(exit)) {
      if (summary !== undefined) yield* printer.err(`criteo-auth: done: ${summary}.`)
      return ExitCode.Success
    }
    return yield* Report.report(printer, exit.cause, summary)
  })
