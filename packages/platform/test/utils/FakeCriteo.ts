import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"

/**
 * An in-process stand-in for Criteo on 127.0.0.1: the token endpoint (`POST /oauth2/token`, the three
 * grants, rotating refresh tokens) and a small versioned API that checks bearer tokens the way Criteo
 * does (401 with `authorization-token-expired` / `-invalid`, 403, 429 with `x-ratelimit-*`, 5xx).
 * Every client is registered by a test with its own id, so tests stay independent of each other.
 */

/** A scripted answer. */
export interface Reply {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** `"hang"` never answers: the client has to give up. */
export type Scripted = Reply | "hang"

export interface ClientSpec {
  readonly clientId?: string
  readonly clientSecret?: string
  /** `expires_in` of the tokens issued. Default 900. */
  readonly expiresIn?: number
  /** Answers to the next token requests, in order, before the normal behaviour resumes. */
  readonly tokenScript?: ReadonlyArray<Scripted>
  /** The answer to every token request. */
  readonly tokenAlways?: Scripted
  /** Real time the token endpoint takes before it answers. */
  readonly tokenLatencyMs?: number
  /** Answers to the next API calls with a valid token, in order, before the normal behaviour resumes. */
  readonly apiScript?: ReadonlyArray<Scripted>
  /** Authorization codes the client may exchange (once each). */
  readonly codes?: ReadonlyArray<{ readonly code: string; readonly redirectUri: string | RegExp }>
  /** Refresh tokens the client may use (each once: they rotate). */
  readonly refreshTokens?: ReadonlyArray<string>
}

export interface Client {
  readonly clientId: string
  readonly clientSecret: string
}

export interface Recorded {
  readonly kind: "token" | "api"
  readonly method: string
  /** The path without the query string. */
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The decoded form of a token request. */
  readonly form: Readonly<Record<string, string>>
  /** The client: `client_id` of a token request, the owner of the bearer token of an API call. */
  readonly clientId: string | undefined
}

export interface Issued {
  readonly accessToken: string
  readonly refreshToken: string | undefined
  readonly grantType: string
}

interface ClientState {
  readonly spec: ClientSpec
  readonly clientId: string
  readonly clientSecret: string
  script: Array<Scripted>
  apiScript: Array<Scripted>
  codes: Array<{ readonly code: string; readonly redirectUri: string | RegExp }>
  refreshTokens: Set<string>
  issued: Array<Issued>
  flaky: number
  /** API calls are answered 429 until this instant (epoch ms); `limited` counts those answers. */
  limitedUntil: number
  limited: number
}

interface TokenState {
  readonly clientId: string
  readonly expiresAtMillis: number
  expired: boolean
}

export interface Service {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly tokenUrl: string
  readonly register: (spec?: ClientSpec) => Effect.Effect<Client>
  readonly requests: (clientId: string, kind?: "token" | "api") => Effect.Effect<ReadonlyArray<Recorded>>
  readonly issued: (clientId: string) => Effect.Effect<ReadonlyArray<Issued>>
  /** Makes every token issued so far to the client expired. */
  readonly expire: (clientId: string) => Effect.Effect<void>
  /** Completes once a request of the client is hanging (scripted `"hang"` or `GET /hang`). */
  readonly hanging: (clientId: string) => Effect.Effect<void>
  /** The requests whose bearer token is unknown. */
  readonly anonymous: Effect.Effect<ReadonlyArray<Recorded>>
  /**
   * The API's rate limit: every API call of the client answers 429 (`x-ratelimit-reset`: the instant,
   * in epoch seconds) until `untilMillis`, rounded up to a whole second. Answers that instant.
   */
  readonly limit: (clientId: string, untilMillis: number) => Effect.Effect<number>
  /** How many API calls of the client were answered 429 by `limit`. */
  readonly limited: (clientId: string) => Effect.Effect<number>
}

export class FakeCriteo extends Context.Tag("test/FakeCriteo")<FakeCriteo, Service>() {}

const token = (prefix: string) => `${prefix}${randomBytes(24).toString("base64url")}`

let counter = 0
const uniqueId = () => `client-${process.pid}-${++counter}-${randomBytes(3).toString("hex")}`

const oauthError = (status: number, error: string, description: string): Reply => ({
  status,
  body: { error, error_description: description, error_uri: null }
})

export const apiError = (status: number, code: string, title: string): Reply => ({
  status,
  body: { errors: [{ traceIdentifier: randomBytes(8).toString("hex"), type: "authorization", code, title }] }
})

const make = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const address = server.address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const url = `http://127.0.0.1:${address.port}`

