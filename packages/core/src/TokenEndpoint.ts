/**
 * One exchange with Criteo's token endpoint: a grant goes in, an `AccessToken` or a typed
 * `TokenError` comes out. No caching and no retries here: `CriteoAuth` adds those.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as AccessToken from "./AccessToken.js"
import * as CriteoAuthError from "./CriteoAuthError.js"
import * as CriteoAuthMetrics from "./CriteoAuthMetrics.js"
import * as Grant from "./Grant.js"
import { readCapped } from "./internal/body.js"
import { transportError } from "./internal/errors.js"
import * as Json from "./internal/json.js"
import * as RateLimit from "./internal/rateLimit.js"
import * as Redaction from "./Redaction.js"

/**
 * Criteo's token endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTokenUrl = "https://api.criteo.com/oauth2/token"

/**
 * How long one exchange may take, body included, before it fails with a `TransportError`.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(10)

/**
 * The longest `expires_in` accepted (a day). Criteo issues 900 s tokens; a lifetime beyond this is a
 * broken server or a unit mix-up (milliseconds), and trusting it would keep a dead token for days.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxExpiresIn: Duration.Duration = Duration.days(1)

/**
 * The shortest `expires_in` accepted (1 s). A shorter lifetime (`expires_in: 0.0001`) is a broken
 * server: the token would be expired before the first caller used it, and a provider refreshing ahead
 * of expiry would ask again back to back. Refused as `MalformedTokenResponseError`. (One second, not
 * more: the conformance kit checks that clients handle 1 s tokens.)
 *
 * @since 0.2.0
 * @category constants
 */
export const minExpiresIn: Duration.Duration = Duration.seconds(1)

/**
 * The largest token response read, in bytes (64 KiB). Criteo's answers are 1 to 2 KB; a larger body is
 * refused as `MalformedTokenResponseError` as soon as the limit is crossed, without reading the rest.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultMaxBodySize = 64 * 1024

/**
 * The deepest JSON nesting accepted in a token endpoint's answer. A token response is one flat
 * object; an answer nested deeper is refused before it is decoded (a 3,000-deep body would overflow
 * the stack while the decoding error is formatted).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxJsonDepth = 32

/**
 * The defaults of `Options`, and the bounds every answer is checked against.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaults = {
  tokenUrl: defaultTokenUrl,
  timeout: defaultTimeout,
  maxBodySize: defaultMaxBodySize,
  minExpiresIn,
  maxExpiresIn,
  maxJsonDepth
} as const

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Exchange the grant for a token: one HTTP request, no retry.
   */
  readonly request: (grant: Grant.Grant) => Effect.Effect<AccessToken.AccessToken, CriteoAuthError.TokenError>
  /** The URL of the token endpoint, for display. */
  readonly tokenUrl: string
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenEndpoint extends Context.Tag("@criteo-auth/core/TokenEndpoint")<TokenEndpoint, Service>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Defaults to `https://api.criteo.com/oauth2/token`. */
  readonly tokenUrl?: string | undefined
  /** The limit for one exchange, response body included. Defaults to 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Allow plain `http:` to a host other than the local machine. Off by default: the token URL must be
   * `https:`, or `http:` to a loopback address (see `CriteoUrl`).
   */
  readonly allowInsecureHttp?: boolean | undefined
  /** The largest answer read, in bytes. Defaults to 64 KiB; a larger one is a `MalformedTokenResponseError`. */
  readonly maxBodySize?: number | undefined
}

// -----------------------------------------------------------------------------
// decoding
// -----------------------------------------------------------------------------

const ExpiresIn = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((seconds) =>
    Number.isFinite(seconds) && seconds >= Duration.toSeconds(minExpiresIn) &&
    seconds <= Duration.toSeconds(maxExpiresIn)
  )
)

const TokenType = Schema.String.pipe(Schema.filter((type) => type.toLowerCase() === "bearer"))

/**
 * RFC 6750 §2.1 `b64token`: the only characters a bearer token can have in an `Authorization` header.
 * A token with CR, LF, NUL, a space or a non-ASCII character would make every API call fail (or split
 * the header) for the token's whole life.
 */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

const AccessTokenValue = Schema.String.pipe(Schema.filter((value) => B64TOKEN.test(value)))

const TokenResponse = Schema.Struct({
  access_token: AccessTokenValue,
  token_type: TokenType,
  expires_in: ExpiresIn,
  refresh_token: Schema.optional(Schema.NullOr(Schema.String))
})

const decodeTokenResponse = Schema.decodeUnknownEither(TokenResponse, { errors: "first", onExcessProperty: "ignore" })

const OAuthErrorBody = Schema.Struct({
  error: Schema.String,
  error_description: Schema.optional(Schema.NullOr(Schema.String))
})

const decodeOAuthError = Schema.decodeUnknownOption(OAuthErrorBody)

/** A value the server sent, for a message: scrubbed, control characters escaped, short. */
const shown = (value: unknown, secrets: ReadonlyArray<Redacted.Redacted<string> | string>): string => {
  if (typeof value === "string") return `"${Redaction.sanitize(value, secrets, 40)}"`
  if (typeof value === "number") return String(value)
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  return `a ${typeof value}`
}

