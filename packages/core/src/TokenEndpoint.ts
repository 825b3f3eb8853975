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
import type * as Grant from "./Grant.js"
import { transportError } from "./internal/errors.js"
import * as RateLimit from "./internal/rateLimit.js"

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
}

// -----------------------------------------------------------------------------
// decoding
// -----------------------------------------------------------------------------

const ExpiresIn = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((seconds) =>
    Number.isFinite(seconds) && seconds > 0 && seconds <= Duration.toSeconds(maxExpiresIn) ||
    `expires_in must be a positive number of seconds no greater than ${
      Duration.toSeconds(maxExpiresIn)
    }, got ${seconds}`
  )
)

const TokenType = Schema.String.pipe(
  Schema.filter((type) => type.toLowerCase() === "bearer" || `token_type must be "Bearer", got "${type}"`)
)

const TokenResponse = Schema.Struct({
  access_token: Schema.String.pipe(Schema.minLength(1)),
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

/** Fields whose values are secret: a decoding failure on them names the field, never the value. */
const secretFields = new Set<PropertyKey>(["access_token", "refresh_token"])

const describeParseError = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return "the body does not match the token response format"
  const field = issue.path.length > 0 ? String(issue.path[0]) : undefined
  if (field === undefined) return "the body is not a JSON object"
  if (issue._tag === "Missing") return `${field} is missing`
  if (secretFields.has(field)) return `${field} is not a non-empty string`
  return issue.message.startsWith(field) ? issue.message : `${field}: ${issue.message}`
}

const parseJson = (text: string): Option.Option<unknown> => Either.getRight(Either.try(() => JSON.parse(text)))

const scrub = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>>): string => {
  let result = text
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    if (value.length > 0) result = result.split(value).join("<redacted>")
  }
  return result.length > 500 ? `${result.slice(0, 500)}…` : result
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
        reason: describeParseError(decoded.left)
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
  const secrets = [
    grant.clientSecret,
    ...(grant._tag === "AuthorizationCode" ? [grant.code] : []),
    ...(grant._tag === "RefreshToken" ? [grant.refreshToken] : [])
  ]
  const description = Option.match(oauth, {
    onNone: () => ({}),
    onSome: ({ error_description }) =>
      typeof error_description === "string" && error_description.length > 0
        ? { description: scrub(error_description, secrets) }
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
    error: code === undefined ? "unknown" : scrub(code, secrets).slice(0, 100),
    ...description
  })
}

/**
 * Builds the service on the `HttpClient` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const tokenUrl = options.tokenUrl ?? defaultTokenUrl
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)

    const exchange = Effect.fnUntraced(function*(grant: Grant.Grant) {
      const request = HttpClientRequest.post(tokenUrl).pipe(
        HttpClientRequest.acceptJson,
        HttpClientRequest.bodyUrlParams(formOf(grant))
      )
      const issuedAt = yield* DateTime.now
      const response = yield* client.execute(request)
      const text = yield* response.text
      const body = parseJson(text)
      if (response.status >= 200 && response.status < 300) {
        if (Option.isNone(body)) {
          const contentType = response.headers["content-type"] ?? "none"
          return yield* new CriteoAuthError.MalformedTokenResponseError({
            clientId: grant.clientId,
            status: response.status,
            reason: `the body is not JSON (content-type ${contentType}, ${text.length} characters)`
          })
        }
        return yield* toToken(grant, response, body.value, issuedAt)
      }
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
          Effect.flatMap(Clock.currentTimeMillis, (end) =>
            Metric.update(CriteoAuthMetrics.tokenRequestDuration, Duration.millis(end - start)))
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
export const layer = (options: Options = {}): Layer.Layer<TokenEndpoint, never, HttpClient.HttpClient> =>
  Layer.effect(TokenEndpoint, make(options))
