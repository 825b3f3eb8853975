/**
 * The consent link of an authorization_code app, and the way back from it.
 *
 * An authorization_code app sends the person who manages an advertiser to Criteo's consent page
 * (`https://consent.criteo.com/request`) with `response_type=code`, its `client_id`, one of its
 * registered HTTPS `redirect_uri`s, a `state` and, when PKCE is enabled for the app, a `code_challenge`
 * (`code_challenge_method=S256`). Criteo redirects back to the redirect URI with `code` and `state`.
 *
 * - `start` draws a fresh `state` (and the PKCE verifier) from the runtime's cryptographic random source
 *   (Web Crypto, present in Node.js, browsers, Deno, Bun and workers) and builds the link;
 * - `link` builds the link from values the application chose (pure);
 * - `callback` reads what came back (the redirected URL, its query string, or the bare code), checks
 *   `state` in constant time, and answers the code, ready for `grant` (or `CriteoAccounts.connect`).
 *
 * The code and the PKCE verifier stay `Redacted`; no error holds them, nor the state.
 *
 * @since 0.2.0
 */
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Grant from "./Grant.js"

/**
 * Criteo's consent page.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultConsentUrl = "https://consent.criteo.com/request"

/**
 * A consent link could not be built, or what came back from the consent page is not a usable answer.
 * Holds neither the code, nor the state, nor the PKCE verifier.
 *
 * @since 0.2.0
 * @category errors
 */
export class ConsentError extends Schema.TaggedError<ConsentError>("@criteo-auth/core/ConsentError")(
  "ConsentError",
  {
    /**
     * - `StateMismatch`: the `state` that came back is not the one sent (a forged or stale redirect);
     * - `Denied`: the consent page answered with an OAuth `error` (e.g. `access_denied`);
     * - `MissingCode`: no `code` in what came back;
     * - `InvalidInput`: a bad redirect URI, client id, or an unreadable answer;
     * - `NoSecureRandom`: the runtime has no Web Crypto to draw `state` and the PKCE verifier from.
     */
    reason: Schema.Literal("StateMismatch", "Denied", "MissingCode", "InvalidInput", "NoSecureRandom"),
    /** What went wrong, in words; never a code or a state. */
    detail: Schema.String,
    /** The OAuth `error` code the consent page sent back, for `Denied`. */
    error: Schema.optional(Schema.String)
  }
) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `consent: ${this.detail}`
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isConsentError = (u: unknown): u is ConsentError =>
  Predicate.isTagged(u, "ConsentError") && u instanceof ConsentError

/**
 * What a consent link carries.
 *
 * @since 0.2.0
 * @category models
 */
export interface LinkOptions {
  readonly clientId: string
  /** One of the app's registered redirect URIs (Criteo requires HTTPS); sent again with the code. */
  readonly redirectUri: string
  /** An unguessable value the callback checks. */
  readonly state: string
  /** The PKCE S256 challenge of the verifier, when the app enables PKCE. */
  readonly codeChallenge?: string | undefined
  /** Defaults to Criteo's consent page; a simulator's in tests. */
  readonly consentUrl?: string | undefined
}

/**
 * The consent link, parameters in the order of Criteo's guide. Pure: the caller brings `state`
 * (and the challenge); `start` draws them.
 *
 * @since 0.2.0
 * @category constructors
 */
export const link = (options: LinkOptions): string => {
  const params: Array<[string, string]> = [
    ["response_type", "code"],
    ["client_id", options.clientId],
    ["redirect_uri", options.redirectUri],
    ["state", options.state]
  ]
  if (options.codeChallenge !== undefined) {
    params.push(["code_challenge", options.codeChallenge], ["code_challenge_method", "S256"])
  }
  const base = options.consentUrl ?? defaultConsentUrl
  return `${base}${base.includes("?") ? "&" : "?"}${UrlParams.toString(UrlParams.fromInput(params))}`
}

// -----------------------------------------------------------------------------
// randomness and PKCE, from Web Crypto (no node:crypto in core)
// -----------------------------------------------------------------------------

