import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import type * as CriteoConfig from "../src/CriteoConfig.js"
import * as CriteoFetch from "../src/CriteoFetch.js"
import * as CriteoLayer from "../src/CriteoLayer.js"
import * as CriteoNode from "../src/CriteoNode.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"
import * as Ports from "./utils/ports.js"

/** The README's `CustomLive` wiring (examples/explicit.ts): fetch with the application's own RequestInit. */
const customFetch = <E>(layer: Layer.Layer<CriteoLayer.Services, E, HttpClient.HttpClient>) =>
  layer.pipe(
    Layer.provide(CriteoFetch.layerHttpClient),
    Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { keepalive: true }))
  )

const runtimes = [
  { name: "undici (CriteoNode)", layer: CriteoNode.layer, layerConfig: CriteoNode.layerConfig },
  { name: "fetch (CriteoFetch)", layer: CriteoFetch.layer, layerConfig: CriteoFetch.layerConfig },
  {
    name: "fetch with a custom RequestInit (the README's CustomLive)",
    layer: (options: CriteoConfig.Options) => customFetch(CriteoLayer.layer(options)),
    layerConfig: (config?: Parameters<typeof CriteoLayer.layerConfig>[0]) =>
      customFetch(CriteoLayer.layerConfig(config))
  }
] as const

/** Retries without noticeable waits: these tests count attempts, core's own tests check the schedule. */
const fast = {
  retry: { baseDelay: Duration.millis(1), maxDelay: Duration.millis(2) },
  apiRetry: { baseDelay: Duration.millis(1), maxDelay: Duration.millis(2) }
} satisfies Partial<CriteoConfig.Options>

const clientCredentials = (client: FakeCriteo.Client) =>
  Grant.clientCredentials({ clientId: client.clientId, clientSecret: Redacted.make(client.clientSecret) })

const get = (path: string) => Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) => client.get(path))

const getJson = (path: string) =>
  Effect.flatMap(get(path), (response) => Effect.map(response.json, (body) => ({ status: response.status, body })))

const token = Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token)

