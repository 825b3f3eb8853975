import type * as Headers from "@effect/platform/Headers"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** Beyond this, `x-ratelimit-reset` is an epoch instant in seconds; below it, a number of seconds to wait. */
const EPOCH_THRESHOLD = 1_000_000_000

const parseNumber = (value: string | undefined): Option.Option<number> => {
  if (value === undefined) return Option.none()
  const trimmed = value.trim()
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return Option.none()
  const n = Number(trimmed)
  return Number.isFinite(n) ? Option.some(n) : Option.none()
}

/**
 * How long the server asks the client to wait, from `Retry-After` (seconds or an HTTP date) or
 * Criteo's `x-ratelimit-reset` (epoch seconds), whichever says more. `None` when neither is usable.
 *
 * @internal
 */
export const retryAfter = (headers: Headers.Headers, now: DateTime.Utc): Option.Option<Duration.Duration> => {
  const nowMillis = DateTime.toEpochMillis(now)
  const candidates: Array<number> = []
  const retryAfterHeader = headers["retry-after"]
  const seconds = parseNumber(retryAfterHeader)
  if (Option.isSome(seconds)) {
    candidates.push(seconds.value * 1000)
  } else if (retryAfterHeader !== undefined) {
    // an HTTP date (RFC 9110 §10.2.3); DateTime.make would read it as a local time
    const date = Date.parse(retryAfterHeader)
    if (Number.isFinite(date)) candidates.push(date - nowMillis)
  }
  const reset = parseNumber(headers["x-ratelimit-reset"])
  if (Option.isSome(reset)) {
    candidates.push(reset.value >= EPOCH_THRESHOLD ? reset.value * 1000 - nowMillis : reset.value * 1000)
  }
  if (candidates.length === 0) return Option.none()
  return Option.some(Duration.millis(Math.max(0, Math.ceil(Math.max(...candidates)))))
}

/** @internal */
export const limit = (headers: Headers.Headers): Option.Option<number> => parseNumber(headers["x-ratelimit-limit"])
