/**
 * The OAuth2 grants Criteo's token endpoint accepts. Client secrets, authorization codes and refresh
 * tokens are `Redacted` from the moment a grant is built until the bytes go on the wire.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

const RedactedString = Schema.RedactedFromSelf(Schema.String)

/**
 * The `client_credentials` grant: an app acting on its own behalf.
 *
 * @since 0.1.0
 * @category models
 */
export class ClientCredentials extends Schema.TaggedClass<ClientCredentials>(
  "@criteo-auth/core/Grant/ClientCredentials"
)("ClientCredentials", {
  clientId: Schema.String,
  clientSecret: RedactedString
}) {
  /**
   * @since 0.1.0
   */
  get grantType(): "client_credentials" {
    return "client_credentials"
  }
}

/**
 * The `authorization_code` grant: exchanges the code Criteo's consent page redirected with. A code
 * works once; later tokens come from the refresh token it returns.
 *
 * @since 0.1.0
 * @category models
 */
export class AuthorizationCode extends Schema.TaggedClass<AuthorizationCode>(
  "@criteo-auth/core/Grant/AuthorizationCode"
)("AuthorizationCode", {
  clientId: Schema.String,
  clientSecret: RedactedString,
  code: RedactedString,
  redirectUri: Schema.String,
  /** The PKCE verifier (RFC 7636) of the consent request, when the app enables PKCE. */
  codeVerifier: Schema.optional(RedactedString)
}) {
  /**
   * @since 0.1.0
   */
  get grantType(): "authorization_code" {
    return "authorization_code"
  }
}

/**
 * The `refresh_token` grant. Criteo rotates refresh tokens: each exchange returns a new one that
 * replaces this one.
 *
 * @since 0.1.0
 * @category models
 */
export class RefreshToken extends Schema.TaggedClass<RefreshToken>(
  "@criteo-auth/core/Grant/RefreshToken"
)("RefreshToken", {
  clientId: Schema.String,
  clientSecret: RedactedString,
  refreshToken: RedactedString
}) {
  /**
   * @since 0.1.0
   */
  get grantType(): "refresh_token" {
    return "refresh_token"
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export type Grant = ClientCredentials | AuthorizationCode | RefreshToken

/**
 * @since 0.1.0
 * @category schemas
 */
export const Grant: Schema.Union<[typeof ClientCredentials, typeof AuthorizationCode, typeof RefreshToken]> = Schema
  .Union(ClientCredentials, AuthorizationCode, RefreshToken)

/**
 * @since 0.1.0
 * @category models
 */
export type GrantType = Grant["grantType"]

/**
 * The grant types, in one list (configuration choices and CLI flags derive theirs from it).
 *
 * @since 0.2.0
 * @category constants
 */
export const grantTypes: readonly ["client_credentials", "authorization_code", "refresh_token"] = [
  "client_credentials",
  "authorization_code",
  "refresh_token"
] as const satisfies ReadonlyArray<GrantType>

const secret = (value: string | Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.isRedacted(value) ? value : Redacted.make(value)

/**
 * @example
 * ```ts
 * import { Grant } from "@criteo-auth/core"
 * import { Redacted } from "effect"
 *
 * const grant = Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") })
 *
 * assert.strictEqual(grant.grantType, "client_credentials")
 * assert.strictEqual(String(grant.clientSecret), "<redacted>")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientCredentials = (options: {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}): ClientCredentials =>
  new ClientCredentials({ clientId: options.clientId, clientSecret: secret(options.clientSecret) })

/**
 * @since 0.1.0
 * @category constructors
 */
export const authorizationCode = (options: {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly code: Redacted.Redacted<string>
  readonly redirectUri: string
  /** The PKCE verifier of the consent request, when the app enables PKCE (since 0.2.0). */
  readonly codeVerifier?: Redacted.Redacted<string> | undefined
}): AuthorizationCode =>
  new AuthorizationCode({
    clientId: options.clientId,
    clientSecret: secret(options.clientSecret),
    code: secret(options.code),
    redirectUri: options.redirectUri,
    ...(options.codeVerifier === undefined ? {} : { codeVerifier: secret(options.codeVerifier) })
  })

/**
 * @since 0.1.0
 * @category constructors
 */
export const refreshToken = (options: {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string>
}): RefreshToken =>
  new RefreshToken({
    clientId: options.clientId,
    clientSecret: secret(options.clientSecret),
    refreshToken: secret(options.refreshToken)
  })

/**
 * The secret values a grant carries, for scrubbing them out of text a server sent back.
 *
 * @since 0.1.0
 * @category accessors
 */
export const secrets = (grant: Grant): ReadonlyArray<Redacted.Redacted<string>> => {
  switch (grant._tag) {
    case "ClientCredentials":
      return [grant.clientSecret]
    case "AuthorizationCode":
      return grant.codeVerifier === undefined
        ? [grant.clientSecret, grant.code]
        : [grant.clientSecret, grant.code, grant.codeVerifier]
    case "RefreshToken":
      return [grant.clientSecret, grant.refreshToken]
  }
}
