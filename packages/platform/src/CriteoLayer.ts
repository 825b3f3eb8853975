/**
 * `CriteoAuth` and `CriteoHttpClient` together, on whichever `HttpClient` the application provides.
 * `CriteoNode` and `CriteoFetch` add the runtime's client; use this module directly for another one
 * (Bun's, a test double, a client with a proxy dispatcher).
 *
 * @since 0.1.0
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CriteoConfig from "./CriteoConfig.js"

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
 * Core's layers check the URLs again (the same `CriteoUrl.check` as `CriteoConfig.validate`, so after
 * `validate` they cannot refuse); their `RefusedUrlError` is mapped to this package's `UrlError`.
 */
const make = (options: CriteoConfig.Options): Layer.Layer<Services, CriteoConfig.UrlError, HttpClient.HttpClient> => {
  const auth = CriteoAuth.layer(options)
  const api = CriteoHttpClient.layer({
    baseUrl: options.apiUrl,
    apiVersion: options.apiVersion,
    retry: options.apiRetry,
    attemptTimeout: options.apiTimeout ?? CriteoConfig.defaultApiTimeout,
    allowInsecureHttp: options.allowInsecureHttp
  })
  return Layer.provideMerge(api, auth).pipe(Layer.mapError(CriteoConfig.fromRefusedUrl))
}

const toConfigError = (error: CriteoConfig.UrlError): ConfigError.ConfigError =>
  ConfigError.InvalidData([error.option], error.message)

/**
 * `CriteoAuth` and `CriteoHttpClient` from explicit options, on the `HttpClient` in context. Fails with
 * a `UrlError` when the token or API URL would send credentials over plain `http:` to a host that is
 * not the local machine (unless `allowInsecureHttp` is set), or is not an http(s) URL.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: CriteoConfig.Options
): Layer.Layer<Services, CriteoConfig.UrlError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(CriteoConfig.validate(options), make))

/**
 * `CriteoAuth` and `CriteoHttpClient` from configuration: by default `CriteoConfig.config`, which
 * reads the `CRITEO_*` environment variables. A URL that `layer` would refuse is a `ConfigError` here.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<CriteoConfig.Options> = CriteoConfig.config
): Layer.Layer<Services, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(
    Config.unwrap(config).pipe(
      Effect.flatMap((options) => CriteoConfig.validate(options).pipe(Effect.mapError(toConfigError))),
      Effect.map((options) => make(options).pipe(Layer.mapError(toConfigError)))
    )
  )