  const clients = new Map<string, ClientState>()
  const tokens = new Map<string, TokenState>()
  const journal: Array<Recorded> = []
  const hangs = new Map<string, Deferred.Deferred<void>>()
  const hangOf = (clientId: string) => {
    let deferred = hangs.get(clientId)
    if (deferred === undefined) {
      deferred = Deferred.unsafeMake<void>(FiberId.none)
      hangs.set(clientId, deferred)
    }
    return deferred
  }

  const respond = (reply: Scripted, clientId: string | undefined) =>
    reply === "hang"
      ? Effect.zipRight(
        clientId === undefined ? Effect.void : Deferred.succeed(hangOf(clientId), undefined),
        Effect.never
      )
      : Effect.succeed(
        typeof reply.body === "string"
          ? HttpServerResponse.text(reply.body, {
            status: reply.status,
            headers: reply.headers ?? {},
            contentType: reply.headers?.["content-type"] ?? "text/plain"
          })
          : reply.body === undefined
          ? HttpServerResponse.empty({ status: reply.status, headers: reply.headers ?? {} })
          : HttpServerResponse.unsafeJson(reply.body, { status: reply.status, headers: reply.headers ?? {} })
      )

  const issue = (client: ClientState, grantType: string, withRefreshToken: boolean): Reply => {
    const accessToken = token("eyJ.")
    const refreshToken = withRefreshToken ? token("rt_") : undefined
    const expiresIn = client.spec.expiresIn ?? 900
    tokens.set(accessToken, {
      clientId: client.clientId,
      expiresAtMillis: Date.now() + expiresIn * 1000,
      expired: false
    })
    if (refreshToken !== undefined) client.refreshTokens.add(refreshToken)
    client.issued.push({ accessToken, refreshToken, grantType })
    return {
      status: 200,
      body: {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: expiresIn,
        refresh_token: refreshToken ?? null
      }
    }
  }

  const tokenEndpoint = (request: HttpServerRequest.HttpServerRequest, form: Record<string, string>): Scripted => {
    const contentType = request.headers["content-type"] ?? ""
    if (request.method !== "POST") return { status: 405 }
    if (!contentType.startsWith("application/x-www-form-urlencoded")) {
      return oauthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    }
    const client = clients.get(form.client_id ?? "")
    if (client !== undefined) {
      if (client.spec.tokenAlways !== undefined) return client.spec.tokenAlways
      const next = client.script.shift()
      if (next !== undefined) return next
    }
    if (client === undefined || form.client_secret !== client.clientSecret) {
      return oauthError(401, "invalid_client", "client_id doesn't exist or the client_secret is invalid")
    }
    switch (form.grant_type) {
      case "client_credentials":
        return issue(client, "client_credentials", false)
      case "authorization_code": {
        const index = client.codes.findIndex((c) =>
          c.code === form.code &&
          (typeof c.redirectUri === "string"
            ? c.redirectUri === form.redirect_uri
            : c.redirectUri.test(form.redirect_uri))
        )
        if (index < 0) return oauthError(400, "invalid_grant", "The authorization code is invalid or expired")
        client.codes.splice(index, 1)
        return issue(client, "authorization_code", true)
      }
      case "refresh_token": {
        if (!client.refreshTokens.delete(form.refresh_token ?? "")) {
          return oauthError(400, "invalid_grant", "The refresh token is invalid or was revoked")
        }
        return issue(client, "refresh_token", true)
      }
      default:
        return oauthError(400, "unsupported_grant_type", `grant_type ${form.grant_type} is not supported`)
    }
  }

