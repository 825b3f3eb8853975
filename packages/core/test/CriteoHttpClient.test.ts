import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as AccessToken from "../src/AccessToken.js"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoAuthMetrics from "../src/CriteoAuthMetrics.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import { type FakeCriteoOptions, grant, makeFakeClient, makeFakeCriteo, type Reply, settle } from "./utils.js"

const setup = (
  fakeOptions: FakeCriteoOptions = {},
  clientOptions: CriteoHttpClient.Options = {},
  authOptions: Partial<CriteoAuth.Options> = {}
) =>
  Effect.gen(function*() {
    const fake = yield* makeFakeCriteo(fakeOptions)
    const auth = CriteoAuth.layer({ grant, tokenUrl: "https://api.criteo.com/oauth2/token", ...authOptions })
    const context = yield* Layer.build(
      CriteoHttpClient.layer(clientOptions).pipe(Layer.provideMerge(auth), Layer.provide(fake.layer))
    )
    const client = Effect.runSync(Effect.provide(CriteoHttpClient.CriteoHttpClient, context))
    const authService = Effect.runSync(Effect.provide(CriteoAuth.CriteoAuth, context))
    return { client, auth: authService, fake }
  })

/** Lets the retries' backoff sleeps run out on the TestClock. */
const drive = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) {
    yield* settle
    yield* TestClock.adjust("1 second")
  }
})

const apiCalls = (fake: { requests: Effect.Effect<ReadonlyArray<{ path: string }>> }) =>
  Effect.map(fake.requests, (all) => all.filter((request) => request.path !== "/oauth2/token"))

