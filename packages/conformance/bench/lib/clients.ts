/**
 * The clients compared, each behind the same small interface: run `count` calls of
 * `GET /2026-07/advertisers/me` with at most `concurrency` in flight, read each body, and report the
 * failures (a status other than 200, or an error) and, when asked, each call's latency.
 *
 * - `criteo-auth`: `CriteoHttpClient` + `CriteoAuth` of core with their defaults, on
 *   `NodeHttpClient.layerUndici`; `undici`, the same `HttpClient` sending the same request without
 *   authentication; and `undici-bearer`, the same with a fixed bearer header (the floor).
 * - `hand-written`: a fetch wrapper as users write it (cache the token until a minute before expiry,
 *   add the header, on a 401 drop the token and retry once); `@badgateway/oauth2-client`: its
 *   `OAuth2Fetch` wrapper over `OAuth2Client.clientCredentials()`; and `fetch`, plain fetch without
 *   authentication.
 *
 * The Effect clients run their calls in an Effect pool (`Effect.forEach` with a concurrency), the
 * fetch clients in a promise pool of the same shape, so each pair differs by the authentication only.
 */
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as CriteoFetch from "@criteo-auth/platform/CriteoFetch"
import * as CriteoNode from "@criteo-auth/platform/CriteoNode"
import * as CriteoPromise from "@criteo-auth/platform/CriteoPromise"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import Undici from "@effect/platform-node/Undici"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { performance } from "node:perf_hooks"
import type { Loopback } from "./loopback.js"

export const apiVersion = "2026-07"
export const apiPath = "/advertisers/me"
export const clientId = "bench-client"
export const clientSecret = "bench-secret"

export type ClientName = "criteo-auth" | "undici" | "undici-bearer" | "hand-written" | "badgateway" | "fetch"

export interface Outcome {
  readonly failures: number
  /** Each call's latency in ms, from its start to its body read, when asked for. */
  readonly latencies: Float64Array | undefined
  /** The first failure, for the report. */
  readonly firstFailure: string | undefined
}

export interface Client {
  readonly name: string
  /** Resolves once the client is built (for the Effect clients, its layer), so no figure times that. */
  readonly ready: () => Promise<void>
  readonly batch: (count: number, concurrency: number, recordLatency?: boolean) => Promise<Outcome>
  readonly close: () => Promise<void>
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  if (typeof error === "object" && error !== null && "_tag" in error) return String(error._tag)
  return String(error)
}

/**
 * The connection pool of a client: `undefined` for undici's default (one connection per concurrent
 * request, no limit), or a limit of connections to the server.
 */
export type Pool = { readonly connections: number } | undefined

// -----------------------------------------------------------------------------
// Effect clients
// -----------------------------------------------------------------------------

const effectClient = <R, ER, E>(
  name: string,
  runtime: ManagedRuntime.ManagedRuntime<R, ER>,
  client: Effect.Effect<HttpClient.HttpClient.With<E>, never, R>,
  url: string
): Client => {
  const batch = (count: number, concurrency: number, recordLatency = false) =>
    runtime.runPromise(Effect.gen(function*() {
      const http = yield* client
      const latencies = recordLatency ? new Float64Array(count) : undefined
      let failures = 0
      let firstFailure: string | undefined
      const tally = Effect.match({
        onFailure: (error: unknown) => {
          failures++
          firstFailure ??= describe(error)
        },
        onSuccess: (status: number) => {
          if (status !== 200) {
            failures++
            firstFailure ??= `status ${status}`
          }
        }
      })
      const request = http.get(url).pipe(
        Effect.flatMap((response) => Effect.as(response.json, response.status)),
        tally
      )
      // timed only when asked: the hot path's batches carry no more than the call and its tally
      const call = latencies === undefined
        ? () => request
        : (index: number) =>
          Effect.suspend(() => {
            const start = performance.now()
            return Effect.ensuring(request, Effect.sync(() => (latencies[index] = performance.now() - start)))
          })
      yield* Effect.forEach(indexes(count), call, { concurrency, discard: true })
      return { failures, latencies, firstFailure }
    }))
  return { name, batch, ready: () => runtime.runtime().then(() => undefined), close: () => runtime.dispose() }
}

