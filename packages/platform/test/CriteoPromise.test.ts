import * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import Undici from "@effect/platform-node/Undici"
import * as CriteoHttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, layer } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:net"
import { inspect } from "node:util"
import { vi } from "vitest"
import * as CriteoConfig from "../src/CriteoConfig.js"
import * as CriteoNode from "../src/CriteoNode.js"
import * as CriteoPromise from "../src/CriteoPromise.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"

/** Retries without noticeable waits: these tests count attempts, core's own tests check the schedule. */
const fast = {
  retry: { baseDelay: Duration.millis(1), maxDelay: Duration.millis(2) },
  apiRetry: { baseDelay: Duration.millis(1), maxDelay: Duration.millis(2) }
} satisfies Partial<CriteoConfig.Options>

const optionsFor = (fake: FakeCriteo.Service, client: FakeCriteo.Client, more: Partial<CriteoConfig.Options> = {}) => ({
  grant: Grant.clientCredentials({ clientId: client.clientId, clientSecret: Redacted.make(client.clientSecret) }),
  tokenUrl: fake.tokenUrl,
  apiUrl: fake.url,
  ...fast,
  ...more
})

/** A Promise as an Effect whose failure is the rejection itself. */
const attempt = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (error) => error })

/** A client for the test's scope, closed with it. */
const promiseClient = (options: CriteoPromise.Options) =>
  Effect.acquireRelease(attempt(() => CriteoPromise.make(options)), (client) => Effect.promise(() => client.close()))

/** A registered client and its Promise client, after one call: the token is cached, the common path is next. */
const warmClient = Effect.gen(function*() {
  const fake = yield* FakeCriteo.FakeCriteo
  const client = yield* fake.register()
  const criteo = yield* promiseClient(optionsFor(fake, client))
  yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
  return { fake, client, criteo }
})

/** `CriteoNode.layer`'s client on the same options: what the Promise client must behave as. */
const effectCall = (options: CriteoConfig.Options, method: "GET" | "POST", path: string) =>
  Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) =>
    Effect.flatMap(
      client.execute(method === "GET" ? CriteoHttpClientRequest.get(path) : CriteoHttpClientRequest.post(path)),
      (response) => Effect.as(response.text, response.status)
    )).pipe(Effect.provide(CriteoNode.layer(options)))

/** Effect's client marks its requests with trace headers; the common path sends none. */
const viaEffect = (call: FakeCriteo.Recorded) => call.headers["traceparent"] !== undefined

/** What a request's headers look like without what differs by nature (token, trace, connection). */
const comparable = (call: FakeCriteo.Recorded) => {
  const { authorization: _a, b3: _b, traceparent: _t, connection: _c, host: _h, ...rest } = call.headers
  return rest
}

/** Console output (Effect's default logger writes there) while `effect` runs. */
const capturingConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const lines: Array<string> = []
      const spies = (["log", "info", "warn", "error", "debug", "trace"] as const).map((method) =>
        vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
          lines.push(args.map((arg) => typeof arg === "string" ? arg : inspect(arg, { depth: 10 })).join(" "))
        })
      )
      return { lines, spies }
    }),
    ({ lines }) => Effect.map(effect, (value) => [value, lines] as const),
    ({ spies }) => Effect.sync(() => spies.forEach((spy) => spy.mockRestore()))
  )

/** Every rendering of an error a program might print or log. */
const renderings = (error: unknown) => [
  String(error),
  JSON.stringify(error),
  inspect(error, { depth: 10 }),
  error instanceof Error ? error.stack ?? "" : ""
]

