import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import { grant, settle } from "./utils.js"

/** The cap the middleware documents for a 401, 403 or 410 body (64 KiB). */
const cap = 64 * 1024
const chunkSize = 16 * 1024
const safetyStop = 64 * 1024 * 1024

/** What the server did with one API response body: bytes handed to the client, and whether it was cancelled. */
interface Served {
  pulled: number
  cancelled: boolean
}

type Body = "endless" | "stalled" | { readonly text: string }

/**
 * A client in memory: the token endpoint answers `token-N`; the API answers `script(n)` for its n-th
 * call (from 1), whose body is endless (16 KiB chunks, for ever), stalled (nothing, never) or a text.
 */
const setup = (
  script: (n: number) => { readonly status: number; readonly body: Body; readonly headers?: Record<string, string> },
  options: CriteoHttpClient.Options = {}
) =>
  Effect.gen(function*() {
    const served: Array<Served> = []
    let tokens = 0
    const fake = HttpClient.make((request) => {
      if (request.url.endsWith("/oauth2/token")) {
        tokens++
        return Effect.succeed(HttpClientResponse.fromWeb(
          request,
          Response.json({ access_token: `token-${tokens}-secret`, token_type: "Bearer", expires_in: 900 })
        ))
      }
      const reply = script(served.length + 1)
      const stats: Served = { pulled: 0, cancelled: false }
      served.push(stats)
      const body = typeof reply.body === "object"
        ? reply.body.text
        : new ReadableStream<Uint8Array>({
          pull(controller) {
            if (reply.body === "stalled") return new Promise<void>(() => {})
            // "endless" as far as the client can tell; the test stops it at 64 MiB only so that a client
            // without a cap fails the assertions instead of exhausting the machine's memory
            if (stats.pulled >= safetyStop) return controller.close()
            stats.pulled += chunkSize
            controller.enqueue(new Uint8Array(chunkSize).fill(0x7b))
          },
          cancel() {
            stats.cancelled = true
          }
        })
      return Effect.succeed(HttpClientResponse.fromWeb(
        request,
        new Response(body, { status: reply.status, headers: { "content-type": "application/json", ...reply.headers } })
      ))
    })
    const context = yield* Layer.build(
      CriteoHttpClient.layer(options).pipe(
        Layer.provideMerge(CriteoAuth.layer({ grant, tokenUrl: "https://api.criteo.com/oauth2/token" })),
        Layer.provide(Layer.succeed(HttpClient.HttpClient, fake))
      )
    )
    const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
    return { client, served, tokens: () => tokens }
  })

/** No rendering of the error shows a token the fake issued. */
const assertNoToken = (error: unknown) => {
  for (const text of [JSON.stringify(error), String(error), (error as Error).message]) {
    assert.notInclude(text, "secret")
    assert.notInclude(text, "token-")
  }
}

/** A body read stopped at the cap: at most the cap and the chunk that crossed it, and the rest cancelled. */
const assertCapped = (served: Served) => {
  assert.isAtMost(served.pulled, cap + 2 * chunkSize, `${served.pulled} bytes pulled`)
  assert.isTrue(served.cancelled, "the rest of the body is cancelled")
}

