/**
 * Many Criteo accounts, one provider: tokens per *account key* (a consent of an authorization_code app,
 * or one of several client_credentials apps), served on demand.
 *
 * - Grants come from the application (`lookup: key => Effect<Grant>`, e.g. from its database), resolved
 *   on first use of a key. A refresh token in the `TokenStore` supersedes the grant's: the store owns
 *   the rotated refresh tokens, so every process sharing it continues the same chain.
 * - One `CriteoAuth` provider per key, created on demand and shared by every concurrent caller of that
 *   key (single flight per key: 10,000 concurrent first calls across 100 keys make 100 token requests),
 *   released after `idleTimeToLive` without use (an `RcMap`): its background refresh stops with it, so a
 *   dormant consent costs nothing.
 * - `connect(key, code, redirectUri)` exchanges the code of a consent and stores the refresh token;
 *   `token(key)` then works in any process that shares the store.
 * - A consent revoked for one account (invalid_grant on its refresh token, 403 from the API) fails that
 *   key alone, with `ConsentRevokedError` naming the key; the other keys keep working.
 *
 * @since 0.2.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as RcMap from "effect/RcMap"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as AccessToken from "./AccessToken.js"
import * as CriteoAuth from "./CriteoAuth.js"
import type * as CriteoAuthError from "./CriteoAuthError.js"
import * as CriteoHttpClient from "./CriteoHttpClient.js"
import * as Grant from "./Grant.js"
import * as TokenEndpoint from "./TokenEndpoint.js"
import * as TokenStore from "./TokenStore.js"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The consent of one account is gone: its refresh token is refused (`invalid_grant`), or the API
 * answers 403 (the consent was revoked or the permission removed). Only this key is affected; a person
 * has to consent again (`CriteoConsent`, then `connect`).
 *
 * @since 0.2.0
 * @category errors
 */
export class ConsentRevokedError extends Schema.TaggedError<ConsentRevokedError>(
  "@criteo-auth/core/ConsentRevokedError"
)("ConsentRevokedError", {
  /** The account key. */
  key: Schema.String,
  /** How it showed: the token endpoint refused the grant, or the API answered 403. */
  via: Schema.Literal("invalid_grant", "forbidden"),
  /** The server's description or error code, scrubbed of secrets. */
  detail: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `the consent of account "${this.key}" was revoked or lost (${this.via}${
      this.detail === undefined ? "" : `: ${this.detail}`
    }): the account must consent again`
  }
}

/**
 * The application's lookup found no grant for the key, or failed.
 *
 * @since 0.2.0
 * @category errors
 */
export class AccountLookupError extends Schema.TaggedError<AccountLookupError>(
  "@criteo-auth/core/AccountLookupError"
)("AccountLookupError", {
  key: Schema.String,
  /** What went wrong: the lookup's error tag or message (keep secrets out of lookup errors). */
  detail: Schema.String
}) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `no grant for account "${this.key}": ${this.detail}`
  }
}

/**
 * @since 0.2.0
 * @category guards
 */
export const isConsentRevokedError = (u: unknown): u is ConsentRevokedError =>
  Predicate.isTagged(u, "ConsentRevokedError") && u instanceof ConsentRevokedError

/**
 * The failures of `token(key)`: the token errors of the key's provider (an `invalid_grant` becomes
 * `ConsentRevokedError`), a failed lookup, a failed store.
 *
 * @since 0.2.0
 * @category errors
 */
export type AccountError =
  | Exclude<CriteoAuthError.TokenError, CriteoAuthError.InvalidGrantError>
  | ConsentRevokedError
  | AccountLookupError
  | TokenStore.TokenStoreError