/** A port nothing listens on: bound, then released. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

layer(FakeCriteo.layer, { excludeTestServices: true })("CriteoPromise", (it) => {
  it.scoped("the common path: one request with the cached bearer token, as Effect's client sends it, without Effect", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const criteo = yield* promiseClient(optionsFor(fake, client))
      // the first call finds no token: the Effect client gets one and sends the request
      const first = yield* attempt(() => criteo.get("/advertisers/me"))
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(yield* attempt(() => first.json()), {
        data: { id: client.clientId, type: "AdvertiserMe", attributes: { name: "Fake advertiser" } }
      })
      // then the common path: the cached token, no token request
      const second = yield* attempt(() => criteo.get("/echo", { query: { a: "1", list: ["x", "y"] } }))
      assert.strictEqual(second.status, 200)
      assert.deepStrictEqual(yield* attempt(() => second.json()), {
        method: "GET",
        query: "?a=1&list=x&list=y",
        body: null
      })
      const posted = yield* attempt(() => criteo.post("/echo", { json: { name: "été", n: 1 } }))
      assert.deepStrictEqual(yield* attempt(() => posted.json()), {
        method: "POST",
        query: "",
        body: { name: "été", n: 1 }
      })
      const calls = yield* fake.requests(client.clientId, "api")
      assert.deepStrictEqual(calls.map(viaEffect), [true, false, false])
      const [token] = yield* fake.issued(client.clientId)
      for (const call of calls) assert.strictEqual(call.headers.authorization, `Bearer ${token.accessToken}`)
      assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
      assert.strictEqual(calls[1].path, "/2026-07/echo")

      // the same requests through CriteoNode.layer's Effect client: the same headers on the wire
      const reference = yield* fake.register()
      const options = optionsFor(fake, reference)
      yield* effectCall(options, "GET", "/echo?a=1&list=x&list=y")
      const [effectGet] = yield* fake.requests(reference.clientId, "api")
      assert.deepStrictEqual(comparable(calls[1]), comparable(effectGet))
      assert.strictEqual(calls[1].query, effectGet.query)
      yield* Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (http) =>
        http.execute(CriteoHttpClientRequest.bodyText(
          CriteoHttpClientRequest.post("/echo"),
          JSON.stringify({ name: "été", n: 1 }),
          "application/json"
        ))).pipe(Effect.provide(CriteoNode.layer(options)))
      const effectPost = (yield* fake.requests(reference.clientId, "api"))[1]
      assert.deepStrictEqual(comparable(calls[2]), comparable(effectPost))
      assert.strictEqual(calls[2].body, effectPost.body)
    }))

  it.scoped("a 401 is handed to the Effect client with its answer: one token request, one replay, nothing sent twice", () =>
    Effect.gen(function*() {
      const { client, criteo, fake } = yield* warmClient
      // the API stops accepting the cached token (revoked, expired early): the common path meets a 401
      yield* fake.expire(client.clientId)
      const response = yield* attempt(() => criteo.get("/advertisers/me"))
      assert.strictEqual(response.status, 200)
      const calls = yield* fake.requests(client.clientId, "api")
      const issued = yield* fake.issued(client.clientId)
      // warm-up, the common path's 401 (served to the Effect client, not sent again), the replay
      assert.deepStrictEqual(calls.map(viaEffect), [true, false, true])
      assert.strictEqual(issued.length, 2)
      assert.strictEqual(calls[1].headers.authorization, `Bearer ${issued[0].accessToken}`)
      assert.strictEqual(calls[2].headers.authorization, `Bearer ${issued[1].accessToken}`)
      // and the next call is the common path again, on the new token
      yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
      const after = yield* fake.requests(client.clientId, "api")
      assert.strictEqual(after.length, 4)
      assert.isFalse(viaEffect(after[3]))
    }))

  it.scoped("a 401 storm on the common path: every call replayed once, one token request in all (single flight)", () =>
    Effect.gen(function*() {
      const { client, criteo, fake } = yield* warmClient
      yield* fake.expire(client.clientId)
      const statuses = yield* attempt(() =>
        Promise.all(Array.from({ length: 50 }, () =>
          criteo.get("/advertisers/me").then(async (r) => {
            await r.text()
            return r.status
          })))
      )
      assert.deepStrictEqual(new Set(statuses), new Set([200]))
      assert.strictEqual((yield* fake.issued(client.clientId)).length, 2)
      // the warm-up, 50 refused on the common path (each served to the Effect client), 50 replays
      assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 101)
    }))

  it.scoped(
    "a call aborted by its signal rejects with the signal's reason, on either path, and is not retried",
    () =>
      Effect.gen(function*() {
        const { client, criteo, fake } = yield* warmClient
        // the common path: a GET the server never answers (idempotent: a network failure would be retried)
        const controller = new AbortController()
        const call = criteo.get("/hang", { signal: controller.signal })
        const outcome = attempt(() => call)
        yield* fake.hanging(client.clientId)
        controller.abort()
        const error = yield* Effect.flip(outcome)
        assert.strictEqual((error as Error).name, "AbortError")
        assert.strictEqual(error, controller.signal.reason)
        assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 2)
        // aborted before it starts: nothing sent
        const early = yield* Effect.flip(attempt(() => criteo.get("/advertisers/me", { signal: AbortSignal.abort() })))
        assert.strictEqual((early as Error).name, "AbortError")
        assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 2)

        // the Effect path: no token yet, the token endpoint slow; aborted while the token is awaited
        const slow = yield* fake.register({ tokenLatencyMs: 2_000 })
        const other = yield* promiseClient(optionsFor(fake, slow))
        const reason = new Error("the caller gave up")
        const waiting = other.get("/advertisers/me", { signal: AbortSignal.timeout(50) })
        const late = yield* Effect.flip(attempt(() => waiting))
        assert.strictEqual((late as Error).name, "TimeoutError")
        const custom = new AbortController()
        const pending = attempt(() => other.get("/advertisers/me", { signal: custom.signal }))
        custom.abort(reason)
        assert.strictEqual(yield* Effect.flip(pending), reason)
        assert.strictEqual((yield* fake.requests(slow.clientId, "api")).length, 0)
      }),
    30_000
  )

  it.scoped("a redirect is not followed: the 3xx is the answer, nothing is sent to its Location", () =>
    Effect.gen(function*() {
      const { client, criteo, fake } = yield* warmClient
      const response = yield* attempt(() => criteo.get("/redirect"))
      assert.strictEqual(response.status, 307)
      assert.strictEqual(response.headers["location"], `${fake.url}/redirected`)
      yield* attempt(() => response.discard())
      const calls = yield* fake.requests(client.clientId, "api")
      assert.deepStrictEqual(calls.map((call) => call.path), ["/2026-07/advertisers/me", "/2026-07/redirect"])
      assert.strictEqual((yield* fake.anonymous).filter((call) => call.path === "/redirected").length, 0)
    }))

  it.scoped("an API refusing every token: UnauthorizedError and the cooldown, the same requests as CriteoNode.layer's client", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      /** Warm-up, then three calls of an API that answers 401 to any token: what each call failed with, and the counts. */
      const scenario = (call: (path: string) => Effect.Effect<unknown, unknown>, clientId: string) =>
        Effect.gen(function*() {
          yield* call("/advertisers/me")
          const tags: Array<string> = []
          for (let i = 0; i < 3; i++) {
            const error = yield* Effect.flip(call("/always-401"))
            tags.push((error as { _tag: string })._tag)
          }
          return {
            tags,
            api: (yield* fake.requests(clientId, "api")).length,
            tokens: (yield* fake.issued(clientId)).length
          }
        })
      const client = yield* fake.register()
      const criteo = yield* promiseClient(optionsFor(fake, client))
      const promise = yield* scenario((path) => attempt(() => criteo.get(path).then((r) => r.text())), client.clientId)
      const reference = yield* fake.register()
      const effect = yield* Effect.flatMap(
        CriteoHttpClient.CriteoHttpClient,
        (http) =>
          scenario((path) =>
            http.get(path).pipe(
              Effect.flatMap((response) => response.text),
              Effect.flatMap((text) => Effect.succeed(text))
            ), reference.clientId)
      ).pipe(Effect.provide(CriteoNode.layer(optionsFor(fake, reference))))
      assert.deepStrictEqual(promise.tags, ["UnauthorizedError", "UnauthorizedError", "UnauthorizedError"])
      assert.deepStrictEqual(promise, effect)
      // the cooldown holds: fewer token requests than calls
      assert.isBelow(promise.tokens, 4)
      const error = yield* Effect.flip(attempt(() => criteo.get("/always-401")))
      assert.instanceOf(error, CriteoAuthError.UnauthorizedError)
      assert.strictEqual((error as CriteoAuthError.UnauthorizedError).code, "authorization-token-invalid")
      assert.strictEqual((error as CriteoAuthError.UnauthorizedError).url, `${fake.url}/2026-07/always-401`)
    }))

  it.scoped("403 and 410: the Effect client's typed errors, from the first answer (one request each)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register({
        apiScript: [{ status: 200, body: {} }, FakeCriteo.apiError(410, "version-decommissioned", "Gone")]
      })
      const criteo = yield* promiseClient(optionsFor(fake, client))
      yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
      const gone = yield* Effect.flip(attempt(() => criteo.get("/advertisers/me")))
      assert.strictEqual((gone as CriteoAuthError.ApiVersionDecommissionedError)._tag, "ApiVersionDecommissionedError")
      assert.strictEqual((gone as CriteoAuthError.ApiVersionDecommissionedError).version, "2026-07")
      const forbidden = yield* Effect.flip(attempt(() => criteo.get("/forbidden")))
      assert.instanceOf(forbidden, CriteoAuthError.ForbiddenError)
      assert.strictEqual((forbidden as CriteoAuthError.ForbiddenError).code, "missing-permission")
      assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 3)
      assert.strictEqual((yield* fake.issued(client.clientId)).length, 1)

      // the same through CriteoNode.layer
      const reference = yield* fake.register()
      const effectError = yield* Effect.flip(effectCall(optionsFor(fake, reference), "GET", "/forbidden"))
      assert.strictEqual(effectError._tag, (forbidden as CriteoAuthError.ForbiddenError)._tag)
      assert.strictEqual((effectError as CriteoAuthError.ForbiddenError).code, "missing-permission")
    }))

  it.scoped("5xx: retried by the Effect client from the first answer, within the same bound (maxAttempts requests in all)", () =>
    Effect.gen(function*() {
      const { client, criteo, fake } = yield* warmClient
      const flaky = yield* attempt(() => criteo.get("/flaky"))
      assert.strictEqual(flaky.status, 200)
      assert.deepStrictEqual(yield* attempt(() => flaky.json()), { data: { recovered: true } })
      assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 3)
      // always 503: after 3 attempts (the default), the last answer, as the Effect client returns it
      const broken = yield* attempt(() => criteo.get("/broken"))
      assert.strictEqual(broken.status, 503)
      yield* attempt(() => broken.discard())
      const calls = yield* fake.requests(client.clientId, "api")
      assert.strictEqual(calls.filter((call) => call.path === "/2026-07/broken").length, 3)

      const reference = yield* fake.register()
      assert.strictEqual(yield* effectCall(optionsFor(fake, reference), "GET", "/broken"), 503)
      assert.strictEqual((yield* fake.requests(reference.clientId, "api")).length, 3)
    }))

  it.scoped(
    "429: the Effect client waits for the reset from the first answer and retries; a token endpoint 429 is RateLimitedError",
    () =>
      Effect.gen(function*() {
        const { client, criteo, fake } = yield* warmClient
        // limited until the next whole second: at most ~2 s of real time, the client's own wait
        yield* fake.limit(client.clientId, Date.now() + 500)
        const response = yield* attempt(() => criteo.get("/advertisers/me"))
        assert.strictEqual(response.status, 200)
        assert.strictEqual(yield* fake.limited(client.clientId), 1)
        assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 3)

        const limited = yield* fake.register({
          tokenAlways: {
            status: 429,
            body: { error: "rate_limited" },
            headers: { "retry-after": "3600" }
          }
        })
        const other = yield* promiseClient(optionsFor(fake, limited))
        const error = yield* Effect.flip(attempt(() => other.get("/advertisers/me")))
        assert.strictEqual((error as CriteoAuthError.RateLimitedError)._tag, "RateLimitedError")
      }),
    30_000
  )

  it.scoped("a network failure and a timeout are TransportErrors", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const port = yield* closedPort
      const refused = yield* promiseClient(optionsFor(fake, client, { apiUrl: `http://127.0.0.1:${port}` }))
      // no token yet: the Effect client; then the token is cached and the common path meets the failure
      for (let i = 0; i < 2; i++) {
        const error = yield* Effect.flip(attempt(() => refused.get("/advertisers/me")))
        assert.instanceOf(error, CriteoAuthError.TransportError)
        assert.include((error as CriteoAuthError.TransportError).detail, "ECONNREFUSED")
      }
      assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)

      const slow = yield* fake.register()
      const criteo = yield* promiseClient(optionsFor(fake, slow, { apiTimeout: "300 millis" }))
      yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
      // a POST is not retried after a timeout (it may have been processed): one attempt, bounded by apiTimeout
      const error = yield* Effect.flip(attempt(() => criteo.post("/hang", { json: {} })))
      assert.instanceOf(error, CriteoAuthError.TransportError)
      assert.match((error as CriteoAuthError.TransportError).detail, /Headers Timeout|UND_ERR_HEADERS_TIMEOUT/)
      assert.strictEqual((yield* fake.requests(slow.clientId, "api")).length, 2)
    }), 30_000)

  it.scoped("no token or secret in any error or log line, a deprecation warned once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const deprecated = { deprecation: "true", sunset: "Wed, 31 Mar 2027 00:00:00 GMT" }
      const client = yield* fake.register({
        apiScript: [
          { status: 200, body: {}, headers: deprecated },
          { status: 200, body: {}, headers: deprecated },
          FakeCriteo.apiError(503, "unavailable", "Down")
        ]
      })
      const [errors, lines] = yield* capturingConsole(Effect.gen(function*() {
        const criteo = yield* promiseClient(optionsFor(fake, client))
        yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
        yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
        yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
        const errors: Array<unknown> = []
        for (const path of ["/forbidden-echo", "/always-401", "/always-401"]) {
          errors.push(yield* Effect.flip(attempt(() => criteo.get(path))))
        }
        return errors
      }))
      assert.deepStrictEqual(errors.map((e) => (e as { _tag: string })._tag), [
        "ForbiddenError",
        "UnauthorizedError",
        "UnauthorizedError"
      ])
      assert.strictEqual(lines.filter((line) => line.includes("is deprecated")).length, 1)
      const secrets = [client.clientSecret, ...(yield* fake.issued(client.clientId)).map((t) => t.accessToken)]
      assert.isAbove(secrets.length, 2)
      const text = [...lines, ...errors.flatMap(renderings)].join("\n")
      for (const secret of secrets) assert.notInclude(text, secret)
    }))

  it.scoped("close() releases everything: later calls reject with ClientClosedError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const criteo = yield* attempt(() => CriteoPromise.make(optionsFor(fake, client)))
      yield* attempt(() => criteo.get("/advertisers/me").then((r) => r.text()))
      yield* attempt(() => criteo[Symbol.asyncDispose]())
      yield* attempt(() => criteo.close())
      const error = yield* Effect.flip(attempt(() => criteo.get("/advertisers/me")))
      assert.instanceOf(error, CriteoPromise.ClientClosedError)
      // (that the process then exits by itself: test/Example.test.ts runs examples/promise.ts as a process)
    }))

  it.scoped("close() during a call awaiting its token: the call rejects with ClientClosedError, not Effect's interruption", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register({ tokenScript: ["hang"] })
      const criteo = yield* attempt(() => CriteoPromise.make(optionsFor(fake, client)))
      // no token yet: the Effect client asks for one, and the token endpoint never answers
      const call = criteo.get("/advertisers/me").then(() => undefined, (error: unknown) => error)
      yield* fake.hanging(client.clientId)
      yield* attempt(() => criteo.close())
      const error = yield* Effect.promise(() => call)
      assert.instanceOf(error, CriteoPromise.ClientClosedError)
      assert.isTrue(CriteoPromise.isCallError(error))
    }))

  it.scoped("bad options and bad requests fail with clear typed errors, before anything is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const noGrant = yield* Effect.flip(attempt(() => CriteoPromise.make({} as CriteoPromise.Options)))
      assert.instanceOf(noGrant, CriteoPromise.InvalidOptionsError)
      assert.strictEqual((noGrant as CriteoPromise.InvalidOptionsError).option, "grant")
      const badTimeout = yield* Effect.flip(
        attempt(() => CriteoPromise.make({ ...optionsFor(fake, client), apiTimeout: "soon" as Duration.DurationInput }))
      )
      assert.strictEqual((badTimeout as CriteoPromise.InvalidOptionsError).option, "apiTimeout")
      assert.strictEqual(
        (badTimeout as CriteoPromise.InvalidOptionsError).message,
        "Invalid CriteoPromise option apiTimeout: expected a duration such as \"30 seconds\" or 30000 (ms)"
      )
      const attempts = yield* Effect.flip(
        attempt(() => CriteoPromise.make({ ...optionsFor(fake, client), apiRetry: { maxAttempts: 0 } }))
      )
      assert.strictEqual((attempts as CriteoPromise.InvalidOptionsError).option, "apiRetry.maxAttempts")
      const insecure = yield* Effect.flip(
        attempt(() => CriteoPromise.make({ ...optionsFor(fake, client), apiUrl: "http://api.example.com" }))
      )
      assert.instanceOf(insecure, CriteoConfig.InsecureUrlError)
      const missing = yield* Effect.flip(attempt(() =>
        CriteoPromise.fromConfig({
          grant: Config.map(
            Config.all({
              clientId: Config.string("CRITEO_PROMISE_TEST_MISSING_ID"),
              clientSecret: Config.redacted("CRITEO_PROMISE_TEST_MISSING_SECRET")
            }),
            Grant.clientCredentials
          )
        })
      ))
      assert.isTrue(ConfigError.isConfigError(missing))
      assert.include(String(missing), "CRITEO_PROMISE_TEST_MISSING_ID")

      const criteo = yield* promiseClient(optionsFor(fake, client))
      const refused = [
        yield* Effect.flip(attempt(() => criteo.get("advertisers/me"))),
        yield* Effect.flip(attempt(() => criteo.request("FETCH" as CriteoPromise.Method, "/advertisers/me"))),
        yield* Effect.flip(attempt(() => criteo.post("/echo", { json: { n: 1n } })))
      ]
      for (const error of refused) assert.instanceOf(error, CriteoPromise.InvalidRequestError)
      assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
    }))

  it.scoped("on the application's dispatcher (here a MockAgent): the same client, the dispatcher left open", () =>
    Effect.gen(function*() {
      const agent = new Undici.MockAgent()
      agent.disableNetConnect()
      const origin = "https://api.criteo.test"
      const pool = agent.get(origin)
      const json = { headers: { "content-type": "application/json" } }
      pool.intercept({ path: "/oauth2/token", method: "POST" })
        .reply(200, { access_token: "mock-token", token_type: "Bearer", expires_in: 900 }, json)
      const seen: Array<string> = []
      pool.intercept({ path: "/2026-07/advertisers/me", method: "GET" }).reply(200, (options) => {
        seen.push(String((options.headers as Record<string, string>)["authorization"]))
        return { data: { id: "1" } }
      }, json).times(2)
      const criteo = yield* attempt(() =>
        CriteoPromise.make({
          grant: Grant.clientCredentials({ clientId: "mock", clientSecret: Redacted.make("mock-secret") }),
          tokenUrl: `${origin}/oauth2/token`,
          apiUrl: origin
        }, { dispatcher: agent })
      )
      for (let i = 0; i < 2; i++) {
        const response = yield* attempt(() => criteo.get("/advertisers/me"))
        assert.deepStrictEqual(yield* attempt(() => response.json()), { data: { id: "1" } })
      }
      assert.deepStrictEqual(seen, ["Bearer mock-token", "Bearer mock-token"])
      yield* attempt(() => criteo.close())
      agent.assertNoPendingInterceptors()
      yield* attempt(() => agent.close())
    }))
})