const indexesCache = new Map<number, ReadonlyArray<number>>()
const indexes = (count: number): ReadonlyArray<number> => {
  let cached = indexesCache.get(count)
  if (cached === undefined) {
    cached = Array.from({ length: count }, (_, i) => i)
    indexesCache.set(count, cached)
  }
  return cached
}

export const grant = Grant.clientCredentials({ clientId, clientSecret: Redacted.make(clientSecret) })

/** `NodeHttpClient.layerUndici`, or the same on an agent with a limit of connections. */
const undiciLayer = (pool: Pool): Layer.Layer<HttpClient.HttpClient> =>
  pool === undefined
    ? NodeHttpClient.layerUndici
    : NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
      Layer.provide(Layer.scoped(
        NodeHttpClient.Dispatcher,
        Effect.acquireRelease(
          Effect.sync(() => new Undici.Agent({ connections: pool.connections })),
          (agent) => Effect.promise(() => agent.destroy())
        )
      ))
    )

/** `CriteoHttpClient` with core's defaults, on its own undici agent (`NodeHttpClient.layerUndici`). */
export const criteoAuth = (server: Loopback, pool?: Pool): Client => {
  const layer = CriteoHttpClient.layer({ baseUrl: server.baseUrl, apiVersion }).pipe(
    Layer.provide(CriteoAuth.layer({ grant, tokenUrl: server.tokenUrl })),
    Layer.provide(undiciLayer(pool))
  )
  const runtime = ManagedRuntime.make(layer)
  return effectClient("criteo-auth", runtime, CriteoHttpClient.CriteoHttpClient, apiPath)
}

/**
 * The same undici `HttpClient` (its own agent) sending the same request, without authentication: the
 * URL prefix and `Accept: application/json` that `CriteoHttpClient` adds, and no `Authorization`.
 */
export const undici = (server: Loopback, pool?: Pool): Client => {
  const runtime = ManagedRuntime.make(undiciLayer(pool))
  const prefix = `${server.baseUrl}/${apiVersion}`
  const client = Effect.map(
    HttpClient.HttpClient,
    HttpClient.mapRequest((request) => HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)))
  )
  return effectClient("undici", runtime, client, apiPath)
}

/**
 * The same undici client and request with a fixed `Authorization: Bearer` header and no token logic:
 * what sending the header alone costs (`@effect/platform` redacts it into the request span, undici
 * writes it), the floor of any authenticated client on this `HttpClient`.
 */
export const undiciBearer = (server: Loopback, pool?: Pool): Client => {
  const runtime = ManagedRuntime.make(undiciLayer(pool))
  const prefix = `${server.baseUrl}/${apiVersion}`
  const token = `bench.0.${clientId}.fixed-token`
  const client = Effect.map(
    HttpClient.HttpClient,
    HttpClient.mapRequest((request) =>
      HttpClientRequest.bearerToken(HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)), token)
    )
  )
  return effectClient("undici-bearer", runtime, client, apiPath)
}

// -----------------------------------------------------------------------------
// fetch clients
// -----------------------------------------------------------------------------

/**
 * The fetch clients use the global dispatcher, as users' code does. With a pool, it is replaced by an
 * agent with that limit until the client is closed (figures use one such client at a time).
 */
const promiseClient = (name: ClientName, pool: Pool, call: () => Promise<number>): Client => {
  const previous = Undici.getGlobalDispatcher()
  const agent = pool === undefined ? undefined : new Undici.Agent({ connections: pool.connections })
  if (agent !== undefined) Undici.setGlobalDispatcher(agent)
  const close = async () => {
    if (agent === undefined) return
    Undici.setGlobalDispatcher(previous)
    await agent.destroy()
  }
  return pooled(name, call, close)
}

