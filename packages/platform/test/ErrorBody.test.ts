import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Http from "node:http"
import * as CriteoFetch from "../src/CriteoFetch.js"
import * as CriteoNode from "../src/CriteoNode.js"
import { listenOnLoopback } from "./utils/ports.js"

const runtimes: ReadonlyArray<{
  readonly name: string
  readonly layer: typeof CriteoNode.layer
}> = [
  { name: "undici (CriteoNode)", layer: CriteoNode.layer },
  { name: "fetch (CriteoFetch)", layer: CriteoFetch.layer }
]

const accessToken = "tok-secret-4b1d"
const safetyStop = 256 * 1024 * 1024
/**
 * What the server can write before a client that stopped reading at 64 KiB hangs up: the kernel's
 * loopback socket buffers (a few MiB each way at most, net.ipv4.tcp_wmem / tcp_rmem) and the
 * transport's own (undici's and fetch's stream buffers, well under 1 MiB), with a wide margin.
 */
const maxSentByServer = 32 * 1024 * 1024

/** What the server saw of the API call: bytes of body it managed to send, and whether the client hung up. */
interface Sent {
  bytes: number
  readonly closed: Promise<void>
}

/**
 * A server on a free loopback port: a token on POST /oauth2/token; every other request is answered 403
 * with an endless body (16 KiB chunks, written as fast as the socket takes them) until the client closes.
 */
const hostileServer = Effect.gen(function*() {
  const sent: Array<Sent> = []
  const chunk = Buffer.alloc(16 * 1024, "{")
  const server = Http.createServer((request, response) => {
    if (request.url === "/oauth2/token") {
      response.writeHead(200, { "content-type": "application/json" })
      response.end(JSON.stringify({ access_token: accessToken, token_type: "Bearer", expires_in: 900 }))
      return
    }
    let stop = false
    const record: Sent = { bytes: 0, closed: new Promise((done) => response.once("close", done)) }
    void record.closed.then(() => stop = true)
    sent.push(record)
    response.writeHead(403, { "content-type": "application/json" })
    const pump = () => {
      // endless as far as the client can tell; stopped at 256 MiB only so that a client that reads it
      // all fails the bound below instead of exhausting the machine's memory
      if (record.bytes >= safetyStop) return response.end()
      while (!stop && record.bytes < safetyStop) {
        record.bytes += chunk.length
        if (!response.write(chunk)) return response.once("drain", pump)
      }
    }
    pump()
  })
  const url = yield* listenOnLoopback(server)
  return { url, sent, server }
})

describe("a 403 with an endless body, on the real transports", () => {
  for (const runtime of runtimes) {
    it.scopedLive(
      `${runtime.name}: ForbiddenError, and the client closes the connection`,
      () =>
        Effect.gen(function*() {
          const { sent, url } = yield* hostileServer
          const error = yield* Effect.flatMap(
            CriteoHttpClient.CriteoHttpClient,
            (client) => client.get("/advertisers/me")
          ).pipe(
            Effect.flip,
            Effect.provide(runtime.layer({
              grant: Grant.clientCredentials({ clientId: "hostile", clientSecret: Redacted.make("s3cret") }),
              tokenUrl: `${url}/oauth2/token`,
              apiUrl: url
            }))
          )
          assert.deepInclude(error, { _tag: "ForbiddenError", url: `${url}/2026-07/advertisers/me` })
          assert.strictEqual(sent.length, 1)
          // the client hung up: the server's writes stopped (before the fix, the client read for ever)
          yield* Effect.promise(() => sent[0].closed)
          assert.isBelow(sent[0].bytes, maxSentByServer, `${sent[0].bytes} bytes sent`)
          for (const text of [String(error), JSON.stringify(error)]) assert.notInclude(text, accessToken)
        }),
      { timeout: 60_000 }
    )
  }
})