/**
 * Why the body is not a token response, in words: the field and what is wrong with it. Never the
 * access or refresh token, and any other value the server sent only scrubbed (of the grant's secrets
 * and of the tokens in the same body) and cut short. The messages of Schema's own formatter are not
 * used: they print whole values, and printing a deeply nested one can overflow the stack.
 */
const describeParseError = (
  error: ParseResult.ParseError,
  body: unknown,
  secrets: ReadonlyArray<Redacted.Redacted<string> | string>
): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return "the body does not match the token response format"
  const field = issue.path.length > 0 ? String(issue.path[0]) : undefined
  if (field === undefined || typeof body !== "object" || body === null || Array.isArray(body)) {
    return "the body is not a JSON object"
  }
  if (issue._tag === "Missing") return `${field} is missing`
  const value = (body as Record<string, unknown>)[field]
  switch (field) {
    case "access_token":
      return typeof value === "string" && value.length > 0
        ? "access_token has characters a bearer token cannot have (RFC 6750 b64token: letters, digits, -._~+/ and " +
          "trailing =)"
        : "access_token is not a non-empty string"
    case "refresh_token":
      return "refresh_token is not a string"
    case "token_type":
      return `token_type must be "Bearer", got ${shown(value, secrets)}`
    case "expires_in":
      return `expires_in must be a number of seconds from ${Duration.toSeconds(minExpiresIn)} to ${
        Duration.toSeconds(maxExpiresIn)
      }, got ${shown(value, secrets)}`
    default:
      return `${Redaction.sanitize(field, secrets, 40)} is invalid`
  }
}

