/**
 * A bearer token issued by Criteo's token endpoint, with the instants that bound its life.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { fnv1a64 } from "./internal/fingerprint.js"

/**
 * @since 0.1.0
 * @category models
 */
export class AccessToken extends Schema.Class<AccessToken>("@criteo-auth/core/AccessToken")({
  /** The bearer token itself. Only ever unwrapped to build an `Authorization` header. */
  value: Schema.RedactedFromSelf(Schema.String),
  /** The token type, as the server spelled it (Criteo says `Bearer`). */
  tokenType: Schema.String,
  /** The lifetime the server announced (`expires_in`). */
  expiresIn: Schema.DurationFromSelf,
  /** When the request that obtained the token was sent, from the `Clock`. */
  issuedAt: Schema.DateTimeUtcFromSelf,
  /** `issuedAt + expiresIn`: the token must not be sent after this instant. */
  expiresAt: Schema.DateTimeUtcFromSelf,
  /** The refresh token that came with it, if any (authorization_code and refresh_token grants). */
  refreshToken: Schema.optional(Schema.RedactedFromSelf(Schema.String))
}) {
  /**
   * A short, non-reversible identifier of the token, safe to show in logs and errors.
   *
   * @since 0.1.0
   */
  get fingerprint(): string {
    return fingerprint(this.value)
  }
}

/**
 * A short, non-reversible identifier of a secret value (`tok_` and 12 hex digits of a 64-bit FNV-1a
 * hash): enough to tell two tokens apart in a log, useless to an attacker.
 *
 * @since 0.1.0
 * @category fingerprints
 */
export const fingerprint = (value: Redacted.Redacted<string>): string =>
  `tok_${fnv1a64(Redacted.value(value)).slice(0, 12)}`

/**
 * The time left before the token expires, at `now` (zero once expired).
 *
 * @since 0.1.0
 * @category lifetime
 */
export const remainingAt = (token: AccessToken, now: DateTime.Utc): Duration.Duration => {
  const millis = DateTime.toEpochMillis(token.expiresAt) - DateTime.toEpochMillis(now)
  return millis > 0 ? Duration.millis(millis) : Duration.zero
}

/**
 * Whether the token is still valid at `now` for at least `margin`.
 *
 * @since 0.1.0
 * @category lifetime
 */
export const isValidAt = (token: AccessToken, now: DateTime.Utc, margin: Duration.DurationInput = 0): boolean =>
  DateTime.toEpochMillis(token.expiresAt) - DateTime.toEpochMillis(now) > Duration.toMillis(margin)

/**
 * Whether the two tokens carry the same bearer value.
 *
 * @since 0.1.0
 * @category equivalence
 */
export const sameValue = (self: AccessToken, that: AccessToken): boolean =>
  self === that || Redacted.value(self.value) === Redacted.value(that.value)
