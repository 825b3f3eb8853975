import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CriteoConfig from "../CriteoConfig.js"
import type { Services } from "../CriteoLayer.js"

/**
 * Who bounds an API attempt: core, with an Effect timer around each attempt (any `HttpClient`), or the
 * transport itself (undici's `headersTimeout`; for fetch, one sweeper fiber per layer), which costs no fiber per request.
 */
export type AttemptTimeout = "core" | "transport"

/** `CriteoAuth` and `CriteoHttpClient` from validated options, on the `HttpClient` in context. */
export const services = (
  options: CriteoConfig.Options,
  attemptTimeout: AttemptTimeout
): Layer.Layer<Services, CriteoConfig.UrlError, HttpClient.HttpClient> => {
  const auth = CriteoAuth.layer(options)
  const api = CriteoHttpClient.layer({
    baseUrl: options.apiUrl,
    apiVersion: options.apiVersion,
    retry: options.apiRetry,
    attemptTimeout: attemptTimeout === "core" ? options.apiTimeout ?? CriteoConfig.defaultApiTimeout : undefined,
    allowInsecureHttp: options.allowInsecureHttp
  })
  // core's layers check the URLs again (the same CriteoUrl.check as CriteoConfig.validate, so after
  // validate they cannot refuse); their RefusedUrlError is this package's UrlError
  return Layer.provideMerge(api, auth).pipe(Layer.mapError(CriteoConfig.fromRefusedUrl))
}

/** From explicit options: validated first (a `UrlError` when refused). */
export const fromOptions = <R>(
  build: (options: CriteoConfig.Options) => Layer.Layer<Services, CriteoConfig.UrlError, R>
) =>
(
  options: CriteoConfig.Options
): Layer.Layer<Services, CriteoConfig.UrlError, R> =>
  Layer.unwrapEffect(Effect.map(CriteoConfig.validate(options), build))

const toConfigError = (error: CriteoConfig.UrlError): ConfigError.ConfigError =>
  ConfigError.InvalidData([error.option], error.message)

/** The options from configuration, validated: a URL `validate` refuses is a `ConfigError`. */
export const validatedConfig = (
  config: Config.Config.Wrap<CriteoConfig.Options> = CriteoConfig.config
): Effect.Effect<CriteoConfig.Options, ConfigError.ConfigError> =>
  Effect.flatMap(
    Config.unwrap(config),
    (options) => CriteoConfig.validate(options).pipe(Effect.mapError(toConfigError))
  )

/** From configuration: a URL `fromOptions` would refuse is a `ConfigError`. */
export const fromConfig = <R>(
  build: (options: CriteoConfig.Options) => Layer.Layer<Services, CriteoConfig.UrlError, R>
) =>
(
  config: Config.Config.Wrap<CriteoConfig.Options> = CriteoConfig.config
): Layer.Layer<Services, ConfigError.ConfigError, R> =>
  Layer.unwrapEffect(
    Effect.map(validatedConfig(config), (options) => build(options).pipe(Layer.mapError(toConfigError)))
  )
