/**
 * `CriteoAuth` and `CriteoHttpClient` on Node.js, over undici (`NodeHttpClient.layerUndici`). The
 * undici agent belongs to the layer: it is closed with the layer's scope.
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Layer from "effect/Layer"
import * as CriteoConfig from "./CriteoConfig.js"
import * as CriteoLayer from "./CriteoLayer.js"

/**
 * From explicit options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: CriteoConfig.Options): Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError> =>
  CriteoLayer.layer(options).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * From configuration: by default the `CRITEO_*` environment variables (see `CriteoConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<CriteoConfig.Options> = CriteoConfig.config
): Layer.Layer<CriteoLayer.Services, ConfigError.ConfigError> =>
  CriteoLayer.layerConfig(config).pipe(Layer.provide(NodeHttpClient.layerUndici))