interface WebCrypto {
  readonly getRandomValues: <T extends Uint8Array>(array: T) => T
  readonly subtle: {
    readonly digest: (algorithm: string, data: Uint8Array) => Promise<ArrayBuffer>
  }
}

const webCrypto: Effect.Effect<WebCrypto, ConsentError> = Effect.suspend(() => {
  const crypto = (globalThis as { readonly crypto?: WebCrypto }).crypto
  return crypto !== undefined && typeof crypto.getRandomValues === "function" && crypto.subtle !== undefined
    ? Effect.succeed(crypto)
    : Effect.fail(
      new ConsentError({
        reason: "NoSecureRandom",
        detail: "this runtime has no Web Crypto (globalThis.crypto) to draw the state and the PKCE verifier from"
      })
    )
})

/** `bytes` cryptographically random bytes, base64url without padding (32 bytes: 43 characters). */
const randomToken = (bytes: number): Effect.Effect<string, ConsentError> =>
  Effect.flatMap(
    webCrypto,
    (crypto) => Effect.sync(() => Encoding.encodeBase64Url(crypto.getRandomValues(new Uint8Array(bytes))))
  )

/**
 * A fresh, unguessable `state`: 256 random bits, base64url (43 characters).
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeState: Effect.Effect<string, ConsentError> = randomToken(32)

/**
 * A fresh PKCE code verifier (RFC 7636): 256 random bits, base64url (43 characters).
 *
 * @since 0.2.0
 * @category pkce
 */
export const makeCodeVerifier: Effect.Effect<Redacted.Redacted<string>, ConsentError> = Effect.map(
  randomToken(32),
  Redacted.make
)

/**
 * The S256 challenge of a verifier: base64url(SHA-256(verifier)).
 *
 * @since 0.2.0
 * @category pkce
 */
export const codeChallenge = (verifier: Redacted.Redacted<string>): Effect.Effect<string, ConsentError> =>
  Effect.flatMap(webCrypto, (crypto) =>
    Effect.promise(() => {
      const value = Redacted.value(verifier)
      const bytes = new Uint8Array(value.length)
      // a verifier is ASCII (RFC 7636 unreserved characters): one byte per character
      for (let i = 0; i < value.length; i++) bytes[i] = value.charCodeAt(i) & 0xff
      return crypto.subtle.digest("SHA-256", bytes)
    }).pipe(Effect.map((digest) => Encoding.encodeBase64Url(new Uint8Array(digest)))))

/**
 * One consent request: the link to send the person to, and what the callback needs to check and
 * exchange the answer. Keep it (in the session, or for the CLI, in memory) until the redirect comes back.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConsentRequest {
  readonly url: string
  readonly clientId: string
  readonly redirectUri: string
  readonly state: string
  /** The PKCE verifier, when PKCE is on: sent with the code exchange. */
  readonly codeVerifier: Redacted.Redacted<string> | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface StartOptions {
  readonly clientId: string
  readonly redirectUri: string
  /** Add a PKCE S256 challenge (required once PKCE is enabled for the app). Default false. */
  readonly pkce?: boolean | undefined
  readonly consentUrl?: string | undefined
}

const validate = (options: StartOptions): Either.Either<void, ConsentError> => {
  const invalid = (detail: string) => Either.left(new ConsentError({ reason: "InvalidInput", detail }))
  if (options.clientId.trim() === "") return invalid("the client id is empty")
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(options.redirectUri)) {
    return invalid("the redirect URI must be an absolute URL (Criteo requires HTTPS)")
  }
  if (/#/.test(options.redirectUri)) return invalid("the redirect URI must not have a fragment")
  return Either.void
}

/**
 * Draws a state (and a PKCE verifier when `pkce` is on) and builds the consent link.
 *
 * @since 0.2.0
 * @category constructors
 */
export const start = (options: StartOptions): Effect.Effect<ConsentRequest, ConsentError> =>
  Effect.gen(function*() {
    yield* validate(options)
    const state = yield* makeState
    const codeVerifier = options.pkce === true ? yield* makeCodeVerifier : undefined
    const challenge = codeVerifier === undefined ? undefined : yield* codeChallenge(codeVerifier)
    return {
      url: link({
        clientId: options.clientId,
        redirectUri: options.redirectUri,
        state,
        codeChallenge: challenge,
        consentUrl: options.consentUrl
      }),
      clientId: options.clientId,
      redirectUri: options.redirectUri,
      state,
      codeVerifier
    }
  })

