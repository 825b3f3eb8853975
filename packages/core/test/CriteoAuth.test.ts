import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as AccessToken from "../src/AccessToken.js"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoAuthError from "../src/CriteoAuthError.js"
import * as Grant from "../src/Grant.js"
import type * as TokenEndpoint from "../src/TokenEndpoint.js"
import { clientId, clientSecret, type FakeCriteoOptions, grant, makeFakeCriteo, settle } from "./utils.js"

const setup = (fakeOptions: FakeCriteoOptions = {}, options: Partial<CriteoAuth.Options> = {}) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeCriteo(fakeOptions)
    const auth = yield* CriteoAuth.make({ grant, ...options }).pipe(Effect.provide(fake.layer))
    return { auth, fake }
  })

const valueOf = (token: AccessToken.AccessToken) => Redacted.value(token.value)

describe("CriteoAuth", () => {
  describe("caching and single flight", () => {
    it.scoped("serves the cached token without asking again", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup()
        const a = yield* auth.token
        yield* TestClock.adjust("10 minutes")
        const b = yield* auth.token
        assert.strictEqual(valueOf(a), valueOf(b))
        assert.strictEqual(fake.stats.tokenRequests, 1)
      }))

    it.scoped("10,000 concurrent first calls make exactly one token request", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ tokenLatency: 200 })
        const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 10_000 }, () => auth.token), {
          concurrency: "unbounded"
        }))
        yield* settle
        yield* TestClock.adjust("200 millis")
        const tokens = yield* Fiber.join(fiber)
        assert.strictEqual(fake.stats.tokenRequests, 1)
        assert.strictEqual(new Set(tokens.map(valueOf)).size, 1)
      }))

    it.scoped("a caller that gives up does not cancel the request the others wait on", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ tokenLatency: 1000 })
        const impatient = yield* Effect.fork(auth.token)
        const patient = yield* Effect.fork(auth.token)
        yield* settle
        yield* Fiber.interrupt(impatient)
        yield* TestClock.adjust("1 second")
        const token = yield* Fiber.join(patient)
        assert.isTrue(valueOf(token).startsWith("access-1-"))
        assert.strictEqual(fake.stats.tokenRequests, 1)
      }))
  })

  describe("refresh ahead of expiry", () => {
    it.scoped("refreshes in the background between lead+jitter and lead before expiry", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({}, { refreshLeadTime: "20 seconds", refreshJitter: "20 seconds" })
        yield* auth.token
        yield* TestClock.adjust("859 seconds")
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 1)
        yield* TestClock.adjust("21 seconds")
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 2)
        // the caller is served the new token at once, no request of its own
        const token = yield* auth.token
        assert.strictEqual(valueOf(token).startsWith("access-2-"), true)
        assert.strictEqual(fake.stats.tokenRequests, 2)
      }))

    it.scoped("never hands out a token with less than the lead time left", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          { tokenReply: (n) => n === 1 ? undefined : { status: 503 } },
          { refreshLeadTime: "20 seconds", refreshJitter: "0 seconds", retry: { maxAttempts: 1 } }
        )
        const first = yield* auth.token
        yield* TestClock.adjust("879 seconds")
        assert.strictEqual(valueOf(yield* auth.token), valueOf(first))
        yield* TestClock.adjust("2 seconds")
        const error = yield* Effect.flip(auth.token)
        assert.strictEqual(error._tag, "TokenEndpointUnavailableError")
        assert.isAbove(fake.stats.tokenRequests, 1)
      }))

    it.scoped("a failed background refresh keeps serving the current token and retries with backoff", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          { tokenReply: (n) => (n >= 2 && n <= 5 ? { status: 503 } : undefined) },
          { refreshLeadTime: "20 seconds", refreshJitter: "60 seconds", retry: { maxAttempts: 1 } }
        )
        const first = yield* auth.token
        const served: Array<string> = []
        for (let t = 0; t < 900; t += 1) {
          yield* TestClock.adjust("1 second")
          const token = yield* auth.token
          served.push(valueOf(token))
          assert.isTrue(
            AccessToken.isValidAt(token, DateTime.unsafeMake(yield* TestClock.currentTimeMillis), "20 seconds")
          )
        }
        assert.include(served, valueOf(first))
        assert.isTrue(served.some((value) => value.startsWith("access-6-")))
        // 1 + 4 failures + 1 success, and later scheduled refreshes of the new token
        assert.isAtLeast(fake.stats.tokenRequests, 6)
        assert.isAtMost(fake.stats.tokenRequests, 7)
      }).pipe(
        // Every draw 0.5: the refresh starts 30 s before the lead time (at 850 s) and each backoff delay is
        // its base (1, 2, 4, 8 s), so the fifth request is made at 865 s, within the token's fresh life.
        // With random draws the window before the lead time is U(0, 60 s) and may be too short for four
        // retries, after which callers make their own request (and fail, with maxAttempts 1).
        Effect.withRandom(Random.fixed([0.5]))
      ))

    it.scoped("a token installed early (a forced refresh) moves the background refresh to its own instant", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({}, { refreshLeadTime: "20 seconds", refreshJitter: "20 seconds" })
        yield* auth.token
        yield* TestClock.adjust("300 seconds")
        yield* auth.refresh // a new token at 300 s: expires at 1200 s, refreshed between 1160 s and 1180 s
        assert.strictEqual(fake.stats.tokenRequests, 2)
        yield* TestClock.adjust("859 seconds") // 1159 s: past the first token's instant, not the second's
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 2)
        yield* TestClock.adjust("21 seconds")
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 3)
      }))

    it.scoped("a newer token with a shorter lifetime is refreshed ahead of its own expiry", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          {
            tokenReply: (n) =>
              n === 2
                ? { status: 200, body: { access_token: "short-lived", token_type: "Bearer", expires_in: 100 } }
                : undefined
          },
          { refreshLeadTime: "20 seconds", refreshJitter: "20 seconds" }
        )
        yield* auth.token
        yield* TestClock.adjust("10 seconds")
        // expires at 110 s, refreshed between 70 s and 90 s: the background fiber, asleep for the first
        // token's instant (about 870 s), must wake for it
        yield* auth.refresh
        for (let t = 10; t < 91; t++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        assert.strictEqual(fake.stats.tokenRequests, 3)
        assert.isTrue(valueOf(yield* auth.token).startsWith("access-3-"))
      }))

    it.scoped("short-lived tokens are refreshed ahead too (lead and jitter shrink to a quarter)", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ lifetime: 4 })
        const first = yield* auth.token
        yield* TestClock.adjust("1 second")
        assert.strictEqual(valueOf(yield* auth.token), valueOf(first))
        yield* TestClock.adjust("2 seconds")
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 2)
        assert.notStrictEqual(valueOf(yield* auth.token), valueOf(first))
      }))

    it.scoped("tokens of a millisecond do not make the background refresh loop back to back", () =>
      Effect.gen(function*() {
        let requests = 0
        const endpoint: TokenEndpoint.Service = {
          tokenUrl: "https://example.test/oauth2/token",
          request: () =>
            Effect.flatMap(DateTime.now, (now) => {
              requests++
              // a loop stops here, so that the test fails instead of spinning for ever
              if (requests > 1_000) {
                return Effect.fail(
                  new CriteoAuthError.TransportError({ endpoint: "token", reason: "Transport", detail: "too many" })
                )
              }
              return Effect.succeed(
                new AccessToken.AccessToken({
                  value: Redacted.make(`tiny-${requests}`),
                  tokenType: "Bearer",
                  expiresIn: Duration.millis(1),
                  issuedAt: now,
                  expiresAt: DateTime.addDuration(now, Duration.millis(1))
                })
              )
            })
        }
        const auth = yield* CriteoAuth.makeWith(endpoint, { grant })
        yield* auth.token
        for (let i = 0; i < 10; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        // one refresh per minimum interval at most, and no caller asked
        assert.isAtMost(requests, 1 + 10_000 / Duration.toMillis(CriteoAuth.defaults.minRefreshInterval) + 1)
      }))

    it.effect("the background fiber stops with the layer's scope", () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeCriteo()
        const scope = yield* Scope.make()
        const auth = yield* CriteoAuth.make({ grant }).pipe(Effect.provide(fake.layer), Scope.extend(scope))
        yield* auth.token
        yield* Scope.close(scope, Exit.void)
        yield* TestClock.adjust("2 hours")
        yield* settle
        assert.strictEqual(fake.stats.tokenRequests, 1)
      }))
  })

  describe("retries", () => {
    it.scoped("5xx is retried with backoff up to maxAttempts, then TokenEndpointUnavailableError", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ tokenReply: () => ({ status: 503 }) }, { retry: { maxAttempts: 4 } })
        const fiber = yield* Effect.fork(Effect.flip(auth.token))
        for (let i = 0; i < 20; i++) {
          yield* settle
          yield* TestClock.adjust("1 second")
        }
        const error = yield* Fiber.join(fiber)
        assert.deepInclude(error, { _tag: "TokenEndpointUnavailableError", status: 503, attempts: 4 })
        assert.strictEqual(fake.stats.tokenRequests, 4)
        const times = (yield* fake.requests).map((request) => request.at)
        // exponential: each gap at least ~0.8x the double of the previous base (jittered)
        assert.isAbove(times[1] - times[0], 0)
        assert.isAbove(times[3] - times[2], times[1] - times[0])
      }))

    it.scoped("transport failures are retried, and succeed when the network comes back", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ tokenReply: (n) => (n < 3 ? { fail: "transport" } : undefined) })
        const fiber = yield* Effect.fork(auth.token)
        for (let i = 0; i < 10; i++) {
          yield* settle
          yield* TestClock.adjust("1 second")
        }
        const token = yield* Fiber.join(fiber)
        assert.isTrue(valueOf(token).startsWith("access-3-"))
        assert.strictEqual(fake.stats.tokenRequests, 3)
      }))

    it.scoped("a 429 waits at least until x-ratelimit-reset before the next request", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({
          tokenReply: (n) => (n === 1 ? { status: 429, headers: { "x-ratelimit-reset": "10" } } : undefined)
        })
        const fiber = yield* Effect.fork(auth.token)
        for (let i = 0; i < 15; i++) {
          yield* settle
          yield* TestClock.adjust("1 second")
        }
        yield* Fiber.join(fiber)
        const [first, second] = yield* fake.requests
        assert.isAtLeast(second.at - first.at, 10_000)
        assert.strictEqual(fake.stats.tokenRequests, 2)
      }))

    it.scoped("a 429 asking for longer than maxRateLimitWait fails at once, is remembered that long, then asked again", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          { tokenReply: (n) => (n === 1 ? { status: 429, headers: { "retry-after": "600" } } : undefined) },
          { retry: { maxRateLimitWait: "1 minute" } }
        )
        const error = yield* Effect.flip(auth.token)
        assert.strictEqual(error._tag, "RateLimitedError")
        assert.strictEqual(fake.stats.tokenRequests, 1)
        yield* TestClock.adjust("20 seconds")
        const again = yield* Effect.flip(auth.token)
        assert.strictEqual(again._tag, "RateLimitedError")
        if (again._tag === "RateLimitedError") assert.strictEqual(Duration.toSeconds(again.retryAfter!), 40)
        assert.strictEqual(fake.stats.tokenRequests, 1)
        yield* TestClock.adjust("40 seconds")
        yield* auth.token
        assert.strictEqual(fake.stats.tokenRequests, 2)
      }))

    for (
      const [header, value] of [
        ["retry-after", "1000000000"],
        ["x-ratelimit-reset", "99999999999"]
      ] as const
    ) {
      it.scoped(`a far-future ${header} blocks for maxRateLimitWait at most, not until restart`, () =>
        Effect.gen(function*() {
          const { auth, fake } = yield* setup({
            tokenReply: (n) => (n === 1 ? { status: 429, headers: { [header]: value } } : undefined)
          })
          assert.strictEqual((yield* Effect.flip(auth.token))._tag, "RateLimitedError")
          yield* TestClock.adjust(CriteoAuth.defaults.maxRateLimitWait)
          yield* auth.token
          assert.strictEqual(fake.stats.tokenRequests, 2)
        }))
    }

    for (
      const [code, status, tag] of [
        ["invalid_client", 401, "InvalidClientError"],
        ["invalid_grant", 400, "InvalidGrantError"],
        ["invalid_request", 400, "TokenRequestRejectedError"]
      ] as const
    ) {
      it.scoped(`${code} is not retried`, () =>
        Effect.gen(function*() {
          const { auth, fake } = yield* setup({ tokenReply: () => ({ status, body: { error: code } }) })
          const error = yield* Effect.flip(auth.token)
          assert.strictEqual(error._tag, tag)
          assert.strictEqual(fake.stats.tokenRequests, 1)
        }))
    }

    it.scoped("a permanent failure is answered from memory during the cooldown, then asked again", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          { tokenReply: () => ({ status: 401, body: { error: "invalid_client" } }) },
          { failureCooldown: "5 seconds" }
        )
        for (let i = 0; i < 100; i++) yield* Effect.flip(auth.token)
        assert.strictEqual(fake.stats.tokenRequests, 1)
        yield* TestClock.adjust("5 seconds")
        yield* Effect.flip(auth.token)
        assert.strictEqual(fake.stats.tokenRequests, 2)
      }))
  })

  describe("cached (the synchronous read)", () => {
    it.scoped("is the token `token` would serve without a request, and nothing once it may not be handed out", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup(
          { tokenReply: (n) => n === 1 ? undefined : { status: 503 } },
          { refreshLeadTime: "20 seconds", refreshJitter: "0 seconds", retry: { maxAttempts: 1 } }
        )
        const cached = auth.cached!
        assert.isUndefined(cached(yield* TestClock.currentTimeMillis))
        assert.strictEqual(fake.stats.tokenRequests, 0)
        const first = yield* auth.token
        assert.strictEqual(cached(yield* TestClock.currentTimeMillis), first)
        yield* TestClock.adjust("879 seconds")
        assert.strictEqual(cached(yield* TestClock.currentTimeMillis), first)
        // within the lead time of its expiry (900 s): `token` would ask for a new one
        yield* TestClock.adjust("2 seconds")
        assert.isUndefined(cached(yield* TestClock.currentTimeMillis))
        assert.strictEqual(fake.stats.tokenRequests >= 1, true)
      }))

    it.scoped("is nothing once the token is invalidated", () =>
      Effect.gen(function*() {
        const { auth } = yield* setup()
        const first = yield* auth.token
        assert.isTrue(yield* auth.invalidate(first))
        assert.isUndefined(auth.cached!(yield* TestClock.currentTimeMillis))
        const second = yield* auth.token
        assert.strictEqual(auth.cached!(yield* TestClock.currentTimeMillis), second)
      }))
  })

  describe("invalidate", () => {
    it.scoped("drops the token only if it is still the current one (compare-and-swap)", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup()
        const a = yield* auth.token
        assert.isTrue(yield* auth.invalidate(a))
        const b = yield* auth.token
        assert.notStrictEqual(valueOf(a), valueOf(b))
        assert.strictEqual(fake.stats.tokenRequests, 2)
        // a late 401 for the old token must not discard the fresh one
        assert.isFalse(yield* auth.invalidate(a))
        const c = yield* auth.token
        assert.strictEqual(valueOf(c), valueOf(b))
        assert.strictEqual(fake.stats.tokenRequests, 2)
      }))

    it.scoped("refresh always asks for a new token, and concurrent refreshes share one request", () =>
      Effect.gen(function*() {
        const { auth, fake } = yield* setup({ tokenLatency: 100 })
        const warmUp = yield* Effect.fork(auth.token)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(warmUp)
        const fiber = yield* Effect.fork(Effect.all([auth.refresh, auth.refresh, auth.refresh], { concurrency: 3 }))
        yield* settle
        yield* TestClock.adjust("100 millis")
        const tokens = yield* Fiber.join(fiber)
        assert.strictEqual(fake.stats.tokenRequests, 2)
        assert.strictEqual(new Set(tokens.map(valueOf)).size, 1)
      }))
  })

  describe("authorization_code and refresh_token", () => {
    const codeGrant = Grant.authorizationCode({
      clientId,
      clientSecret: Redacted.make(clientSecret),
      code: Redacted.make("code-1"),
      redirectUri: "https://app.example/callback"
    })

    it.scoped("exchanges the code once, then refreshes with each rotated refresh token, reporting every one", () =>
      Effect.gen(function*() {
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const fake = yield* makeFakeCriteo({ refreshTokens: true })
        const auth = yield* CriteoAuth.make({
          grant: codeGrant,
          onRefreshToken: (refreshToken) => Ref.update(seen, (all) => [...all, Redacted.value(refreshToken)])
        }).pipe(Effect.provide(fake.layer))
        for (let i = 0; i < 3; i++) {
          yield* auth.token
          yield* TestClock.adjust("15 minutes")
          yield* settle
        }
        const requests = yield* fake.requests
        assert.isAtLeast(requests.length, 3)
        assert.strictEqual(requests[0].form.get("grant_type"), "authorization_code")
        assert.strictEqual(requests[0].form.get("code"), "code-1")
        for (let i = 1; i < requests.length; i++) {
          assert.strictEqual(requests[i].form.get("grant_type"), "refresh_token")
          assert.isNull(requests[i].form.get("code"))
          assert.strictEqual(requests[i].form.get("refresh_token"), `refresh-${i}`)
          assert.strictEqual(requests[i].form.get("client_secret"), clientSecret)
        }
        assert.deepStrictEqual(yield* Ref.get(seen), requests.map((_, i) => `refresh-${i + 1}`))
      }))

    it.scoped("never sends a spent code again: no refresh token means InvalidGrantError", () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeCriteo({ refreshTokens: false })
        const auth = yield* CriteoAuth.make({ grant: codeGrant }).pipe(Effect.provide(fake.layer))
        const first = yield* auth.token
        yield* auth.invalidate(first)
        const error = yield* Effect.flip(auth.token)
        assert.strictEqual(error._tag, "InvalidGrantError")
        if (error._tag === "InvalidGrantError") {
          assert.strictEqual(error.reason, "CodeAlreadyUsed")
          assert.isUndefined(error.status)
        }
        assert.strictEqual(fake.stats.tokenRequests, 1)
      }))

    it.scoped("a refresh_token grant keeps its token when the server does not rotate it", () =>
      Effect.gen(function*() {
        const fake = yield* makeFakeCriteo({ refreshTokens: false })
        const auth = yield* CriteoAuth.make({
          grant: Grant.refreshToken({ clientId, clientSecret: Redacted.make("x"), refreshToken: Redacted.make("rt-0") })
        }).pipe(Effect.provide(fake.layer))
        yield* auth.token
        yield* auth.refresh
        const requests = yield* fake.requests
        assert.deepStrictEqual(requests.map((r) => r.form.get("refresh_token")), ["rt-0", "rt-0"])
      }))
  })

  describe("layers", () => {
    it.scoped("layerTest serves a fixed token", () =>
      Effect.gen(function*() {
        const token = new AccessToken.AccessToken({
          value: Redacted.make("fixed"),
          tokenType: "Bearer",
          expiresIn: Duration.seconds(900),
          issuedAt: DateTime.unsafeMake(0),
          expiresAt: DateTime.unsafeMake(900_000)
        })
        const auth = yield* Effect.provide(CriteoAuth.CriteoAuth, CriteoAuth.layerTest(token))
        assert.strictEqual(valueOf(yield* auth.token), "fixed")
        assert.isTrue(Option.isNone(Option.none()))
      }))
  })
})
