import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/**
 * Exponential backoff from `base`, doubling, each delay capped at `max`, jittered (x0.8 to x1.2), for
 * at most `attempts` attempts in all (so `attempts - 1` recurrences). The output pairs the schedule's
 * state with its input `I`, so callers can stretch a delay from what failed (a `Retry-After`).
 *
 * @internal
 */
export const backoff = <I>(options: {
  readonly base: Duration.Duration
  readonly max: Duration.Duration
  readonly attempts: number
}): Schedule.Schedule<[[Duration.Duration, number], I], I> =>
  Schedule.exponential(options.base, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, options.max)),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, options.attempts - 1))),
    Schedule.intersect(Schedule.identity<I>())
  )