// -----------------------------------------------------------------------------
// the way back
// -----------------------------------------------------------------------------

/** Equal strings, in time that depends on the length only (a state's length is no secret). */
const constantTimeEquals = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

const decodeQuery = Schema.decodeUnknownOption(UrlParams.schemaFromString)

/** A bare authorization code: URL-safe characters, no separators. */
const bareCode = /^[A-Za-z0-9._~-]+$/

/**
 * @since 0.2.0
 * @category models
 */
export interface Callback {
  /** The authorization code, to exchange once. */
  readonly code: Redacted.Redacted<string>
  /** Whether `state` came back and matched (false for a bare code pasted by hand). */
  readonly stateChecked: boolean
}

/**
 * Reads what came back from the consent page: the redirected URL, its query string, or (typed by hand)
 * the bare code. When `state` is there it must be the request's, else `StateMismatch`; an OAuth `error`
 * is `Denied`. A bare code is accepted unless `requireState` is set.
 *
 * @since 0.2.0
 * @category callback
 */
export const callback = (
  input: string,
  expected: { readonly state: string; readonly requireState?: boolean | undefined }
): Effect.Effect<Callback, ConsentError> =>
  Effect.suspend((): Effect.Effect<Callback, ConsentError> => {
    const text = input.trim()
    const fail = (reason: ConsentError["reason"], detail: string, error?: string) =>
      Effect.fail(new ConsentError({ reason, detail, ...(error === undefined ? {} : { error }) }))
    if (text === "") return fail("MissingCode", "nothing was given: paste the URL the consent page redirected to")
    if (!text.includes("=")) {
      if (!bareCode.test(text)) return fail("InvalidInput", "what was given is neither a redirected URL nor a code")
      return expected.requireState === true
        ? fail("InvalidInput", "a bare code was given where the redirected URL (with its state) is required")
        : Effect.succeed({ code: Redacted.make(text), stateChecked: false })
    }
    // the query: after `?` when there is one, else the text itself (`code=...&state=...`); no fragment
    const withoutFragment = text.split("#")[0]
    const query = withoutFragment.includes("?")
      ? withoutFragment.slice(withoutFragment.indexOf("?") + 1)
      : withoutFragment
    const params = decodeQuery(query)
    if (Option.isNone(params)) return fail("InvalidInput", "what was given is neither a redirected URL nor a code")
    const get = (name: string) => Option.getOrUndefined(UrlParams.getFirst(params.value, name))
    const error = get("error")
    if (error !== undefined) {
      const description = get("error_description")
      return fail(
        "Denied",
        `the consent page answered ${error}${description === undefined ? "" : ` (${description.slice(0, 200)})`}`,
        error
      )
    }
    const state = get("state")
    const code = get("code")
    if (state === undefined && code === undefined) {
      return fail("InvalidInput", "what was given carries neither code nor state: paste the redirected URL")
    }
    if (state === undefined) return fail("StateMismatch", "the redirect carries no state")
    if (!constantTimeEquals(state, expected.state)) {
      return fail("StateMismatch", "the state of the redirect is not the one this consent request sent")
    }
    if (code === undefined || code === "") return fail("MissingCode", "the redirect carries no code")
    return Effect.succeed({ code: Redacted.make(code), stateChecked: true })
  })

/**
 * The grant that exchanges the code of `request`'s answer (with the PKCE verifier, when there is one).
 *
 * @since 0.2.0
 * @category callback
 */
export const grant = (
  request: ConsentRequest,
  code: Redacted.Redacted<string>,
  clientSecret: Redacted.Redacted<string>
): Grant.AuthorizationCode =>
  Grant.authorizationCode({
    clientId: request.clientId,
    clientSecret,
    code,
    redirectUri: request.redirectUri,
    codeVerifier: request.codeVerifier
  })
