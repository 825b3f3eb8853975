import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as CriteoCli from "../src/CriteoCli.js"
import * as CriteoConfig from "../src/CriteoConfig.js"

const base = { CRITEO_CLIENT_ID: "my-client", CRITEO_CLIENT_SECRET: "s3cr3t-client-value" }

const load = (env: Record<string, string>) =>
  Effect.withConfigProvider(CriteoConfig.config, ConfigProvider.fromMap(new Map(Object.entries(env))))

const fail = (env: Record<string, string>) => Effect.flip(load(env))

interface Leaf {
  readonly op: "MissingData" | "InvalidData" | "Other"
  readonly path: string
  readonly message: string
}

const leaves = (error: ConfigError.ConfigError): ReadonlyArray<Leaf> =>
  ConfigError.reduceWithContext<undefined, ReadonlyArray<Leaf>>(error, undefined, {
    andCase: (_, l, r) => [...l, ...r],
    orCase: (_, l, r) => [...l, ...r],
    invalidDataCase: (_, path, message) => [{ op: "InvalidData", path: path.join("."), message }],
    missingDataCase: (_, path, message) => [{ op: "MissingData", path: path.join("."), message }],
    sourceUnavailableCase: (_, path, message) => [{ op: "Other", path: path.join("."), message }],
    unsupportedCase: (_, path, message) => [{ op: "Other", path: path.join("."), message }]
  })

const paths = (error: ConfigError.ConfigError) => leaves(error).map((leaf) => `${leaf.op}:${leaf.path}`)

/** Every way the error may end up in front of a person. */
const renderings = (error: ConfigError.ConfigError) => [
  String(error),
  JSON.stringify(error),
  Cause.pretty(Cause.fail(error)),
  CriteoCli.describeConfigError(error)
]

