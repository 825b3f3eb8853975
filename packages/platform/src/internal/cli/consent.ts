/**
 * `criteo-auth consent --account NAME --redirect-uri URI`: connects an account of an authorization_code
 * app. Prints Criteo's consent link, reads the redirected URL (or the code) pasted on stdin, checks the
 * state, exchanges the code and stores the refresh token in the token cache, so that
 * `criteo-auth request --account NAME` works afterwards.
 */
import * as CriteoConsent from "@criteo-auth/core/CriteoConsent"
import * as Grant from "@criteo-auth/core/Grant"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Readline from "node:readline"
import { ExitCode, UserError } from "./failure.js"
import { Printer } from "./output.js"
import { openCache, storeKey } from "./session.js"
import * as Settings from "./settings.js"

/** How long the command waits for the redirected URL on stdin. */
export const inputTimeout = Duration.minutes(15)

/** The first line of stdin, or none at its end; bounded by `inputTimeout`. */
const readLine = Effect.async<Option.Option<string>>((resume) => {
  const lines = Readline.createInterface({ input: process.stdin, terminal: false })
  let done = false
  const finish = (value: Option.Option<string>) => {
    if (done) return
    done = true
    lines.close()
    resume(Effect.succeed(value))
  }
  lines.once("line", (line) => finish(Option.some(line)))
  lines.once("close", () => finish(Option.none()))
  return Effect.sync(() => {
    done = true
    lines.close()
  })
}).pipe(
  Effect.timeoutFail({
    duration: inputTimeout,
    onTimeout: () =>
      new UserError({
        code: ExitCode.Usage,
        sentence: `nothing was pasted within ${Duration.format(inputTimeout)}: run criteo-auth consent again`
      })
  })
)

/** @internal */
export const run = (args: {
  readonly settings: Settings.Values
  readonly account: string
  readonly redirectUri: string
  readonly pkce: boolean
  readonly consentUrl: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    const options = yield* Settings.load(args.settings)
    const { clientId, clientSecret } = options.grant
    yield* printer.hide(Redacted.value(clientSecret))
    const fail = (sentence: string, code: ExitCode = ExitCode.Usage) => Effect.fail(new UserError({ code, sentence }))
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(args.account)) {
      return yield* fail("--account NAME: letters, digits, '_', '.' and '-' only (64 at most)")
    }
    const request = yield* CriteoConsent.start({
      clientId,
      redirectUri: args.redirectUri,
      pkce: args.pkce,
      consentUrl: Option.getOrUndefined(args.consentUrl)
    }).pipe(Effect.catchTag("ConsentError", (error) => fail(error.message)))
    yield* printer.err(
      `Open this link, consent for the account "${args.account}", then paste here the URL you are redirected to ` +
        "(or just its code):"
    )
    yield* printer.out(request.url)
    const line = yield* readLine
    if (Option.isNone(line)) return yield* fail("nothing was pasted: run criteo-auth consent again")
    const { code } = yield* CriteoConsent.callback(line.value, request).pipe(
      Effect.catchTag("ConsentError", (error) => fail(error.message))
    )
    yield* printer.hide(Redacted.value(code))
    // one client for the exchange: the endpoint and its request under the same undici dispatcher
    const token = yield* Effect.gen(function*() {
      const endpoint = yield* TokenEndpoint.make({ tokenUrl: options.tokenUrl, timeout: options.timeout })
      return yield* endpoint.request(
        Grant.authorizationCode({
          clientId,
          clientSecret,
          code,
          redirectUri: request.redirectUri,
          codeVerifier: request.codeVerifier
        })
      )
    }).pipe(
      Effect.provide(NodeHttpClient.layerUndici),
      Effect.catchAll((error) => fail(`the code exchange failed: ${error.message}`, ExitCode.Configuration))
    )
    yield* printer.hide(Redacted.value(token.value))
    if (token.refreshToken === undefined) {
      return yield* fail("Criteo issued no refresh token for this consent: nothing to store", ExitCode.Configuration)
    }
    yield* printer.hide(Redacted.value(token.refreshToken))
    const store = yield* openCache(options.grant)
    if (Option.isNone(store)) {
      return yield* fail("the token cache cannot be opened: the consent is lost", ExitCode.Configuration)
    }
    const key = storeKey(clientId, Option.some(args.account))
    const current = yield* store.value.get(key).pipe(Effect.orElseSucceed(() => Option.none()))
    const written = yield* store.value.compareAndSet(key, Option.getOrUndefined(current)?.version, {
      accessToken: token,
      refreshToken: token.refreshToken
    }).pipe(Effect.catchAll((error) => fail(error.message, ExitCode.Configuration)))
    if (written._tag === "Conflict") {
      return yield* fail("the cache entry of this account changed meanwhile: run criteo-auth consent again")
    }
    yield* printer.err(
      `Connected account "${args.account}" of client ${clientId}: criteo-auth request --account ${args.account} ` +
        "now works (its refresh token is kept, encrypted, in the token cache)."
    )
  })
