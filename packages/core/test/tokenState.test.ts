/**
 * The token provider's decisions, without Effect's runtime: plain values in, plain values out.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as AccessToken from "../src/AccessToken.js"
import * as CriteoAuthError from "../src/CriteoAuthError.js"
import * as Grant from "../src/Grant.js"
import * as TokenState from "../src/internal/tokenState.js"

const policy: TokenState.Policy = {
  leadTime: Duration.seconds(20),
  jitter: Duration.seconds(20),
  failureCooldownMillis: 5_000,
  maxRateLimitWaitMillis: 60_000,
  minRefreshIntervalMillis: 1_000
}

const token = (value: string, issuedAtMillis = 0, lifetimeSeconds = 900, refresh?: string) =>
  new AccessToken.AccessToken({
    value: Redacted.make(value),
    tokenType: "Bearer",
    expiresIn: Duration.seconds(lifetimeSeconds),
    issuedAt: DateTime.unsafeMake(issuedAtMillis),
    expiresAt: DateTime.unsafeMake(issuedAtMillis + lifetimeSeconds * 1000),
    ...(refresh === undefined ? {} : { refreshToken: Redacted.make(refresh) })
  })

const secret = Redacted.make("s")
const credentials = Grant.clientCredentials({ clientId: "c", clientSecret: secret })
const code = Grant.authorizationCode({
  clientId: "c",
  clientSecret: secret,
  code: Redacted.make("code"),
  redirectUri: "https://app.example/cb"
})

type W = "inflight"
const empty = TokenState.initial<W>(credentials)
const withToken = (t: AccessToken.AccessToken) => TokenState.installed(empty, t)

describe("tokenState", () => {
  describe("decide", () => {
    it("starts an acquisition when nothing is cached", () => {
      assert.deepStrictEqual(TokenState.decide(empty, TokenState.Token, 0, policy), {
        _tag: "Start",
        replacing: undefined,
        background: false
      })
    })

    it("joins the acquisition in flight, whatever the intent", () => {
      const s = TokenState.started(withToken(token("a")), "inflight" as const)
      for (const intent of [TokenState.Token, TokenState.Refresh, TokenState.RefreshAhead(token("a"))]) {
        assert.deepStrictEqual(TokenState.decide(s, intent, 0, policy), { _tag: "Join", inflight: "inflight" })
      }
    })

    it("serves a fresh token until its expiry less the lead time, then starts", () => {
      const a = token("a")
      const s = withToken(a)
      assert.strictEqual(TokenState.decide(s, TokenState.Token, 879_999, policy)._tag, "Serve")
      assert.strictEqual(TokenState.decide(s, TokenState.Token, 880_000, policy)._tag, "Start")
    })

    it("the lead time is at most a quarter of the lifetime", () => {
      const short = token("a", 0, 4)
      assert.strictEqual(TokenState.freshUntil(short, policy), 3_000)
    })

    it("Refresh starts even with a fresh token, naming the token it replaces", () => {
      const a = token("a")
      const decision = TokenState.decide(withToken(a), TokenState.Refresh, 0, policy)
      assert.strictEqual(decision._tag, "Start")
      if (decision._tag === "Start") {
        assert.strictEqual(decision.replacing, a)
        assert.isFalse(decision.background)
      }
    })

    it("RefreshAhead replaces its token, but serves a fresh token that already replaced it", () => {
      const a = token("a")
      const b = token("b", 100_000)
      const ahead = TokenState.decide(withToken(a), TokenState.RefreshAhead(a), 860_000, policy)
      assert.deepStrictEqual(ahead, { _tag: "Start", replacing: a, background: true })
      const already = TokenState.decide(withToken(b), TokenState.RefreshAhead(a), 860_000, policy)
      assert.deepStrictEqual(already, { _tag: "Serve", token: b })
    })

    it("answers a refused credential from memory for the cooldown", () => {
      const error = new CriteoAuthError.InvalidClientError({ clientId: "c", status: 401 })
      const s = TokenState.failed(TokenState.started(empty, "inflight" as const), error, 1_000, policy)
      assert.isUndefined(s.inflight)
      assert.deepStrictEqual(TokenState.decide(s, TokenState.Token, 5_999, policy), { _tag: "Fail", error })
      assert.strictEqual(TokenState.decide(s, TokenState.Token, 6_000, policy)._tag, "Start")
    })

    it("a remembered 429 counts its wait down", () => {
      const error = new CriteoAuthError.RateLimitedError({
        endpoint: "token",
        clientId: "c",
        retryAfter: Duration.seconds(10)
      })
      const s = TokenState.failed(empty, error, 0, policy)
      const decision = TokenState.decide(s, TokenState.Token, 4_000, policy)
      assert.strictEqual(decision._tag, "Fail")
      if (decision._tag === "Fail" && decision.error._tag === "RateLimitedError") {
        assert.strictEqual(Duration.toMillis(decision.error.retryAfter!), 6_000)
      }
    })

    it("a transient failure is not remembered", () => {
      const error = new CriteoAuthError.TransportError({ endpoint: "token", reason: "Transport", detail: "reset" })
      const s = TokenState.failed(empty, error, 0, policy)
      assert.isUndefined(s.failure)
      assert.strictEqual(TokenState.decide(s, TokenState.Token, 1, policy)._tag, "Start")
    })
  })

  describe("transitions", () => {
    it("installed: the token becomes current, a failure is forgotten, a refresh token rotates the grant", () => {
      const refused = TokenState.failed(
        TokenState.initial<W>(code),
        new CriteoAuthError.InvalidGrantError({ clientId: "c", status: 400, grantType: "authorization_code" }),
        0,
        policy
      )
      const s = TokenState.installed(refused, token("a", 0, 900, "r1"))
      assert.isUndefined(s.failure)
      assert.strictEqual(s.grant._tag, "RefreshToken")
      if (s.grant._tag === "RefreshToken") assert.strictEqual(Redacted.value(s.grant.refreshToken), "r1")
      // client credentials never rotate
      assert.strictEqual(TokenState.installed(empty, token("a", 0, 900, "r1")).grant, credentials)
    })

    it("invalidated is a compare-and-swap on the token's value", () => {
      const s = withToken(token("a"))
      const [stale, same] = TokenState.invalidated(s, token("old"))
      assert.isFalse(stale)
      assert.strictEqual(same, s)
      const [dropped, next] = TokenState.invalidated(s, token("a"))
      assert.isTrue(dropped)
      assert.isUndefined(next.current)
    })

    it("the acquisition after an invalidation replaces the token dropped (a store must not serve it back)", () => {
      const [, next] = TokenState.invalidated(withToken(token("a")), token("a"))
      for (const intent of [TokenState.Token, TokenState.Refresh]) {
        const decision = TokenState.decide(next, intent, 0, policy)
        assert.strictEqual(decision._tag, "Start")
        if (decision._tag === "Start") assert.strictEqual(Redacted.value(decision.replacing!.value), "a")
      }
      // forgotten once a token is installed
      assert.isUndefined(TokenState.installed(next, token("b")).dropped)
    })

    it("an authorization code is exchanged once; afterwards its refresh token, or a refusal with its reason", () => {
      const fresh = TokenState.initial<W>(code)
      assert.strictEqual(Either.getOrThrow(TokenState.grantFor(fresh, undefined)), code)
      const spent = TokenState.codeSent(fresh)
      const refused = TokenState.grantFor(spent, undefined)
      assert.isTrue(Either.isLeft(refused))
      if (Either.isLeft(refused)) {
        assert.strictEqual(refused.left._tag, "InvalidGrantError")
        assert.strictEqual(refused.left.reason, "CodeAlreadyUsed")
        assert.isUndefined(refused.left.status)
      }
      // a refresh token kept in a store supersedes the spent code (and the grant's own refresh token)
      const stored = Either.getOrThrow(TokenState.grantFor(spent, Redacted.make("stored")))
      assert.strictEqual(stored._tag === "RefreshToken" && Redacted.value(stored.refreshToken), "stored")
    })
  })

  describe("refreshAt", () => {
    it("is the fresh-until instant less the jitter draw, in whole milliseconds", () => {
      assert.strictEqual(TokenState.refreshAt(token("a"), policy, 10_000.5, undefined), 869_999)
    })

    it("is never sooner than the minimum interval after the previous background refresh", () => {
      const tiny = token("a", 5_000, 0.001)
      assert.strictEqual(TokenState.refreshAt(tiny, policy, 0, undefined), 5_000)
      assert.strictEqual(TokenState.refreshAt(tiny, policy, 0, 5_000), 6_000)
    })
  })
})
