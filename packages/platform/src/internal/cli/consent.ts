/**
 * `criteo-auth consent --account NAME`: connects an account of an authorization_code app. Prints
 * Criteo's consent link, then takes the redirect back, either pasted on stdin (the redirected URL or
 * its code: Criteo requires HTTPS redirect URIs) or, with `--listen`, on a loopback listener; checks the
 * state, exchanges the code and stores the refresh token in the token cache, so that
 * `criteo-auth request --account NAME` works afterwards.
 */
import * as CriteoConsent from "@criteo-auth/core/CriteoConsent"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Readline from "node:readline"
import type * as CriteoConfig from "../../CriteoConfig.js"
import * as DurationInput from "../duration.js"
import { ExitCode, stripPeriod, UserError } from "./failure.js"
import * as Loopback from "./loopback.js"
import { Printer } from "./output.js"
import * as Report from "./report.js"
import { openCache, storeKey } from "./session.js"
import * as Settings from "./settings.js"

/**
 * How long the command waits for the redirect by default (pasted, or on the listener).
 *
 * @internal
 */
export const defaultWait = Duration.minutes(15)

/**
 * Stops reading stdin: closing the readline interface leaves the stream flowing, and an open terminal
 * or pipe then keeps the process alive after the command succeeded (the runtime exits by itself on 0).
 */
const releaseStdin = (lines: Readline.Interface) => {
  lines.close()
  process.stdin.pause()
  if ("unref" in process.stdin && typeof process.stdin.unref === "function") process.stdin.unref()
}

/** The first line of stdin, or none at its end. */
const readLine = Effect.async<Option.Option<string>>((resume) => {
  const lines = Readline.createInterface({ input: process.stdin, terminal: false })
  let done = false
  const finish = (value: Option.Option<string>) => {
    if (done) return
    done = true
    releaseStdin(lines)
    resume(Effect.succeed(value))
  }
  lines.once("line", (line) => finish(Option.some(line)))
  lines.once("close", () => finish(Option.none()))
  return Effect.sync(() => {
    done = true
    releaseStdin(lines)
  })
})

/** @internal */
export interface Args {
  readonly settings: Settings.Values
  readonly account: string
  readonly pkce: boolean
  readonly consentUrl: Option.Option<string>
  readonly listen: boolean
  readonly port: Option.Option<number>
  readonly wait: Option.Option<string>
}

const fail = (sentence: string, code: ExitCode = ExitCode.Usage) => Effect.fail(new UserError({ code, sentence }))

/**
 * What comes back, checked (`callback`), exchanged and stored. Answers the sentence of success. A
 * failed exchange keeps its typed error (its exit code says which: invalid_grant, invalid_client, ...).
 */
const complete = (
  input: string,
  request: CriteoConsent.ConsentRequest,
  options: CriteoConfig.Options,
  account: string,
  requireState: boolean
) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    const { clientId, clientSecret } = options.grant
    const { code } = yield* CriteoConsent.callback(input, { state: request.state, requireState }).pipe(
      Effect.catchTag("ConsentError", (error) => fail(`Account "${account}" not connected: ${error.detail}`))
    )
    yield* printer.hide(Redacted.value(code))
    // one client for the exchange: the endpoint and its request under the same undici dispatcher
    const token = yield* Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.make({
        tokenUrl: options.tokenUrl,
        timeout: options.timeout,
        allowInsecureHttp: options.allowInsecureHttp
      })
      return yield* endpoint.request(CriteoConsent.grant(request, code, clientSecret))
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
    yield* printer.hide(Redacted.value(token.value))
    if (token.refreshToken === undefined) {
      return yield* fail("Criteo issued no refresh token for this consent: nothing to store", ExitCode.Configuration)
    }
    yield* printer.hide(Redacted.value(token.refreshToken))
    const store = yield* openCache(options.grant)
    if (Option.isNone(store)) {
      return yield* fail("The token cache cannot be opened: the consent is lost", ExitCode.Configuration)
    }
    const key = storeKey(clientId, Option.some(account))
    const current = yield* store.value.get(key).pipe(Effect.orElseSucceed(() => Option.none()))
    const written = yield* store.value.compareAndSet(key, Option.getOrUndefined(current)?.version, {
      accessToken: token,
      refreshToken: token.refreshToken
    }).pipe(Effect.catchAll((error) => fail(error.message, ExitCode.Configuration)))
    if (written._tag === "Conflict") {
      return yield* fail("The cache entry of this account changed meanwhile: run criteo-auth consent again")
    }
    return `Connected account "${account}" of client ${clientId}: criteo-auth request --account ${account} ` +
      "now works (its refresh token is kept, encrypted, in the token cache)."
  })

