/**
 * The README's core example, run against the fake Criteo: if this breaks, the README is wrong.
 */
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { CriteoAuth, CriteoHttpClient, Grant } from "../src/index.js"
import { makeFakeCriteo } from "./utils.js"

// --- README: begin ---
const Advertiser = Schema.Struct({ data: Schema.Struct({ id: Schema.String, type: Schema.String }) })

const program = Effect.gen(function*() {
  const client = yield* CriteoHttpClient.CriteoHttpClient
  const me = yield* client.get("/advertisers/me").pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(Advertiser))
  )
  yield* Effect.log(`advertiser ${me.data.id}`)
  return me
}).pipe(
  Effect.catchTags({
    InvalidClientError: (error) => Effect.die(`check CRITEO_CLIENT_ID / CRITEO_CLIENT_SECRET: ${error.message}`),
    ForbiddenError: (error) => Effect.die(`consent revoked: ${error.message}`)
  })
)

const CriteoLive = CriteoHttpClient.layer({ apiVersion: "2026-07" }).pipe(
  Layer.provideMerge(
    CriteoAuth.layerConfig({
      grant: Config.all({
        clientId: Config.string("CRITEO_CLIENT_ID"),
        clientSecret: Config.redacted("CRITEO_CLIENT_SECRET")
      }).pipe(Config.map(Grant.clientCredentials))
    })
  )
)
// --- README: end ---

describe("README", () => {
  it.scoped("the core example works", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeCriteo()
      const me = yield* program.pipe(
        Effect.provide(CriteoLive),
        Effect.provide(fake.layer),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["CRITEO_CLIENT_ID", "demo"], ["CRITEO_CLIENT_SECRET", "demo-secret"]]))
        )
      )
      assert.strictEqual(me.data.id, "42")
      const [tokenRequest] = yield* fake.requests
      assert.strictEqual(tokenRequest.form.get("client_id"), "demo")
    }))
})
