import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as CriteoFetch from "../src/CriteoFetch.js"

const origin = "http://127.0.0.1:9"
const tokenUrl = `${origin}/oauth2/token`
const accessToken = "eyJ.fetch-test-token.sig"

interface Call {
  readonly url: string
  readonly init: RequestInit
  readonly signal: AbortSignal
}

/**
 * A stub `fetch` that records every call: the token endpoint answers a token, `/hang` never answers
 * (its promise rejects when its signal is aborted, as `fetch` does), `/stream` answers headers and a
 * body that never ends, anything else a small JSON body.
 */
const makeStub = Effect.gen(function*() {
  const calls: Array<Call> = []
  const hanging = yield* Deferred.make<Call>()
  const fetch: typeof globalThis.fetch = (input, init = {}) => {
    const url = String(input)
    const signal = init.signal!
    const call = { url, init, signal }
    calls.push(call)
    if (url === tokenUrl) {
      return Promise.resolve(
        Response.json({ access_token: accessToken, token_type: "Bearer", expires_in: 3600 })
      )
    }
    if (url.endsWith("/hang") || url.endsWith("/stream")) {
      Deferred.unsafeDone(hanging, Effect.succeed(call))
    }
    if (url.endsWith("/hang")) {
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
    }
    if (url.endsWith("/stream")) {
      return Promise.resolve(new Response(new ReadableStream({ pull: () => new Promise(() => {}) })))
    }
    return Promise.resolve(Response.json({ ok: true }))
  }
  return { calls, hanging: Deferred.await(hanging), layer: Layer.succeed(FetchHttpClient.Fetch, fetch) }
})

const grant = Grant.clientCredentials({ clientId: "fetch-test", clientSecret: Redacted.make("fetch-secret") })

const layer = (stub: Layer.Layer<FetchHttpClient.Fetch>) =>
  CriteoFetch.layer({ grant, tokenUrl, apiUrl: origin, apiTimeout: "1 second", apiRetry: { maxAttempts: 1 } }).pipe(
    Layer.provide(stub)
  )

const get = (path: string) => Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) => client.get(path))

describe("CriteoFetch", () => {
  it.scoped("an API attempt without response headers fails after apiTimeout on the Clock, and its fetch is aborted", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const fiber = yield* get("/hang").pipe(Effect.flip, Effect.provide(layer(stub.layer)), Effect.fork)
      const call = yield* stub.hanging
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll())
      assert.isFalse(call.signal.aborted)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.isTrue(call.signal.aborted)
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag !== "TransportError") return
      assert.strictEqual(error.endpoint, "api")
      assert.match(error.detail, /no response within 1s/)
      // the bearer token was sent, but no rendering of the error shows it
      assert.strictEqual((call.init.headers as Record<string, string>).authorization, `Bearer ${accessToken}`)
      assert.notInclude(JSON.stringify(error), accessToken)
      assert.notInclude(String(error), accessToken)
    }))

  it.scoped("a timed-out attempt's exit is its failure alone: the interruption that aborted it is not in the cause", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const fiber = yield* get("/hang").pipe(Effect.exit, Effect.provide(layer(stub.layer)), Effect.fork)
      yield* stub.hanging
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(exit._tag === "Failure")
      if (exit._tag !== "Failure") return
      assert.strictEqual(exit.cause._tag, "Fail")
    }))

  it.scoped("an API URL that merely starts with the token URL is still bounded by apiTimeout (a gateway's paths)", () =>
    Effect.gen(function*() {
      // tokenUrl http://127.0.0.1:9/criteo, API under http://127.0.0.1:9/criteo-api: a prefix, not the token URL
      const gateway = `${origin}/criteo`
      const hanging = yield* Deferred.make<AbortSignal>()
      const fetch: typeof globalThis.fetch = (input, init = {}) => {
        const signal = init.signal!
        if (String(input) === gateway) {
          return Promise.resolve(Response.json({ access_token: accessToken, token_type: "Bearer", expires_in: 3600 }))
        }
        Deferred.unsafeDone(hanging, Effect.succeed(signal))
        return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)))
      }
      const fiber = yield* get("/hang").pipe(
        Effect.flip,
        Effect.provide(
          CriteoFetch.layer({
            grant,
            tokenUrl: gateway,
            apiUrl: `${origin}/criteo-api`,
            apiTimeout: "1 second",
            apiRetry: { maxAttempts: 1 }
          }).pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch)))
        ),
        Effect.fork
      )
      const signal = yield* Deferred.await(hanging)
      yield* TestClock.adjust("1 second")
      assert.isTrue(signal.aborted)
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TransportError")
    }))

  it.scoped("an attempt answered in time is disarmed: the clock passing apiTimeout later aborts nothing", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const result = yield* Effect.gen(function*() {
        const first = yield* get("/ok")
        const body = yield* first.json
        yield* TestClock.adjust("5 seconds")
        const second = yield* get("/ok")
        return { body, status: second.status }
      }).pipe(Effect.provide(layer(stub.layer)))
      assert.deepStrictEqual(result, { body: { ok: true }, status: 200 })
      const api = stub.calls.filter((call) => call.url.endsWith("/ok"))
      assert.strictEqual(api.length, 2)
      assert.isFalse(api[0]!.signal.aborted)
    }))

  it.scoped("interrupting a request aborts its fetch", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const fiber = yield* get("/hang").pipe(Effect.provide(layer(stub.layer)), Effect.fork)
      const call = yield* stub.hanging
      yield* Fiber.interrupt(fiber)
      assert.isTrue(call.signal.aborted)
    }))

  it.scoped("interrupting the read of a body aborts its fetch", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const fiber = yield* get("/stream").pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(layer(stub.layer)),
        Effect.fork
      )
      const call = yield* stub.hanging
      // the headers came, so the timeout is over; the body never ends
      yield* TestClock.adjust("5 seconds")
      assert.isNull(fiber.unsafePoll())
      assert.isFalse(call.signal.aborted)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(call.signal.aborted)
    }))

  it.scoped("every request, token and API, is sent with redirect: manual, whatever RequestInit is provided", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      yield* get("/ok").pipe(
        Effect.provide(layer(stub.layer)),
        Effect.provideService(FetchHttpClient.RequestInit, { redirect: "follow", keepalive: true })
      )
      assert.strictEqual(stub.calls.length, 2)
      assert.strictEqual(stub.calls[0]!.url, tokenUrl)
      for (const call of stub.calls) {
        assert.strictEqual(call.init.redirect, "manual")
        assert.strictEqual(call.init.keepalive, true)
      }
    }))

  it.scoped("layerHttpClient: redirect manual, no timeout of its own", () =>
    Effect.gen(function*() {
      const stub = yield* makeStub
      const fiber = yield* HttpClient.get(`${origin}/hang`).pipe(
        Effect.provide(CriteoFetch.layerHttpClient),
        Effect.provide(stub.layer),
        Effect.fork
      )
      const call = yield* stub.hanging
      assert.strictEqual(call.init.redirect, "manual")
      yield* TestClock.adjust("1 hour")
      assert.isNull(fiber.unsafePoll())
      assert.isFalse(call.signal.aborted)
      yield* Fiber.interrupt(fiber)
      assert.isTrue(call.signal.aborted)
    }))
})
