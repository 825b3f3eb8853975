/**
 * `CriteoAuth` and `CriteoHttpClient` over the `fetch` API (`FetchHttpClient`): browsers, Bun, Deno,
 * edge workers, or Node.js without undici as a direct dependency.
 *
 * Redirects are never followed (`redirect: "manual"`, as undici does by default): a redirected token
 * request would otherwise send the client secret again to wherever `Location` points, possibly over
 * plain http.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CriteoConfig from "./CriteoConfig.js"
import * as CriteoLayer from "./CriteoLayer.js"

/**
 * The fetch `HttpClient` with redirects disabled, whatever `RequestInit` the caller provides.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(
    HttpClient.HttpClient,
    (client) =>
      HttpClient.transformResponse(
        client,
        (response) =>
          Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) =>
            Effect.provideService(response, FetchHttpClient.RequestInit, {
              ...Option.getOrElse(init, () => ({})),
              redirect: "manual"
            }))
      )
  )
).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * From explicit options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: CriteoConfig.Options): Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError> =>
  CriteoLayer.layer(options).pipe(Layer.provide(layerHttpClient))

/**
 * From configuration: by default the `CRITEO_*` environment variables (see `CriteoConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<CriteoConfig.Options> = CriteoConfig.config
): Layer.Layer<CriteoLayer.Services, ConfigError.ConfigError> =>
  CriteoLayer.layerConfig(config).pipe(Layer.provide(layerHttpClient))
