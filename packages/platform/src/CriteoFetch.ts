/**
 * `CriteoAuth` and `CriteoHttpClient` over the `fetch` API (`FetchHttpClient`): browsers, Bun, Deno,
 * edge workers, or Node.js without undici as a direct dependency.
 *
 * Redirects are never followed (`redirect: "manual"`, as undici does by default): a redirected token
 * request would otherwise send the client secret again to wherever `Location` points, possibly over
 * plain http. Each API attempt is bounded by `apiTimeout` up to the response headers with one timer on
 * the request's abort signal (no Effect fiber per request); token requests keep `TokenEndpoint`'s
 * timeout.
 *
 * @since 0.1.0
 */
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as CriteoConfig from "./CriteoConfig.js"
import type * as CriteoLayer from "./CriteoLayer.js"
import * as internal from "./internal/layers.js"

const once = { once: true } as const

/**
 * `fetch` that never follows redirects and aborts a request without response headers after
 * `timeout` (an abort of the caller's signal still aborts it, body included).
 *
 * What it costs is one `AbortController` per API attempt (the caller's signal cannot be aborted from
 * here: it belongs to `HttpClient`), tied to the caller's, and one timer: measured alone about 1 µs of
 * CPU on Node.js 24 and 6 µs on Node.js 20 (where building an `AbortSignal` takes 7–19 µs); measured in
 * the whole client, 20–50 µs per request over `FetchHttpClient` (the root README's bench section).
 * Nothing cheaper bounds a `fetch` on every runtime: on Node.js, `CriteoNode` bounds attempts in undici.
 */
const boundedFetch = (
  timeout: Duration.Duration | undefined,
  tokenUrl: string = TokenEndpoint.defaultTokenUrl
): typeof globalThis.fetch => {
  const millis = timeout === undefined ? undefined : Duration.toMillis(timeout)
  const description = timeout === undefined ? "" : `no response within ${Duration.format(timeout)}`
  return (input, init) => {
    if (millis === undefined || (input instanceof URL ? input.href : String(input)).startsWith(tokenUrl)) {
      // token requests keep TokenEndpoint's own timeout
      return globalThis.fetch(input, { ...init, redirect: "manual" })
    }
    const controller = new AbortController()
    const caller = init?.signal
    if (caller != null) {
      if (caller.aborted) controller.abort(caller.reason)
      else caller.addEventListener("abort", () => controller.abort(caller.reason), once)
    }
    const timer = setTimeout(() => controller.abort(new DOMException(description, "TimeoutError")), millis)
    return globalThis.fetch(input, { ...init, redirect: "manual", signal: controller.signal }).finally(() =>
      clearTimeout(timer)
    )
  }
}

const layerFetch = (timeout?: Duration.Duration, tokenUrl?: string): Layer.Layer<HttpClient.HttpClient> =>
  FetchHttpClient.layer.pipe(Layer.provide(Layer.succeed(FetchHttpClient.Fetch, boundedFetch(timeout, tokenUrl))))

/**
 * The fetch `HttpClient` with redirects disabled (the `Fetch` it calls sets `redirect: "manual"`
 * whatever `RequestInit` the caller provides; an application that provides its own
 * `FetchHttpClient.Fetch` takes that over).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = layerFetch()

/** The client of the layers: API attempts bounded by the fetch timer, token requests by core. */
const onFetch = (options: CriteoConfig.Options) => {
  const timeout = Duration.decode(options.apiTimeout ?? CriteoConfig.defaultApiTimeout)
  return internal.services(options, "transport").pipe(Layer.provide(layerFetch(timeout, options.tokenUrl)))
}

/**
 * From explicit options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: CriteoConfig.Options
) => Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError> = internal.fromOptions(onFetch)

/**
 * From configuration: by default the `CRITEO_*` environment variables (see `CriteoConfig.config`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<CriteoConfig.Options>
) => Layer.Layer<CriteoLayer.Services, ConfigError.ConfigError> = internal.fromConfig(onFetch)