/** The token values of a body, to scrub from messages about the same body. */
const tokensIn = (body: unknown): ReadonlyArray<string> => {
  if (typeof body !== "object" || body === null) return []
  const { access_token, refresh_token } = body as Record<string, unknown>
  return [access_token, refresh_token].filter((value): value is string => typeof value === "string")
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const formOf = (grant: Grant.Grant): Array<[string, string]> => {
  const common: Array<[string, string]> = [
    ["grant_type", grant.grantType],
    ["client_id", grant.clientId],
    ["client_secret", Redacted.value(grant.clientSecret)]
  ]
  switch (grant._tag) {
    case "ClientCredentials":
      return common
    case "AuthorizationCode":
      return [
        ...common,
        ["code", Redacted.value(grant.code)],
        ["redirect_uri", grant.redirectUri],
        ...(grant.codeVerifier === undefined
          ? []
          : [["code_verifier", Redacted.value(grant.codeVerifier)] as [string, string]])
      ]
    case "RefreshToken":
      return [...common, ["refresh_token", Redacted.value(grant.refreshToken)]]
  }
}

/** The secrets of a grant in every form the token request may carry them (Basic credentials too). */
const secretsOf = (grant: Grant.Grant): ReadonlyArray<Redacted.Redacted<string>> => [
  ...Grant.secrets(grant),
  ...Redaction.basicCredentials(grant.clientId, grant.clientSecret)
]

const toToken = (
  grant: Grant.Grant,
  response: HttpClientResponse.HttpClientResponse,
  body: unknown,
  issuedAt: DateTime.Utc
): Effect.Effect<AccessToken.AccessToken, CriteoAuthError.MalformedTokenResponseError> => {
  const decoded = decodeTokenResponse(body)
  if (Either.isLeft(decoded)) {
    return Effect.fail(
      new CriteoAuthError.MalformedTokenResponseError({
        clientId: grant.clientId,
        status: response.status,
        reason: describeParseError(decoded.left, body, [...secretsOf(grant), ...tokensIn(body)])
      })
    )
  }
  const fields = decoded.right
  const expiresIn = Duration.millis(Math.floor(fields.expires_in * 1000))
  return Effect.succeed(
    new AccessToken.AccessToken({
      value: Redacted.make(fields.access_token),
      tokenType: fields.token_type,
      expiresIn,
      issuedAt,
      expiresAt: DateTime.addDuration(issuedAt, expiresIn),
      ...(typeof fields.refresh_token === "string" && fields.refresh_token.length > 0
        ? { refreshToken: Redacted.make(fields.refresh_token) }
        : {})
    })
  )
}

const toError = (
  grant: Grant.Grant,
  response: HttpClientResponse.HttpClientResponse,
  body: Option.Option<unknown>,
  now: DateTime.Utc
): CriteoAuthError.TokenError => {
  const status = response.status
  const clientId = grant.clientId
  if (status === 429) {
    return new CriteoAuthError.RateLimitedError({
      endpoint: "token",
      clientId,
      ...Option.match(RateLimit.retryAfter(response.headers, now), {
        onNone: () => ({}),
        onSome: (retryAfter) => ({ retryAfter })
      }),
      ...Option.match(RateLimit.limit(response.headers), { onNone: () => ({}), onSome: (limit) => ({ limit }) })
    })
  }
  if (status >= 500) {
    return new CriteoAuthError.TokenEndpointUnavailableError({ clientId, status, attempts: 1 })
  }
  const oauth = Option.flatMap(body, decodeOAuthError)
  const secrets = secretsOf(grant)
  const description = Option.match(oauth, {
    onNone: () => ({}),
    onSome: ({ error_description }) =>
      typeof error_description === "string" && error_description.length > 0
        ? { description: Redaction.sanitize(error_description, secrets) }
        : {}
  })
  const code = Option.match(oauth, { onNone: () => undefined, onSome: ({ error }) => error })
  if (code === "invalid_client" || (code === undefined && status === 401)) {
    return new CriteoAuthError.InvalidClientError({ clientId, status, ...description })
  }
  if (code === "invalid_grant") {
    return new CriteoAuthError.InvalidGrantError({ clientId, status, grantType: grant.grantType, ...description })
  }
  return new CriteoAuthError.TokenRequestRejectedError({
    clientId,
    status,
    error: code === undefined ? "unknown" : Redaction.sanitize(code, secrets, 100),
    ...description
  })
}

/**
 * Builds the service on the `HttpClient` in context. Fails with `RefusedUrlError` when the token URL
 * breaks the rules of `CriteoUrl` (https, or http to loopback; no user info, query or fragment).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const tokenUrl = options.tokenUrl ?? defaultTokenUrl
    yield* CriteoAuthError.checkUrl("tokenUrl", tokenUrl, options)
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const maxBodySize = Math.max(1, Math.floor(options.maxBodySize ?? defaultMaxBodySize))

    const exchange = Effect.fnUntraced(function*(grant: Grant.Grant) {
      const request = HttpClientRequest.post(tokenUrl).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.bodyUrlParams(formOf(grant))
      )
      const issuedAt = yield* DateTime.now
      const response = yield* client.execute(request)
      const ok = response.status >= 200 && response.status < 300
      const malformed = (reason: string) =>
        new CriteoAuthError.MalformedTokenResponseError({ clientId: grant.clientId, status: response.status, reason })
      const text = yield* readCapped(response, maxBodySize)
      if (Option.isNone(text)) {
        if (ok) return yield* malformed(`the body is larger than ${maxBodySize} bytes`)
        // an error status: its body is only read for the OAuth error code, which a huge body does not give
        return yield* Effect.fail(toError(grant, response, Option.none(), yield* DateTime.now))
      }
      const parsed = Json.parse(text.value, maxJsonDepth)
      if (ok) {
        if (Either.isLeft(parsed)) {
          const contentType = Redaction.sanitize(response.headers["content-type"] ?? "none", secretsOf(grant), 60)
          return yield* malformed(
            parsed.left === "TooDeep"
              ? `the body is JSON nested deeper than ${maxJsonDepth} levels`
              : `the body is not JSON (content-type ${contentType}, ${text.value.length} characters)`
          )
        }
        return yield* toToken(grant, response, parsed.right, issuedAt)
      }
      const body = Either.getRight(parsed)
      return yield* Effect.fail(toError(grant, response, body, yield* DateTime.now))
    }, (effect) =>
      effect.pipe(
        Effect.catchTags({
          RequestError: (error) => Effect.fail(transportError("token", error)),
          ResponseError: (error) => Effect.fail(transportError("token", error))
        }),
        Effect.scoped,
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new CriteoAuthError.TransportError({
              endpoint: "token",
              reason: "Timeout",
              detail: `no complete answer within ${Duration.format(timeout)}`
            })
        })
      ))

    /** Records the latency of every exchange, failed ones included. */
    const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(Clock.currentTimeMillis, (start) =>
        Effect.ensuring(
          effect,
          Effect.flatMap(
            Clock.currentTimeMillis,
            (end) => Metric.update(CriteoAuthMetrics.tokenRequestDuration, Duration.millis(end - start))
          )
        ))

    const request = (grant: Grant.Grant) =>
      exchange(grant).pipe(
        Effect.tapBoth({
          onFailure: (error) =>
            Effect.all([
              Effect.annotateCurrentSpan({ outcome: error._tag }),
              Metric.increment(Metric.taggedWithLabels(CriteoAuthMetrics.tokenRequests, [
                MetricLabel.make("outcome", error._tag),
                MetricLabel.make("grant_type", grant.grantType)
              ]))
            ]),
          onSuccess: (token) =>
            Effect.all([
              Effect.annotateCurrentSpan({ outcome: "success", "token.fingerprint": token.fingerprint }),
              Metric.increment(Metric.taggedWithLabels(CriteoAuthMetrics.tokenRequests, [
                MetricLabel.make("outcome", "success"),
                MetricLabel.make("grant_type", grant.grantType)
              ]))
            ])
        }),
        timed,
        Effect.withSpan("TokenEndpoint.request", {
          kind: "client",
          attributes: { "criteo.client_id": grant.clientId, "oauth.grant_type": grant.grantType, "url.full": tokenUrl }
        })
      )

    return TokenEndpoint.of({ request, tokenUrl })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<TokenEndpoint, CriteoAuthError.RefusedUrlError, HttpClient.HttpClient> =>
  Layer.effect(TokenEndpoint, make(options))