// -----------------------------------------------------------------------------
// the service
// -----------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** A valid token for the account `key` (from its provider's cache, or one request shared by all callers). */
  readonly token: (key: string) => Effect.Effect<AccessToken.AccessToken, AccountError>
  /** Drops `token` for `key` if it is still the current one (compare-and-swap), e.g. after a 401. */
  readonly invalidate: (key: string, token: AccessToken.AccessToken) => Effect.Effect<boolean>
  /**
   * Connects an account: exchanges the authorization code of its consent (with the PKCE verifier when
   * the app enables PKCE), stores the tokens (the refresh token above all) under `key`, and answers the
   * first access token. The client id and secret are those of `lookup(key)`'s grant.
   */
  readonly connect: (
    key: string,
    code: Redacted.Redacted<string>,
    redirectUri: string,
    options?: { readonly codeVerifier?: Redacted.Redacted<string> | undefined }
  ) => Effect.Effect<AccessToken.AccessToken, AccountError>
  /** Forgets an account: its provider is released and its store entry removed. */
  readonly disconnect: (key: string) => Effect.Effect<void, TokenStore.TokenStoreError>
  /**
   * An authenticated client for `key`: `CriteoHttpClient`'s behaviour (base URL, version, bearer token,
   * one replay after a 401, retries) with this key's provider. A 403 and an `invalid_grant` fail with
   * `ConsentRevokedError` naming the key.
   */
  readonly client: (key: string) => HttpClient.HttpClient.With<Error>
  /** The keys whose provider is alive (used within the idle time), for monitoring. */
  readonly activeKeys: Effect.Effect<ReadonlyArray<string>>
}

/**
 * @since 0.2.0
 * @category tags
 */
export class CriteoAccounts extends Context.Tag("@criteo-auth/core/CriteoAccounts")<CriteoAccounts, Service>() {}

/**
 * @since 0.2.0
 * @category models
 */
export interface Options extends TokenEndpoint.Options {
  /** The grant of an account key, from the application (its database, its config). Resolved on first use. */
  readonly lookup: (key: string) => Effect.Effect<Grant.Grant, unknown>
  /** Where tokens and rotated refresh tokens live. Default: a store in this process's memory. */
  readonly tokenStore?: TokenStore.Service | undefined
  /**
   * How long a key's provider (its cached token and its background refresh) stays alive after its last
   * use. Default 30 minutes: an account used at least every half hour always has a fresh token ready;
   * a dormant one is released and costs nothing.
   */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /** The provider options of every key (lead time, jitter, retries, cooldown). */
  readonly provider?:
    | Omit<CriteoAuth.Options, "grant" | "tokenStore" | "storeKey" | keyof TokenEndpoint.Options>
    | undefined
  /** The API client options of `client(key)`. */
  readonly client?: CriteoHttpClient.Options | undefined
}

/**
 * @since 0.2.0
 * @category constants
 */
export const defaults = {
  idleTimeToLive: Duration.minutes(30)
} as const

const revokedError = (key: string, via: ConsentRevokedError["via"], detail: string | undefined) =>
  new ConsentRevokedError({ key, via, ...(detail === undefined ? {} : { detail }) })

interface Account {
  readonly auth: CriteoAuth.Service
  readonly client: HttpClient.HttpClient.With<Error>
}

const describeLookupFailure = (cause: unknown): string =>
  Predicate.hasProperty(cause, "_tag") && typeof cause._tag === "string"
    ? `the lookup failed with ${cause._tag}`
    : "the lookup failed"