/** The page the browser gets for the command's outcome: what happened, never a secret. */
const pageOf = (exit: Exit.Exit<string, unknown>, account: string, scrub: (text: string) => string): Loopback.Page => {
  if (Exit.isSuccess(exit)) {
    return {
      status: 200,
      title: "Account connected",
      text: `criteo-auth connected the account "${account}". You can close this tab and go back to the terminal.`
    }
  }
  const failure = Option.getOrUndefined(Cause.failureOption(exit.cause))
  const sentence = failure === undefined ? "it stopped unexpectedly" : stripPeriod(Report.describe(failure)[1])
  return {
    status: 400,
    title: "The account was not connected",
    text: `criteo-auth could not connect the account "${account}": ${scrub(sentence)}. See the terminal, and ` +
      "run criteo-auth consent again."
  }
}

/** @internal */
export const run = (args: Args) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    const options = yield* Settings.load(args.settings)
    const { clientId, clientSecret } = options.grant
    yield* printer.hide(Redacted.value(clientSecret))
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(args.account)) {
      return yield* fail("--account NAME: letters, digits, '_', '.' and '-' only (64 at most)")
    }
    const wait = Option.isNone(args.wait) ? defaultWait : Option.getOrUndefined(DurationInput.parse(args.wait.value))
    if (wait === undefined || !Duration.greaterThan(wait, Duration.zero)) {
      return yield* fail(`--wait DURATION: a duration such as ${DurationInput.examples}`)
    }
    const redirectUri = yield* Settings.value(args.settings, "redirectUri")
    const start = (redirectUri: string) =>
      CriteoConsent.start({
        clientId,
        redirectUri,
        pkce: args.pkce,
        consentUrl: Option.getOrUndefined(args.consentUrl)
      }).pipe(Effect.catchTag("ConsentError", (error) => fail(`Cannot build the consent link: ${error.detail}`)))
    const timedOut = (what: string) =>
      new UserError({
        code: ExitCode.Usage,
        sentence: `${what} within ${Duration.format(wait)} (--wait): run criteo-auth consent again`
      })

    if (!args.listen) {
      if (Option.isSome(args.port)) return yield* fail("--port is for --listen")
      if (Option.isNone(redirectUri)) {
        return yield* fail(
          "--redirect-uri URI is required (one of the app's registered redirect URIs), or --listen for a loopback one"
        )
      }
      const request = yield* start(redirectUri.value)
      yield* printer.err(
        `Open this link, consent for the account "${args.account}", then paste here the URL you are redirected to ` +
          "(or just its code):"
      )
      yield* printer.out(request.url)
      const line = yield* readLine.pipe(
        Effect.timeoutFail({ duration: wait, onTimeout: () => timedOut("Nothing was pasted") })
      )
      if (Option.isNone(line)) return yield* fail("Nothing was pasted: run criteo-auth consent again")
      return yield* printer.err(yield* complete(line.value, request, options, args.account, false))
    }

    const target = Loopback.target(redirectUri, args.port)
    if (Either.isLeft(target)) return yield* fail(target.left)
    yield* Effect.scoped(Effect.gen(function*() {
      const listener = yield* Loopback.listen(target.right)
      const request = yield* start(listener.redirectUri)
      yield* printer.err(
        `Open this link and consent for the account "${args.account}"; criteo-auth waits for the redirect to ` +
          `${listener.redirectUri} (Ctrl-C to stop):`
      )
      yield* printer.out(request.url)
      const arrived = yield* listener.arrived.pipe(
        Effect.timeoutFail({ duration: wait, onTimeout: () => timedOut("No redirect came") })
      )
      // the listener's redirect must carry the state: a bare code cannot come from the consent page
      const exit = yield* Effect.exit(complete(arrived, request, options, args.account, true))
      yield* listener.answer(pageOf(exit, args.account, printer.scrub))
      return yield* printer.err(yield* exit)
    }))
  })
