/**
 * The token provider's decisions, apart from its effects: the state one provider keeps for one grant,
 * the transitions that change it (a token installed, an acquisition failed, a token invalidated, the
 * authorization code sent) and `decide`, which answers a caller's intent with Serve, Join, Fail or
 * Start. Pure functions of their arguments (the current instant is one of them): `CriteoAuth` runs them
 * under its lock, and they are tested without Effect's runtime.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import * as AccessToken from "../AccessToken.js"
import * as CriteoAuthError from "../CriteoAuthError.js"
import * as Grant from "../Grant.js"

/**
 * The provider's policy, decoded once from its options.
 *
 * @internal
 */
export interface Policy {
  /** `token` never hands out a token with less left than this (at most a quarter of its lifetime). */
  readonly leadTime: Duration.Duration
  /** The background refresh starts up to this long before the lead time (at most a quarter of a lifetime). */
  readonly jitter: Duration.Duration
  /** How long an invalid_client / invalid_grant is answered from memory. */
  readonly failureCooldownMillis: number
  /** The longest server-demanded wait honoured, and the longest a 429 is answered from memory. */
  readonly maxRateLimitWaitMillis: number
  /** The least time between two background refreshes, whatever the tokens' lifetime. */
  readonly minRefreshIntervalMillis: number
}

/**
 * A failure answered from memory until `untilMillis` (epoch ms).
 *
 * @internal
 */
export interface Failure {
  readonly error: CriteoAuthError.TokenError
  readonly untilMillis: number
}

/**
 * What one provider knows. `W` is the handle callers join while an acquisition is in flight (a
 * `Deferred` in `CriteoAuth`), left abstract so that this module needs no runtime.
 *
 * @internal
 */
export interface State<W> {
  readonly current: AccessToken.AccessToken | undefined
  readonly inflight: W | undefined
  /** The grant the next exchange uses: the configured one, then refresh_token grants as they rotate. */
  readonly grant: Grant.Grant
  /** Set once the authorization code has been sent: it is never sent twice. */
  readonly codeSpent: boolean
  readonly failure: Failure | undefined
  /**
   * The token the last invalidation dropped, until another is installed: the next acquisition must not be
   * served it again by a shared store whose own invalidation failed (Redis down or slow, the entry kept).
   */
  readonly dropped: AccessToken.AccessToken | undefined
}

/** @internal */
export const initial = <W>(grant: Grant.Grant): State<W> => ({
  current: undefined,
  inflight: undefined,
  grant,
  codeSpent: false,
  failure: undefined,
  dropped: undefined
})

// -----------------------------------------------------------------------------
// freshness
// -----------------------------------------------------------------------------

const quarterMillis = (token: AccessToken.AccessToken) => Duration.toMillis(token.expiresIn) / 4

/** The lead time for `token`: the policy's, at most a quarter of its lifetime (so 4 s tokens work too). @internal */
export const leadMillis = (token: AccessToken.AccessToken, policy: Policy): number =>
  Math.min(Duration.toMillis(policy.leadTime), quarterMillis(token))

/** The jitter window for `token`, at most a quarter of its lifetime. @internal */
export const jitterMillis = (token: AccessToken.AccessToken, policy: Policy): number =>
  Math.min(Duration.toMillis(policy.jitter), quarterMillis(token))

/** The instant (epoch ms) from which `token` is no longer handed out: its expiry less the lead time. @internal */
export const freshUntil = (token: AccessToken.AccessToken, policy: Policy): number =>
  token.expiresAt.epochMillis - leadMillis(token, policy)

/** @internal */
export const isFresh = (token: AccessToken.AccessToken, nowMillis: number, policy: Policy): boolean =>
  nowMillis < freshUntil(token, policy)

/**
 * The instant (whole epoch ms) at which the background refresh replaces `token`: its fresh-until
 * instant less `offsetMillis` (a draw in `[0, jitterMillis)`), but never sooner than
 * `minRefreshIntervalMillis` after the previous background refresh started (`lastMillis`), so a token
 * with a tiny lifetime cannot make the refresh loop back to back.
 *
 * @internal
 */
