/**
 * The typed failures of criteo-auth. Every public failure is one of these classes, each a
 * `Schema.TaggedError` whose `_tag` is its class name, so a caller can `Effect.catchTag` it.
 *
 * None of them holds a secret: no client secret, authorization code, refresh token or access token
 * is ever stored in an error, so no rendering (`String`, `JSON.stringify`, `Cause.pretty`, a logger)
 * can show one. Where a token has to be identified, its fingerprint is used instead.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as CriteoUrl from "./CriteoUrl.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/core/CriteoAuthError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

const OAuthFields = {
  /** The OAuth client id of the request, never a secret. */
  clientId: Schema.String,
  /** The HTTP status the token endpoint answered with. */
  status: Schema.Number,
  /** The OAuth `error_description`, if the server sent one. */
  description: Schema.optional(Schema.String)
}

const describe = (description: string | undefined) => description === undefined ? "" : `: ${description}`

/**
 * The token endpoint refused the client credentials (OAuth `invalid_client`): the client id does not
 * exist or the secret is wrong. Retrying does not help.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidClientError extends Schema.TaggedError<InvalidClientError>(
  "@criteo-auth/core/InvalidClientError"
)("InvalidClientError", OAuthFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Criteo rejected the client credentials of client "${this.clientId}" (invalid_client, HTTP ${this.status})${
      describe(this.description)
    }`
  }
}

/**
 * The grant itself was refused (OAuth `invalid_grant`): the authorization code or refresh token is
 * invalid, expired, already used, or the consent was withdrawn. The user has to consent again.
 *
 * `reason` says who refused it: `Refused` when the token endpoint answered `invalid_grant` (with
 * `status`); `CodeAlreadyUsed` when the provider refused to send an authorization code a second time
 * (no refresh token came with the first exchange) and made no request, so there is no `status`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidGrantError extends Schema.TaggedError<InvalidGrantError>(
  "@criteo-auth/core/InvalidGrantError"
)("InvalidGrantError", {
  ...OAuthFields,
  /**
   * The HTTP status the token endpoint answered with; absent when no request was made (reason
   * `CodeAlreadyUsed`). Before 0.2.0 that case carried a sentinel status 0.
   */
  status: Schema.optional(Schema.Number),
  /** The grant type that was refused. */
  grantType: Schema.String,
  /** Who refused the grant (since 0.2.0): the server (`Refused`), or the provider (`CodeAlreadyUsed`). */
  reason: Schema.optionalWith(Schema.Literal("Refused", "CodeAlreadyUsed"), { default: () => "Refused" as const })
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    if (this.reason === "CodeAlreadyUsed") {
      return `the authorization code of client "${this.clientId}" was already exchanged and no refresh token was issued (not sent again)${
        describe(this.description)
      }; the user must give consent again`
    }
    return `Criteo refused the ${this.grantType} grant of client "${this.clientId}" (invalid_grant, HTTP ${this.status})${
      describe(this.description)
    }; the user must give consent again`
  }
}

/**
 * The token endpoint answered with any other OAuth error (`invalid_request`, `unauthorized_client`,
 * `unsupported_grant_type`, `invalid_scope`, ...) or with an unexpected status.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenRequestRejectedError extends Schema.TaggedError<TokenRequestRejectedError>(
  "@criteo-auth/core/TokenRequestRejectedError"
)("TokenRequestRejectedError", {
  ...OAuthFields,
  /** The OAuth `error` code, or `"unknown"` when the body did not carry one. */
  error: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Criteo rejected the token request of client "${this.clientId}" (${this.error}, HTTP ${this.status})${
      describe(this.description)
    }`
  }
}

/**
 * The token endpoint or the API answered 429. `retryAfter` is how long the server asked to wait
 * (from `Retry-After` or `x-ratelimit-reset`), when it said.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimitedError extends Schema.TaggedError<RateLimitedError>(
  "@criteo-auth/core/RateLimitedError"
)("RateLimitedError", {
  /** Which endpoint limited the client. */
  endpoint: Schema.Literal("token", "api"),
  /** The OAuth client id, never a secret. */
  clientId: Schema.String,
  /** How long the server asked the client to wait, when it said. */
  retryAfter: Schema.optional(Schema.DurationFromSelf),
  /** The value of `x-ratelimit-limit`, when sent. */
  limit: Schema.optional(Schema.Number)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    const wait = this.retryAfter === undefined
      ? "the server did not say when to retry"
      : `retry in ${Duration.format(this.retryAfter)}`
    return `Criteo rate-limited client "${this.clientId}" on the ${this.endpoint} endpoint (HTTP 429): ${wait}`
  }
}

/**
 * The token endpoint answered with a server error (5xx), and kept doing so after the retries.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokenEndpointUnavailableError extends Schema.TaggedError<TokenEndpointUnavailableError>(
  "@criteo-auth/core/TokenEndpointUnavailableError"
)("TokenEndpointUnavailableError", {
  clientId: Schema.String,
  /** The last HTTP status received. */
  status: Schema.Number,
  /** How many requests were made before giving up. */
  attempts: Schema.Number
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `The Criteo token endpoint is unavailable (HTTP ${this.status} after ${this.attempts} attempt${
      this.attempts === 1 ? "" : "s"
    })`
  }
}

/**
 * The request could not be completed: connection refused or reset, DNS failure, malformed HTTP, or no
 * answer within the timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>(
  "@criteo-auth/core/TransportError"
)("TransportError", {
  /** Which endpoint could not be reached. */
  endpoint: Schema.Literal("token", "api"),
  /** `Timeout` when no answer came in time, `Transport` for network failures, `Decode` for a broken body. */
  reason: Schema.Literal("Timeout", "Transport", "Decode"),
  /** A short description of the failure, without request contents. */
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Could not reach the Criteo ${this.endpoint} endpoint (${this.reason}): ${this.detail}`
  }
}