layer(FakeCriteo.layer, { excludeTestServices: true })("CriteoLayer", (it) => {
  for (const runtime of runtimes) {
    describe(runtime.name, () => {
      const provide =
        (fake: FakeCriteo.Service, options: Partial<CriteoConfig.Options> & Pick<CriteoConfig.Options, "grant">) =>
        <A, E>(effect: Effect.Effect<A, E, CriteoLayer.Services>) =>
          Effect.provide(effect, runtime.layer({ tokenUrl: fake.tokenUrl, apiUrl: fake.url, ...fast, ...options }))

      it.effect("obtains a client_credentials token with a form POST carrying the credentials", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const result = yield* token.pipe(provide(fake, { grant: clientCredentials(client) }))
          const [issued] = yield* fake.issued(client.clientId)
          assert.strictEqual(Redacted.value(result.value), issued.accessToken)
          assert.strictEqual(result.tokenType, "Bearer")
          assert.strictEqual(Duration.toSeconds(result.expiresIn), 900)
          assert.strictEqual(result.fingerprint, AccessToken.fingerprint(Redacted.make(issued.accessToken)))
          const requests = yield* fake.requests(client.clientId, "token")
          assert.strictEqual(requests.length, 1)
          assert.strictEqual(requests[0].method, "POST")
          assert.match(requests[0].headers["content-type"], /^application\/x-www-form-urlencoded/)
          assert.match(requests[0].headers["accept"], /application\/json/)
          assert.deepStrictEqual(requests[0].form, {
            grant_type: "client_credentials",
            client_id: client.clientId,
            client_secret: client.clientSecret
          })
        }))

      it.effect("calls the versioned API with the bearer token, one token for concurrent calls", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const results = yield* Effect.all([
            getJson("/advertisers/me"),
            getJson("/advertisers/me"),
            getJson("/advertisers/me")
          ], {
            concurrency: "unbounded"
          }).pipe(provide(fake, { grant: clientCredentials(client) }))
          for (const result of results) {
            assert.strictEqual(result.status, 200)
            assert.deepStrictEqual((result.body as any).data.id, client.clientId)
          }
          const [issued] = yield* fake.issued(client.clientId)
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
          const calls = yield* fake.requests(client.clientId, "api")
          assert.strictEqual(calls.length, 3)
          for (const call of calls) {
            assert.strictEqual(call.path, `/${CriteoHttpClient.defaultApiVersion}/advertisers/me`)
            assert.strictEqual(call.headers.authorization, `Bearer ${issued.accessToken}`)
            assert.match(call.headers.accept, /application\/json/)
          }
        }))

      it.effect("prefixes the configured API version, or none", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          yield* get("/advertisers/me?limit=1").pipe(
            provide(fake, { grant: clientCredentials(client), apiVersion: "2026-01" })
          )
          yield* get("/preview/advertisers/me").pipe(
            provide(fake, { grant: clientCredentials(client), apiVersion: null })
          )
          const calls = yield* fake.requests(client.clientId, "api")
          assert.deepStrictEqual(calls.map((call) => [call.path, call.query]), [
            ["/2026-01/advertisers/me", "?limit=1"],
            ["/preview/advertisers/me", ""]
          ])
        }))

      it.effect("sends a JSON body and the method through", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const result = yield* Effect.flatMap(
            CriteoHttpClient.CriteoHttpClient,
            (http) =>
              http.execute(HttpClientRequest.post("/echo").pipe(HttpClientRequest.bodyUnsafeJson({ name: "campaign" })))
          ).pipe(Effect.flatMap((response) => response.json), provide(fake, { grant: clientCredentials(client) }))
          assert.deepStrictEqual(result, { method: "POST", query: "", body: { name: "campaign" } })
        }))

      it.effect("replaces an expired token after a 401 and replays the request once", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const [first, second] = yield* Effect.gen(function*() {
            const first = yield* getJson("/advertisers/me")
            yield* fake.expire(client.clientId)
            const second = yield* getJson("/advertisers/me")
            return [first, second]
          }).pipe(provide(fake, { grant: clientCredentials(client) }))
          assert.strictEqual(first.status, 200)
          assert.strictEqual(second.status, 200)
          const issued = yield* fake.issued(client.clientId)
          assert.strictEqual(issued.length, 2)
          const calls = yield* fake.requests(client.clientId, "api")
          assert.deepStrictEqual(calls.map((call) => call.headers.authorization), [
            `Bearer ${issued[0].accessToken}`,
            `Bearer ${issued[0].accessToken}`,
            `Bearer ${issued[1].accessToken}`
          ])
        }))

      it.effect("fails with UnauthorizedError when the API refuses a fresh token too", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const error = yield* get("/always-401").pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "UnauthorizedError")
          if (error._tag !== "UnauthorizedError") return
          assert.strictEqual(error.code, "authorization-token-invalid")
          assert.strictEqual(error.method, "GET")
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 2)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 2)
        }))

      it.effect("fails with ForbiddenError on a 403 without asking for a new token", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const error = yield* get("/forbidden").pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "ForbiddenError")
          if (error._tag !== "ForbiddenError") return
          assert.strictEqual(error.code, "missing-permission")
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 1)
        }))

      it.effect("hands back a 429 at once when the reset is beyond the longest wait, headers intact", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const response = yield* get("/limited").pipe(provide(fake, { grant: clientCredentials(client) }))
          assert.strictEqual(response.status, 429)
          assert.strictEqual(response.headers["x-ratelimit-limit"], "250")
          assert.strictEqual(response.headers["x-ratelimit-remaining"], "0")
          assert.isTrue(Number(response.headers["x-ratelimit-reset"]) > Date.now() / 1000)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 1)
        }))

      it.effect("retries a 5xx answer and recovers", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const result = yield* getJson("/flaky").pipe(provide(fake, { grant: clientCredentials(client) }))
          assert.deepStrictEqual(result, { status: 200, body: { data: { recovered: true } } })
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 2)
        }))

      it.effect("returns the last 5xx answer after the bounded retries", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const response = yield* get("/broken").pipe(
            provide(fake, { grant: clientCredentials(client), apiRetry: { ...fast.apiRetry, maxAttempts: 3 } })
          )
          assert.strictEqual(response.status, 503)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 3)
        }))

      it.effect("does not follow an API redirect", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const response = yield* get("/redirect").pipe(provide(fake, { grant: clientCredentials(client) }))
          assert.strictEqual(response.status, 307)
          const followed = (yield* fake.anonymous).filter((r) => r.path === "/redirected")
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length + followed.length, 1)
        }))

      it.effect("fails with InvalidClientError for a wrong secret, which no rendering shows", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const wrong = "wrong-secret-5f0c2a9e"
          const grant = Grant.clientCredentials({ clientId: client.clientId, clientSecret: Redacted.make(wrong) })
          const error = yield* token.pipe(provide(fake, { grant }), Effect.flip)
          assert.strictEqual(error._tag, "InvalidClientError")
          if (error._tag !== "InvalidClientError") return
          assert.strictEqual(error.status, 401)
          assert.strictEqual(error.clientId, client.clientId)
          for (const text of [String(error), error.message, JSON.stringify(error), Cause.pretty(Cause.fail(error))]) {
            assert.notInclude(text, wrong)
          }
          // Not retried: a wrong secret stays wrong.
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        }))

      it.effect("fails with RateLimitedError when the token endpoint answers 429 with a distant reset", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const reset = String(Math.floor(Date.now() / 1000) + 3600)
          const client = yield* fake.register({
            tokenAlways: {
              status: 429,
              headers: { "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }
            }
          })
          const error = yield* token.pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "RateLimitedError")
          if (error._tag !== "RateLimitedError") return
          assert.strictEqual(error.endpoint, "token")
          assert.strictEqual(error.limit, 100)
          assert.isTrue(error.retryAfter !== undefined && Duration.toSeconds(error.retryAfter) > 3500)
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        }))

      it.effect("fails with TokenEndpointUnavailableError after the bounded retries of a 5xx", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenAlways: { status: 503, body: "upstream down" } })
          const error = yield* token.pipe(
            provide(fake, { grant: clientCredentials(client), retry: { ...fast.retry, maxAttempts: 3 } }),
            Effect.flip
          )
          assert.strictEqual(error._tag, "TokenEndpointUnavailableError")
          if (error._tag !== "TokenEndpointUnavailableError") return
          assert.strictEqual(error.status, 503)
          assert.strictEqual(error.attempts, 3)
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 3)
        }))

      it.effect("recovers from a transient 5xx of the token endpoint", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenScript: [{ status: 502 }] })
          yield* token.pipe(provide(fake, { grant: clientCredentials(client) }))
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 2)
          assert.strictEqual((yield* fake.issued(client.clientId)).length, 1)
        }))

      it.effect("fails with MalformedTokenResponseError for a 200 that holds no token", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenAlways: { status: 200, body: { token: "nope" } } })
          const error = yield* token.pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "MalformedTokenResponseError")
        }))

      it.effect("fails with TokenRequestRejectedError for other OAuth errors", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({
            tokenAlways: { status: 400, body: { error: "unauthorized_client", error_description: "not allowed" } }
          })
          const error = yield* token.pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "TokenRequestRejectedError")
          if (error._tag !== "TokenRequestRejectedError") return
          assert.strictEqual(error.error, "unauthorized_client")
          assert.strictEqual(error.status, 400)
        }))

      it.effect("does not follow a redirect of the token endpoint: the secret is sent once, to it only", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({
            tokenAlways: { status: 307, headers: { location: `${fake.url}/elsewhere/token` } }
          })
          const error = yield* token.pipe(provide(fake, { grant: clientCredentials(client) }), Effect.flip)
          assert.strictEqual(error._tag, "TokenRequestRejectedError")
          const elsewhere = (yield* fake.anonymous).filter((r) => r.path === "/elsewhere/token")
          assert.deepStrictEqual(elsewhere, [])
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        }))

      it.effect("authorization_code: exchanges the code once, then refreshes with each rotated refresh token", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const redirectUri = "https://app.example/callback"
          const client = yield* fake.register({ codes: [{ code: "code-a1b2", redirectUri }] })
          const kept: Array<string> = []
          const grant = Grant.authorizationCode({
            clientId: client.clientId,
            clientSecret: Redacted.make(client.clientSecret),
            code: Redacted.make("code-a1b2"),
            redirectUri
          })
          yield* Effect.gen(function*() {
            const auth = yield* CriteoAuth.CriteoAuth
            yield* auth.token
            yield* auth.refresh
            yield* auth.refresh
          }).pipe(
            provide(fake, {
              grant,
              onRefreshToken: (refreshToken) => Effect.sync(() => kept.push(Redacted.value(refreshToken)))
            })
          )
          const issued = yield* fake.issued(client.clientId)
          assert.deepStrictEqual(kept, issued.map((i) => i.refreshToken))
          const forms = (yield* fake.requests(client.clientId, "token")).map((r) => r.form)
          assert.deepStrictEqual(forms.map((f) => f.grant_type), [
            "authorization_code",
            "refresh_token",
            "refresh_token"
          ])
          assert.strictEqual(forms[0].code, "code-a1b2")
          assert.strictEqual(forms[0].redirect_uri, redirectUri)
          assert.strictEqual(forms[1].refresh_token, issued[0].refreshToken)
          assert.strictEqual(forms[2].refresh_token, issued[1].refreshToken)
        }))

      it.effect("fails with InvalidGrantError for a refresh token the server does not know", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ refreshTokens: ["rt_valid"] })
          const grant = Grant.refreshToken({
            clientId: client.clientId,
            clientSecret: Redacted.make(client.clientSecret),
            refreshToken: Redacted.make("rt_revoked")
          })
          const error = yield* token.pipe(provide(fake, { grant }), Effect.flip)
          assert.strictEqual(error._tag, "InvalidGrantError")
          if (error._tag !== "InvalidGrantError") return
          assert.strictEqual(error.grantType, "refresh_token")
          assert.notInclude(Cause.pretty(Cause.fail(error)), "rt_revoked")
        }))

      it.effect("fails with TransportError when nothing listens", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const port = yield* Ports.freePort
          const error = yield* token.pipe(
            provide(fake, {
              grant: clientCredentials(client),
              tokenUrl: `http://127.0.0.1:${port}/oauth2/token`,
              retry: { maxAttempts: 1 }
            }),
            Effect.flip
          )
          assert.strictEqual(error._tag, "TransportError")
          if (error._tag !== "TransportError") return
          assert.strictEqual(error.reason, "Transport")
          assert.strictEqual(error.endpoint, "token")
        }))

      it.effect("gives up on a token request after the timeout (TestClock)", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenAlways: "hang" })
          const fiber = yield* token.pipe(
            provide(fake, { grant: clientCredentials(client), timeout: "5 seconds", retry: { maxAttempts: 1 } }),
            Effect.flip,
            Effect.fork
          )
          yield* fake.hanging(client.clientId)
          yield* TestClock.adjust("4999 millis")
          assert.isNull(fiber.unsafePoll())
          yield* TestClock.adjust("1 millis")
          const error = yield* Fiber.join(fiber)
          assert.strictEqual(error._tag, "TransportError")
          if (error._tag !== "TransportError") return
          assert.strictEqual(error.reason, "Timeout")
        }).pipe(Effect.provide(TestContext.TestContext)))

      // The layers bound an attempt in the transport (undici's headersTimeout, a timer on the fetch
      // signal): no Effect timer per request, so real time here. Core's own timer is tested on the
      // TestClock in core (CriteoHttpClient.test.ts).
      it.effect("gives up on an API attempt after apiTimeout, in the transport", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const started = Date.now()
          const error = yield* get("/hang").pipe(
            // one attempt: the retry of a GET after a timeout is tested in core (CriteoHttpClient.test.ts)
            provide(fake, { grant: clientCredentials(client), apiTimeout: "400 millis", apiRetry: { maxAttempts: 1 } }),
            Effect.flip,
            Effect.timeout("20 seconds")
          )
          assert.isAtLeast(Date.now() - started, 350)
          assert.strictEqual(error._tag, "TransportError")
          if (error._tag !== "TransportError") return
          assert.strictEqual(error.endpoint, "api")
          assert.strictEqual(error.reason, "Transport")
          assert.match(error.detail, /timeout|no response within 400ms/i)
          const [call] = yield* fake.requests(client.clientId, "api")
          // The bearer token was sent, but the error does not keep it, whatever renders it.
          const bearer = call.headers.authorization.slice("Bearer ".length)
          assert.notInclude(JSON.stringify(error), bearer)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 1)
        }))

      it.effect("a token request slower than apiTimeout is not cut by it (token requests keep their own timeout)", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenLatencyMs: 700 })
          const response = yield* get("/advertisers/me").pipe(
            provide(fake, { grant: clientCredentials(client), apiTimeout: "300 millis" }),
            Effect.timeout("20 seconds")
          )
          assert.strictEqual(response.status, 200)
        }))

      it.effect("layerConfig builds the same client from CRITEO_* variables", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const provider = ConfigProvider.fromMap(
            new Map([
              ["CRITEO_CLIENT_ID", client.clientId],
              ["CRITEO_CLIENT_SECRET", client.clientSecret],
              ["CRITEO_TOKEN_URL", fake.tokenUrl],
              ["CRITEO_API_URL", fake.url],
              ["CRITEO_API_VERSION", "2026-01"]
            ])
          )
          const result = yield* getJson("/advertisers/me").pipe(
            Effect.provide(runtime.layerConfig()),
            Effect.withConfigProvider(provider)
          )
          assert.strictEqual(result.status, 200)
          const calls = yield* fake.requests(client.clientId, "api")
          assert.deepStrictEqual(calls.map((call) => call.path), ["/2026-01/advertisers/me"])
        }))

      it.effect("refuses to build with plain http to a host other than this machine", () =>
        Effect.gen(function*() {
          const grant = Grant.clientCredentials({ clientId: "c", clientSecret: Redacted.make("s") })
          const build = (options: Partial<CriteoConfig.Options>) =>
            Effect.scoped(Layer.build(runtime.layer({ grant, ...options })))
          const token = yield* Effect.flip(build({ tokenUrl: "http://api.criteo.example/oauth2/token" }))
          assert.strictEqual(token._tag, "InsecureUrlError")
          assert.strictEqual(token.option, "tokenUrl")
          if (token._tag === "InsecureUrlError") assert.strictEqual(token.host, "api.criteo.example")
          const api = yield* Effect.flip(build({ apiUrl: "http://user:pw@10.1.2.3:8080/x?k=v" }))
          assert.strictEqual(api._tag, "InsecureUrlError")
          assert.strictEqual(api.option, "apiUrl")
          assert.notInclude(api.message, "pw")
          assert.notInclude(api.message, "k=v")
          const scheme = yield* Effect.flip(build({ tokenUrl: "ftp://api.criteo.example/token" }))
          assert.strictEqual(scheme._tag, "InvalidUrlError")
          const malformed = yield* Effect.flip(build({ apiUrl: "api.criteo.com" }))
          assert.strictEqual(malformed._tag, "InvalidUrlError")
          const userInfo = yield* Effect.flip(build({ tokenUrl: "https://me:hunter2@api.criteo.com/oauth2/token" }))
          assert.deepInclude(userInfo, { _tag: "InvalidUrlError", option: "tokenUrl", reason: "UserInfo" })
          assert.notInclude(userInfo.message, "hunter2")
          const query = yield* Effect.flip(build({ apiUrl: "https://api.criteo.com/?k=v" }))
          assert.deepInclude(query, { _tag: "InvalidUrlError", option: "apiUrl", reason: "QueryOrFragment" })
          // Loopback, https, and the explicit opt-in are accepted.
          yield* build({ tokenUrl: "http://localhost:8080/oauth2/token", apiUrl: "http://127.3.4.5:1" })
          yield* build({ tokenUrl: "http://[::1]:8080/oauth2/token", apiUrl: "https://api.criteo.com" })
          yield* build({ tokenUrl: "http://api.criteo.example/oauth2/token", allowInsecureHttp: true })
        }))
    })
  }
})