/**
 * Builds the keyed provider on a `TokenEndpoint` and an `HttpClient` (for `client(key)`). Providers
 * belong to the scope; closing it releases them all.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeWith = (
  endpoint: TokenEndpoint.Service,
  httpClient: HttpClient.HttpClient,
  options: Omit<Options, keyof TokenEndpoint.Options>
): Effect.Effect<Service, CriteoAuthError.RefusedUrlError, Scope.Scope> =>
  Effect.gen(function*() {
    const clientFor = (auth: CriteoAuth.Service) =>
      CriteoHttpClient.make(options.client ?? {}).pipe(
        Effect.provideService(CriteoAuth.CriteoAuth, auth),
        Effect.provideService(HttpClient.HttpClient, httpClient)
      )
    // the API URL is checked once, here, with a provider that is never asked for a token
    yield* clientFor(CriteoAuth.CriteoAuth.of({
      clientId: "check",
      token: Effect.never,
      refresh: Effect.never,
      invalidate: () => Effect.succeed(false)
    }))
    const store = options.tokenStore ?? (yield* TokenStore.makeMemory)
    /** The accounts whose provider is alive, for the fast path of `token`. */
    const live = new Map<string, Account>()

    const lookup = (key: string) =>
      options.lookup(key).pipe(
        Effect.mapError((cause) => new AccountLookupError({ key, detail: describeLookupFailure(cause) }))
      )

    /** Writes a connected account's tokens into the store, re-reading on conflict. */
    const persist = (key: string, refreshToken: Redacted.Redacted<string>, token: AccessToken.AccessToken) =>
      Effect.gen(function*() {
        for (let attempt = 0; attempt < 10; attempt++) {
          const current = yield* store.get(key)
          const result = yield* store.compareAndSet(key, Option.getOrUndefined(current)?.version, {
            accessToken: token,
            refreshToken
          })
          if (result._tag === "Written") return
        }
        return yield* new TokenStore.TokenStoreError({
          store: store.name,
          operation: "compareAndSet",
          key,
          reason: "the entry kept changing under 10 attempts to write the rotated refresh token"
        })
      })

    /**
     * The provider of one key, on the store under `key`: a fresh token there is served without a request,
     * a refresh token there supersedes the grant's, and each rotated refresh token is compare-and-set
     * there before its access token is handed out (`CriteoAuth`'s `tokenStore` and `storeKey`).
     */
    const acquire = (key: string): Effect.Effect<Account, AccountLookupError, Scope.Scope> =>
      Effect.gen(function*() {
        const looked = yield* lookup(key)
        // a connected account's refresh token, whatever the kind of grant the lookup answered (an app's
        // credentials as client_credentials, say): the provider would not put it over a client_credentials grant
        const stored = yield* store.get(key).pipe(Effect.orElseSucceed(() => Option.none<TokenStore.Entry>()))
        const storedRefresh = Option.flatMap(stored, (entry) => Option.fromNullable(entry.refreshToken))
        const grant = Option.isSome(storedRefresh) && looked._tag === "ClientCredentials"
          ? Grant.refreshToken({
            clientId: looked.clientId,
            clientSecret: looked.clientSecret,
            refreshToken: storedRefresh.value
          })
          : looked
        const auth = yield* CriteoAuth.makeWith(endpoint, {
          ...options.provider,
          grant,
          tokenStore: store,
          storeKey: key
        })
        const client = yield* clientFor(auth).pipe(Effect.orDie) // its URL was checked at construction
        const account: Account = { auth, client }
        live.set(key, account)
        yield* Effect.addFinalizer(() => Effect.sync(() => live.delete(key)))
        return account
      }).pipe(Effect.annotateLogs("criteo.account", key))

    const accounts = yield* RcMap.make({
      lookup: acquire,
      idleTimeToLive: options.idleTimeToLive ?? defaults.idleTimeToLive
    })

    const revoked = (key: string) =>
    (
      error: CriteoAuthError.TokenError
    ): Effect.Effect<
      never,
      Exclude<CriteoAuthError.TokenError, CriteoAuthError.InvalidGrantError> | ConsentRevokedError
    > =>
      error._tag === "InvalidGrantError"
        ? Effect.fail(revokedError(key, "invalid_grant", error.description))
        : Effect.fail(error)

    const slowToken = (key: string): Effect.Effect<AccessToken.AccessToken, AccountError> =>
      RcMap.get(accounts, key).pipe(
        Effect.flatMap((account) => Effect.catchAll(account.auth.token, revoked(key))),
        Effect.scoped,
        Effect.withSpan("CriteoAccounts.token", { attributes: { "criteo.account": key } })
      )

    // The fast path: a live account is served without a scope per call; touching its RcMap entry
    // pushes its release back by the idle time, as a `get` and its release would.
    const token = (key: string): Effect.Effect<AccessToken.AccessToken, AccountError> => {
      const account = live.get(key)
      return account === undefined
        ? slowToken(key)
        : Effect.zipRight(RcMap.touch(accounts, key), Effect.catchAll(account.auth.token, revoked(key)))
    }

    /** The live provider drops it (and, by compare-and-swap, the store); a released key's store entry is checked alone. */
    const invalidate = (key: string, accessToken: AccessToken.AccessToken) => {
      const account = live.get(key)
      return account !== undefined
        ? account.auth.invalidate(accessToken)
        : store.invalidate(key, accessToken.fingerprint).pipe(Effect.orElseSucceed(() => false))
    }

    const connect = (
      key: string,
      code: Redacted.Redacted<string>,
      redirectUri: string,
      connectOptions?: { readonly codeVerifier?: Redacted.Redacted<string> | undefined }
    ): Effect.Effect<AccessToken.AccessToken, AccountError> =>
      Effect.gen(function*() {
        const looked = yield* lookup(key)
        const grant = Grant.authorizationCode({
          clientId: looked.clientId,
          clientSecret: looked.clientSecret,
          code,
          redirectUri,
          codeVerifier: connectOptions?.codeVerifier
        })
        const accessToken = yield* endpoint.request(grant).pipe(Effect.catchAll(revoked(key)))
        if (accessToken.refreshToken !== undefined) {
          yield* persist(key, accessToken.refreshToken, accessToken)
        }
        // a provider built before (on an older refresh token) is dropped: the next use reads the store
        yield* RcMap.invalidate(accounts, key)
        return accessToken
      }).pipe(Effect.withSpan("CriteoAccounts.connect", { attributes: { "criteo.account": key } }))

    const disconnect = (key: string) => Effect.zipRight(RcMap.invalidate(accounts, key), store.remove(key))

    const clientOf = (key: string): HttpClient.HttpClient.With<Error> =>
      HttpClient.makeWith(
        (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
          Effect.flatMap(requestEffect, (request) => send(key, request)),
        Effect.succeed
      )

    const send = (key: string, request: HttpClientRequest.HttpClientRequest) =>
      RcMap.get(accounts, key).pipe(
        Effect.flatMap((account) => account.client.execute(request)),
        Effect.scoped,
        Effect.catchIf(
          (error): error is CriteoAuthError.InvalidGrantError | CriteoAuthError.ForbiddenError =>
            Predicate.isTagged(error, "InvalidGrantError") || Predicate.isTagged(error, "ForbiddenError"),
          (error) =>
            Effect.fail(
              error._tag === "InvalidGrantError"
                ? revokedError(key, "invalid_grant", error.description)
                : revokedError(key, "forbidden", error.code)
            )
        )
      )

    return CriteoAccounts.of({
      token,
      invalidate,
      connect,
      disconnect,
      client: clientOf,
      activeKeys: RcMap.keys(accounts)
    })
  })

/**
 * Builds the keyed provider on the `HttpClient` in context (token requests and `client(key)` use it).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<Service, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const endpoint = yield* TokenEndpoint.make({ tokenUrl: options.tokenUrl, timeout: options.timeout })
    const httpClient = yield* HttpClient.HttpClient
    return yield* makeWith(endpoint, httpClient, options)
  })

/**
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<CriteoAccounts, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient> =>
  Layer.scoped(CriteoAccounts, make(options))

/**
 * The keyed provider on the `TokenStore` in context (a file store, a Redis store shared by a fleet).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWithTokenStore = (
  options: Omit<Options, "tokenStore">
): Layer.Layer<CriteoAccounts, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient | TokenStore.TokenStore> =>
  Layer.scoped(
    CriteoAccounts,
    Effect.flatMap(TokenStore.TokenStore, (tokenStore) => make({ ...options, tokenStore }))
  )