describe("CriteoHttpClient", () => {
  it.scoped("sends the bearer token on versioned paths of the API", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup()
      const response = yield* client.get("/advertisers/me")
      assert.strictEqual(response.status, 200)
      const [call] = yield* apiCalls(fake)
      const all = yield* fake.requests
      assert.strictEqual(all[1].url, "https://api.criteo.com/2026-07/advertisers/me")
      assert.strictEqual(all[1].headers["authorization"], "Bearer " + fake.issued.keys().next().value)
      assert.strictEqual(all[1].headers["accept"], "application/json")
      assert.strictEqual(call.path, "/2026-07/advertisers/me")
    }))

  it.scoped("honours baseUrl and apiVersion, and no version at all", () =>
    Effect.gen(function*() {
      const a = yield* setup({}, { baseUrl: "http://127.0.0.1:8080/", apiVersion: "2026-01" })
      yield* a.client.get("/advertisers/me")
      assert.strictEqual((yield* a.fake.requests)[1].url, "http://127.0.0.1:8080/2026-01/advertisers/me")
      const b = yield* setup({}, { baseUrl: "http://127.0.0.1:8080", apiVersion: null })
      yield* b.client.get("/oauth2/ping")
      assert.strictEqual((yield* b.fake.requests)[1].url, "http://127.0.0.1:8080/oauth2/ping")
    }))

  it.scoped("on a 401: invalidates the token that failed, gets a new one, replays once", () =>
    Effect.gen(function*() {
      let revoked = true
      const { client, fake } = yield* setup({
        apiReply: (_, token) => {
          if (revoked && token === "access-1-0") {
            revoked = false
            return { status: 401, body: { errors: [{ code: "authorization-token-expired" }] } }
          }
          return undefined
        }
      })
      const replays = yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)
      const response = yield* client.post("/reports", { body: HttpBody.unsafeJson({}) })
      assert.strictEqual(response.status, 200)
      const calls = yield* apiCalls(fake)
      assert.strictEqual(calls.length, 2)
      assert.strictEqual(fake.stats.tokenRequests, 2)
      const all = yield* fake.requests
      assert.strictEqual(all[3].headers["authorization"], "Bearer access-2-0")
      assert.strictEqual(all[3].method, "POST")
      assert.strictEqual(all[3].body, "{}")
      assert.strictEqual((yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)).count - replays.count, 1)
    }))

  it.scoped("a second 401 fails with UnauthorizedError: no loop", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({
        apiReply: () => ({
          status: 401,
          body: { errors: [{ code: "authorization-token-invalid", traceIdentifier: "trace-9" }] }
        })
      })
      const error = yield* Effect.flip(client.get("/advertisers/me?x=1"))
      assert.strictEqual(error._tag, "UnauthorizedError")
      if (error._tag === "UnauthorizedError") {
        assert.strictEqual(error.code, "authorization-token-invalid")
        assert.strictEqual(error.traceId, "trace-9")
        assert.strictEqual(error.method, "GET")
      }
      assert.strictEqual((yield* apiCalls(fake)).length, 2)
      assert.strictEqual(fake.stats.tokenRequests, 2)
    }))

  it.scoped("a 403 fails with ForbiddenError and never refreshes", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({
        apiReply: () => ({ status: 403, body: { errors: [{ code: "consent-revoked", traceId: "t" }] } })
      })
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.deepInclude(error, { _tag: "ForbiddenError", code: "consent-revoked" })
      assert.strictEqual((yield* apiCalls(fake)).length, 1)
      assert.strictEqual(fake.stats.tokenRequests, 1)
    }))

  it.scoped("1,000 concurrent requests that all get a 401 for the same token cause exactly one token request", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({
        tokenLatency: 50,
        apiReply: (_, token) => (token === "access-1-0" ? { status: 401 } : undefined)
      })
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 1000 }, () => client.get("/advertisers/me")), { concurrency: "unbounded" })
      )
      for (let i = 0; i < 3; i++) {
        yield* settle
        yield* TestClock.adjust("50 millis")
      }
      const responses = yield* Fiber.join(fiber)
      assert.isTrue(responses.every((response) => response.status === 200))
      assert.strictEqual(fake.stats.tokenRequests, 2)
      assert.strictEqual((yield* apiCalls(fake)).length, 2000)
    }))

  it.scoped("5xx answers are retried with backoff, then the last response is returned", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ status: 503 }) }, { retry: { maxAttempts: 3 } })
      const fiber = yield* Effect.fork(client.get("/advertisers/me"))
      for (let i = 0; i < 10; i++) {
        yield* settle
        yield* TestClock.adjust("1 second")
      }
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 503)
      assert.strictEqual((yield* apiCalls(fake)).length, 3)
      assert.strictEqual(fake.stats.tokenRequests, 1)
    }))

  it.scoped("a GET that fails on the network is sent again, within the bounds", () =>
    Effect.gen(function*() {
      let failures = 1
      const { client, fake } = yield* setup({ apiReply: () => (failures-- > 0 ? { fail: "transport" } : undefined) })
      const fiber = yield* Effect.fork(client.get("/advertisers/me"))
      yield* drive
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.strictEqual((yield* apiCalls(fake)).length, 2)
      assert.strictEqual(fake.stats.tokenRequests, 1)
    }))

  it.scoped("a GET that keeps failing on the network makes maxAttempts requests, then fails", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ fail: "transport" }) }, { retry: { maxAttempts: 4 } })
      const fiber = yield* Effect.fork(Effect.flip(client.get("/advertisers/me")))
      yield* drive
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "TransportError")
      assert.strictEqual((yield* apiCalls(fake)).length, 4)
    }))

  it.scoped("a POST that fails on the network is not sent again: it may have been processed", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ fail: "transport" }) })
      const error = yield* Effect.flip(client.post("/advertisers/42/campaigns", { body: HttpBody.text("{}") }))
      assert.strictEqual(error._tag, "TransportError")
      assert.strictEqual((yield* apiCalls(fake)).length, 1)
    }))

  it.scoped("a 503 then a network failure then a 200: one schedule bounds both kinds of retry", () =>
    Effect.gen(function*() {
      const replies = [{ status: 503 }, { fail: "transport" as const }]
      const { client, fake } = yield* setup({ apiReply: () => replies.shift() }, { retry: { maxAttempts: 3 } })
      const fiber = yield* Effect.fork(client.get("/advertisers/me"))
      yield* drive
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.strictEqual((yield* apiCalls(fake)).length, 3)
    }))

  it.scoped("withRetries alone retries a GET after a platform transport failure", () =>
    Effect.gen(function*() {
      let failures = 2
      const fake = yield* makeFakeCriteo({ apiReply: () => (failures-- > 0 ? { fail: "transport" } : undefined) })
      const fiber = yield* Effect.gen(function*() {
        const client = (yield* HttpClient.HttpClient).pipe(
          CriteoHttpClient.withCriteoAuth,
          CriteoHttpClient.withRetries({ maxAttempts: 3 })
        )
        return yield* client.get("https://api.criteo.com/2026-07/advertisers/me")
      }).pipe(Effect.provide(CriteoAuth.layer({ grant }).pipe(Layer.provideMerge(fake.layer))), Effect.fork)
      yield* drive
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.strictEqual((yield* apiCalls(fake)).length, 3)
    }))

  it.scoped("a 429 waits for x-ratelimit-reset, then succeeds", () =>
    Effect.gen(function*() {
      let limited = true
      const { client, fake } = yield* setup({
        apiReply: () => {
          if (!limited) return undefined
          limited = false
          return {
            status: 429,
            headers: { "x-ratelimit-limit": "250", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "20" }
          }
        }
      })
      const fiber = yield* Effect.fork(client.get("/advertisers/me"))
      yield* settle
      yield* TestClock.adjust("19 seconds")
      yield* settle
      assert.strictEqual((yield* apiCalls(fake)).length, 1)
      yield* TestClock.adjust("2 seconds")
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      const calls = yield* fake.requests
      assert.isAtLeast(calls[2].at - calls[1].at, 20_000)
    }))

  it.scoped("a 429 with a reset beyond maxRateLimitWait is returned at once", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup(
        { apiReply: () => ({ status: 429, headers: { "x-ratelimit-reset": "3600" } }) },
        { retry: { maxRateLimitWait: "1 minute" } }
      )
      const response = yield* client.get("/advertisers/me")
      assert.strictEqual(response.status, 429)
      assert.strictEqual((yield* apiCalls(fake)).length, 1)
    }))

  it.scoped("withCriteoAuth composes onto any HttpClient", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo()
      const response = yield* Effect.gen(function*() {
        const client = CriteoHttpClient.withCriteoAuth(yield* HttpClient.HttpClient)
        return yield* client.get("https://api.criteo.com/2026-01/advertisers/me")
      }).pipe(Effect.provide(CriteoAuth.layer({ grant }).pipe(Layer.provideMerge(fake.layer))))
      assert.strictEqual(response.status, 200)
    }))

  it.scoped("errors name the full URL without its query", () =>
    Effect.gen(function*() {
      const { client } = yield* setup({ apiReply: () => ({ status: 403 }) })
      const error = yield* Effect.flip(client.get("/advertisers/me", { urlParams: { secret: "x" } }))
      assert.deepInclude(error, { _tag: "ForbiddenError", url: "https://api.criteo.com/2026-07/advertisers/me" })
    }))

  it.scoped("a network failure on the API is a TransportError that does not keep the bearer token", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ fail: "transport" }) })
      const fiber = yield* Effect.fork(Effect.flip(client.get("/advertisers/me")))
      yield* drive
      const error = yield* Fiber.join(fiber)
      assert.deepInclude(error, { _tag: "TransportError", endpoint: "api", reason: "Transport" })
      const bearer = (yield* fake.requests)[1].headers["authorization"]
      assert.isString(bearer)
      assert.notInclude(JSON.stringify(error), bearer.slice(7))
    }))

  it.scoped("a response's request, and errors made from it later, carry no bearer token", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ status: 200, body: "not json" }) })
      const response = yield* client.get("/advertisers/me")
      const token = (yield* fake.requests)[1].headers["authorization"].slice(7)
      assert.isUndefined(response.request.headers["authorization"])
      assert.strictEqual(response.request.url, "https://api.criteo.com/2026-07/advertisers/me")
      const decodeError = yield* Effect.flip(response.json)
      assert.strictEqual(decodeError._tag, "ResponseError")
      assert.notInclude(JSON.stringify(decodeError), token)
      assert.notInclude(JSON.stringify(response), token)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(yield* response.text, "not json")
    }))
})