describe("CriteoHttpClient error bodies", () => {
  it.scoped("a 403 with an endless body is a ForbiddenError at once, after reading at most 64 KiB", () =>
    Effect.gen(function*() {
      const { client, served } = yield* setup(() => ({ status: 403, body: "endless" }))
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.deepInclude(error, {
        _tag: "ForbiddenError",
        method: "GET",
        url: "https://api.criteo.com/2026-07/advertisers/me"
      })
      assert.strictEqual(served.length, 1)
      assertCapped(served[0])
      assertNoToken(error)
    }))

  it.scoped("a 401 replayed and refused again, both bodies endless, is an UnauthorizedError", () =>
    Effect.gen(function*() {
      const { client, served, tokens } = yield* setup(() => ({ status: 401, body: "endless" }))
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.strictEqual(error._tag, "UnauthorizedError")
      assert.strictEqual(tokens(), 2)
      assert.strictEqual(served.length, 2)
      served.forEach(assertCapped)
      assertNoToken(error)
    }))

  it.scoped("a 401 whose endless body is discarded before the replay: the replay's answer comes back", () =>
    Effect.gen(function*() {
      const { client, served } = yield* setup((n) =>
        n === 1 ? { status: 401, body: "endless" } : { status: 200, body: { text: "{}" } }
      )
      const response = yield* client.get("/advertisers/me")
      assert.strictEqual(response.status, 200)
      assertCapped(served[0])
    }))

  it.scoped("a 410 with an endless body is an ApiVersionDecommissionedError", () =>
    Effect.gen(function*() {
      const { client, served } = yield* setup(() => ({ status: 410, body: "endless" }))
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.deepInclude(error, { _tag: "ApiVersionDecommissionedError", version: "2026-07" })
      assertCapped(served[0])
      assertNoToken(error)
    }))

  it.scoped("a 403 declaring a content-length above 64 KiB is not read, and is cancelled", () =>
    Effect.gen(function*() {
      const { client, served } = yield* setup(() => ({
        status: 403,
        body: "endless",
        headers: { "content-length": String(10 * 1024 * 1024 * 1024) }
      }))
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.strictEqual(error._tag, "ForbiddenError")
      assert.isAtMost(served[0].pulled, 2 * chunkSize)
      assert.isTrue(served[0].cancelled)
    }))

  it.scoped("a 403 whose body never comes is a ForbiddenError after 5 s (TestClock), its body cancelled", () =>
    Effect.gen(function*() {
      const { client, served } = yield* setup(() => ({ status: 403, body: "stalled" }))
      const fiber = yield* Effect.fork(Effect.flip(client.get("/advertisers/me")))
      yield* settle
      yield* TestClock.adjust("4900 millis")
      yield* settle
      assert.isNull(fiber.unsafePoll(), "still reading before 5 s")
      yield* TestClock.adjust("100 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepInclude(error, { _tag: "ForbiddenError", method: "GET" })
      assert.isUndefined((error as CriteoHttpClient.Error & { code?: string }).code)
      yield* settle
      assert.isTrue(served[0].cancelled)
      assertNoToken(error)
    }))

  it.scoped("a 403 body within the cap still gives its code and trace id, scrubbed of the token", () =>
    Effect.gen(function*() {
      const padding = "x".repeat(cap - 200)
      const { client } = yield* setup(() => ({
        status: 403,
        body: {
          text: JSON.stringify({ errors: [{ code: "consent-revoked token-1-secret", traceId: "t-1" }], padding })
        }
      }))
      const error = yield* Effect.flip(client.get("/advertisers/me"))
      assert.deepInclude(error, { _tag: "ForbiddenError", traceId: "t-1" })
      assert.match((error as CriteoHttpClient.Error & { code?: string }).code ?? "", /^consent-revoked/)
      assertNoToken(error)
    }))
})

describe("CriteoHttpClient 410 Gone", () => {
  const deleted = {
    text: JSON.stringify({ errors: [{ code: "resource-deleted", title: "The campaign was deleted" }] })
  }

  it.scoped("on a path without an API version and without Deprecation/Sunset, a 410 is a response, body intact", () =>
    Effect.gen(function*() {
      const { client, tokens } = yield* setup(() => ({ status: 410, body: deleted }), { apiVersion: null })
      const response = yield* client.get("/legacy/campaigns/42")
      assert.strictEqual(response.status, 410)
      assert.deepStrictEqual(yield* response.json, JSON.parse(deleted.text))
      assert.strictEqual(tokens(), 1)
    }))

  it.scoped("the same after a 401 replay: the replay's 410 on an unversioned path is a response", () =>
    Effect.gen(function*() {
      const { client, tokens } = yield* setup(
        (n) => n === 1 ? { status: 401, body: { text: "" } } : { status: 410, body: deleted },
        { apiVersion: null }
      )
      const response = yield* client.get("/legacy/campaigns/42")
      assert.strictEqual(response.status, 410)
      assert.strictEqual(tokens(), 2)
    }))

  it.scoped("on a path without a version, a 410 with Sunset or Deprecation is ApiVersionDecommissionedError", () =>
    Effect.gen(function*() {
      for (const headers of [{ sunset: "Wed, 28 Oct 2026 00:00:00 GMT" }, { deprecation: "true" }]) {
        const { client } = yield* setup(() => ({ status: 410, body: { text: "" }, headers }), { apiVersion: null })
        const error = yield* Effect.flip(client.get("/legacy/campaigns/42"))
        assert.strictEqual(error._tag, "ApiVersionDecommissionedError")
        assert.notProperty(error, "version")
      }
    }))

  it.scoped("on a versioned path a 410 is ApiVersionDecommissionedError, behind a base URL with a path too", () =>
    Effect.gen(function*() {
      for (const baseUrl of ["https://api.criteo.com", "https://gateway.example/criteo"]) {
        const { client } = yield* setup(() => ({ status: 410, body: { text: "" } }), { baseUrl, apiVersion: "2025-10" })
        const error = yield* Effect.flip(client.get("/advertisers/me"))
        assert.deepInclude(error, { _tag: "ApiVersionDecommissionedError", version: "2025-10" })
      }
    }))
})