const pooled = (name: string, call: () => Promise<number>, close: () => Promise<void>): Client => ({
  name,
  close,
  ready: async () => {},
  batch: async (count, concurrency, recordLatency = false) => {
    const latencies = recordLatency ? new Float64Array(count) : undefined
    let failures = 0
    let firstFailure: string | undefined
    let next = 0
    const worker = async () => {
      while (next < count) {
        const index = next++
        const start = latencies === undefined ? 0 : performance.now()
        try {
          const status = await call()
          if (status !== 200) {
            failures++
            firstFailure ??= `status ${status}`
          }
        } catch (error) {
          failures++
          firstFailure ??= describe(error)
        }
        if (latencies !== undefined) latencies[index] = performance.now() - start
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
    return { failures, latencies, firstFailure }
  }
})

const readStatus = async (response: Response) => {
  await response.json()
  return response.status
}

/** Plain fetch, no authentication. */
export const fetchPlain = (server: Loopback, pool?: Pool): Client => {
  const url = `${server.baseUrl}/${apiVersion}${apiPath}`
  return promiseClient("fetch", pool, () => fetch(url, { headers: { accept: "application/json" } }).then(readStatus))
}

/**
 * A fetch wrapper as users write it: the token cached until a minute before it expires, the header
 * added, and on a 401 the token dropped and the request retried once. No single flight: concurrent
 * callers that find no token each ask for one.
 */
export const handWritten = (server: Loopback, pool?: Pool): Client => {
  const apiUrl = `${server.baseUrl}/${apiVersion}`
  let cached: { readonly value: string; readonly expiresAt: number } | undefined

  const getToken = async (): Promise<string> => {
    if (cached !== undefined && cached.expiresAt - 60_000 > Date.now()) return cached.value
    const response = await fetch(server.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret })
    })
    if (!response.ok) throw new Error(`token request failed with ${response.status}`)
    const body = (await response.json()) as { access_token: string; expires_in: number }
    cached = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 }
    return cached.value
  }

  const criteoFetch = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const send = async () =>
      fetch(`${apiUrl}${path}`, {
        ...init,
        headers: { ...init.headers, accept: "application/json", authorization: `Bearer ${await getToken()}` }
      })
    const response = await send()
    if (response.status !== 401) return response
    await response.body?.cancel()
    cached = undefined
    return send()
  }

  return promiseClient("hand-written", pool, () => criteoFetch(apiPath).then(readStatus))
}

/** `@badgateway/oauth2-client`: `OAuth2Fetch` over `OAuth2Client.clientCredentials()`. */
export const badgateway = (server: Loopback, pool?: Pool): Client => {
  const client = new OAuth2Client({
    server: server.baseUrl,
    tokenEndpoint: "/oauth2/token",
    clientId,
    clientSecret,
    authenticationMethod: "client_secret_post"
  })
  const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() })
  const url = `${server.baseUrl}/${apiVersion}${apiPath}`
  return promiseClient(
    "badgateway",
    pool,
    () => wrapper.fetch(url, { headers: { accept: "application/json" } }).then(readStatus)
  )
}

export const make: Record<ClientName, (server: Loopback, pool?: Pool) => Client> = {
  "criteo-auth": criteoAuth,
  undici,
  "undici-bearer": undiciBearer,
  "hand-written": handWritten,
  badgateway,
  fetch: fetchPlain
}

// -----------------------------------------------------------------------------
// what users run: the platform layers, and the Promise path
// -----------------------------------------------------------------------------

export type UserClientName =
  | "fetch-bearer"
  | "undici-bearer"
  | "criteo-node"
  | "fetch-effect-bearer"
  | "criteo-fetch"
  | "undici-bearer-promise"
  | "criteo-node-promise"
  | "fetch-effect-bearer-promise"
  | "criteo-fetch-promise"
  | "criteo-promise"

const fixedToken = `bench.0.${clientId}.fixed-token`

/** Plain fetch with a fixed bearer header: the reference of every figure below. */
export const fetchBearer = (server: Loopback): Client => {
  const url = `${server.baseUrl}/${apiVersion}${apiPath}`
  const headers = { accept: "application/json", authorization: `Bearer ${fixedToken}` }
  return pooled("fetch-bearer", () => fetch(url, { headers }).then(readStatus), async () => {})
}

const bearerOn = (prefix: string) =>
  HttpClient.mapRequest((request) =>
    HttpClientRequest.bearerToken(
      HttpClientRequest.acceptJson(HttpClientRequest.prependUrl(request, prefix)),
      fixedToken
    )
  )

