/**
 * `CriteoAuth` and `CriteoHttpClient` together, on whichever `HttpClient` the application provides.
 * `CriteoNode` and `CriteoFetch` add the runtime's client; use this module directly for another one
 * (Bun's, a test double, a client with a proxy dispatcher).
 *
 * @since 0.1.0
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
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
 * Limits each attempt of an API call to `timeout`, up to the response headers. A late answer fails
 * with a `RequestError` (reason `Transport`), which the retry of `CriteoHttpClient` replays for
 * idempotent methods only (GET, HEAD, OPTIONS, PUT, DELETE): a POST may have been processed. The request kept in that error has no `Authorization` header.
 *
 * @since 0.1.0
 * @category middleware
 */
export const withAttemptTimeout: {
  (timeout: Duration.DurationInput): <E, R>(
    self: HttpClient.HttpClient.With<E, R>
  ) => HttpClient.HttpClient.With<E | HttpClientError.RequestError, R>
  <E, R>(
    self: HttpClient.HttpClient.With<E, R>,
    timeout: Duration.DurationInput
  ): HttpClient.HttpClient.With<E | HttpClientError.RequestError, R>
} = dual(2, <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  timeout: Duration.DurationInput
): HttpClient.HttpClient.With<E | HttpClientError.RequestError, R> => {
  const duration = Duration.decode(timeout)
  return HttpClient.transform(self, (effect, request) =>
    Effect.timeoutFail(effect, {
      duration,
      onTimeout: () =>
        new HttpClientError.RequestError({
          request: withoutCredentials(request),
          reason: "Transport",
          description: `no response within ${Duration.format(duration)}`
        })
    }))
})

/**
 * The request as an error may keep it: same method and URL, no `Authorization` header and no body, so
 * that no rendering of the error (`JSON.stringify` included) can show the bearer token.
 */
const withoutCredentials = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.get(request.url, {
    headers: Headers.remove(request.headers, ["authorization", "cookie"]),
    urlParams: request.urlParams
  }).pipe(HttpClientRequest.setMethod(request.method))

const make = (options: CriteoConfig.Options): Layer.Layer<Services, never, HttpClient.HttpClient> => {
  const auth = CriteoAuth.layer(options)
  const api = Layer.effect(
    CriteoHttpClient.CriteoHttpClient,
    Effect.flatMap(
      HttpClient.HttpClient,
      (client) =>
        CriteoHttpClient.make({ baseUrl: options.apiUrl, apiVersion: options.apiVersion, retry: options.apiRetry })
          .pipe(
            Effect.provideService(
              HttpClient.HttpClient,
              withAttemptTimeout(client, options.apiTimeout ?? CriteoConfig.defaultApiTimeout)
            )
          )
    )
  )
  return Layer.provideMerge(api, auth)
}

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
      Effect.flatMap((options) =>
        CriteoConfig.validate(options).pipe(
          Effect.catchIf(
            CriteoConfig.isUrlError,
            (error) => Effect.fail(ConfigError.InvalidData([error.option], error.message))
          )
        )
      ),
      Effect.map(make)
    )
  )
