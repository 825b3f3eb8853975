/**
 * The example of the README: an Effect program that calls the Criteo API through the authenticated
 * client, configured from the CRITEO_* environment variables. `pnpm check` type-checks this file.
 */
import { CriteoHttpClient } from "@criteo-auth/core"
import { CriteoNode } from "@criteo-auth/platform"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"

// GET /advertisers/me answers with the advertisers the credentials may act for.
const Advertisers = Schema.Struct({
  data: Schema.NonEmptyArray(Schema.Struct({ id: Schema.String, type: Schema.String }))
})

const program = Effect.gen(function*() {
  // An HttpClient that sends the bearer token, renews it on a 401 and retries 5xx and 429 within bounds.
  const criteo = (yield* CriteoHttpClient.CriteoHttpClient).pipe(HttpClient.filterStatusOk)
  // GET https://api.criteo.com/2026-07/advertisers/me
  const advertisers = yield* criteo.get("/advertisers/me").pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(Advertisers))
  )
  yield* Console.log(`Connected as advertiser ${advertisers.data[0].id}`)
}).pipe(
  Effect.catchTags({
    InvalidClientError: (error) => Console.error(`Check CRITEO_CLIENT_ID and CRITEO_CLIENT_SECRET: ${error.message}`),
    InvalidGrantError: (error) => Console.error(`The advertiser must consent again: ${error.message}`),
    ForbiddenError: (error) => Console.error(`Consent revoked or permission missing: ${error.message}`),
    RateLimitedError: (error) => Console.error(error.message)
  })
)

// CriteoNode.layerConfig() reads CRITEO_CLIENT_ID, CRITEO_CLIENT_SECRET, ... and provides CriteoAuth and
// CriteoHttpClient over undici. A missing or malformed variable fails with a ConfigError naming it.
program.pipe(Effect.provide(CriteoNode.layerConfig()), NodeRuntime.runMain)