describe("CriteoHttpClient parity: make and the exported combinators", () => {
  type Script = ReadonlyArray<Reply>
  const scripts: ReadonlyArray<[string, "GET" | "POST", Script]> = [
    ["a 200", "GET", []],
    ["a 401, then a 200 after the replay", "GET", [{ status: 401 }]],
    ["two 401s", "GET", [{ status: 401 }, { status: 401 }]],
    ["a 403", "GET", [{ status: 403, body: { errors: [{ code: "consent-revoked" }] } }]],
    ["503, 502, 200", "GET", [{ status: 503 }, { status: 502 }]],
    ["503 three times", "GET", [{ status: 503 }, { status: 503 }, { status: 503 }]],
    ["a 429 with a reset", "GET", [{ status: 429, headers: { "x-ratelimit-reset": "2" } }]],
    ["a 429 beyond maxRateLimitWait", "GET", [{ status: 429, headers: { "x-ratelimit-reset": "3600" } }]],
    ["a network failure, then a 200", "GET", [{ fail: "transport" }]],
    ["a POST failing on the network", "POST", [{ fail: "transport" }]],
    ["a 401, then a network failure, then a 200", "GET", [{ status: 401 }, { fail: "transport" }]]
  ]
  const retry = { maxAttempts: 3, maxRateLimitWait: "1 minute" } as const
  const viaMake = CriteoHttpClient.make({ retry, baseUrl: "https://api.criteo.com", apiVersion: "2026-07" }).pipe(
    Effect.orDie
  )
  const viaCombinators = Effect.map(
    HttpClient.HttpClient,
    (client) =>
      client.pipe(
        CriteoHttpClient.withCriteoAuth,
        CriteoHttpClient.withApiUrl({ baseUrl: "https://api.criteo.com", apiVersion: "2026-07" }),
        CriteoHttpClient.withRetries(retry)
      )
  )
  /** What the caller sees, and what went on the wire. */
  const observe = (
    build: Effect.Effect<HttpClient.HttpClient.With<unknown, CriteoAuth.CriteoAuth>, never, any>,
    method: "GET" | "POST",
    script: Script
  ) =>
    Effect.gen(function*() {
      const replies = [...script]
      const fake = yield* makeFakeCriteo({ apiReply: () => replies.shift() })
      const context = yield* Layer.build(CriteoAuth.layer({ grant }).pipe(Layer.provideMerge(fake.layer)))
      const client = yield* Effect.provide(build, context)
      const fiber = yield* Effect.fork(
        Effect.provide(
          client.execute(HttpClientRequest.make(method)("/advertisers/me", { urlParams: { q: "1" } })),
          context
        ).pipe(Effect.exit)
      )
      yield* drive
      const exit = yield* Fiber.join(fiber)
      const outcome = Exit.match(exit, {
        onSuccess: (response) => `status ${response.status}`,
        onFailure: (cause) => {
          const error = Cause.squash(cause) as { _tag: string }
          // make maps the platform's errors to TransportError, as documented
          return `error ${
            error._tag === "RequestError" || error._tag === "ResponseError" ? "TransportError" : error._tag
          }`
        }
      })
      const wire = (yield* fake.requests).map((request) =>
        [request.method, request.url, request.headers["authorization"], request.headers["accept"]].join(" ")
          // the fake names tokens after the clock: the n-th token is what matters
          .replace(/(access-\d+)-\d+/, "$1")
      )
      return { outcome, wire, tokenRequests: fake.stats.tokenRequests }
    })

  for (const [name, method, script] of scripts) {
    it.scoped(`${name}: same outcome, same requests on the wire`, () =>
      Effect.gen(function*() {
        const a = yield* observe(viaMake, method, script)
        const b = yield* observe(viaCombinators, method, script)
        assert.deepStrictEqual(b, a)
      }))
  }
})

