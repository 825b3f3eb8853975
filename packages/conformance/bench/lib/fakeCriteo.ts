/**
 * In-memory Criteo doubles (no sockets) for the figures that run on the TestClock or in a loop of a
 * million requests.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

export const tokenPath = "/oauth2/token"

const json = (request: HttpClientRequest.HttpClientRequest, status: number, body: unknown) =>
  HttpClientResponse.fromWeb(
    request,
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } })
  )

const bearer = (request: HttpClientRequest.HttpClientRequest): string | undefined => {
  const authorization = request.headers["authorization"]
  return authorization?.startsWith("Bearer ") ? authorization.slice("Bearer ".length) : undefined
}

export interface DayStats {
  tokenRequests: number
  apiRequests: number
  /** API requests whose token had expired (by the Clock) when they arrived. */
  expiredSent: number
  /** API requests with no token, or one the server never issued. */
  unknownSent: number
}

/**
 * A Criteo that remembers every token it issued and when it expires (by the `Clock`: the TestClock in
 * the simulated day), takes `tokenLatencyMs` of that clock to issue one, and refuses an expired or
 * unknown token with 401, counting it.
 */
export const makeStrict = (options: { readonly lifetimeSeconds: number; readonly tokenLatencyMs: number }) => {
  const issued = new Map<string, number>()
  const stats: DayStats = { tokenRequests: 0, apiRequests: 0, expiredSent: 0, unknownSent: 0 }
  /** For each API request: the instant it arrived and its query (the instant its caller made it). */
  const arrivals: Array<{ readonly at: number; readonly query: string }> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      if (url.pathname === tokenPath) {
        const n = ++stats.tokenRequests
        yield* Effect.sleep(options.tokenLatencyMs)
        const now = yield* Clock.currentTimeMillis
        const value = `day.${n}.${now}`
        issued.set(value, now + options.lifetimeSeconds * 1000)
        return json(request, 200, { access_token: value, token_type: "Bearer", expires_in: options.lifetimeSeconds })
      }
      stats.apiRequests++
      const now = yield* Clock.currentTimeMillis
      arrivals.push({ at: now, query: url.search })
      const token = bearer(request)
      const expiresAt = token === undefined ? undefined : issued.get(token)
      if (expiresAt === undefined) {
        stats.unknownSent++
        return json(request, 401, { errors: [{ code: "authorization-token-invalid" }] })
      }
      if (now >= expiresAt) {
        stats.expiredSent++
        return json(request, 401, { errors: [{ code: "authorization-token-expired" }] })
      }
      return json(request, 200, { data: { id: "42", type: "Advertiser" } })
    })
  )
  return { client, stats, arrivals }
}

/**
 * A Criteo that keeps nothing: a new token on each token request, and 200 without a body to every API
 * request. Built with `HttpClient.makeWith` rather than `HttpClient.make`, so no span, abort controller
 * or response registration of the platform's per request: what stays in memory, and what each request
 * costs, is the client's.
 */
export const makeStateless = () => {
  const stats = { tokenRequests: 0, apiRequests: 0 }
  const respond = (request: HttpClientRequest.HttpClientRequest) => {
    if (request.url.endsWith(tokenPath)) {
      const n = ++stats.tokenRequests
      return json(request, 200, { access_token: `mem.${n}`, token_type: "Bearer", expires_in: 900 })
    }
    stats.apiRequests++
    return HttpClientResponse.fromWeb(request, new Response(null, { status: 200 }))
  }
  const client = HttpClient.makeWith(
    (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) => Effect.map(requestEffect, respond),
    Effect.succeed
  )
  return { client, stats }
}
