import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import * as CriteoNode from "../src/CriteoNode.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"

/**
 * A forward proxy on loopback, as corporate networks run them: it answers `CONNECT host:port` by
 * opening a TCP connection to the target and piping both ways. Its log is what a proxy operator
 * sees: the head of each CONNECT request.
 */
const makeProxy = Effect.acquireRelease(
  Effect.async<{
    readonly url: string
    readonly log: Array<string>
    readonly tunnelled: Array<string>
    readonly server: Net.Server
  }>((resume) => {
    const log: Array<string> = []
    // what went through the tunnels (plain http here, so readable): request lines only, for the test
    const tunnelled: Array<string> = []
    const server = Net.createServer((client) => {
      let head = ""
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1")
        const end = head.indexOf("\r\n\r\n")
        if (end < 0) return
        client.off("data", onData)
        log.push(head.slice(0, end))
        const match = /^CONNECT ([^\s:]+):(\d+) HTTP\/1\.[01]/.exec(head)
        if (match === null) {
          client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n")
          return
        }
        const upstream = Net.connect(Number(match[2]), match[1], () => {
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          const rest = Buffer.from(head.slice(end + 4), "latin1")
          if (rest.length > 0) upstream.write(rest)
          upstream.pipe(client)
          client.on("data", (data: Buffer) => {
            for (const line of data.toString("latin1").match(/^(GET|POST) \S+ HTTP\/1\.1/gm) ?? []) tunnelled.push(line)
          })
          client.pipe(upstream)
        })
        upstream.on("error", () => client.destroy())
        client.on("error", () => upstream.destroy())
      }
      client.on("data", onData)
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${address.port}`, log, tunnelled, server }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      // keep-alive tunnels would hold close() open
      server.unref()
      resume(Effect.void)
    })
)

/** Sets environment variables for the duration of the scope (the layer reads them when built). */
const withEnv = (variables: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]))
      Object.assign(process.env, variables)
      return previous
    }),
    (previous) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )

const proxyVariables = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]

layer(FakeCriteo.layer, { excludeTestServices: true })("CriteoNode through a proxy", (it) => {
  const call = (fake: FakeCriteo.Service, client: FakeCriteo.Client) =>
    Effect.gen(function*() {
      const http = yield* CriteoHttpClient.CriteoHttpClient
      const response = yield* http.get("/advertisers/me")
      const token = yield* Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token)
      return { status: response.status, token: Redacted.value(token.value) }
    }).pipe(
      Effect.provide(
        Layer.unwrapEffect(Effect.sync(() =>
          CriteoNode.layer({
            grant: Grant.clientCredentials({
              clientId: client.clientId,
              clientSecret: Redacted.make(client.clientSecret)
            }),
            tokenUrl: fake.tokenUrl,
            apiUrl: fake.url
          })
        ))
      )
    )

  describe("HTTP_PROXY / HTTPS_PROXY / NO_PROXY", () => {
    it.scoped("the token request and the API call go through the proxy, which sees no credential", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const proxy = yield* makeProxy
        yield* withEnv(Object.fromEntries(proxyVariables.map((name) => [name, ""])))
        yield* withEnv({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url })
        const result = yield* call(fake, client)
        assert.strictEqual(result.status, 200)
        const target = fake.url.slice("http://".length)
        // one tunnel at least, to the host of both endpoints (they share one here, as on Criteo)
        assert.isAbove(proxy.log.length, 0)
        for (const line of proxy.log) assert.match(line, new RegExp(`^CONNECT ${target.replace(/\./g, "\\.")} `))
        assert.deepStrictEqual(proxy.tunnelled, ["POST /oauth2/token HTTP/1.1", "GET /2026-07/advertisers/me HTTP/1.1"])
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 1)
        const everything = proxy.log.join("\n")
        assert.notInclude(everything, client.clientSecret)
        assert.notInclude(everything, result.token)
        assert.notInclude(everything.toLowerCase(), "authorization")
      }))

    it.scoped("NO_PROXY bypasses it", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const proxy = yield* makeProxy
        yield* withEnv(Object.fromEntries(proxyVariables.map((name) => [name, ""])))
        yield* withEnv({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" })
        const result = yield* call(fake, client)
        assert.strictEqual(result.status, 200)
        assert.deepStrictEqual(proxy.log, [])
      }))

    it.scoped("without proxy variables, no proxy", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const proxy = yield* makeProxy
        yield* withEnv(Object.fromEntries(proxyVariables.map((name) => [name, ""])))
        assert.isFalse(CriteoNode.proxyFromEnvironment())
        const result = yield* call(fake, client)
        assert.strictEqual(result.status, 200)
        assert.deepStrictEqual(proxy.log, [])
      }))
  })

  describe("layerWithoutDispatcher", () => {
    it.scoped("uses the application's dispatcher (here a ProxyAgent) and leaves it open", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const proxy = yield* makeProxy
        const agent = new Undici.default.ProxyAgent(proxy.url)
        yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
        const status = yield* Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (http) => http.get("/advertisers/me"))
          .pipe(
            Effect.map((response) => response.status),
            Effect.provide(
              CriteoNode.layerWithoutDispatcher({
                grant: Grant.clientCredentials({
                  clientId: client.clientId,
                  clientSecret: Redacted.make(client.clientSecret)
                }),
                tokenUrl: fake.tokenUrl,
                apiUrl: fake.url
              }).pipe(Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, agent)))
            )
          )
        assert.strictEqual(status, 200)
        assert.isAbove(proxy.log.length, 0)
        // the layer is closed (Effect.provide): the application's dispatcher is not
        const after = yield* Effect.promise(() =>
          agent.request({ origin: fake.url, path: "/oauth2/token", method: "GET" })
        )
        yield* Effect.promise(() => after.body.dump())
        assert.isNumber(after.statusCode)
      }))
  })
})
