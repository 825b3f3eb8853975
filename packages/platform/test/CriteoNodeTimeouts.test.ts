import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
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
})