describe("CriteoHttpClient attemptTimeout", () => {
  it.scoped("an attempt with no answer within attemptTimeout fails as a network failure and a GET is retried", () =>
    Effect.gen(function*() {
      let first = true
      const fake = yield* makeFakeClient((request) =>
        request.path === "/oauth2/token"
          ? Effect.succeed({ status: 200, body: { access_token: "tok-1", token_type: "Bearer", expires_in: 900 } })
          : first
          ? Effect.as(Effect.sync(() => (first = false)).pipe(Effect.zipRight(Effect.never)), { status: 200 })
          : Effect.succeed({ status: 200 })
      )
      const context = yield* Layer.build(
        CriteoHttpClient.layer({ attemptTimeout: "5 seconds" }).pipe(
          Layer.provideMerge(CriteoAuth.layer({ grant })),
          Layer.provide(fake.layer)
        )
      )
      const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
      const fiber = yield* Effect.fork(client.get("/advertisers/me"))
      yield* settle
      yield* TestClock.adjust("4 seconds")
      yield* settle
      assert.strictEqual((yield* fake.requests).length, 2)
      assert.isNull(fiber.unsafePoll())
      yield* drive
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.strictEqual((yield* fake.requests).length, 3)
    }))

  it.scoped("a POST that times out is not sent again; the error says how long it waited", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeClient((request) =>
        request.path === "/oauth2/token"
          ? Effect.succeed({ status: 200, body: { access_token: "tok-1", token_type: "Bearer", expires_in: 900 } })
          : Effect.never
      )
      const context = yield* Layer.build(
        CriteoHttpClient.layer({ attemptTimeout: "5 seconds" }).pipe(
          Layer.provideMerge(CriteoAuth.layer({ grant })),
          Layer.provide(fake.layer)
        )
      )
      const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
      const fiber = yield* Effect.fork(Effect.flip(client.post("/reports")))
      yield* drive
      const error = yield* Fiber.join(fiber)
      assert.deepInclude(error, { _tag: "TransportError", endpoint: "api", reason: "Transport" })
      assert.include((error as { detail: string }).detail, "5s")
      assert.strictEqual((yield* fake.requests).length, 2)
    }))
})