/**
 * The token endpoint answered 2xx with a body that is not a usable bearer token: not JSON, no
 * `access_token`, a token type other than bearer, or a missing, non-positive or absurd `expires_in`.
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedTokenResponseError extends Schema.TaggedError<MalformedTokenResponseError>(
  "@criteo-auth/core/MalformedTokenResponseError"
)("MalformedTokenResponseError", {
  clientId: Schema.String,
  status: Schema.Number,
  /** What is wrong with the body, never the body itself. */
  reason: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `The Criteo token endpoint sent an unusable token response (HTTP ${this.status}): ${this.reason}`
  }
}

const ApiFields = {
  /** The HTTP method of the refused request. */
  method: Schema.String,
  /** The URL of the refused request, without its query string. */
  url: Schema.String,
  /** Criteo's error code from the body (`authorization-token-expired`, ...), when present. */
  code: Schema.optional(Schema.String),
  /** Criteo's trace id from the body, for support requests, when present. */
  traceId: Schema.optional(Schema.String)
}

/**
 * The API answered 401 again after the token was refreshed and the request replayed once.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnauthorizedError extends Schema.TaggedError<UnauthorizedError>(
  "@criteo-auth/core/UnauthorizedError"
)("UnauthorizedError", ApiFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Criteo answered 401 Unauthorized to ${this.method} ${this.url} even with a fresh token${
      this.code === undefined ? "" : ` (${this.code})`
    }`
  }
}

/**
 * The API answered 403: the token is valid but the consent was revoked or the permission is missing.
 * A new token would not help, so none is requested.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForbiddenError extends Schema.TaggedError<ForbiddenError>(
  "@criteo-auth/core/ForbiddenError"
)("ForbiddenError", ApiFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Criteo answered 403 Forbidden to ${this.method} ${this.url}${
      this.code === undefined ? "" : ` (${this.code})`
    }: the consent was revoked or the permission is missing`
  }
}

/**
 * The API answered 410 Gone: Criteo decommissions an API version twelve months after its release,
 * and answers 410 to every call of it afterwards. Move to a supported version (`apiVersion`). Raised
 * for a 410 whose path names a version, or that carries `Deprecation` or `Sunset`; another 410 is
 * returned as a response.
 *
 * @since 0.2.0
 * @category errors
 */
