/**
 * The settings of a Criteo client, and how to read them from the environment with Effect's `Config`:
 * `CRITEO_CLIENT_ID`, `CRITEO_CLIENT_SECRET`, the grant, the endpoints, the API version, timeouts.
 *
 * Secrets stay `Redacted` from the moment they are read; a missing or malformed variable is a
 * `ConfigError` that names the variable and never shows a secret's value. Credentials (the client
 * secret in the token request, the bearer token in API calls) are only ever sent over `https:`, or
 * over plain `http:` to a loopback host, unless the caller opts in with `allowInsecureHttp`.
 *
 * @since 0.1.0
 */
import type * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import type * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as CriteoUrl from "@criteo-auth/core/CriteoUrl"
import * as Grant from "@criteo-auth/core/Grant"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as InternalDuration from "./internal/duration.js"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

/**
 * Everything a Criteo client needs: the options of `CriteoAuth` (grant, token URL, token timeout,
 * refresh lead time, retries, ...) and those of `CriteoHttpClient` (API URL, version, retries), plus
 * a per-attempt timeout for API calls and the opt-in for plain `http:`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends CriteoAuth.Options {
  /** The API host. Default `https://api.criteo.com`. */
  readonly apiUrl?: string | undefined
  /** The version prefixed to every API path. Default `2026-07`; `null` sends paths as they are. */
  readonly apiVersion?: string | null | undefined
  /** Retry bounds for API calls answered 5xx or 429. */
  readonly apiRetry?: CriteoHttpClient.RetryOptions | undefined
  /**
   * How long one API attempt may wait for the response headers before it fails with a `RequestError`
   * (reason `Transport`). Default 60 seconds.
   */
  readonly apiTimeout?: Duration.DurationInput | undefined
  /**
   * Allows sending credentials over plain `http:` to a host that is not the local machine. Off by
   * default: only `https:` and loopback `http:` URLs (127.0.0.0/8, `::1`, `localhost`) are accepted.
   */
  readonly allowInsecureHttp?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultApiTimeout: Duration.Duration = Duration.seconds(60)

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/platform/CriteoConfig")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A token or API URL with plain `http:` to a host that is not the local machine: the client secret or
 * the bearer token would cross the network in clear text. Use `https:`, or set `allowInsecureHttp`.
 *
 * @since 0.1.0
 * @category errors
 */
export class InsecureUrlError extends Schema.TaggedError<InsecureUrlError>(
  "@criteo-auth/platform/InsecureUrlError"
)("InsecureUrlError", {
  /** The option that holds the URL. */
  option: Schema.Literal("tokenUrl", "apiUrl"),
  /** The URL without user info, query or fragment. */
  url: Schema.String,
  /** The host credentials would have been sent to. */
  host: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return CriteoUrl.describe({ _tag: "Insecure", url: this.url, host: this.host }, this.option)
  }
}

/**
 * A token or API URL that is not an absolute `http:` or `https:` URL, or that carries user info, a
 * query or a fragment (the rules are core's `CriteoUrl`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUrlError extends Schema.TaggedError<InvalidUrlError>(
  "@criteo-auth/platform/InvalidUrlError"
)("InvalidUrlError", {
  /** The option that holds the URL. */
  option: Schema.Literal("tokenUrl", "apiUrl"),
  /**
   * `Malformed`: not an absolute URL; `UnsupportedScheme`: neither `https:` nor `http:`; since 0.2.0
   * `UserInfo`: `user:password@` in the URL; `QueryOrFragment`: a `?` or `#` in the URL.
   */
  reason: Schema.Literal("Malformed", "UnsupportedScheme", "UserInfo", "QueryOrFragment"),
  /** The scheme found, for `UnsupportedScheme`. */
  scheme: Schema.optional(Schema.String),
  /** The URL without user info, query or fragment (since 0.2.0; absent for `Malformed`). */
  url: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return CriteoUrl.describe(problemOf(this), this.option)
  }
}

