import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as CriteoAccounts from "../src/CriteoAccounts.js"
import * as Grant from "../src/Grant.js"
import * as TokenStore from "../src/TokenStore.js"
import { makeFakeClient, settle } from "./utils.js"
import { makeVirtualClock } from "./virtualClock.js"

const Body = Schema.Struct({ data: Schema.Array(Schema.Struct({ id: Schema.String })) })

const clientId = "agency-app"
const clientSecret = Redacted.make("agency-secret")

/**
 * A Criteo with many consents, in memory: per-consent authorization codes (`code-<key>`, once),
 * refresh-token chains (`rt-<key>-<n>`; each rotation revokes the previous one), access tokens
 * `at-<key>-<n>` living `lifetime` seconds, `/advertisers/me` answering the consent's advertiser, and
 * revocation per consent (its refresh token invalid_grant, its API calls 403).
 */
const makeConsentCriteo = (options: { readonly lifetime?: number; readonly latency?: Duration.DurationInput } = {}) =>
  Effect.gen(function*() {
    const lifetime = options.lifetime ?? 900
    const chains = new Map<string, number>()
    const usedCodes = new Set<string>()
    const revoked = new Set<string>()
    const issued = new Map<string, { key: string; expiresAt: number }>()
    const tokenRequests = new Map<string, number>()
    const stats = { tokenRequests: 0, invalidGrants: 0 }
    const invalidGrant = { status: 400, body: { error: "invalid_grant", error_description: "refresh token refused" } }

    const issue = (key: string, now: number) => {
      const n = (chains.get(key) ?? 0) + 1
      chains.set(key, n)
      const access = `at-${key}-${n}`
      issued.set(access, { key, expiresAt: now + lifetime * 1000 })
      return {
        status: 200,
        body: { access_token: access, token_type: "Bearer", expires_in: lifetime, refresh_token: `rt-${key}-${n}` }
      }
    }

    const fake = yield* makeFakeClient((request) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (request.path === "/oauth2/token") {
          if (options.latency !== undefined) yield* Effect.sleep(options.latency)
          stats.tokenRequests++
          const form = request.form
          if (form.get("client_id") !== clientId || form.get("client_secret") !== Redacted.value(clientSecret)) {
            return { status: 401, body: { error: "invalid_client" } }
          }
          if (form.get("grant_type") === "authorization_code") {
            const code = form.get("code") ?? ""
            const key = code.replace(/^code-/, "")
            if (!code.startsWith("code-") || usedCodes.has(code) || revoked.has(key)) {
              stats.invalidGrants++
              return invalidGrant
            }
            usedCodes.add(code)
            tokenRequests.set(key, (tokenRequests.get(key) ?? 0) + 1)
            return issue(key, now)
          }
          const match = /^rt-(.+)-(\d+)$/.exec(form.get("refresh_token") ?? "")
          if (match === null) return invalidGrant
          const [, key, n] = match
          tokenRequests.set(key, (tokenRequests.get(key) ?? 0) + 1)
          // only the latest refresh token of the chain works (rotation revokes the previous one)
          if (revoked.has(key) || Number(n) !== (chains.get(key) ?? 0)) {
            stats.invalidGrants++
            return invalidGrant
          }
          return issue(key, now)
        }
        const token = (request.headers["authorization"] ?? "").replace(/^Bearer /, "")
        const known = issued.get(token)
        if (known === undefined || known.expiresAt <= now) {
          return { status: 401, body: { errors: [{ code: "authorization-token-expired" }] } }
        }
        if (revoked.has(known.key)) return { status: 403, body: { errors: [{ code: "consent-revoked" }] } }
        return { status: 200, body: { data: [{ id: `adv-${known.key}`, type: "Advertiser" }] } }
      })
    )
    return { ...fake, stats, tokenRequests, revoked, chains }
  })

/** The application's database: every key has a consent whose first refresh token is `rt-<key>-0`. */
const lookup = (key: string) =>
  key.startsWith("unknown")
    ? Effect.fail({ _tag: "NoSuchAccount" as const })
    : Effect.succeed(Grant.refreshToken({ clientId, clientSecret, refreshToken: Redacted.make(`rt-${key}-0`) }))

const setUp = (
  options: Partial<CriteoAccounts.Options> & { readonly lifetime?: number; readonly latency?: Duration.DurationInput } =
    {}
) =>
  Effect.gen(function*() {
    const criteo = yield* makeConsentCriteo(options)
    const store = options.tokenStore ?? (yield* TokenStore.makeMemory)
    const accounts = yield* CriteoAccounts.make({
      lookup,
      ...options,
      tokenStore: store,
      tokenUrl: "https://api.criteo.test/oauth2/token",
      client: { baseUrl: "https://api.criteo.test" }
    }).pipe(Effect.provide(criteo.layer))
    return { criteo, accounts, store }
  })

const keys = (n: number, prefix = "adv") => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

