/**
 * The layers from explicit options, on Node.js and on fetch, and a custom HttpClient.
 */
import { CriteoAuth, Grant } from "@criteo-auth/core"
import { CriteoFetch, CriteoLayer, CriteoNode } from "@criteo-auth/platform"
import { FetchHttpClient } from "@effect/platform"
import { Config, Effect, Layer, Redacted } from "effect"

const options = {
  grant: Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") }),
  apiVersion: "2026-07",
  refreshLeadTime: "30 seconds",
  apiTimeout: "20 seconds"
} as const

// Node.js (undici). Fails with InsecureUrlError if a URL would send credentials over plain http.
export const NodeLive = CriteoNode.layer(options)

// fetch: browsers, Bun, Deno, edge workers.
export const FetchLive = CriteoFetch.layer(options)

// Any HttpClient: here fetch with a custom RequestInit. CriteoFetch.layerHttpClient is FetchHttpClient.layer
// that never follows a redirect (redirect: "manual" over any RequestInit), as undici: plain
// FetchHttpClient.layer would follow one to another origin, and re-send a token request's body there on a 307.
export const CustomLive = CriteoLayer.layer(options).pipe(
  Layer.provide(CriteoFetch.layerHttpClient),
  Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { keepalive: true }))
)

// Options from your own Config: each field a Config or a plain value.
export const ConfigLive = CriteoNode.layerConfig({
  grant: Config.map(
    Config.all({ clientId: Config.string("MY_APP_CLIENT_ID"), clientSecret: Config.redacted("MY_APP_SECRET") }),
    Grant.clientCredentials
  ),
  apiVersion: Config.withDefault(Config.string("MY_APP_CRITEO_VERSION"), "2026-07")
})

export const fingerprint = Effect.gen(function*() {
  const auth = yield* CriteoAuth.CriteoAuth
  const token = yield* auth.token
  return token.fingerprint
}).pipe(Effect.provide(NodeLive))