describe("CriteoHttpClient unauthorizedCooldown", () => {
  /**
   * An API for the races of the cooldown: the token endpoint issues access-1, access-2, ...; the API answers
   * /slow after 1 s of virtual time and checks the token when it answers (refusing those in `revoked`), so
   * that a call can send a token before a window opens and meet its 401 inside it. `wire`: the API requests,
   * each as "time path authorization".
   */
  const racingApi = Effect.gen(function*() {
    const revoked = new Set<string>()
    const stats = { tokenRequests: 0 }
    const fake = yield* makeFakeClient((request) =>
      Effect.gen(function*() {
        if (request.path === "/oauth2/token") {
          stats.tokenRequests++
          const token = `access-${stats.tokenRequests}`
          return { status: 200, body: { access_token: token, token_type: "Bearer", expires_in: 900 } }
        }
        if (request.path.endsWith("/slow")) yield* Effect.sleep("1 second")
        return revoked.has(request.headers["authorization"].slice(7)) ? { status: 401 } : { status: 200 }
      })
    )
    const context = yield* Layer.build(
      CriteoHttpClient.layer({ unauthorizedCooldown: "10 seconds" }).pipe(
        Layer.provideMerge(CriteoAuth.layer({ grant })),
        Layer.provide(fake.layer)
      )
    )
    const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
    const wire = Effect.map(
      fake.requests,
      (all) =>
        all.flatMap((call) =>
          call.path === "/oauth2/token" ? [] : [`${call.at} ${call.path} ${call.headers["authorization"]}`]
        )
    )
    return { client, revoked, stats, wire }
  })

  it.scoped("an API answering 401 forever costs two token requests per cooldown (the replay's, the probe), not one per call", () =>
    Effect.gen(function*() {
      const { client, fake } = yield* setup({ apiReply: () => ({ status: 401 }) }, {
        unauthorizedCooldown: "10 seconds"
      })
      for (let i = 0; i < 5; i++) {
        const error = yield* Effect.flip(client.get("/advertisers/me"))
        assert.strictEqual(error._tag, "UnauthorizedError")
      }
      // the first call: a token, a 401, a new token, a 401 (the window opens, that token is invalidated); the
      // second obtains the probe, answered 401: refused at once; the next three: one 401 each, no token
      assert.strictEqual(fake.stats.tokenRequests, 3)
      assert.strictEqual((yield* apiCalls(fake)).length, 2 + 4)
      yield* TestClock.adjust("10 seconds")
      // after the window: the probe's 401 is replayed on a new token, refused: a new window
      yield* Effect.flip(client.get("/advertisers/me"))
      assert.strictEqual(fake.stats.tokenRequests, 4)
      assert.strictEqual((yield* apiCalls(fake)).length, 6 + 2)
    }))

  it.scoped("a new token (not the one refused) gets its replay during the cooldown", () =>
    Effect.gen(function*() {
      const { client, revoked, stats, wire } = yield* racingApi
      // t = 0: the slow call sends access-1
      const slow = yield* Effect.fork(client.get("/slow"))
      yield* settle
      // access-1 and access-2 are revoked: another call's 401 to access-1 is replayed on access-2, refused: the
      // window opens on access-2 (invalidated)
      revoked.add("access-1")
      revoked.add("access-2")
      assert.strictEqual((yield* Effect.flip(client.get("/fast")))._tag, "UnauthorizedError")
      assert.strictEqual(stats.tokenRequests, 2)
      const replays = (yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)).count
      // t = 1 s: the slow call's 401 to access-1, neither the refused token nor the probe, inside the window:
      // replayed once on the probe, access-3, answered 200 at t = 2 s
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      const response = yield* Fiber.join(slow)
      assert.strictEqual(response.status, 200)
      assert.strictEqual((yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)).count - replays, 1)
      assert.strictEqual(stats.tokenRequests, 3)
      assert.deepStrictEqual(yield* wire, [
        "0 /2026-07/slow Bearer access-1",
        "0 /2026-07/fast Bearer access-1",
        "0 /2026-07/fast Bearer access-2",
        "1000 /2026-07/slow Bearer access-3"
      ])
      // the window was open: a 401 to the probe now fails at once, one request and no token request
      revoked.add("access-3")
      assert.strictEqual((yield* Effect.flip(client.get("/fast")))._tag, "UnauthorizedError")
      assert.strictEqual(stats.tokenRequests, 3)
      assert.strictEqual((yield* wire).length, 5)
    }))

  it.scoped("once the probe is refused, a 401 to an older token fails at once: no replay", () =>
    Effect.gen(function*() {
      const { client, revoked, stats, wire } = yield* racingApi
      // t = 0: the slow call sends access-1; every token the client will get is revoked
      const slow = yield* Effect.fork(Effect.flip(client.get("/slow")))
      yield* settle
      for (const token of ["access-1", "access-2", "access-3"]) revoked.add(token)
      // a call's replay on access-2 is refused: the window opens; the next call sends the probe, refused
      assert.strictEqual((yield* Effect.flip(client.get("/fast")))._tag, "UnauthorizedError")
      assert.strictEqual((yield* Effect.flip(client.get("/fast")))._tag, "UnauthorizedError")
      const replays = (yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)).count
      // t = 1 s: the slow call's 401 to access-1 fails at once, not replayed on the refused probe (a replay,
      // if one were made, would be answered at t = 2 s)
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(slow))._tag, "UnauthorizedError")
      assert.strictEqual((yield* Metric.value(CriteoAuthMetrics.unauthorizedReplays)).count - replays, 0)
      assert.strictEqual(stats.tokenRequests, 3)
      assert.deepStrictEqual(yield* wire, [
        "0 /2026-07/slow Bearer access-1",
        "0 /2026-07/fast Bearer access-1",
        "0 /2026-07/fast Bearer access-2",
        "0 /2026-07/fast Bearer access-3"
      ])
    }))
})

