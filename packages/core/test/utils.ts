import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Grant from "../src/Grant.js"

/** What the fake server saw of one request. */
export interface Recorded {
  readonly method: string
  readonly url: string
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  readonly form: URLSearchParams
  readonly at: number
}

/** What a handler answers. `fail` simulates a transport failure. */
export type Reply =
  | {
    readonly status: number
    readonly body?: unknown
    readonly headers?: Record<string, string>
  }
  | { readonly fail: "transport" }

export type Handler = (request: Recorded) => Effect.Effect<Reply>

const decoder = new TextDecoder()

/**
 * A fake HttpClient that records every request and answers through `handler`. No network.
 */
export const makeFakeClient = (handler: Handler) =>
  Effect.gen(function*() {
    const recorded = yield* Ref.make<ReadonlyArray<Recorded>>([])
    const client = HttpClient.make((request, url) =>
      Effect.gen(function*() {
        const body = request.body._tag === "Uint8Array" ? decoder.decode(request.body.body) : ""
        const entry: Recorded = {
          method: request.method,
          url: url.toString(),
          path: url.pathname,
          query: url.search,
          headers: {
            ...request.headers,
            ...(request.body._tag === "Uint8Array" ? { "content-type": request.body.contentType } : {})
          },
          body,
          form: new URLSearchParams(body),
          at: yield* Clock.currentTimeMillis
        }
        yield* Ref.update(recorded, (all) => [...all, entry])
        const reply = yield* handler(entry)
        if ("fail" in reply) {
          return yield* new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })
          })
        }
        const text = reply.body === undefined
          ? ""
          : typeof reply.body === "string"
          ? reply.body
          : JSON.stringify(reply.body)
        return HttpClientResponse.fromWeb(
          request,
          new Response(reply.status === 204 ? null : text, {
            status: reply.status,
            headers: { "content-type": "application/json", ...reply.headers }
          })
        )
      })
    )
    return {
      client,
      layer: Layer.succeed(HttpClient.HttpClient, client),
      requests: Ref.get(recorded),
      reset: Ref.set(recorded, [])
    }
  })

export const clientId = "client-123"
export const clientSecret = "s3cr3t-Value+with/special&chars=%"
export const grant = Grant.clientCredentials({ clientId, clientSecret: Redacted.make(clientSecret) })

/** A Criteo-like token endpoint and API, in memory, on the TestClock. */
export interface FakeCriteoOptions {
  /** Lifetime of issued tokens in seconds. */
  readonly lifetime?: number
  /** Virtual time the token endpoint takes to answer. */
  readonly tokenLatency?: number
  /** Overrides the token endpoint's answer for a request (the n-th, from 1), when it returns a reply. */
  readonly tokenReply?: (n: number, request: Recorded) => Reply | undefined
  /** Overrides the API's answer, when it returns a reply. */
  readonly apiReply?: (request: Recorded, token: string | undefined) => Reply | undefined
  /** Issue a refresh token with each access token. */
  readonly refreshTokens?: boolean
}

export const makeFakeCriteo = (options: FakeCriteoOptions = {}) =>
  Effect.gen(function*() {
    const lifetime = options.lifetime ?? 900
    const issued = new Map<string, number>()
    const stats = { tokenRequests: 0, apiRequests: 0, expiredSent: 0, unknownSent: 0 }
    const fake = yield* makeFakeClient((request) =>
      Effect.gen(function*() {
        if (request.path === "/oauth2/token") {
          stats.tokenRequests++
          const n = stats.tokenRequests
          if (options.tokenLatency !== undefined) yield* Effect.sleep(options.tokenLatency)
          const override = options.tokenReply?.(n, request)
          if (override !== undefined) return override
          const now = yield* Clock.currentTimeMillis
          const token = `access-${n}-${request.at}`
          issued.set(token, now + lifetime * 1000)
          return {
            status: 200,
            body: {
              access_token: token,
              token_type: "Bearer",
              expires_in: lifetime,
              ...(options.refreshTokens ? { refresh_token: `refresh-${n}` } : {})
            },
            headers: { "cache-control": "no-store" }
          }
        }
        stats.apiRequests++
        const authorization = request.headers["authorization"]
        const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined
        const override = options.apiReply?.(request, token)
        if (override !== undefined) return override
        const now = yield* Clock.currentTimeMillis
        const expiry = token === undefined ? undefined : issued.get(token)
        if (expiry === undefined) {
          stats.unknownSent++
          return {
            status: 401,
            body: { errors: [{ type: "authorization", code: "authorization-token-invalid", traceIdentifier: "t-1" }] }
          }
        }
        if (now >= expiry) {
          stats.expiredSent++
          return {
            status: 401,
            body: { errors: [{ type: "authorization", code: "authorization-token-expired", traceId: "t-2" }] }
          }
        }
        return { status: 200, body: { data: { id: "42", type: "Advertiser" } } }
      })
    )
    return { ...fake, stats, issued }
  })

/** A promise-free barrier: yields enough times for forked fibers to reach their next suspension. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow()
})
