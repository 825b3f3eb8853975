/**
 * The loopback server the network figures run against, in its own process so that its work does not
 * share the client's event loop (on two cores, an in-process server would hide the client's overhead):
 *
 * - `POST /oauth2/token`: a Criteo-like token endpoint. It reads the form, waits `tokenLatencyMs`, and
 *   issues a new bearer token each time, valid `tokenLifetimeSeconds` (default 900). With
 *   `tokenFailurePercent` set (the soak figure), that share of token requests fails at random, half with
 *   a 503 and half with a connection reset.
 * - any other path: the API. A request without a token, or with any token the server has not revoked,
 *   gets 200 and a small JSON body; a revoked token gets Criteo's 401, and so does a token the server
 *   issued that has expired (counted as `expiredSent`).
 * - `/__control/*`: counters, configuration, revocation, and closing every connection between trials.
 *
 * Run as `node --import tsx bench/lib/server.ts`: it listens on 127.0.0.1, on a free port, and prints
 * `port: N` on stdout. `loopback.ts` starts it and drives it.
 */
import * as Http from "node:http"
import type * as Net from "node:net"

interface Settings {
  tokenLatencyMs: number
  tokenLifetimeSeconds: number
  tokenFailurePercent: number
}

const settings: Settings = { tokenLatencyMs: 0, tokenLifetimeSeconds: 900, tokenFailurePercent: 0 }
const stats = {
  tokenRequests: 0,
  tokensIssued: 0,
  tokenFailures: 0,
  apiRequests: 0,
  unauthorized: 0,
  revoked: 0,
  expiredSent: 0
}
const issued = new Set<string>()
/** When each token issued since the last reset expires (epoch ms). */
const expiries = new Map<string, number>()
const revoked = new Set<string>()
let serial = 0

const apiBody = JSON.stringify({ data: { id: "42", type: "Advertiser", attributes: { name: "bench" } } })
const unauthorizedBody = JSON.stringify({
  errors: [{ traceId: "bench", type: "authorization", code: "authorization-token-invalid", title: "Token revoked" }]
})

const expiredBody = JSON.stringify({
  errors: [{ traceId: "bench", type: "authorization", code: "authorization-token-expired", title: "Token expired" }]
})

const send = (response: Http.ServerResponse, status: number, body: string) => {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": body.length })
  response.end(body)
}

const readBody = (request: Http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    request.setEncoding("utf8")
    request.on("data", (chunk: string) => {
      body += chunk
    })
    request.on("end", () => resolve(body))
    request.on("error", reject)
  })

const token = async (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  const form = new URLSearchParams(await readBody(request))
  stats.tokenRequests++
  if (settings.tokenLatencyMs > 0) await new Promise((resolve) => setTimeout(resolve, settings.tokenLatencyMs))
  if (settings.tokenFailurePercent > 0 && Math.random() * 100 < settings.tokenFailurePercent) {
    stats.tokenFailures++
    if (Math.random() < 0.5) return void request.socket.destroy()
    return send(response, 503, JSON.stringify({ error: "temporarily_unavailable" }))
  }
  const value = `bench.${++serial}.${form.get("client_id") ?? "anonymous"}.${Date.now().toString(36)}`
  issued.add(value)
  stats.tokensIssued++
  expiries.set(value, Date.now() + settings.tokenLifetimeSeconds * 1000)
  send(
    response,
    200,
    JSON.stringify({ access_token: value, token_type: "Bearer", expires_in: settings.tokenLifetimeSeconds })
  )
}

const api = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
  stats.apiRequests++
  const authorization = request.headers.authorization
  const expiresAt = authorization === undefined ? undefined : expiries.get(authorization.slice("Bearer ".length))
  if (expiresAt !== undefined && Date.now() >= expiresAt) {
    stats.expiredSent++
    request.resume()
    return send(response, 401, expiredBody)
  }
  if (authorization !== undefined && revoked.has(authorization.slice("Bearer ".length))) {
    stats.unauthorized++
    // drain the (empty) request body so the connection stays reusable
    request.resume()
    return send(response, 401, unauthorizedBody)
  }
  request.resume()
  send(response, 200, apiBody)
}

const server = Http.createServer({ keepAlive: true }, (request, response) => {
  const url = request.url ?? "/"
  if (url.startsWith("/__control/")) return control(url, request, response)
  if (url === "/oauth2/token" && request.method === "POST") {
    return void token(request, response).catch(() => send(response, 500, "{}"))
  }
  api(request, response)
})
server.keepAliveTimeout = 60_000

const control = (url: string, request: Http.IncomingMessage, response: Http.ServerResponse) => {
  request.resume()
  const { pathname, searchParams } = new URL(url, "http://127.0.0.1")
  switch (pathname) {
    case "/__control/stats":
      return send(response, 200, JSON.stringify({ ...stats, issued: issued.size, connections: connections.size }))
    case "/__control/reset": {
      // counters to zero, revocations forgotten, latency, lifetime and failure share set; the tokens
      // issued before stay valid (their expiries are forgotten)
      for (const key of Object.keys(stats) as Array<keyof typeof stats>) stats[key] = 0
      revoked.clear()
      expiries.clear()
      settings.tokenLatencyMs = Number(searchParams.get("tokenLatencyMs") ?? 0)
      settings.tokenLifetimeSeconds = Number(searchParams.get("tokenLifetimeSeconds") ?? 900)
      settings.tokenFailurePercent = Number(searchParams.get("tokenFailurePercent") ?? 0)
      return send(response, 200, JSON.stringify(settings))
    }
    case "/__control/revoke": {
      // every token issued so far is refused from now on; tokens issued later are valid
      for (const value of issued) revoked.add(value)
      stats.revoked = issued.size
      issued.clear()
      return send(response, 200, JSON.stringify({ revoked: stats.revoked }))
    }
    case "/__control/disconnect": {
      // closes every client connection except this one once answered: each trial starts with no
      // pooled connection, and the TIME_WAIT sockets land on this side rather than exhausting the
      // client's ephemeral ports
      for (const socket of connections) if (socket !== request.socket) socket.destroy()
      return send(response, 200, JSON.stringify({ ok: true }))
    }
    default:
      return send(response, 404, "{}")
  }
}

const connections = new Set<Net.Socket>()
server.on("connection", (socket) => {
  connections.add(socket)
  socket.on("close", () => connections.delete(socket))
})

server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  process.stdout.write(`port: ${address.port}\n`)
})

// the parent's end of stdin closing (the parent exiting, even abruptly) stops the server
process.stdin.resume()
process.stdin.on("end", () => process.exit(0))
process.on("SIGTERM", () => process.exit(0))
