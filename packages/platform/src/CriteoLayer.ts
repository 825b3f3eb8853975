/**
 * `CriteoAuth` and `CriteoHttpClient` together, on whichever `HttpClient` the application provides.
 * `CriteoNode` and `CriteoFetch` add the runtime's client; use this module directly for another one
 * (Bun's, a test double, a client with a proxy dispatcher).
 *
 * @since 0.1.0
 */
import type * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import type * as CriteoConfig from "./CriteoConfig.js"
import * as internal from "./internal/layers.js"

/**
 * What the layers of this package provide.
 *
 * @since 0.1.0
 * @category models
 */
export type Services = CriteoAuth.CriteoAuth | CriteoHttpClient.CriteoHttpClient

/**
 * Limits each attempt of an API call to `timeout`, up to the response headers.
 *
 * @deprecated Since 0.2.0 the timeout is core's: use `CriteoHttpClient.withAttemptTimeout`, or the
 * `attemptTimeout` option of `CriteoHttpClient.make` / `layer` (which the layers here set from
 * `apiTimeout`).
 * @since 0.1.0
 * @category middleware
 */
export const withAttemptTimeout: typeof CriteoHttpClient.withAttemptTimeout = CriteoHttpClient.withAttemptTimeout

/**
 * `CriteoAuth` and `CriteoHttpClient` from explicit options, on the `HttpClient` in context. Fails with
 * a `UrlError` when the token or API URL would send credentials over plain `http:` to a host that is
 * not the local machine (unless `allowInsecureHttp` is set), or is not an http(s) URL.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: CriteoConfig.Options
) => Layer.Layer<Services, CriteoConfig.UrlError, HttpClient.HttpClient> = internal.fromOptions((options) =>
  internal.services(options, "core")
)

/**
 * `CriteoAuth` and `CriteoHttpClient` from configuration: by default `CriteoConfig.config`, which
 * reads the `CRITEO_*` environment variables. A URL that `layer` would refuse is a `ConfigError` here.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<CriteoConfig.Options>
) => Layer.Layer<Services, ConfigError.ConfigError, HttpClient.HttpClient> = internal.fromConfig((options) =>
  internal.services(options, "core")
)
