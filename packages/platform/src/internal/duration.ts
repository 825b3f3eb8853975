import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const units: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days
}

const COMPACT = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/

/**
 * Parses a duration as people write it in environment variables: `500ms`, `30s`, `1.5s`, `2m`, `1h`,
 * `1d`, or Effect's own `"30 seconds"` form. Negative, infinite and unit-less values are refused: a
 * bare `30` could mean seconds or milliseconds.
 *
 * @internal
 */
export const parse = (input: string): Option.Option<Duration.Duration> => {
  const text = input.trim().toLowerCase()
  const compact = COMPACT.exec(text)
  if (compact !== null) return Option.some(units[compact[2]](Number(compact[1])))
  if (!/^\d+(?:\.\d+)?\s+[a-z]+$/.test(text)) return Option.none()
  return Option.filter(Duration.decodeUnknown(text), Duration.isFinite)
}

/** @internal */
export const examples = "500ms, 30s, 2m, 1h or \"30 seconds\""
