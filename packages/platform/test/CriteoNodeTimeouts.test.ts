import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import Undici from "@effect/platform-node/Undici"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import * as CriteoNode from "../src/CriteoNode.js"
import { listenOnLoopback } from "./utils/ports.js"

/** A loopback server: a token on POST /criteo; every other request is never answered. */
const gatewayServer = Effect.gen(function*() {
  const server = Http.createServer((request, response) => {
    if (request.url === "/criteo") {
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ access_token: "tok-gateway", token_type: "Bearer", expires_in: 900 }))
    }
  })
  const url = yield* listenOnLoopback(server)
  return { url, server }
})

describe("CriteoNode.withApiTimeouts", () => {
  // real time is the point: undici's headersTimeout is the bound under test
  it.scopedLive(
    "an API URL whose path merely starts with the token URL's is still bounded by apiTimeout (a gateway's paths)",
    () =>
      Effect.gen(function*() {
        const { url } = yield* gatewayServer
        const outcome = yield* Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) => client.get("/x")).pipe(
          Effect.flip,
          Effect.provide(CriteoNode.layer({
            grant: Grant.clientCredentials({ clientId: "gateway", clientSecret: Redacted.make("s3cret") }),
            // the token URL's path /criteo is a prefix of the API's /criteo-api/2026-07/x
            tokenUrl: `${url}/criteo`,
            apiUrl: `${url}/criteo-api`,
            apiTimeout: "300 millis",
            apiRetry: { maxAttempts: 1 }
          })),
          // a bound for the test itself: 300 ms expected, 10 s before it is called a hang
          Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "hung past apiTimeout" as const }),
          Effect.either
        )
        assert.strictEqual(outcome._tag, "Right", String(outcome._tag === "Left" ? outcome.left : ""))
        if (outcome._tag !== "Right") return
        assert.strictEqual(outcome.right._tag, "TransportError")
      }),
    { timeout: 30_000 }
  )

  it.live("closing or destroying the wrapper closes or destroys the dispatcher it wraps, in either form", () =>
    Effect.promise(async () => {
      const closed = new Undici.Agent()
      await CriteoNode.withApiTimeouts(closed).close()
      assert.isTrue(closed.closed)
      const closedByCallback = new Undici.Agent()
      await new Promise<void>((resolve) => CriteoNode.withApiTimeouts(closedByCallback).close(resolve))
      assert.isTrue(closedByCallback.closed)
      const destroyed = new Undici.Agent()
      await CriteoNode.withApiTimeouts(destroyed).destroy()
      assert.isTrue(destroyed.destroyed)
      const destroyedWithError = new Undici.Agent()
      await new Promise<void>((resolve) =>
        CriteoNode.withApiTimeouts(destroyedWithError).destroy(new Error("shutting down"), resolve)
      )
      assert.isTrue(destroyedWithError.destroyed)
    }))

  it.scopedLive("the dispatcher's events reach listeners on the wrapper (makeDispatcher's, whose dispatcher is not reachable)", () =>
    Effect.gen(function*() {
      const server = Http.createServer((_request, response) => response.end("ok"))
      const url = yield* listenOnLoopback(server)
      const dispatcher = yield* CriteoNode.makeDispatcher()
      const connected: Array<string> = []
      const disconnected: Array<string> = []
      dispatcher.on("connect", (origin) => connected.push(origin.origin))
      dispatcher.once("disconnect", (origin) => disconnected.push(origin.origin))
      yield* Effect.promise(async () => {
        const response = await dispatcher.request({ origin: url, path: "/", method: "GET" })
        await response.body.text()
      })
      server.closeAllConnections()
      yield* Effect.promise(() =>
        new Promise<void>((resolve) => {
          const wait = () => disconnected.length > 0 ? resolve() : setTimeout(wait, 10)
          wait()
        })
      ).pipe(Effect.timeout("5 seconds"), Effect.orDie)
      assert.deepStrictEqual(connected, [new URL(url).origin])
      assert.deepStrictEqual(disconnected, [new URL(url).origin])
    }))

  it.live("listening on wrappers adds nothing to the dispatcher wrapped once they stop listening; its state shows", () =>
    Effect.promise(async () => {
      const agent = new Undici.Agent()
      const listener = () => {}
      for (let i = 0; i < 20; i++) {
        const wrapped = CriteoNode.withApiTimeouts(agent)
        wrapped.on("connect", listener)
        wrapped.off("connect", listener)
      }
      const kept = CriteoNode.withApiTimeouts(agent)
      kept.on("drain", listener)
      kept.on("drain", listener)
      assert.strictEqual(agent.listenerCount("connect"), 0)
      assert.strictEqual(agent.listenerCount("drain"), 1)
      kept.removeAllListeners()
      assert.strictEqual(agent.listenerCount("drain"), 0)
      // and a listener added after that is served again
      kept.on("drain", listener)
      assert.strictEqual(agent.listenerCount("drain"), 1)
      kept.off("drain", listener)
      assert.strictEqual(agent.listenerCount("drain"), 0)
      // and its state is the dispatcher's, as through compose's Proxy (undici's pools read it on theirs)
      const state = kept as unknown as { readonly closed: boolean; readonly destroyed: boolean }
      assert.deepStrictEqual([state.closed, state.destroyed], [false, false])
      await kept.close()
      assert.deepStrictEqual([state.closed, state.destroyed], [true, true])
    }))

  it.live("adds the API bounds to API requests only, leaving the caller's options untouched", () =>
    Effect.promise(async () => {
      const seen: Array<{ readonly path: string; readonly headersTimeout: unknown; readonly bodyTimeout: unknown }> = []
      class Recorder extends Undici.Dispatcher {
        override dispatch(opts: Undici.Dispatcher.DispatchOptions): boolean {
          seen.push({ path: opts.path, headersTimeout: opts.headersTimeout, bodyTimeout: opts.bodyTimeout })
          return true
        }
      }
      const wrapped = CriteoNode.withApiTimeouts(new Recorder(), {
        apiTimeout: "2 seconds",
        tokenUrl: "https://auth.example/oauth2/token"
      })
      const handler = {} as Undici.Dispatcher.DispatchHandler
      const api = { origin: "https://auth.example", path: "/oauth2/token-like", method: "GET" } as const
      wrapped.dispatch(api, handler)
      wrapped.dispatch({ origin: "https://auth.example", path: "/oauth2/token", method: "POST" }, handler)
      // the same path on another origin is an API request
      wrapped.dispatch({ origin: "https://api.example", path: "/oauth2/token", method: "POST" }, handler)
      assert.deepStrictEqual(seen, [
        { path: "/oauth2/token-like", headersTimeout: 2000, bodyTimeout: 2000 },
        { path: "/oauth2/token", headersTimeout: undefined, bodyTimeout: undefined },
        { path: "/oauth2/token", headersTimeout: 2000, bodyTimeout: 2000 }
      ])
      assert.deepStrictEqual(Object.keys(api), ["origin", "path", "method"])
    }))
})
