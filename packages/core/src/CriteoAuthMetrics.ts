/**
 * The metrics criteo-auth records, for an application to export with its own metrics layer.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/** A counter that only ever goes up (every counter here: exporters read it as a monotonic total). */
const counter = (name: string, description: string): Metric.Metric.Counter<number> =>
  Metric.counter(name, { description, incremental: true })

/**
 * Token requests made, tagged `outcome` (`success` or the error's `_tag`) and `grant_type`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequests: Metric.Metric.Counter<number> = counter(
  "criteo_auth_token_requests_total",
  "Token requests made to the Criteo token endpoint, by outcome and grant type"
)

/**
 * The latency of token requests, tagged `outcome`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const tokenRequestDuration = Metric.timerWithBoundaries(
  "criteo_auth_token_request_duration",
  [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000],
  "The latency of token requests, in milliseconds"
)

/**
 * API requests replayed with a new token after a 401.
 *
 * @since 0.1.0
 * @category metrics
 */
export const unauthorizedReplays: Metric.Metric.Counter<number> = counter(
  "criteo_auth_unauthorized_replays_total",
  "API requests replayed once with a new token after a 401"
)

/**
 * Background refreshes, tagged `outcome`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const backgroundRefreshes: Metric.Metric.Counter<number> = counter(
  "criteo_auth_background_refreshes_total",
  "Scheduled refreshes ahead of expiry, by outcome"
)

/**
 * Token-store operations that failed, tagged `operation` (`get`, `compareAndSet`, ...): each time, the
 * provider carried on without the store (callers are served; tokens are not shared meanwhile).
 *
 * @since 0.2.0
 * @category metrics
 */
export const storeDegraded: Metric.Metric.Counter<number> = counter(
  "criteo_auth_store_degraded_total",
  "Token-store operations that failed, after which the provider carried on without the store"
)

/**
 * API responses that announced the deprecation of their API version (`Deprecation` or `Sunset`
 * header), tagged `version`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const deprecatedResponses: Metric.Metric.Counter<number> = counter(
  "criteo_auth_api_deprecated_responses_total",
  "API responses whose Deprecation or Sunset header announces the end of their API version"
)

/**
 * API retries (5xx, 429, network failures), tagged `reason`.
 *
 * @since 0.2.0
 * @category metrics
 */
export const apiRetries: Metric.Metric.Counter<number> = counter(
  "criteo_auth_api_retries_total",
  "API requests sent again after a 5xx, a 429 or a network failure, by reason"
)