/** Runs `effect` with every log line captured (level All). */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const lines: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
  const capture = Logger.make(({ annotations, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return effect.pipe(
    Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
    Logger.withMinimumLogLevel(LogLevel.All),
    Effect.map((a) => ({ result: a, lines }))
  )
}

describe("CriteoHttpClient: what it tells the people waiting (issue 13)", () => {
  it.scoped("410 Gone fails with ApiVersionDecommissionedError naming the version and the current one", () =>
    Effect.gen(function*() {
      const { client } = yield* setup(
        { apiReply: () => ({ status: 410, body: { errors: [{ code: "api-version-decommissioned" }] } }) },
        { apiVersion: "2025-01" }
      )
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.deepInclude(error, {
        _tag: "ApiVersionDecommissionedError",
        version: "2025-01",
        currentVersion: CriteoHttpClient.defaultApiVersion,
        url: "https://api.criteo.com/2025-01/advertisers/me",
        code: "api-version-decommissioned"
      })
      assert.include(error.message, "decommissioned")
    }))

  it.scoped("Deprecation/Sunset: one warning per API version, with the sunset date, and a metric per response", () =>
    Effect.gen(function*() {
      const headers = { deprecation: "@1767225600", sunset: "Wed, 01 Jul 2026 00:00:00 GMT" }
      const { client, fake } = yield* setup({ apiReply: () => ({ status: 200, body: {}, headers }) }, {
        apiVersion: null
      })
      const counter = Metric.tagged(CriteoAuthMetrics.deprecatedResponses, "version", "2025-10")
      const before = (yield* Metric.value(counter)).count
      const { lines } = yield* capturingLogs(Effect.gen(function*() {
        for (let i = 0; i < 3; i++) assert.strictEqual((yield* client.get("/2025-10/advertisers/me")).status, 200)
        yield* client.get("/2026-01/advertisers/me")
      }))
      const warnings = lines.filter((line) => line.level === "WARN")
      assert.strictEqual(warnings.length, 2)
      assert.include(warnings[0].message, "2025-10")
      assert.include(warnings[0].message, "Wed, 01 Jul 2026 00:00:00 GMT")
      assert.strictEqual(warnings[0].annotations["criteo.sunset"], headers.sunset)
      assert.include(warnings[1].message, "2026-01")
      assert.strictEqual((yield* Metric.value(counter)).count - before, 3)
      const token = (yield* fake.requests)[1].headers["authorization"].slice(7)
      for (const line of lines) assert.notInclude(JSON.stringify(line), token)
    }))

  it.scoped("a 429 wait is logged as a warning (how long, until when, why); a short 5xx backoff at debug", () =>
    Effect.gen(function*() {
      const replies: Array<Reply> = [
        { status: 503 },
        { status: 429, headers: { "x-ratelimit-reset": "20", "x-ratelimit-limit": "250" } }
      ]
      const { client, fake } = yield* setup({ apiReply: () => replies.shift() })
      const fiber = yield* Effect.fork(capturingLogs(client.get("/advertisers/me", { urlParams: { q: "secret-q" } })))
      yield* drive
      const { lines, result } = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, 200)
      const retries = lines.filter((line) => line.annotations["criteo.retry"] !== undefined)
      assert.deepStrictEqual(retries.map((line) => line.level), ["DEBUG", "WARN"])
      assert.include(retries[0].message, "HTTP 503")
      assert.include(retries[0].message, "retry 1 of 2")
      assert.include(retries[1].message, "rate limited")
      assert.include(retries[1].message, "in 20s")
      assert.match(retries[1].message, /at \d{4}-\d{2}-\d{2}T/)
      const token = (yield* fake.requests)[1].headers["authorization"].slice(7)
      for (const line of lines) {
        assert.notInclude(JSON.stringify(line), token)
        assert.notInclude(JSON.stringify(line), "secret-q")
      }
    }))
})

describe("CriteoHttpClient: the common path's shortcuts keep their contract", () => {
  const token = (value: string) =>
    new AccessToken.AccessToken({
      value: Redacted.make(value),
      tokenType: "Bearer",
      expiresIn: Duration.seconds(900),
      issuedAt: DateTime.unsafeMake(0),
      expiresAt: DateTime.unsafeMake(900_000)
    })
  const withProvider = (auth: CriteoAuth.Service) =>
    Effect.gen(function*() {
      const api = yield* makeFakeClient(() => Effect.succeed({ status: 200, body: { ok: true } }))
      const client = yield* CriteoHttpClient.make().pipe(
        Effect.provideService(CriteoAuth.CriteoAuth, auth),
        Effect.provideService(HttpClient.HttpClient, api.client)
      )
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* client.get("/advertisers/me")).status, 200)
      return Array.from(yield* api.requests, (request) => request.headers["authorization"])
    })

  it.effect("a provider without `cached` (an application's own) is asked for `token` on every call", () =>
    Effect.gen(function*() {
      let asked = 0
      const bearers = yield* withProvider(CriteoAuth.CriteoAuth.of({
        clientId: "own",
        token: Effect.sync(() => token(`own-${++asked}`)),
        refresh: Effect.die("not called"),
        invalidate: () => Effect.succeed(false)
      }))
      assert.strictEqual(asked, 3)
      assert.deepStrictEqual(bearers, ["Bearer own-1", "Bearer own-2", "Bearer own-3"])
    }))

  it.effect("`cached` serves when it has a token, `token` when it has none, at the Clock's instant", () =>
    Effect.gen(function*() {
      const asked: Array<number> = []
      let tokens = 0
      yield* TestClock.setTime(5_000)
      const bearers = yield* withProvider(CriteoAuth.CriteoAuth.of({
        clientId: "cached",
        token: Effect.sync(() => token(`slow-${++tokens}`)),
        refresh: Effect.die("not called"),
        invalidate: () => Effect.succeed(false),
        // a token on the second call only
        cached: (nowMillis) => {
          asked.push(nowMillis)
          return asked.length === 2 ? token("cached") : undefined
        }
      }))
      assert.deepStrictEqual(asked, [5_000, 5_000, 5_000])
      assert.deepStrictEqual(bearers, ["Bearer slow-1", "Bearer cached", "Bearer slow-2"])
    }))

  it.scoped("a response's headers are converted once: every read is the same object", () =>
    Effect.gen(function*() {
      const { client } = yield* setup({ apiReply: () => ({ status: 200, headers: { "x-one": "1" } }) })
      const response = yield* client.get("/advertisers/me")
      assert.strictEqual(response.headers["x-one"], "1")
      assert.strictEqual(response.headers, response.headers)
    }))
})
