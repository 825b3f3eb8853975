import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "./utils/cli.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"

/** A client of the fake whose API answers `/advertisers/me` with itself, as Criteo (and the simulator) does. */
const advertiserClient = (fake: FakeCriteo.Service, prefix: string) => {
  const clientId = `${prefix}-${crypto.randomUUID()}`
  return fake.register({
    clientId,
    apiScript: [{ status: 200, body: { data: [{ id: clientId, type: "Advertiser", attributes: {} }] } }]
  })
}

/** The environment an example reads: the client's credentials and the fake's URLs. */
const envFor = (fake: FakeCriteo.Service, client: FakeCriteo.Client, secret = client.clientSecret) => ({
  CRITEO_CLIENT_ID: client.clientId,
  CRITEO_CLIENT_SECRET: secret,
  CRITEO_TOKEN_URL: fake.tokenUrl,
  CRITEO_API_URL: fake.url
})

/** The README's example (`examples/advertiser.ts`), compiled and run as a program against the fake. */
layer(Layer.merge(FakeCriteo.layer, NodeContext.layer), { excludeTestServices: true })("README example", (it) => {
  it.effect("calls the API with the credentials of the environment", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      // Criteo's answer (and the simulator's): the advertisers the credentials may act for, as a list.
      const client = yield* advertiserClient(fake, "example")
      const result = yield* Cli.run([], envFor(fake, client), { script: Cli.example("advertiser") })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.strictEqual(result.stdout, `Connected as advertiser ${client.clientId}\n`)
      const [call] = yield* fake.requests(client.clientId, "api")
      assert.strictEqual(call.path, "/2026-07/advertisers/me")
    }))

  it.effect("handles a wrong secret with its own message", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const result = yield* Cli.run([], envFor(fake, client, "not-the-secret"), { script: Cli.example("advertiser") })
      assert.strictEqual(result.code, 0)
      assert.match(result.stderr, /^Check CRITEO_CLIENT_ID and CRITEO_CLIENT_SECRET: Criteo rejected the client/)
    }))

  it.effect(
    "the Promise example (examples/promise.ts) calls the API, then exits by itself",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* advertiserClient(fake, "example-promise")
        // the process ends only if close() released the dispatcher and the background refresh
        const result = yield* Cli.run([], envFor(fake, client), { script: Cli.example("promise") }).pipe(
          Effect.timeout("20 seconds")
        )
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdout, `Connected as advertiser ${client.clientId} (HTTP 200)\n`)
        const [call] = yield* fake.requests(client.clientId, "api")
        assert.strictEqual(call.path, "/2026-07/advertisers/me")
      }),
    30_000
  )

  it.effect("the Promise example says which credentials are wrong, by the error's tag", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const client = yield* fake.register()
      const result = yield* Cli.run([], {
        CRITEO_CLIENT_ID: client.clientId,
        CRITEO_CLIENT_SECRET: "not-the-secret",
        CRITEO_TOKEN_URL: fake.tokenUrl,
        CRITEO_API_URL: fake.url
      }, { script: Cli.example("promise") }).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(result.code, 0)
      assert.match(result.stderr, /^Check CRITEO_CLIENT_ID and CRITEO_CLIENT_SECRET: Criteo rejected the client/)
      assert.notInclude(result.stderr, "not-the-secret")
    }), 30_000)

  it.effect("the README shows examples/promise.ts as it is", () =>
    Effect.sync(() => {
      const here = path.dirname(fileURLToPath(import.meta.url))
      const readme = fs.readFileSync(path.join(here, "../README.md"), "utf8")
      const file = fs.readFileSync(path.join(here, "../examples/promise.ts"), "utf8")
      const block = /This is \[`examples\/promise\.ts`\][\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)
      assert.isNotNull(block)
      assert.strictEqual(block![1], file.slice(file.indexOf("import * as CriteoPromise")))
    }))
})