const problemOf = (error: InvalidUrlError): CriteoUrl.Problem => {
  const url = error.url ?? "<not a URL>"
  switch (error.reason) {
    case "Malformed":
      return { _tag: "Malformed" }
    case "UnsupportedScheme":
      return { _tag: "UnsupportedScheme", scheme: error.scheme ?? "", url }
    case "UserInfo":
    case "QueryOrFragment":
      return { _tag: error.reason, url }
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type UrlError = InsecureUrlError | InvalidUrlError

/**
 * @since 0.1.0
 * @category guards
 */
export const isUrlError = (u: unknown): u is UrlError => Predicate.hasProperty(u, TypeId)

const urlError = (option: "tokenUrl" | "apiUrl", problem: CriteoUrl.Problem): UrlError => {
  switch (problem._tag) {
    case "Malformed":
      return new InvalidUrlError({ option, reason: "Malformed" })
    case "UnsupportedScheme":
      return new InvalidUrlError({ option, reason: "UnsupportedScheme", scheme: problem.scheme, url: problem.url })
    case "Insecure":
      return new InsecureUrlError({ option, url: problem.url, host: problem.host })
    case "UserInfo":
    case "QueryOrFragment":
      return new InvalidUrlError({ option, reason: problem._tag, url: problem.url })
  }
}

/**
 * Core's `RefusedUrlError` (a core layer refused a URL) as this module's `UrlError`.
 *
 * @since 0.2.0
 * @category errors
 */
export const fromRefusedUrl = (error: CriteoAuthError.RefusedUrlError): UrlError =>
  urlError(error.option === "baseUrl" ? "apiUrl" : "tokenUrl", error.problem)

/**
 * Checks the URLs credentials will be sent to (`tokenUrl`, `apiUrl`, or their defaults) with core's
 * `CriteoUrl.check`, the check core's layers run too: each must be an absolute `https:` URL, or
 * `http:` to a loopback host, or any `http:` URL with `allowInsecureHttp: true`, without user info,
 * query or fragment.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = <A extends Options>(options: A): Effect.Effect<A, UrlError> =>
  Effect.suspend(() => {
    const allow = { allowInsecureHttp: options.allowInsecureHttp === true }
    const token = CriteoUrl.check(options.tokenUrl ?? TokenEndpoint.defaultTokenUrl, allow)
    if (Either.isLeft(token)) return Effect.fail(urlError("tokenUrl", token.left))
    const api = CriteoUrl.check(options.apiUrl ?? CriteoHttpClient.defaultBaseUrl, allow)
    if (Either.isLeft(api)) return Effect.fail(urlError("apiUrl", api.left))
    return Effect.succeed(options)
  })

// -----------------------------------------------------------------------------
// environment variables
// -----------------------------------------------------------------------------

/**
 * The names of the environment variables `config` reads.
 *
 * @since 0.1.0
 * @category constants
 */
export const variables = {
  clientId: "CRITEO_CLIENT_ID",
  clientSecret: "CRITEO_CLIENT_SECRET",
  grantType: "CRITEO_GRANT_TYPE",
  authorizationCode: "CRITEO_AUTHORIZATION_CODE",
  redirectUri: "CRITEO_REDIRECT_URI",
  refreshToken: "CRITEO_REFRESH_TOKEN",
  tokenUrl: "CRITEO_TOKEN_URL",
  apiUrl: "CRITEO_API_URL",
  apiVersion: "CRITEO_API_VERSION",
  tokenTimeout: "CRITEO_TOKEN_TIMEOUT",
  apiTimeout: "CRITEO_API_TIMEOUT",
  refreshLeadTime: "CRITEO_REFRESH_LEAD_TIME",
  refreshJitter: "CRITEO_REFRESH_JITTER",
  maxAttempts: "CRITEO_MAX_ATTEMPTS",
  maxRateLimitWait: "CRITEO_MAX_RATE_LIMIT_WAIT",
  allowInsecureHttp: "CRITEO_ALLOW_INSECURE_HTTP"
} as const

/**
 * The variables whose values are secret.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretVariables: ReadonlySet<string> = new Set([
  variables.clientSecret,
  variables.authorizationCode,
  variables.refreshToken
])

const v = variables

const nonEmptyString = (name: string): Config.Config<string> =>
  Config.nested(
    Config.string().pipe(
      Config.validate({ message: "Expected a non-empty value", validation: (value) => value.trim().length > 0 })
    ),
    name
  )

/** A secret: never echoed, not even in the error for an empty value. */
const secret = (name: string): Config.Config<Redacted.Redacted<string>> => Config.redacted(nonEmptyString(name))

/**
 * A duration as people write it in the environment: `500ms`, `30s`, `2m`, `1h`, or `"30 seconds"`.
 *
 * @since 0.1.0
 * @category config
 */
export const duration = (name: string): Config.Config<Duration.Duration> =>
  Config.nested(
    Config.mapOrFail(Config.string(), (text) =>
      Either.fromOption(
        InternalDuration.parse(text),
        () =>
          ConfigError.InvalidData(
            [],
            `Expected a duration such as ${InternalDuration.examples}, got ${JSON.stringify(text.slice(0, 40))}`
          )
      )),
    name
  )

const absoluteUrl = (name: string): Config.Config<string> =>
  Config.nested(
    Config.string().pipe(
      Config.validate({ message: "Expected an absolute URL", validation: (value) => URL.canParse(value) })
    ),
    name
  )

const grantTypes = Grant.grantTypes

const GRANT_TYPE_REQUIREMENTS = "authorization_code needs CRITEO_AUTHORIZATION_CODE and CRITEO_REDIRECT_URI, " +
  "refresh_token needs CRITEO_REFRESH_TOKEN"

/**
 * The grant, from `CRITEO_CLIENT_ID`, `CRITEO_CLIENT_SECRET` and `CRITEO_GRANT_TYPE`. Without
 * `CRITEO_GRANT_TYPE` the grant is inferred: `refresh_token` when `CRITEO_REFRESH_TOKEN` is set,
 * `authorization_code` when `CRITEO_AUTHORIZATION_CODE` is set (with `CRITEO_REDIRECT_URI`),
 * `client_credentials` otherwise. Setting both a code and a refresh token without a grant type is an
 * error: which one is meant cannot be guessed safely.
 *
 * @since 0.1.0
 * @category config
 */
export const grant: Config.Config<Grant.Grant> = Config.all({
  clientId: nonEmptyString(v.clientId),
  clientSecret: secret(v.clientSecret),
  grantType: Config.option(Config.literal(...grantTypes)(v.grantType)),
  code: Config.option(secret(v.authorizationCode)),
  redirectUri: Config.option(absoluteUrl(v.redirectUri)),
  refreshToken: Config.option(secret(v.refreshToken))
}).pipe(
  Config.mapOrFail(({ clientId, clientSecret, code, grantType, redirectUri, refreshToken }): Either.Either<
    Grant.Grant,
    ConfigError.ConfigError
  > => {
    const inferred = Option.orElse(grantType, () => {
      if (Option.isSome(code) && Option.isSome(refreshToken)) return Option.none()
      if (Option.isSome(refreshToken)) return Option.some("refresh_token" as const)
      if (Option.isSome(code)) return Option.some("authorization_code" as const)
      return Option.some("client_credentials" as const)
    })
    if (Option.isNone(inferred)) {
      return Either.left(
        ConfigError.MissingData(
          [v.grantType],
          `Both ${v.authorizationCode} and ${v.refreshToken} are set: set ${v.grantType} to choose the grant`
        )
      )
    }
    const missing = (name: string) =>
      ConfigError.MissingData([name], `Required by the ${inferred.value} grant (${GRANT_TYPE_REQUIREMENTS})`)
    switch (inferred.value) {
      case "client_credentials":
        return Either.right(Grant.clientCredentials({ clientId, clientSecret }))
      case "authorization_code": {
        if (Option.isSome(code) && Option.isSome(redirectUri)) {
          return Either.right(
            Grant.authorizationCode({ clientId, clientSecret, code: code.value, redirectUri: redirectUri.value })
          )
        }
        const errors = [
          ...(Option.isNone(code) ? [missing(v.authorizationCode)] : []),
          ...(Option.isNone(redirectUri) ? [missing(v.redirectUri)] : [])
        ]
        return Either.left(errors.reduce(ConfigError.And))
      }
      case "refresh_token":
        return Option.match(refreshToken, {
          onNone: () => Either.left(missing(v.refreshToken)),
          onSome: (token) => Either.right(Grant.refreshToken({ clientId, clientSecret, refreshToken: token }))
        })
    }
  })
)

const API_VERSION = /^(?:\d{4}-(?:0[1-9]|1[0-2])|preview)$/

/**
 * The API version: `YYYY-MM`, `preview`, or `none` for unversioned paths. Defaults to a version
 * Criteo supports now (`2026-07`).
 *
 * @since 0.1.0
 * @category config
 */
export const apiVersion: Config.Config<string | null> = Config.nested(
  Config.mapOrFail(Config.string(), (text) => {
    if (text === "none") return Either.right(null)
    return API_VERSION.test(text)
      ? Either.right(text)
      : Either.left(
        ConfigError.InvalidData(
          [],
          `Expected an API version such as ${CriteoHttpClient.defaultApiVersion} (YYYY-MM), preview or none, got ${
            JSON.stringify(text.slice(0, 40))
          }`
        )
      )
  }),
  v.apiVersion
).pipe(Config.withDefault<string | null>(CriteoHttpClient.defaultApiVersion))

const maxAttempts: Config.Config<number> = Config.nested(
  Config.integer().pipe(
    Config.validate({
      message: "Expected a whole number of attempts between 1 and 10",
      validation: (n) => n >= 1 && n <= 10
    })
  ),
  v.maxAttempts
)

const toUndefined = <A>(option: Option.Option<A>): A | undefined => Option.getOrUndefined(option)

/** The same check and the same sentence as `validate`, naming the variable and its opt-in. */
const checkUrl = (
  variable: string,
  value: string,
  allowInsecureHttp: boolean
): Either.Either<void, ConfigError.ConfigError> =>
  Either.mapBoth(CriteoUrl.check(value, { allowInsecureHttp }), {
    onLeft: (problem) =>
      ConfigError.InvalidData([variable], CriteoUrl.describe(problem, variable, `${v.allowInsecureHttp}=true`)),
    onRight: () => undefined
  })

/**
 * All the options, from the environment (or whichever `ConfigProvider` is current):
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `CRITEO_CLIENT_ID` | the OAuth client id | required |
 * | `CRITEO_CLIENT_SECRET` | the client secret (redacted) | required |
 * | `CRITEO_GRANT_TYPE` | `client_credentials`, `authorization_code` or `refresh_token` | inferred |
 * | `CRITEO_AUTHORIZATION_CODE` | the code of the consent redirect (redacted) | |
 * | `CRITEO_REDIRECT_URI` | the redirect URI of the consent request | |
 * | `CRITEO_REFRESH_TOKEN` | a refresh token (redacted) | |
 * | `CRITEO_TOKEN_URL` | the token endpoint | `https://api.criteo.com/oauth2/token` |
 * | `CRITEO_API_URL` | the API host | `https://api.criteo.com` |
 * | `CRITEO_API_VERSION` | `YYYY-MM`, `preview` or `none` | `2026-07` |
 * | `CRITEO_TOKEN_TIMEOUT` | limit of one token request | `10s` |
 * | `CRITEO_API_TIMEOUT` | limit of one API attempt, to the response headers | `60s` |
 * | `CRITEO_REFRESH_LEAD_TIME` | minimum validity of a token handed out | `20s` |
 * | `CRITEO_REFRESH_JITTER` | spread of the background refresh | `20s` |
 * | `CRITEO_MAX_ATTEMPTS` | attempts per token request and per API call (1-10) | 4 and 3 |
 * | `CRITEO_MAX_RATE_LIMIT_WAIT` | longest 429 wait honoured before failing | `60s` |
 * | `CRITEO_ALLOW_INSECURE_HTTP` | allow plain http to non-loopback hosts | `false` |
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  grant,
  tokenUrl: Config.option(Config.string(v.tokenUrl)),
  apiUrl: Config.option(Config.string(v.apiUrl)),
  apiVersion,
  timeout: Config.option(duration(v.tokenTimeout)),
  apiTimeout: Config.option(duration(v.apiTimeout)),
  refreshLeadTime: Config.option(duration(v.refreshLeadTime)),
  refreshJitter: Config.option(duration(v.refreshJitter)),
  maxAttempts: Config.option(maxAttempts),
  maxRateLimitWait: Config.option(duration(v.maxRateLimitWait)),
  allowInsecureHttp: Config.withDefault(Config.boolean(v.allowInsecureHttp), false)
}).pipe(
  Config.mapOrFail((raw) => {
    const checks = [
      checkUrl(v.tokenUrl, Option.getOrElse(raw.tokenUrl, () => TokenEndpoint.defaultTokenUrl), raw.allowInsecureHttp),
      checkUrl(
        v.apiUrl,
        Option.getOrElse(raw.apiUrl, () => CriteoHttpClient.defaultBaseUrl),
        raw.allowInsecureHttp
      )
    ].flatMap((check) => Either.isLeft(check) ? [check.left] : [])
    if (checks.length > 0) return Either.left(checks.reduce(ConfigError.And))
    const retry = {
      maxAttempts: toUndefined(raw.maxAttempts),
      maxRateLimitWait: toUndefined(raw.maxRateLimitWait)
    }
    return Either.right<Options>({
      grant: raw.grant,
      tokenUrl: toUndefined(raw.tokenUrl),
      apiUrl: toUndefined(raw.apiUrl),
      apiVersion: raw.apiVersion,
      timeout: toUndefined(raw.timeout),
      apiTimeout: toUndefined(raw.apiTimeout),
      refreshLeadTime: toUndefined(raw.refreshLeadTime),
      refreshJitter: toUndefined(raw.refreshJitter),
      retry,
      apiRetry: retry,
      allowInsecureHttp: raw.allowInsecureHttp
    })
  })
)