export const refreshAt = (
  token: AccessToken.AccessToken,
  policy: Policy,
  offsetMillis: number,
  lastMillis: number | undefined
): number => {
  // whole milliseconds: clocks count in them, and a fraction left would be a sleep of nothing
  const planned = Math.floor(freshUntil(token, policy) - offsetMillis)
  return lastMillis === undefined ? planned : Math.max(planned, lastMillis + policy.minRefreshIntervalMillis)
}

// -----------------------------------------------------------------------------
// intents and decisions
// -----------------------------------------------------------------------------

/**
 * Why a token is asked for.
 * - `Token`: a caller wants a token that stays valid for the lead time (the cached one if fresh);
 * - `Refresh`: a caller wants a new token whatever the cache holds;
 * - `RefreshAhead`: the background refresh wants `token` replaced, unless something already did.
 *
 * @internal
 */
export type Intent =
  | { readonly _tag: "Token" }
  | { readonly _tag: "Refresh" }
  | { readonly _tag: "RefreshAhead"; readonly token: AccessToken.AccessToken }

/** @internal */
export const Token: Intent = { _tag: "Token" }

/** @internal */
export const Refresh: Intent = { _tag: "Refresh" }

/** @internal */
export const RefreshAhead = (token: AccessToken.AccessToken): Intent => ({ _tag: "RefreshAhead", token })

/**
 * What to do for an intent.
 * - `Serve` the token at once; `Fail` at once (a failure remembered);
 * - `Join` the acquisition in flight;
 * - `Start` an acquisition. `replacing` is the token it is meant to replace (after an invalidation, the
 *   token invalidated): a shared store may hold a token that is fresh and not that one, which then serves
 *   without a request. `background` says whether the background refresh asked.
 *
 * @internal
 */
export type Decision<W> =
  | { readonly _tag: "Serve"; readonly token: AccessToken.AccessToken }
  | { readonly _tag: "Join"; readonly inflight: W }
  | { readonly _tag: "Fail"; readonly error: CriteoAuthError.TokenError }
  | {
    readonly _tag: "Start"
    readonly replacing: AccessToken.AccessToken | undefined
    readonly background: boolean
  }

/** The failure remembered at `nowMillis`, with a 429's wait counted down to what is left. @internal */
export const rememberedFailure = <W>(
  state: State<W>,
  nowMillis: number
): CriteoAuthError.TokenError | undefined => {
  const failure = state.failure
  if (failure === undefined || failure.untilMillis <= nowMillis) return undefined
  if (failure.error._tag === "RateLimitedError") {
    return new CriteoAuthError.RateLimitedError({
      ...failure.error,
      retryAfter: Duration.millis(failure.untilMillis - nowMillis)
    })
  }
  return failure.error
}

/**
 * Answers `intent` at `nowMillis`: join an acquisition in flight; serve the cached token when it is
 * fresh and the intent accepts it; fail with a remembered failure; else start an acquisition.
 *
 * @internal
 */
export const decide = <W>(state: State<W>, intent: Intent, nowMillis: number, policy: Policy): Decision<W> => {
  if (state.inflight !== undefined) return { _tag: "Join", inflight: state.inflight }
  const current = state.current
  if (current !== undefined && intent._tag !== "Refresh") {
    const replaced = intent._tag === "RefreshAhead" && !AccessToken.sameValue(intent.token, current)
    if ((intent._tag === "Token" || replaced) && isFresh(current, nowMillis, policy)) {
      return { _tag: "Serve", token: current }
    }
  }
  const failure = rememberedFailure(state, nowMillis)
  if (failure !== undefined) return { _tag: "Fail", error: failure }
  return {
    _tag: "Start",
    replacing: intent._tag === "RefreshAhead"
      ? intent.token
      : intent._tag === "Refresh"
      ? current ?? state.dropped
      : state.dropped,
    background: intent._tag === "RefreshAhead"
  }
}

