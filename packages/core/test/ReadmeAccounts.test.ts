/**
 * The README's "Many accounts" example, run against a fake Criteo: if this breaks, the README is wrong.
 * The text between the markers must also be the README's, character for character (checked below).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CriteoAccounts, CriteoConsent, Grant, TokenStore } from "../src/index.js"
import { makeFakeClient } from "./utils.js"

// --- README accounts: begin ---
const app = { clientId: "agency-app", clientSecret: Redacted.make("agency-secret") }

// 1. send the person who manages an advertiser to Criteo's consent page
const startConsent = CriteoConsent.start({
  clientId: app.clientId,
  redirectUri: "https://agency.example.com/criteo/callback"
  // pkce: true, when PKCE is enabled for the app
})

// 2. when Criteo redirects back: check the state, exchange the code, store the refresh token
const finishConsent = (account: string, request: CriteoConsent.ConsentRequest, redirectedUrl: string) =>
  Effect.gen(function*() {
    const accounts = yield* CriteoAccounts.CriteoAccounts
    const { code } = yield* CriteoConsent.callback(redirectedUrl, request)
    yield* accounts.connect(account, code, request.redirectUri, { codeVerifier: request.codeVerifier })
  })

// 3. then, in any process sharing the store: a token, or an API client, per account
const advertiserOf = (account: string) =>
  Effect.gen(function*() {
    const accounts = yield* CriteoAccounts.CriteoAccounts
    const response = yield* accounts.client(account).get("/advertisers/me")
    return yield* response.json
  }).pipe(
    Effect.catchIf(CriteoAccounts.isConsentRevokedError, (error) => Effect.fail(`ask ${error.key} to consent again`))
  )

const AccountsLive = CriteoAccounts.layerWithTokenStore({
  // the app's credentials for any account; the store holds each account's refresh token
  lookup: (_account) => Effect.succeed(Grant.clientCredentials(app)),
  idleTimeToLive: "30 minutes"
})
// AccountsLive.pipe(Layer.provide(TokenStore.layerMemory)), or a shared store:
// CriteoFileStore.layer({ secret }) or a Redis store, from @criteo-auth/platform
// --- README accounts: end ---

describe("README: many accounts", () => {
  it("the README shows this example as it is", () => {
    const source = Fs.readFileSync(import.meta.filename, "utf8")
    const readme = Fs.readFileSync(Path.resolve(import.meta.dirname, "../../../README.md"), "utf8")
    const example = source.split("// --- README accounts: begin ---\n")[1].split("// --- README accounts: end ---")[0]
    assert.include(readme, example)
  })

  it.scoped("connect an account through its consent, then call the API as that account", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeClient((request) =>
        Effect.succeed(
          request.path === "/oauth2/token"
            ? {
              status: 200,
              body: { access_token: "at-1", token_type: "Bearer", expires_in: 900, refresh_token: "rt-1" }
            }
            : { status: 200, body: { data: [{ id: "adv-1", type: "Advertiser" }] } }
        )
      )
      const store = yield* TokenStore.makeMemory
      const accounts = yield* CriteoAccounts.make({
        ...({ lookup: (_account: string) => Effect.succeed(Grant.clientCredentials(app)) }),
        tokenStore: store
      }).pipe(Effect.provide(fake.layer))
      const run = <A, E>(effect: Effect.Effect<A, E, CriteoAccounts.CriteoAccounts>): Effect.Effect<A, E> =>
        Effect.provideService(effect, CriteoAccounts.CriteoAccounts, accounts)

      const request = yield* startConsent
      assert.isTrue(
        request.url.startsWith("https://consent.criteo.com/request?response_type=code&client_id=agency-app")
      )
      yield* run(finishConsent("acme", request, `${request.redirectUri}?code=the-code&state=${request.state}`))
      assert.strictEqual(
        Redacted.value(
          (yield* store.get("acme")).pipe((o) => o._tag === "Some" ? o.value.refreshToken! : Redacted.make(""))
        ),
        "rt-1"
      )
      const me = yield* run(advertiserOf("acme"))
      assert.deepStrictEqual(me, { data: [{ id: "adv-1", type: "Advertiser" }] })
      // one token request: the code exchange; the API call used the stored token
      const tokenRequests = (yield* fake.requests).filter((r) => r.path === "/oauth2/token")
      assert.strictEqual(tokenRequests.length, 1)
      assert.strictEqual(tokenRequests[0].form.get("grant_type"), "authorization_code")
      // once the stored token is spent, the account's refresh token (not client_credentials) gets the next one
      yield* accounts.invalidate("acme", Option.getOrThrow(yield* store.get("acme")).accessToken!)
      yield* run(advertiserOf("acme"))
      const next = (yield* fake.requests).filter((r) => r.path === "/oauth2/token")[1]
      assert.strictEqual(next.form.get("grant_type"), "refresh_token")
      assert.strictEqual(next.form.get("refresh_token"), "rt-1")
      // a forged redirect is refused
      const forged = yield* Effect.flip(
        run(finishConsent("acme", request, `${request.redirectUri}?code=x&state=forged`))
      )
      assert.strictEqual(forged._tag, "ConsentError")
      void AccountsLive
    }))
})