export class ApiVersionDecommissionedError extends Schema.TaggedError<ApiVersionDecommissionedError>(
  "@criteo-auth/core/ApiVersionDecommissionedError"
)("ApiVersionDecommissionedError", {
  ...ApiFields,
  /** The API version of the refused request (`2025-01`), when its path names one. */
  version: Schema.optional(Schema.String),
  /** The stable version this release of criteo-auth targets, when it differs from `version`. */
  currentVersion: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.2.0
   */
  get message(): string {
    return `Criteo answered 410 Gone to ${this.method} ${this.url}: API version ${
      this.version ?? "(none in the path)"
    } was decommissioned${
      this.currentVersion === undefined ? "" : `; the current version is ${this.currentVersion}`
    } (set apiVersion / CRITEO_API_VERSION)`
  }
}

/**
 * A token URL or API base URL that core refuses to send credentials to (see `CriteoUrl` for the
 * rules): not an absolute URL, a scheme other than `https:` (or `http:` to the local machine without
 * `allowInsecureHttp`), user info, a query or a fragment. Raised when a layer is built, never by a
 * request, so it is not part of `CriteoAuthError`: a layer (`TokenEndpoint.layer`, `CriteoAuth.layer`,
 * `CriteoHttpClient.layer`) fails with it, and `Effect.catchTag("RefusedUrlError", ...)` on the
 * program that provides the layer catches it. `url` never holds user info, a query or a fragment.
 *
 * @since 0.2.0
 * @category errors
 */
export class RefusedUrlError extends Schema.TaggedError<RefusedUrlError>(
  "@criteo-auth/core/RefusedUrlError"
)("RefusedUrlError", {
  /** The option that holds the URL: `tokenUrl` or `baseUrl`. */
  option: Schema.Literal("tokenUrl", "baseUrl"),
  /** Why it is refused. */
  reason: Schema.Literal("Malformed", "UnsupportedScheme", "Insecure", "UserInfo", "QueryOrFragment"),
  /** The URL without user info, query or fragment (absent when it does not parse). */
  url: Schema.optional(Schema.String),
  /** The host credentials would have been sent to (`Insecure`). */
  host: Schema.optional(Schema.String),
  /** The scheme found (`UnsupportedScheme`). */
  scheme: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.2.0
   */
  get message(): string {
    return CriteoUrl.describe(this.problem, this.option)
  }
  /**
   * The problem, as `CriteoUrl.check` reports it.
   *
   * @since 0.2.0
   */
  get problem(): CriteoUrl.Problem {
    const url = this.url ?? "<not a URL>"
    switch (this.reason) {
      case "Malformed":
        return { _tag: "Malformed" }
      case "UnsupportedScheme":
        return { _tag: "UnsupportedScheme", scheme: this.scheme ?? "", url }
      case "Insecure":
        return { _tag: "Insecure", url, host: this.host ?? "" }
      case "UserInfo":
      case "QueryOrFragment":
        return { _tag: this.reason, url }
    }
  }
  /**
   * The error for a problem `CriteoUrl.check` found in an option.
   *
   * @since 0.2.0
   */
  static fromProblem(option: "tokenUrl" | "baseUrl", problem: CriteoUrl.Problem): RefusedUrlError {
    return new RefusedUrlError({
      option,
      reason: problem._tag,
      ...("url" in problem ? { url: problem.url } : {}),
      ...("host" in problem ? { host: problem.host } : {}),
      ...("scheme" in problem ? { scheme: problem.scheme } : {})
    })
  }
}

/**
 * Checks `url` with `CriteoUrl.check` and fails with `RefusedUrlError` naming `option`.
 *
 * @since 0.2.0
 * @category validation
 */
export const checkUrl = (
  option: "tokenUrl" | "baseUrl",
  url: string,
  options: CriteoUrl.CheckOptions = {}
): Effect.Effect<string, RefusedUrlError> =>
  Either.match(CriteoUrl.check(url, options), {
    onLeft: (problem) => Effect.fail(RefusedUrlError.fromProblem(option, problem)),
    onRight: Effect.succeed
  })

/**
 * The failures of a token request.
 *
 * @since 0.1.0
 * @category errors
 */
export type TokenError =
  | InvalidClientError
  | InvalidGrantError
  | TokenRequestRejectedError
  | RateLimitedError
  | TokenEndpointUnavailableError
  | TransportError
  | MalformedTokenResponseError

/**
 * Every public failure of criteo-auth.
 *
 * @since 0.1.0
 * @category errors
 */
export type CriteoAuthError = TokenError | UnauthorizedError | ForbiddenError | ApiVersionDecommissionedError

/**
 * @since 0.1.0
 * @category guards
 */
export const isCriteoAuthError = (u: unknown): u is CriteoAuthError => Predicate.hasProperty(u, TypeId)

/**
 * Whether a token request that failed this way may succeed if tried again later. Rejections of the
 * credentials or of the grant are permanent; rate limits, server errors and transport failures are not.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryable = (error: CriteoAuthError): boolean =>
  error._tag === "RateLimitedError" ||
  error._tag === "TokenEndpointUnavailableError" ||
  error._tag === "TransportError"
