/**
 * A worker of a fleet: every process started with the same CRITEO_REDIS_URL and CRITEO_TOKEN_STORE_KEY
 * shares one token per client (and one refresh-token chain per consent) through Redis. It calls the API
 * every CRITEO_WORKER_INTERVAL (default 5s) and logs what it got. `pnpm check` type-checks this file;
 * docker/compose.yaml runs it as the scalable `worker` service.
 */
import { CriteoHttpClient, TokenStore } from "@criteo-auth/core"
import { CriteoConfig, CriteoNode } from "@criteo-auth/platform"
import * as CriteoRedisStore from "@criteo-auth/platform/CriteoRedisStore"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Schedule, Schema } from "effect"
import * as Os from "node:os"

// Criteo's answer (and the simulator's): the advertisers the credentials may act for, as a list
const Advertisers = Schema.Struct({ data: Schema.NonEmptyArray(Schema.Struct({ id: Schema.String })) })

const callOnce = Effect.gen(function*() {
  const criteo = (yield* CriteoHttpClient.CriteoHttpClient).pipe(HttpClient.filterStatusOk)
  const advertisers = yield* criteo.get("/advertisers/me").pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(Advertisers))
  )
  yield* Console.log(`${Os.hostname()}: advertiser ${advertisers.data[0].id}`)
}).pipe(
  // a failed call is logged, and the worker goes on
  Effect.catchAll((error) => Console.error(`${Os.hostname()}: ${error._tag}: ${error.message}`))
)

const program = Effect.gen(function*() {
  const interval = yield* Config.withDefault(CriteoConfig.duration("CRITEO_WORKER_INTERVAL"), "5 seconds")
  yield* callOnce.pipe(Effect.repeat(Schedule.spaced(interval)))
})

// The store from CRITEO_REDIS_URL and CRITEO_TOKEN_STORE_KEY (both redacted), then CriteoAuth and
// CriteoHttpClient from the CRITEO_* variables with that store as their `tokenStore`.
const CriteoFleetLive = Layer.unwrapEffect(
  Effect.map(
    TokenStore.TokenStore,
    (tokenStore) => CriteoNode.layerConfig(Config.map(CriteoConfig.config, (options) => ({ ...options, tokenStore })))
  )
).pipe(Layer.provide(CriteoRedisStore.layerConfig()))

program.pipe(Effect.provide(CriteoFleetLive), NodeRuntime.runMain)