describe("CriteoConfig", () => {
  describe("grant", () => {
    it.effect("client_credentials by default, with the default endpoints and API version", () =>
      Effect.gen(function*() {
        const options = yield* load(base)
        assert.strictEqual(options.grant._tag, "ClientCredentials")
        assert.strictEqual(options.grant.clientId, "my-client")
        assert.strictEqual(Redacted.value(options.grant.clientSecret), "s3cr3t-client-value")
        assert.strictEqual(options.apiVersion, CriteoHttpClient.defaultApiVersion)
        assert.strictEqual(options.apiVersion, "2026-07")
        assert.isUndefined(options.tokenUrl)
        assert.isUndefined(options.apiUrl)
        assert.isUndefined(options.timeout)
        assert.strictEqual(options.allowInsecureHttp, false)
        // Defaults are core's, so that there is a single source for them.
        yield* CriteoConfig.validate(options)
        assert.strictEqual(TokenEndpoint.defaultTokenUrl, "https://api.criteo.com/oauth2/token")
      }))

    it.effect("authorization_code, inferred from a code and a redirect URI", () =>
      Effect.gen(function*() {
        const options = yield* load({
          ...base,
          CRITEO_AUTHORIZATION_CODE: "the-code",
          CRITEO_REDIRECT_URI: "https://app.example/callback"
        })
        assert.strictEqual(options.grant._tag, "AuthorizationCode")
        if (options.grant._tag !== "AuthorizationCode") return
        assert.strictEqual(Redacted.value(options.grant.code), "the-code")
        assert.strictEqual(options.grant.redirectUri, "https://app.example/callback")
      }))

    it.effect("refresh_token, inferred from a refresh token", () =>
      Effect.gen(function*() {
        const options = yield* load({ ...base, CRITEO_REFRESH_TOKEN: "rt-value" })
        assert.strictEqual(options.grant._tag, "RefreshToken")
        if (options.grant._tag !== "RefreshToken") return
        assert.strictEqual(Redacted.value(options.grant.refreshToken), "rt-value")
      }))

    it.effect("an explicit CRITEO_GRANT_TYPE wins over the inference", () =>
      Effect.gen(function*() {
        const options = yield* load({ ...base, CRITEO_GRANT_TYPE: "client_credentials", CRITEO_REFRESH_TOKEN: "rt" })
        assert.strictEqual(options.grant._tag, "ClientCredentials")
      }))

    it.effect("names the variables a chosen grant lacks", () =>
      Effect.gen(function*() {
        const code = yield* fail({ ...base, CRITEO_GRANT_TYPE: "authorization_code" })
        assert.deepStrictEqual(paths(code), [
          "MissingData:CRITEO_AUTHORIZATION_CODE",
          "MissingData:CRITEO_REDIRECT_URI"
        ])
        const refresh = yield* fail({ ...base, CRITEO_GRANT_TYPE: "refresh_token" })
        assert.deepStrictEqual(paths(refresh), ["MissingData:CRITEO_REFRESH_TOKEN"])
        const redirect = yield* fail({ ...base, CRITEO_AUTHORIZATION_CODE: "c" })
        assert.deepStrictEqual(paths(redirect), ["MissingData:CRITEO_REDIRECT_URI"])
      }))

    it.effect("refuses to guess between an authorization code and a refresh token", () =>
      Effect.gen(function*() {
        const error = yield* fail({
          ...base,
          CRITEO_AUTHORIZATION_CODE: "c",
          CRITEO_REDIRECT_URI: "https://app.example/cb",
          CRITEO_REFRESH_TOKEN: "r"
        })
        assert.deepStrictEqual(paths(error), ["MissingData:CRITEO_GRANT_TYPE"])
      }))

    it.effect("names every missing required variable", () =>
      Effect.gen(function*() {
        const error = yield* fail({})
        assert.includeMembers(paths(error), ["MissingData:CRITEO_CLIENT_ID", "MissingData:CRITEO_CLIENT_SECRET"])
        assert.strictEqual(
          CriteoCli.describeConfigError(error),
          "Invalid configuration: CRITEO_CLIENT_ID (or --client-id) is not set; " +
            "CRITEO_CLIENT_SECRET (or --client-secret-file) is not set"
        )
      }))

    it.effect("rejects an unknown grant type, naming the variable", () =>
      Effect.gen(function*() {
        const error = yield* fail({ ...base, CRITEO_GRANT_TYPE: "password" })
        assert.deepStrictEqual(paths(error), ["InvalidData:CRITEO_GRANT_TYPE"])
      }))

    it.effect("rejects empty credentials", () =>
      Effect.gen(function*() {
        const error = yield* fail({ CRITEO_CLIENT_ID: " ", CRITEO_CLIENT_SECRET: "" })
        assert.deepStrictEqual(paths(error), ["InvalidData:CRITEO_CLIENT_ID", "InvalidData:CRITEO_CLIENT_SECRET"])
      }))
  })

  describe("durations and numbers", () => {
    it.effect("parses durations as people write them", () =>
      Effect.gen(function*() {
        const options = yield* load({
          ...base,
          CRITEO_TOKEN_TIMEOUT: "500ms",
          CRITEO_API_TIMEOUT: "2m",
          CRITEO_REFRESH_LEAD_TIME: "1.5s",
          CRITEO_REFRESH_JITTER: "30 seconds",
          CRITEO_MAX_RATE_LIMIT_WAIT: "1h",
          CRITEO_MAX_ATTEMPTS: "5"
        })
        const millis = (input: Duration.DurationInput | undefined) =>
          input === undefined ? undefined : Duration.toMillis(input)
        assert.strictEqual(millis(options.timeout), 500)
        assert.strictEqual(millis(options.apiTimeout), 120_000)
        assert.strictEqual(millis(options.refreshLeadTime), 1_500)
        assert.strictEqual(millis(options.refreshJitter), 30_000)
        assert.strictEqual(millis(options.retry?.maxRateLimitWait), 3_600_000)
        assert.strictEqual(millis(options.apiRetry?.maxRateLimitWait), 3_600_000)
        assert.strictEqual(options.retry?.maxAttempts, 5)
        assert.strictEqual(options.apiRetry?.maxAttempts, 5)
      }))

    it.effect("a malformed duration is an error that names the variable and shows the expected form", () =>
      Effect.gen(function*() {
        for (const value of ["ten seconds", "30", "-5s", "5 parsecs", ""]) {
          const error = yield* fail({ ...base, CRITEO_TOKEN_TIMEOUT: value })
          const [leaf] = leaves(error)
          assert.strictEqual(leaf.op, "InvalidData", value)
          assert.strictEqual(leaf.path, "CRITEO_TOKEN_TIMEOUT", value)
          assert.include(leaf.message, "500ms", value)
        }
      }))

    it.effect("rejects a number of attempts out of bounds, and a non-boolean opt-in", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_MAX_ATTEMPTS: "0" })), [
          "InvalidData:CRITEO_MAX_ATTEMPTS"
        ])
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_MAX_ATTEMPTS: "many" })), [
          "InvalidData:CRITEO_MAX_ATTEMPTS"
        ])
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_ALLOW_INSECURE_HTTP: "maybe" })), [
          "InvalidData:CRITEO_ALLOW_INSECURE_HTTP"
        ])
      }))
  })

  describe("API version", () => {
    it.effect("accepts YYYY-MM, preview, and none for unversioned paths", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* load({ ...base, CRITEO_API_VERSION: "2026-01" })).apiVersion, "2026-01")
        assert.strictEqual((yield* load({ ...base, CRITEO_API_VERSION: "preview" })).apiVersion, "preview")
        assert.isNull((yield* load({ ...base, CRITEO_API_VERSION: "none" })).apiVersion)
      }))

    it.effect("rejects anything else, naming the variable", () =>
      Effect.gen(function*() {
        for (const value of ["2026-13", "v1", "/2026-07", "2026-07/advertisers"]) {
          assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_API_VERSION: value })), [
            "InvalidData:CRITEO_API_VERSION"
          ])
        }
      }))
  })

  describe("secrets", () => {
    it.effect("no error shows the client secret, the code or the refresh token", () =>
      Effect.gen(function*() {
        const secrets = {
          CRITEO_CLIENT_SECRET: "SECRET-0f1e2d3c4b5a",
          CRITEO_AUTHORIZATION_CODE: "CODE-9a8b7c6d5e4f",
          CRITEO_REFRESH_TOKEN: "REFRESH-1a2b3c4d5e6f"
        }
        const errors = [
          // ambiguous grant, with every secret set
          yield* fail({ CRITEO_CLIENT_ID: "c", ...secrets }),
          // malformed neighbours
          yield* fail({ CRITEO_CLIENT_ID: "c", ...secrets, CRITEO_GRANT_TYPE: "nope" }),
          yield* fail({
            CRITEO_CLIENT_ID: "c",
            ...secrets,
            CRITEO_GRANT_TYPE: "refresh_token",
            CRITEO_TOKEN_TIMEOUT: "soon"
          }),
          // a refused URL
          yield* fail({
            CRITEO_CLIENT_ID: "c",
            ...secrets,
            CRITEO_GRANT_TYPE: "refresh_token",
            CRITEO_TOKEN_URL: "http://token.example/oauth2/token"
          }),
          // the secrets themselves invalid (blank)
          yield* fail({
            CRITEO_CLIENT_ID: "c",
            CRITEO_CLIENT_SECRET: "   ",
            CRITEO_GRANT_TYPE: "refresh_token",
            CRITEO_REFRESH_TOKEN: " "
          })
        ]
        for (const error of errors) {
          for (const text of renderings(error)) {
            for (const value of Object.values(secrets)) assert.notInclude(text, value)
          }
        }
      }))

    it.effect("secrets stay Redacted in the options", () =>
      Effect.gen(function*() {
        const options = yield* load({ ...base, CRITEO_REFRESH_TOKEN: "REFRESH-1a2b3c4d5e6f" })
        assert.notInclude(String(options.grant), "s3cr3t-client-value")
        assert.notInclude(JSON.stringify(options), "s3cr3t-client-value")
        assert.notInclude(JSON.stringify(options), "REFRESH-1a2b3c4d5e6f")
      }))
  })

  describe("plain http", () => {
    it.effect("refuses http:// to a host other than this machine, naming the variable", () =>
      Effect.gen(function*() {
        for (
          const url of [
            "http://api.criteo.com/oauth2/token",
            "http://10.0.0.8/oauth2/token",
            "http://127.0.0.1.nip.io/oauth2/token",
            "http://localhost.example/oauth2/token",
            "http://[::2]/oauth2/token"
          ]
        ) {
          const error = yield* fail({ ...base, CRITEO_TOKEN_URL: url })
          const [leaf] = leaves(error)
          assert.strictEqual(`${leaf.op}:${leaf.path}`, "InvalidData:CRITEO_TOKEN_URL", url)
          assert.include(leaf.message, "plain http", url)
          assert.include(leaf.message, "CRITEO_ALLOW_INSECURE_HTTP", url)
        }
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_API_URL: "http://api.criteo.com" })), [
          "InvalidData:CRITEO_API_URL"
        ])
      }))

    it.effect("never shows user info or a query of a refused URL", () =>
      Effect.gen(function*() {
        const error = yield* fail({ ...base, CRITEO_API_URL: "http://me:hunter2@api.example/?token=abc123" })
        for (const text of renderings(error)) {
          assert.notInclude(text, "hunter2")
          assert.notInclude(text, "abc123")
        }
      }))

    it.effect("refuses user info, a query or a fragment (core's CriteoUrl rules), without showing them", () =>
      Effect.gen(function*() {
        for (
          const [variable, url] of [
            ["CRITEO_TOKEN_URL", "https://me:hunter2@api.criteo.com/oauth2/token"],
            ["CRITEO_API_URL", "https://api.criteo.com/?token=hunter2"],
            ["CRITEO_API_URL", "https://api.criteo.com/#hunter2"]
          ] as const
        ) {
          const error = yield* fail({ ...base, [variable]: url })
          assert.deepStrictEqual(paths(error), [`InvalidData:${variable}`], url)
          for (const text of renderings(error)) assert.notInclude(text, "hunter2", url)
        }
      }))

    it.effect("rejects other schemes and relative URLs", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_TOKEN_URL: "ftp://api.criteo.com/token" })), [
          "InvalidData:CRITEO_TOKEN_URL"
        ])
        assert.deepStrictEqual(paths(yield* fail({ ...base, CRITEO_API_URL: "api.criteo.com" })), [
          "InvalidData:CRITEO_API_URL"
        ])
      }))

    it.effect("allows loopback addresses", () =>
      Effect.gen(function*() {
        for (
          const url of [
            "http://127.0.0.1:8080/oauth2/token",
            "http://127.1.2.3/oauth2/token",
            "http://localhost:9000/oauth2/token",
            "http://LOCALHOST/oauth2/token",
            "http://[::1]:8080/oauth2/token",
            "http://[::ffff:127.0.0.1]/oauth2/token",
            "https://api.criteo.com/oauth2/token"
          ]
        ) {
          const options = yield* load({ ...base, CRITEO_TOKEN_URL: url, CRITEO_API_URL: url })
          assert.strictEqual(options.tokenUrl, url)
        }
      }))

    it.effect("allows any http URL with CRITEO_ALLOW_INSECURE_HTTP=true", () =>
      Effect.gen(function*() {
        const options = yield* load({
          ...base,
          CRITEO_TOKEN_URL: "http://criteo-simulator:8080/oauth2/token",
          CRITEO_API_URL: "http://criteo-simulator:8080",
          CRITEO_ALLOW_INSECURE_HTTP: "true"
        })
        assert.strictEqual(options.allowInsecureHttp, true)
        assert.strictEqual(options.apiUrl, "http://criteo-simulator:8080")
      }))
  })
})