describe("CriteoAccounts", () => {
  it.live("100 keys x 100 concurrent first callers: exactly 100 token requests, each key its own token", () => {
    const virtual = makeVirtualClock()
    return Effect.gen(function*() {
      const { accounts, criteo, store } = yield* setUp({ latency: "50 millis" })
      const calls = keys(100).flatMap((key) => Array.from({ length: 100 }, () => key))
      const fiber = yield* Effect.fork(
        Effect.forEach(calls, (key) => Effect.map(accounts.token(key), (token) => [key, token] as const), {
          concurrency: "unbounded"
        })
      )
      yield* virtual.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.length, 10_000)
      assert.strictEqual(criteo.stats.tokenRequests, 100)
      for (const [key, token] of results) assert.strictEqual(Redacted.value(token.value), `at-${key}-1`)
      // the rotated refresh token of every key is in the store
      const entry = Option.getOrThrow(yield* store.get("adv-42"))
      assert.strictEqual(Redacted.value(entry.refreshToken!), "rt-adv-42-1")
      assert.strictEqual((yield* accounts.activeKeys).length, 100)
    }).pipe(Effect.withClock(virtual.clock), Effect.scoped)
  }, 120_000)

  it.live("idle keys are released (their background refresh stops); a used key stays", () => {
    const virtual = makeVirtualClock()
    return Effect.gen(function*() {
      const { accounts, criteo } = yield* setUp({ idleTimeToLive: "30 minutes" })
      yield* Effect.forEach(keys(10), accounts.token, { concurrency: "unbounded" })
      assert.strictEqual(criteo.stats.tokenRequests, 10)
      // keep adv-0 in use every 5 minutes for two hours; the others are never used again
      for (let minute = 5; minute <= 120; minute += 5) {
        yield* virtual.adjust("5 minutes")
        yield* accounts.token("adv-0")
      }
      assert.deepStrictEqual(yield* accounts.activeKeys, ["adv-0"])
      const dormant = criteo.tokenRequests.get("adv-5")!
      // at most the refreshes within the idle time (30 min of 15 min tokens), none after
      assert.isAtMost(dormant, 3)
      yield* virtual.adjust("6 hours")
      assert.strictEqual(criteo.tokenRequests.get("adv-5"), dormant)
      // a released key comes back on use, continuing its chain from the store (no invalid_grant)
      const again = yield* accounts.token("adv-5")
      assert.strictEqual(Redacted.value(again.value), `at-adv-5-${dormant + 1}`)
      assert.strictEqual(criteo.stats.invalidGrants, 0)
    }).pipe(Effect.withClock(virtual.clock), Effect.scoped)
  }, 120_000)

  it.scoped("a revoked consent fails alone, with ConsentRevokedError naming its key", () =>
    Effect.gen(function*() {
      const { accounts, criteo } = yield* setUp()
      yield* Effect.forEach(keys(3), accounts.token)
      criteo.revoked.add("adv-1")
      // the API: 403 for the revoked key only
      const forbidden = yield* Effect.flip(accounts.client("adv-1").get("/2026-07/advertisers/me"))
      assert.isTrue(CriteoAccounts.isConsentRevokedError(forbidden))
      if (CriteoAccounts.isConsentRevokedError(forbidden)) {
        assert.strictEqual(forbidden.key, "adv-1")
        assert.strictEqual(forbidden.via, "forbidden")
      }
      const ok = yield* accounts.client("adv-2").get("/2026-07/advertisers/me").pipe(
        Effect.flatMap((response) => response.json)
      )
      assert.deepStrictEqual(ok, { data: [{ id: "adv-adv-2", type: "Advertiser" }] })
      // the token endpoint: invalid_grant for the revoked key's refresh token, once its token is due
      yield* TestClock.adjust("16 minutes")
      yield* settle
      const error = yield* Effect.flip(accounts.token("adv-1"))
      assert.strictEqual(error._tag, "ConsentRevokedError")
      if (error._tag === "ConsentRevokedError") {
        assert.strictEqual(error.key, "adv-1")
        assert.strictEqual(error.via, "invalid_grant")
        assert.include(error.message, "adv-1")
      }
      for (const key of ["adv-0", "adv-2"]) {
        const token = yield* accounts.token(key)
        assert.match(Redacted.value(token.value), new RegExp(`^at-${key}-`))
      }
    }))

  it.scoped("a lookup that fails is an AccountLookupError for that key; no token request", () =>
    Effect.gen(function*() {
      const { accounts, criteo } = yield* setUp()
      const error = yield* Effect.flip(accounts.token("unknown-1"))
      assert.strictEqual(error._tag, "AccountLookupError")
      assert.deepInclude(error, { key: "unknown-1", detail: "the lookup failed with NoSuchAccount" })
      assert.strictEqual(criteo.stats.tokenRequests, 0)
    }))

  it.scoped("connect exchanges the code once and stores the refresh token; another process then uses it", () =>
    Effect.gen(function*() {
      const store = yield* TokenStore.makeMemory
      const first = yield* setUp({ tokenStore: store })
      const token = yield* first.accounts.connect("new-1", Redacted.make("code-new-1"), "https://app.example/cb")
      assert.strictEqual(Redacted.value(token.value), "at-new-1-1")
      const sent = (yield* first.criteo.requests)[0].form
      assert.strictEqual(sent.get("grant_type"), "authorization_code")
      assert.strictEqual(sent.get("redirect_uri"), "https://app.example/cb")
      assert.strictEqual(Redacted.value(Option.getOrThrow(yield* store.get("new-1")).refreshToken!), "rt-new-1-1")
      // a code works once
      const again = yield* Effect.flip(
        first.accounts.connect("new-1", Redacted.make("code-new-1"), "https://app.example/cb")
      )
      assert.strictEqual(again._tag, "ConsentRevokedError")
      // the same store in another "process", on the same Criteo: the chain continues from the store
      const other = yield* CriteoAccounts.make({
        lookup,
        tokenStore: store,
        tokenUrl: "https://api.criteo.test/oauth2/token"
      })
        .pipe(Effect.provide(first.criteo.layer))
      const shared = yield* other.token("new-1")
      assert.match(Redacted.value(shared.value), /^at-new-1-/)
      assert.strictEqual(first.criteo.stats.invalidGrants, 1) // the second use of the code only
    }))

  it.scoped("disconnect forgets the account: its entry is removed and its provider released", () =>
    Effect.gen(function*() {
      const { accounts, store } = yield* setUp()
      yield* accounts.token("adv-0")
      assert.isTrue(Option.isSome(yield* store.get("adv-0")))
      yield* accounts.disconnect("adv-0")
      assert.isTrue(Option.isNone(yield* store.get("adv-0")))
      assert.deepStrictEqual(yield* accounts.activeKeys, [])
    }))

  // On a virtual clock (see virtualClock.ts): the TestClock's check that all fibers are suspended before
  // each wake-up makes the ~250,000 wake-ups of this day take tens of minutes.
  it.live(
    "a simulated day: 1,000 accounts, 50 active every 10 minutes: ~96 token requests per active key, none for dormant keys after their idle time",
    () => {
      const virtual = makeVirtualClock(Date.UTC(2026, 10, 30))
      return Effect.gen(function*() {
        const { accounts, criteo } = yield* setUp({ idleTimeToLive: "30 minutes" })
        const all = keys(1000)
        const active = all.slice(0, 50)
        const dormant = all.slice(50)
        yield* Effect.forEach(all, accounts.token, { concurrency: 100, discard: true })
        let dormantAfterIdle = -1
        for (let minute = 10; minute <= 24 * 60; minute += 10) {
          yield* virtual.adjust("10 minutes")
          yield* Effect.forEach(active, accounts.token, { concurrency: "unbounded", discard: true })
          if (minute === 60) {
            dormantAfterIdle = dormant.reduce((sum, key) => sum + (criteo.tokenRequests.get(key) ?? 0), 0)
          }
        }
        const activeRequests = active.map((key) => criteo.tokenRequests.get(key) ?? 0)
        const dormantRequests = dormant.reduce((sum, key) => sum + (criteo.tokenRequests.get(key) ?? 0), 0)
        const activeTotal = activeRequests.reduce((a, b) => a + b, 0)
        // a 900 s token refreshed on average 30 s before expiry: 86,400 / 870 = 99.3 a day, plus the first
        yield* Effect.log(
          `simulated day: ${activeTotal} token requests for 50 active keys (${activeTotal / 50} each, ` +
            `min ${Math.min(...activeRequests)}, max ${Math.max(...activeRequests)}); ` +
            `${dormantRequests} for 950 dormant keys (all in their first hour: ${dormantAfterIdle}, none after)`
        )
        for (const n of activeRequests) assert.isTrue(n >= 96 && n <= 102, `an active key made ${n} token requests`)
        assert.strictEqual(dormantRequests, dormantAfterIdle)
        assert.isAtMost(dormantRequests, 950 * 3)
        assert.strictEqual(criteo.stats.invalidGrants, 0)
        assert.strictEqual((yield* accounts.activeKeys).length, 50)
      }).pipe(Effect.withClock(virtual.clock), Effect.scoped)
    },
    600_000
  )

  it.scoped("client(key): requests carry the key's token", () =>
    Effect.gen(function*() {
      const { accounts } = yield* setUp()
      const [a, b] = yield* Effect.all([
        accounts.client("adv-7").get("/2026-07/advertisers/me").pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(
          Body
        ))),
        accounts.client("adv-8").get("/2026-07/advertisers/me").pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(
          Body
        )))
      ], { concurrency: 2 })
      assert.strictEqual(a.data[0].id, "adv-adv-7")
      assert.strictEqual(b.data[0].id, "adv-adv-8")
    }))
})
