import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Waits this long or longer are logged as warnings (someone is waiting); shorter ones at debug.
 *
 * @internal
 */
export const longWait: Duration.Duration = Duration.seconds(5)

/**
 * Logs `message` at Warning when `wait` is at least `longWait`, else at Debug.
 *
 * @internal
 */
export const logWait = (wait: Duration.Duration, message: string): Effect.Effect<void> =>
  Duration.greaterThanOrEqualTo(wait, longWait) ? Effect.logWarning(message) : Effect.logDebug(message)

/**
 * The wording of a wait: `in 20s (at 2026-01-01T00:00:20.000Z)`, from the clock's now.
 *
 * @internal
 */
export const describeWait = (
  wait: Duration.Duration
): Effect.Effect<{ readonly text: string; readonly until: string }> =>
  Effect.map(DateTime.now, (now) => {
    const until = DateTime.formatIso(DateTime.addDuration(now, wait))
    return { text: `in ${Duration.format(wait)} (at ${until})`, until }
  })
