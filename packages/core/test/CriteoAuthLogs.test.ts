import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as CriteoAuth from "../src/CriteoAuth.js"
import { clientId, clientSecret, type FakeCriteoOptions, grant, makeFakeCriteo, settle } from "./utils.js"

interface Line {
  readonly level: string
  readonly message: string
  readonly at: number
  readonly annotations: Record<string, unknown>
}

/**
 * The provider on the fake endpoint, with every log line it writes (level All) captured: the logger
 * is in the provider's scope, so the background refresh's lines are captured too.
 */
const setup = (fakeOptions: FakeCriteoOptions = {}, options: Partial<CriteoAuth.Options> = {}) =>
  Effect.gen(function*() {
    const lines: Array<Line> = []
    const capture = Logger.make(({ annotations, date, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        at: date.getTime(),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    const fake = yield* makeFakeCriteo(fakeOptions)
    const auth = yield* CriteoAuth.make({ grant, ...options }).pipe(
      Effect.provide(fake.layer),
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
    const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
    return { auth, fake, lines, logged }
  })

/** Advances the TestClock second by second, letting the forked fibers run in between. */
const drive = (seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds; i++) {
      yield* settle
      yield* TestClock.adjust("1 second")
    }
    yield* settle
  })

const retryLines = (lines: ReadonlyArray<Line>) =>
  lines.filter((line) => line.annotations["criteo.retry"] !== undefined)

/** No line (message or annotation) holds the client secret or a token the fake issued. */
const assertNoSecret = (lines: ReadonlyArray<Line>) => {
  assert.isNotEmpty(lines)
  for (const line of lines) {
    const text = JSON.stringify(line)
    assert.notInclude(text, clientSecret)
    assert.notInclude(text, encodeURIComponent(clientSecret))
    assert.notInclude(text, "access-")
    assert.notInclude(text, "refresh-")
  }
}

describe("CriteoAuth: a log line per token-request retry and rate-limit wait (issue 13)", () => {
  it.scoped("a 503 then a 429: one line per retry (Debug for a short backoff, Warning for the 429's 10 s wait)", () =>
    Effect.gen(function*() {
      const { auth, fake, lines, logged } = yield* setup({
        tokenReply: (n) =>
          n === 1
            ? { status: 503 }
            : n === 2
            ? { status: 429, headers: { "x-ratelimit-reset": "10" } }
            : undefined
      })
      const fiber = yield* Effect.fork(logged(auth.token))
      yield* drive(15)
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.stats.tokenRequests, 3)
      const retries = retryLines(lines)
      assert.deepStrictEqual(retries.map((line) => line.level), ["DEBUG", "WARN"])

      const [first, second] = retries
      assert.include(first.message, "HTTP 503")
      assert.include(first.message, "TokenEndpointUnavailableError")
      assert.include(first.message, "retry 1 of 3 (attempt 2 of 4)")
      assert.deepInclude(first.annotations, {
        "criteo.client_id": clientId,
        "criteo.retry": 1,
        "criteo.retry_reason": "server_error",
        "error.type": "TokenEndpointUnavailableError",
        "http.response.status_code": 503
      })
      assert.isBelow(first.annotations["criteo.retry_delay_ms"] as number, 5_000)

      assert.include(second.message, "rate limited (HTTP 429")
      assert.include(second.message, "retry 2 of 3 (attempt 3 of 4)")
      assert.deepInclude(second.annotations, {
        "criteo.client_id": clientId,
        "criteo.retry": 2,
        "criteo.retry_reason": "rate_limited",
        "error.type": "RateLimitedError",
        "http.response.status_code": 429
      })
      const delay = second.annotations["criteo.retry_delay_ms"] as number
      assert.isAtLeast(delay, 10_000)
      // the instant it ends is the line's own instant plus the wait, and both are in the message
      const until = second.annotations["criteo.retry_until"] as string
      assert.strictEqual(Date.parse(until) - second.at, delay)
      assert.include(second.message, `(at ${until})`)
      // the third request is sent no sooner than that instant
      const requests = yield* fake.requests
      assert.isAtLeast(requests[2].at, Date.parse(until))
      assertNoSecret(lines)
    }))

  it.scoped("a 5xx until the attempts run out: maxAttempts - 1 retry lines, none for the final failure", () =>
    Effect.gen(function*() {
      const { auth, fake, lines, logged } = yield* setup({ tokenReply: () => ({ status: 502 }) }, {
        retry: { maxAttempts: 3 }
      })
      const fiber = yield* Effect.fork(logged(Effect.flip(auth.token)))
      yield* drive(10)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TokenEndpointUnavailableError")
      assert.strictEqual(fake.stats.tokenRequests, 3)
      const retries = retryLines(lines)
      assert.deepStrictEqual(retries.map((line) => line.annotations["criteo.retry"]), [1, 2])
      assert.deepStrictEqual(retries.map((line) => line.level), ["DEBUG", "DEBUG"])
      assert.include(retries[1].message, "retry 2 of 2 (attempt 3 of 3)")
      assertNoSecret(lines)
    }))

  it.scoped("a network failure is retried with a Debug line saying so", () =>
    Effect.gen(function*() {
      const { auth, lines, logged } = yield* setup({
        tokenReply: (n) => (n === 1 ? { fail: "transport" } : undefined)
      })
      const fiber = yield* Effect.fork(logged(auth.token))
      yield* drive(3)
      yield* Fiber.join(fiber)
      const retries = retryLines(lines)
      assert.strictEqual(retries.length, 1)
      assert.strictEqual(retries[0].level, "DEBUG")
      assert.include(retries[0].message, "network failure or timeout")
      assert.deepInclude(retries[0].annotations, {
        "criteo.client_id": clientId,
        "criteo.retry_reason": "transport",
        "error.type": "TransportError"
      })
      assertNoSecret(lines)
    }))

  it.scoped("a 429 beyond maxRateLimitWait: no retry line, one Info line that it is answered from memory, until when", () =>
    Effect.gen(function*() {
      const { auth, fake, lines, logged } = yield* setup(
        { tokenReply: (n) => (n === 1 ? { status: 429, headers: { "retry-after": "600" } } : undefined) },
        { retry: { maxRateLimitWait: "1 minute" } }
      )
      assert.strictEqual((yield* logged(Effect.flip(auth.token)))._tag, "RateLimitedError")
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* logged(Effect.flip(auth.token)))._tag, "RateLimitedError")
      assert.strictEqual(fake.stats.tokenRequests, 1)
      assert.strictEqual(retryLines(lines).length, 0)
      const remembered = lines.filter((line) => line.annotations["criteo.rate_limited_until"] !== undefined)
      assert.strictEqual(remembered.length, 1)
      assert.strictEqual(remembered[0].level, "INFO")
      assert.include(remembered[0].message, "answered from memory")
      assert.include(remembered[0].message, "for 1m (until ")
      assert.strictEqual(remembered[0].annotations["criteo.client_id"], clientId)
      assert.strictEqual(remembered[0].annotations["criteo.rate_limited_ms"], 60_000)
      assert.strictEqual(
        Date.parse(remembered[0].annotations["criteo.rate_limited_until"] as string) - remembered[0].at,
        60_000
      )
      assertNoSecret(lines)
    }))

  it.scoped("a failed background refresh logs a Warning, without a secret", () =>
    Effect.gen(function*() {
      const { auth, fake, lines } = yield* setup(
        { tokenReply: (n) => (n >= 2 ? { status: 401, body: { error: "invalid_client" } } : undefined) },
        { refreshLeadTime: "20 seconds", refreshJitter: "20 seconds" }
      )
      yield* auth.token
      yield* TestClock.adjust("881 seconds")
      yield* settle
      assert.strictEqual(fake.stats.tokenRequests, 2)
      const warnings = lines.filter((line) =>
        line.level === "WARN" && line.message.includes("background refresh failed")
      )
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0].message, "invalid_client")
      assert.strictEqual(warnings[0].annotations["criteo.client_id"], clientId)
      assertNoSecret(lines)
    }))
})