/**
 * An Effect client called as non-Effect applications do: one `runPromise` per call on a
 * `ManagedRuntime`, the body read inside the same run.
 */
const promiseEffectClient = <R, ER, E>(
  name: string,
  runtime: ManagedRuntime.ManagedRuntime<R, ER>,
  client: Effect.Effect<HttpClient.HttpClient.With<E>, never, R>,
  url: string
): Client => {
  let call: (() => Promise<number>) | undefined
  const ready = async () => {
    const http = await runtime.runPromise(client)
    const request = http.get(url).pipe(Effect.flatMap((response) => Effect.as(response.json, response.status)))
    call = () => runtime.runPromise(request)
  }
  const inner = pooled(name, () => call!(), () => runtime.dispose())
  return { ...inner, ready }
}

const userLayers = (server: Loopback) => {
  const options = { grant, tokenUrl: server.tokenUrl, apiUrl: server.baseUrl, apiVersion }
  const prefix = `${server.baseUrl}/${apiVersion}`
  return {
    node: () => ManagedRuntime.make(CriteoNode.layer(options)),
    fetch: () => ManagedRuntime.make(CriteoFetch.layer(options)),
    undici: () => ManagedRuntime.make(NodeHttpClient.layerUndici),
    effectFetch: () => ManagedRuntime.make(FetchHttpClient.layer),
    prefix
  }
}

export const makeUser: Record<UserClientName, (server: Loopback) => Client> = {
  "fetch-bearer": fetchBearer,
  "undici-bearer": (server) => {
    const l = userLayers(server)
    return effectClient("undici-bearer", l.undici(), Effect.map(HttpClient.HttpClient, bearerOn(l.prefix)), apiPath)
  },
  "criteo-node": (server) =>
    effectClient("criteo-node", userLayers(server).node(), CriteoHttpClient.CriteoHttpClient, apiPath),
  "fetch-effect-bearer": (server) => {
    const l = userLayers(server)
    return effectClient(
      "fetch-effect-bearer",
      l.effectFetch(),
      Effect.map(HttpClient.HttpClient, bearerOn(l.prefix)),
      apiPath
    )
  },
  "criteo-fetch": (server) =>
    effectClient("criteo-fetch", userLayers(server).fetch(), CriteoHttpClient.CriteoHttpClient, apiPath),
  "undici-bearer-promise": (server) => {
    const l = userLayers(server)
    return promiseEffectClient(
      "undici-bearer-promise",
      l.undici(),
      Effect.map(HttpClient.HttpClient, bearerOn(l.prefix)),
      apiPath
    )
  },
  "criteo-node-promise": (server) =>
    promiseEffectClient("criteo-node-promise", userLayers(server).node(), CriteoHttpClient.CriteoHttpClient, apiPath),
  "fetch-effect-bearer-promise": (server) => {
    const l = userLayers(server)
    return promiseEffectClient(
      "fetch-effect-bearer-promise",
      l.effectFetch(),
      Effect.map(HttpClient.HttpClient, bearerOn(l.prefix)),
      apiPath
    )
  },
  "criteo-fetch-promise": (server) =>
    promiseEffectClient("criteo-fetch-promise", userLayers(server).fetch(), CriteoHttpClient.CriteoHttpClient, apiPath),
  "criteo-promise": (server) => criteoPromise(server)
}

/**
 * `CriteoPromise` (issue 14), the Promise-facing client, with its defaults: one Promise per call, the body
 * read, as a non-Effect application calls it. Its `ready` gets the token (the batches time the common
 * path, as the other clients' do with their token cached).
 */
export const criteoPromise = (server: Loopback, dispatcher?: Undici.Dispatcher): Client => {
  let client: CriteoPromise.CriteoPromiseClient | undefined
  const ready = async () => {
    client = await CriteoPromise.make(
      { grant, tokenUrl: server.tokenUrl, apiUrl: server.baseUrl, apiVersion },
      { dispatcher }
    )
    await client.get(apiPath).then((response) => response.text())
  }
  const call = () =>
    client!.get(apiPath).then(async (response) => {
      await response.json()
      return response.status
    })
  const inner = pooled("criteo-promise", call, () => client!.close())
  return { ...inner, ready }
}