  const api = (
    request: HttpServerRequest.HttpServerRequest,
    route: string,
    owner: TokenState | undefined,
    body: string,
    query: string
  ): Scripted => {
    if (owner === undefined) {
      return apiError(401, "authorization-token-invalid", "The authorization token is invalid")
    }
    if (owner.expired || owner.expiresAtMillis <= Date.now()) {
      return apiError(401, "authorization-token-expired", "The authorization token has expired")
    }
    const client = clients.get(owner.clientId)!
    // the window closes 50 ms before the announced reset (a server clock a little ahead): a client that
    // waits for the reset on a timer that fires a millisecond early is not refused for it
    if (Date.now() < client.limitedUntil - 50) {
      client.limited++
      return {
        ...apiError(429, "rate-limited", "Too many requests"),
        headers: {
          "x-ratelimit-limit": "250",
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(client.limitedUntil / 1000)
        }
      }
    }
    const scripted = client.apiScript.shift()
    if (scripted !== undefined) return scripted
    switch (route) {
      case "/advertisers/me":
        return {
          status: 200,
          body: { data: { id: client.clientId, type: "AdvertiserMe", attributes: { name: "Fake advertiser" } } }
        }
      case "/echo":
        return { status: 200, body: { method: request.method, query, body: body.length > 0 ? JSON.parse(body) : null } }
      case "/forbidden":
        return apiError(403, "missing-permission", "The consent was revoked or the permission is missing")
      case "/always-401":
        return apiError(401, "authorization-token-invalid", "The authorization token is invalid")
      case "/limited":
        return {
          ...apiError(429, "rate-limited", "Too many requests"),
          headers: {
            "x-ratelimit-limit": "250",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600)
          }
        }
      case "/broken":
        return apiError(503, "service-unavailable", "The service is unavailable")
      case "/flaky":
        return client.flaky++ === 0
          ? apiError(503, "service-unavailable", "The service is unavailable")
          : { status: 200, body: { data: { recovered: true } } }
      case "/missing":
        return apiError(404, "not-found", "The resource does not exist")
      case "/redirect":
        return { status: 307, headers: { location: `${url}/redirected` } }
      case "/forbidden-echo":
        // A hostile or buggy API: a 403 whose error code and title echo the bearer token.
        return {
          status: 403,
          body: {
            errors: [{ code: request.headers.authorization ?? "", title: `Refused: ${request.headers.authorization}` }]
          }
        }
      case "/echo-authorization":
        return { status: 200, body: { authorization: request.headers.authorization ?? null } }
      case "/text":
        return { status: 200, body: "plain text answer", headers: { "content-type": "text/plain" } }
      case "/hang":
        return "hang" as const
      default:
        return apiError(404, "not-found", `No route ${route}`)
    }
  }

  const app = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const parsed = new URL(request.url, url)
    const body = yield* Effect.orElseSucceed(request.text, () => "")
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.headers)) headers[name] = String(value)
    if (parsed.pathname === "/oauth2/token") {
      const form = Object.fromEntries(new URLSearchParams(body))
      journal.push({
        kind: "token",
        method: request.method,
        path: parsed.pathname,
        query: parsed.search,
        headers,
        body,
        form,
        clientId: form.client_id
      })
      const latency = clients.get(form.client_id ?? "")?.spec.tokenLatencyMs
      if (latency !== undefined) yield* Effect.sleep(latency)
      return yield* respond(tokenEndpoint(request, form), form.client_id)
    }
    const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "")?.[1]
    const owner = bearer === undefined ? undefined : tokens.get(bearer)
    journal.push({
      kind: "api",
      method: request.method,
      path: parsed.pathname,
      query: parsed.search,
      headers,
      body,
      form: {},
      clientId: owner?.clientId
    })
    // Versioned paths: /{version}/route. The version is recorded in the path for the tests to check.
    const route = parsed.pathname.replace(/^\/[^/]+/, "")
    return yield* respond(api(request, route, owner, body, parsed.search), owner?.clientId)
  })

  yield* HttpServer.serveEffect(app)

  const register = (spec: ClientSpec = {}) =>
    Effect.sync((): Client => {
      const clientId = spec.clientId ?? uniqueId()
      const clientSecret = spec.clientSecret ?? token("secret_")
      clients.set(clientId, {
        spec,
        clientId,
        clientSecret,
        script: [...(spec.tokenScript ?? [])],
        apiScript: [...(spec.apiScript ?? [])],
        codes: [...(spec.codes ?? [])],
        refreshTokens: new Set(spec.refreshTokens ?? []),
        issued: [],
        flaky: 0,
        limitedUntil: 0,
        limited: 0
      })
      return { clientId, clientSecret }
    })

  return FakeCriteo.of({
    url,
    tokenUrl: `${url}/oauth2/token`,
    register,
    requests: (clientId, kind) =>
      Effect.sync(() => journal.filter((r) => r.clientId === clientId && (kind === undefined || r.kind === kind))),
    issued: (clientId) => Effect.sync(() => [...(clients.get(clientId)?.issued ?? [])]),
    expire: (clientId) =>
      Effect.sync(() => {
        for (const state of tokens.values()) if (state.clientId === clientId) state.expired = true
      }),
    hanging: (clientId) => Deferred.await(hangOf(clientId)),
    anonymous: Effect.sync(() => journal.filter((r) => r.kind === "api" && r.clientId === undefined)),
    limit: (clientId, untilMillis) =>
      Effect.sync(() => {
        const client = clients.get(clientId)!
        client.limitedUntil = Math.ceil(untilMillis / 1000) * 1000
        return client.limitedUntil
      }),
    limited: (clientId) => Effect.sync(() => clients.get(clientId)?.limited ?? 0)
  })
})

/** The fake on an ephemeral port of 127.0.0.1, for the life of the layer. */
export const layer: Layer.Layer<FakeCriteo> = Layer.scoped(FakeCriteo, make).pipe(
  Layer.provide(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" })),
  Layer.orDie
)
