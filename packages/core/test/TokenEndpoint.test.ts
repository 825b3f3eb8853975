import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as CriteoAuthMetrics from "../src/CriteoAuthMetrics.js"
import * as Grant from "../src/Grant.js"
import * as TokenEndpoint from "../src/TokenEndpoint.js"
import { clientId, clientSecret, grant, makeFakeClient, type Reply } from "./utils.js"

const withReply = (reply: Reply | ((n: number) => Reply), options: TokenEndpoint.Options = {}) =>
  Effect.gen(function*() {
    let n = 0
    const fake = yield* makeFakeClient(() => {
      n++
      return Effect.succeed(typeof reply === "function" ? reply(n) : reply)
    })
    const endpoint = yield* TokenEndpoint.make(options).pipe(Effect.provide(fake.layer))
    return { endpoint, fake }
  })

const ok = { status: 200, body: { access_token: "eyJ.token.value", token_type: "Bearer", expires_in: 900 } }

describe("TokenEndpoint", () => {
  describe("the request", () => {
    it.effect("POSTs the client_credentials form to the default URL, credentials in the body only", () =>
      Effect.gen(function*() {
        const { endpoint, fake } = yield* withReply(ok)
        yield* endpoint.request(grant)
        const [request] = yield* fake.requests
        assert.strictEqual(request.method, "POST")
        assert.strictEqual(request.url, "https://api.criteo.com/oauth2/token")
        assert.strictEqual(request.query, "")
        assert.strictEqual(request.headers["content-type"], "application/x-www-form-urlencoded")
        assert.strictEqual(request.headers["accept"], "application/json")
        assert.isUndefined(request.headers["authorization"])
        assert.deepStrictEqual([...request.form.keys()].sort(), ["client_id", "client_secret", "grant_type"])
        assert.strictEqual(request.form.get("grant_type"), "client_credentials")
        assert.strictEqual(request.form.get("client_id"), clientId)
        // special characters survive the form encoding exactly
        assert.strictEqual(request.form.get("client_secret"), clientSecret)
        assert.notInclude(request.url, clientSecret)
        assert.notInclude(request.body, "s3cr3t-Value+with/special&chars")
      }))

    it.effect("sends code and redirect_uri for authorization_code, refresh_token for refresh_token", () =>
      Effect.gen(function*() {
        const { endpoint, fake } = yield* withReply(ok, { tokenUrl: "http://127.0.0.1:9/oauth2/token" })
        yield* endpoint.request(
          Grant.authorizationCode({
            clientId,
            clientSecret: Redacted.make(clientSecret),
            code: Redacted.make("the code"),
            redirectUri: "https://app.example/callback?x=1"
          })
        )
        yield* endpoint.request(
          Grant.refreshToken({
            clientId,
            clientSecret: Redacted.make(clientSecret),
            refreshToken: Redacted.make("rt-1")
          })
        )
        const [first, second] = yield* fake.requests
        assert.strictEqual(first.url, "http://127.0.0.1:9/oauth2/token")
        assert.strictEqual(first.form.get("grant_type"), "authorization_code")
        assert.strictEqual(first.form.get("code"), "the code")
        assert.strictEqual(first.form.get("redirect_uri"), "https://app.example/callback?x=1")
        assert.strictEqual(second.form.get("grant_type"), "refresh_token")
        assert.strictEqual(second.form.get("refresh_token"), "rt-1")
        assert.isNull(second.form.get("code"))
      }))
  })

  describe("a successful answer", () => {
    it.effect("becomes an AccessToken stamped with the Clock at sending time", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_700_000_000_000)
        const { endpoint } = yield* withReply({
          status: 200,
          body: { access_token: "abc", token_type: "bearer", expires_in: 900, refresh_token: "r-1", scope: "x" }
        })
        const token = yield* endpoint.request(grant)
        assert.strictEqual(Redacted.value(token.value), "abc")
        assert.strictEqual(token.tokenType, "bearer")
        assert.isTrue(Duration.equals(token.expiresIn, Duration.seconds(900)))
        assert.strictEqual(DateTime.toEpochMillis(token.issuedAt), 1_700_000_000_000)
        assert.strictEqual(DateTime.toEpochMillis(token.expiresAt), 1_700_000_900_000)
        assert.strictEqual(Redacted.value(token.refreshToken!), "r-1")
        assert.match(token.fingerprint, /^tok_[0-9a-f]{12}$/)
      }))

    it.effect("issuedAt is when the request left, not when the answer arrived", () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeClient(() => Effect.as(Effect.sleep("3 seconds"), ok))
        const endpoint = yield* TokenEndpoint.make().pipe(Effect.provide(fake.layer))
        const fiber = yield* Effect.fork(endpoint.request(grant))
        yield* TestClock.adjust("3 seconds")
        const token = yield* Fiber.join(fiber)
        assert.strictEqual(DateTime.toEpochMillis(token.issuedAt), 0)
        assert.strictEqual(DateTime.toEpochMillis(token.expiresAt), 900_000)
      }))

    it.effect("decodes the body whatever its content type, accepts expires_in as a numeric string", () =>
      Effect.gen(function*() {
        for (const contentType of ["text/plain", "text/json", "application/octet-stream"]) {
          const { endpoint } = yield* withReply({
            status: 200,
            body: JSON.stringify({ access_token: "abc", token_type: "BEARER", expires_in: "900" }),
            headers: { "content-type": contentType }
          })
          const token = yield* endpoint.request(grant)
          assert.isTrue(Duration.equals(token.expiresIn, Duration.seconds(900)))
        }
      }))

    it.effect("a null refresh_token is no refresh token", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({
          status: 200,
          body: { access_token: "abc", token_type: "Bearer", expires_in: 900, refresh_token: null }
        })
        const token = yield* endpoint.request(grant)
        assert.isUndefined(token.refreshToken)
      }))
  })

  describe("malformed answers", () => {
    const cases: ReadonlyArray<[string, unknown, RegExp]> = [
      ["no access_token", { token_type: "Bearer", expires_in: 900 }, /access_token is missing/],
      ["an empty access_token", { access_token: "", token_type: "Bearer", expires_in: 900 }, /access_token/],
      ["a numeric access_token", { access_token: 12, token_type: "Bearer", expires_in: 900 }, /access_token/],
      ["a mac token", { access_token: "abc", token_type: "mac", expires_in: 900 }, /token_type must be "Bearer"/],
      ["no token_type", { access_token: "abc", expires_in: 900 }, /token_type is missing/],
      ["no expires_in", { access_token: "abc", token_type: "Bearer" }, /expires_in is missing/],
      ["a zero expires_in", { access_token: "abc", token_type: "Bearer", expires_in: 0 }, /expires_in/],
      ["a negative expires_in", { access_token: "abc", token_type: "Bearer", expires_in: -5 }, /expires_in/],
      ["an absurd expires_in", { access_token: "abc", token_type: "Bearer", expires_in: 900_000_000 }, /expires_in/],
      ["a non-numeric expires_in", { access_token: "abc", token_type: "Bearer", expires_in: "soon" }, /expires_in/],
      ["a JSON array", [1, 2], /not a JSON object|match/],
      ["HTML", "<html>oops</html>", /not JSON \(content-type text\/html/]
    ]
    for (const [name, body, reason] of cases) {
      it.effect(`${name} is a MalformedTokenResponseError`, () =>
        Effect.gen(function*() {
          const { endpoint } = yield* withReply({
            status: 200,
            body,
            headers: typeof body === "string" ? { "content-type": "text/html" } : {}
          })
          const error = yield* Effect.flip(endpoint.request(grant))
          assert.strictEqual(error._tag, "MalformedTokenResponseError")
          if (error._tag === "MalformedTokenResponseError") {
            assert.match(error.reason, reason)
            assert.strictEqual(error.status, 200)
          }
        }))
    }

    it.effect("never quotes the access token in the reason", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({
          status: 200,
          body: { access_token: "SECRET-TOKEN-VALUE", token_type: "Bearer", expires_in: -1 }
        })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.notInclude(JSON.stringify(error), "SECRET-TOKEN-VALUE")
        assert.notInclude(String(error), "SECRET-TOKEN-VALUE")
      }))
  })

  describe("hostile answers (issue 16)", () => {
    const fails = (reply: Reply, options: TokenEndpoint.Options = {}, g: Grant.Grant = grant) =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply(reply, options)
        return yield* Effect.flip(endpoint.request(g))
      })

    it.effect("a lifetime below the floor is malformed; the floor itself is accepted", () =>
      Effect.gen(function*() {
        for (const expires_in of [0.0001, 0.5, 0.999]) {
          const error = yield* fails({ status: 200, body: { access_token: "abc", token_type: "Bearer", expires_in } })
          assert.strictEqual(error._tag, "MalformedTokenResponseError", String(expires_in))
          if (error._tag === "MalformedTokenResponseError") assert.match(error.reason, /expires_in must be/)
        }
        const { endpoint } = yield* withReply({
          status: 200,
          body: {
            access_token: "abc",
            token_type: "Bearer",
            expires_in: Duration.toSeconds(TokenEndpoint.minExpiresIn)
          }
        })
        const token = yield* endpoint.request(grant)
        assert.isTrue(Duration.equals(token.expiresIn, TokenEndpoint.defaults.minExpiresIn))
      }))

    it.effect("a body nested 3,000 deep is MalformedTokenResponseError, in any field or as a whole", () =>
      Effect.gen(function*() {
        const nested = "[".repeat(3000) + "]".repeat(3000)
        const bodies = [
          nested,
          `{"access_token":${nested},"token_type":"Bearer","expires_in":900}`,
          `{"access_token":"abc","token_type":${nested},"expires_in":900}`,
          `{"access_token":"abc","token_type":"Bearer","expires_in":${"{\"a\":".repeat(3000)}1${"}".repeat(3000)}}`
        ]
        for (const body of bodies) {
          const error = yield* fails({ status: 200, body })
          assert.strictEqual(error._tag, "MalformedTokenResponseError")
          if (error._tag === "MalformedTokenResponseError") assert.match(error.reason, /nested deeper than 32/)
          // and an error status with such a body is still the usual typed error
          const rejected = yield* fails({ status: 400, body })
          assert.deepInclude(rejected, { _tag: "TokenRequestRejectedError", error: "unknown" })
        }
      }))

    it.effect("a body larger than the limit is malformed, without reading it all", () =>
      Effect.gen(function*() {
        const huge = JSON.stringify({ access_token: "a".repeat(100_000), token_type: "Bearer", expires_in: 900 })
        const error = yield* fails({ status: 200, body: huge })
        assert.strictEqual(error._tag, "MalformedTokenResponseError")
        if (error._tag === "MalformedTokenResponseError") assert.match(error.reason, /larger than 65536 bytes/)
        // configurable
        const small = JSON.stringify({ access_token: "a".repeat(2_000), token_type: "Bearer", expires_in: 900 })
        const limited = yield* fails({ status: 200, body: small }, { maxBodySize: 1_000 })
        assert.strictEqual(limited._tag, "MalformedTokenResponseError")
        const { endpoint } = yield* withReply({ status: 200, body: small }, { maxBodySize: 4_000 })
        yield* endpoint.request(grant)
        // an error status with a huge body keeps its status-derived error
        const unavailable = yield* fails({ status: 503, body: huge })
        assert.strictEqual(unavailable._tag, "TokenEndpointUnavailableError")
      }))

    it.effect("a declared content-length above the limit is refused, the body not kept", () =>
      Effect.gen(function*() {
        const error = yield* fails(
          { ...ok, headers: { "content-length": "10000000" } },
          { maxBodySize: 1_000 }
        )
        assert.strictEqual(error._tag, "MalformedTokenResponseError")
        if (error._tag === "MalformedTokenResponseError") assert.match(error.reason, /larger than 1000 bytes/)
      }))

    for (
      const [name, token] of [
        ["CRLF", "abc\r\nX-Injected: 1"],
        ["NUL", "abc\u0000def"],
        ["non-Latin-1", "abc\u20acdef"],
        ["Latin-1 but not b64token", "abc\u00e9def"],
        ["a space", "abc def"]
      ] as const
    ) {
      it.effect(`an access token with ${name} is malformed (RFC 6750 b64token)`, () =>
        Effect.gen(function*() {
          const error = yield* fails({
            status: 200,
            body: { access_token: token, token_type: "Bearer", expires_in: 900 }
          })
          assert.strictEqual(error._tag, "MalformedTokenResponseError")
          if (error._tag === "MalformedTokenResponseError") {
            assert.match(error.reason, /b64token/)
            assert.notInclude(error.reason, "abc")
          }
        }))
    }

    it.effect("a JWT-shaped token with padding is accepted", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({
          status: 200,
          body: { access_token: "eyJhbGciOi.eyJzdWIi-_~+/.sig==", token_type: "Bearer", expires_in: 900 }
        })
        yield* endpoint.request(grant)
      }))

    it.effect("server values echoed from non-secret fields are scrubbed (token_type, expires_in, error)", () =>
      Effect.gen(function*() {
        const form = new URLSearchParams({ s: clientSecret }).toString().slice(2)
        const bodies: ReadonlyArray<Reply> = [
          { status: 200, body: { access_token: "tok-AAAA", token_type: clientSecret, expires_in: 900 } },
          { status: 200, body: { access_token: "tok-AAAA", token_type: form, expires_in: 900 } },
          { status: 200, body: { access_token: "tok-AAAA", token_type: "tok-AAAA", expires_in: 900 } },
          { status: 200, body: { access_token: "tok-AAAA", token_type: "Bearer", expires_in: form } },
          { status: 200, body: { access_token: "tok-AAAA", token_type: "Bearer", expires_in: "x\r\ny" } },
          { status: 400, body: { error: `bad ${form}` } },
          {
            status: 400,
            body: { error: "invalid_request", error_description: `got ${encodeURIComponent(clientSecret)}` }
          }
        ]
        for (const reply of bodies) {
          const error = yield* fails(reply)
          for (const text of [String(error), JSON.stringify(error), error.message]) {
            assert.notInclude(text, clientSecret)
            assert.notInclude(text, form)
            assert.notInclude(text, encodeURIComponent(clientSecret))
            assert.notInclude(text, "tok-AAAA")
            assert.notInclude(text, "\r\n")
          }
        }
      }))

    it.effect("an error description echoing the request scrubs every encoding of every secret", () =>
      Effect.gen(function*() {
        const secret = "p@ss w/rd+\"é&=%"
        const code = "code/with spaces+plus"
        const g = Grant.authorizationCode({
          clientId,
          clientSecret: Redacted.make(secret),
          code: Redacted.make(code),
          redirectUri: "https://app.example/cb"
        })
        const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2)
        const spellings = (value: string) => [
          value,
          form(value),
          encodeURIComponent(value),
          JSON.stringify(value).slice(1, -1),
          Buffer.from(value).toString("base64")
        ]
        const basic = Buffer.from(`${clientId}:${secret}`).toString("base64")
        const echoed = [...spellings(secret), ...spellings(code), basic, `Basic ${basic}`].join(" | ")
        const error = yield* fails(
          { status: 400, body: { error: "invalid_request", error_description: echoed } },
          {},
          g
        )
        assert.strictEqual(error._tag, "TokenRequestRejectedError")
        for (const text of [String(error), JSON.stringify(error)]) {
          for (const spelling of [...spellings(secret), ...spellings(code), basic]) {
            assert.notInclude(text, spelling)
          }
        }
        if (error._tag === "TokenRequestRejectedError") assert.include(error.description, "<redacted>")
      }))
  })

  describe("error answers", () => {
    it.effect("401 invalid_client is InvalidClientError", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({
          status: 401,
          body: {
            error: "invalid_client",
            error_description: "client_id doesn't exist or the client_secret is invalid"
          }
        })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.strictEqual(error._tag, "InvalidClientError")
        assert.deepInclude(error, { clientId, status: 401 })
        if (error._tag === "InvalidClientError") assert.match(error.description!, /client_secret is invalid/)
      }))

    it.effect("a bare 401 is InvalidClientError too", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({ status: 401, body: "" })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.strictEqual(error._tag, "InvalidClientError")
      }))

    it.effect("400 invalid_grant is InvalidGrantError, naming the grant type", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({ status: 400, body: { error: "invalid_grant" } })
        const error = yield* Effect.flip(
          endpoint.request(
            Grant.refreshToken({ clientId, clientSecret: Redacted.make("x"), refreshToken: Redacted.make("y") })
          )
        )
        assert.strictEqual(error._tag, "InvalidGrantError")
        if (error._tag === "InvalidGrantError") assert.strictEqual(error.grantType, "refresh_token")
      }))

    for (const code of ["invalid_request", "unauthorized_client", "unsupported_grant_type", "invalid_scope"]) {
      it.effect(`400 ${code} is TokenRequestRejectedError keeping error and description`, () =>
        Effect.gen(function*() {
          const { endpoint } = yield* withReply({
            status: 400,
            body: { error: code, error_description: "details", error_uri: "https://x" },
            headers: { "content-type": "text/json" }
          })
          const error = yield* Effect.flip(endpoint.request(grant))
          assert.strictEqual(error._tag, "TokenRequestRejectedError")
          if (error._tag === "TokenRequestRejectedError") {
            assert.strictEqual(error.error, code)
            assert.strictEqual(error.description, "details")
            assert.strictEqual(error.status, 400)
          }
        }))
    }

    it.effect("an unexpected status without an OAuth body is TokenRequestRejectedError 'unknown'", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({ status: 404, body: "not found" })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.deepInclude(error, { _tag: "TokenRequestRejectedError", error: "unknown", status: 404 })
      }))

    it.effect("429 is RateLimitedError with the wait from x-ratelimit-reset (epoch seconds)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_800_000_000_000)
        const { endpoint } = yield* withReply({
          status: 429,
          headers: { "x-ratelimit-limit": "250", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000042" }
        })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.strictEqual(error._tag, "RateLimitedError")
        if (error._tag === "RateLimitedError") {
          assert.strictEqual(Duration.toMillis(error.retryAfter!), 42_000)
          assert.strictEqual(error.limit, 250)
          assert.strictEqual(error.endpoint, "token")
        }
      }))

    it.effect("429 honours Retry-After in seconds and as an HTTP date", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 10, 28, 12, 0, 0))
        const seconds = yield* withReply({ status: 429, headers: { "retry-after": "7" } })
        const date = yield* withReply({ status: 429, headers: { "retry-after": "Sat, 28 Nov 2026 12:00:30 GMT" } })
        const none = yield* withReply({ status: 429 })
        const a = yield* Effect.flip(seconds.endpoint.request(grant))
        const b = yield* Effect.flip(date.endpoint.request(grant))
        const c = yield* Effect.flip(none.endpoint.request(grant))
        assert.strictEqual(a._tag === "RateLimitedError" && Duration.toMillis(a.retryAfter!), 7000)
        assert.strictEqual(b._tag === "RateLimitedError" && Duration.toMillis(b.retryAfter!), 30_000)
        assert.isTrue(c._tag === "RateLimitedError" && c.retryAfter === undefined)
      }))

    for (const status of [500, 502, 503, 504]) {
      it.effect(`${status} is TokenEndpointUnavailableError`, () =>
        Effect.gen(function*() {
          const { endpoint } = yield* withReply({ status, body: "<html>down</html>" })
          const error = yield* Effect.flip(endpoint.request(grant))
          assert.deepInclude(error, { _tag: "TokenEndpointUnavailableError", status, attempts: 1 })
        }))
    }

    it.effect("a network failure is TransportError, keeping the cause's code and not the request", () =>
      Effect.gen(function*() {
        const { endpoint } = yield* withReply({ fail: "transport" })
        const error = yield* Effect.flip(endpoint.request(grant))
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag === "TransportError") {
          assert.strictEqual(error.reason, "Transport")
          assert.match(error.detail, /ECONNRESET|socket hang up/)
        }
        assert.notInclude(JSON.stringify(error), clientSecret)
      }))

    it.effect("no answer within the timeout is TransportError Timeout", () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeClient(() => Effect.as(Effect.sleep("1 minute"), ok))
        const endpoint = yield* TokenEndpoint.make({ timeout: "2 seconds" }).pipe(Effect.provide(fake.layer))
        const fiber = yield* Effect.fork(Effect.flip(endpoint.request(grant)))
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(fiber)
        assert.deepInclude(error, { _tag: "TransportError", reason: "Timeout" })
      }))
  })

  it.effect("counts token requests by outcome and grant type, and times them", () =>
    Effect.gen(function*() {
      const success = Metric.tagged(
        Metric.tagged(CriteoAuthMetrics.tokenRequests, "outcome", "success"),
        "grant_type",
        "client_credentials"
      )
      const invalid = Metric.tagged(
        Metric.tagged(CriteoAuthMetrics.tokenRequests, "outcome", "InvalidClientError"),
        "grant_type",
        "client_credentials"
      )
      const before = [(yield* Metric.value(success)).count, (yield* Metric.value(invalid)).count]
      const durations = (yield* Metric.value(CriteoAuthMetrics.tokenRequestDuration)).count
      const { endpoint } = yield* withReply((n) => (n === 1 ? ok : { status: 401, body: { error: "invalid_client" } }))
      yield* endpoint.request(grant)
      yield* Effect.flip(endpoint.request(grant))
      assert.strictEqual((yield* Metric.value(success)).count - before[0], 1)
      assert.strictEqual((yield* Metric.value(invalid)).count - before[1], 1)
      assert.strictEqual((yield* Metric.value(CriteoAuthMetrics.tokenRequestDuration)).count - durations, 2)
    }))
})