// -----------------------------------------------------------------------------
// transitions
// -----------------------------------------------------------------------------

/** An acquisition started: callers join `inflight` until it settles. @internal */
export const started = <W>(state: State<W>, inflight: W): State<W> => ({ ...state, inflight })

/** The authorization code is being sent: never again. @internal */
export const codeSent = <W>(state: State<W>): State<W> => state.codeSpent ? state : { ...state, codeSpent: true }

/**
 * A token is installed (obtained, or found in a shared store): it becomes the current one, the
 * acquisition in flight (if any) is over, a remembered failure is forgotten, and a refresh token that
 * came with it becomes the grant of the next exchange.
 *
 * @internal
 */
export const installed = <W>(state: State<W>, token: AccessToken.AccessToken): State<W> => ({
  current: token,
  inflight: undefined,
  codeSpent: state.codeSpent,
  failure: undefined,
  grant: rotated(state.grant, token.refreshToken),
  dropped: undefined
})

/** `grant` with `refreshToken` as its refresh token, if it has one to rotate. @internal */
export const rotated = (grant: Grant.Grant, refreshToken: Redacted.Redacted<string> | undefined): Grant.Grant =>
  refreshToken === undefined || grant._tag === "ClientCredentials"
    ? grant
    : Grant.refreshToken({ clientId: grant.clientId, clientSecret: grant.clientSecret, refreshToken })

/**
 * How long a failure is answered from memory, if at all: a refused credential for the cooldown, a 429
 * for the wait the server asked but at most `maxRateLimitWaitMillis` (then it is asked again: a 429 asking
 * for 31 years must not block the provider until a restart).
 *
 * @internal
 */
export const cooldownMillis = (error: CriteoAuthError.TokenError, policy: Policy): number | undefined => {
  if (error._tag === "InvalidClientError" || error._tag === "InvalidGrantError") return policy.failureCooldownMillis
  if (error._tag === "RateLimitedError" && error.retryAfter !== undefined) {
    return Math.min(Duration.toMillis(error.retryAfter), policy.maxRateLimitWaitMillis)
  }
  return undefined
}

/** An acquisition failed with `error` at `nowMillis`: it is remembered if it must not be asked again soon. @internal */
export const failed = <W>(
  state: State<W>,
  error: CriteoAuthError.TokenError | undefined,
  nowMillis: number,
  policy: Policy
): State<W> => {
  const cooldown = error === undefined ? undefined : cooldownMillis(error, policy)
  return {
    ...state,
    inflight: undefined,
    failure: error === undefined || cooldown === undefined ? undefined : { error, untilMillis: nowMillis + cooldown }
  }
}

/**
 * Drops `token` if, and only if, it is still the current one (compare-and-swap), so that a late 401 for
 * an old token never discards a fresh one. Answers whether it dropped it.
 *
 * @internal
 */
export const invalidated = <W>(state: State<W>, token: AccessToken.AccessToken): readonly [boolean, State<W>] =>
  state.current !== undefined && AccessToken.sameValue(state.current, token)
    ? [true, { ...state, current: undefined, dropped: token }]
    : [false, state]

/**
 * The grant an acquisition exchanges: a refresh token kept in a shared store supersedes the one the
 * provider holds (another process may have rotated it); an authorization code already sent is never
 * sent again, which fails with `InvalidGrantError` (reason `CodeAlreadyUsed`) when no refresh token came
 * with it.
 *
 * @internal
 */
export const grantFor = <W>(
  state: State<W>,
  storedRefreshToken: Redacted.Redacted<string> | undefined
): Either.Either<Grant.Grant, CriteoAuthError.InvalidGrantError> => {
  const grant = rotated(state.grant, storedRefreshToken)
  if (grant._tag === "AuthorizationCode" && state.codeSpent) {
    return Either.left(
      new CriteoAuthError.InvalidGrantError({
        clientId: grant.clientId,
        grantType: "authorization_code",
        reason: "CodeAlreadyUsed"
      })
    )
  }
  return Either.right(grant)
}
