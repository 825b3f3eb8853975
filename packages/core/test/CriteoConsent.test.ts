import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as CriteoConsent from "../src/CriteoConsent.js"
import * as TokenEndpoint from "../src/TokenEndpoint.js"
import { makeFakeClient } from "./utils.js"

const redirectUri = "https://app.example.com/criteo/callback?tenant=a"

const query = (url: string) => new URL(url).searchParams

describe("CriteoConsent", () => {
  it("link: Criteo's consent page with response_type, client_id, redirect_uri and state, in that order", () => {
    const url = CriteoConsent.link({ clientId: "my-app", redirectUri, state: "s-1" })
    assert.strictEqual(
      url,
      "https://consent.criteo.com/request?response_type=code&client_id=my-app" +
        "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcriteo%2Fcallback%3Ftenant%3Da&state=s-1"
    )
    assert.strictEqual(query(url).get("redirect_uri"), redirectUri)
    assert.isNull(query(url).get("code_challenge"))
  })

  it("link: PKCE adds code_challenge and code_challenge_method=S256; another consent page can be named", () => {
    const url = CriteoConsent.link({
      clientId: "my-app",
      redirectUri,
      state: "s-1",
      codeChallenge: "abc",
      consentUrl: "http://127.0.0.1:9999/request"
    })
    assert.isTrue(url.startsWith("http://127.0.0.1:9999/request?"))
    assert.deepStrictEqual([...query(url).keys()], [
      "response_type",
      "client_id",
      "redirect_uri",
      "state",
      "code_challenge",
      "code_challenge_method"
    ])
    assert.strictEqual(query(url).get("code_challenge_method"), "S256")
  })

  it.effect("codeChallenge: the S256 vector of RFC 7636 appendix B", () =>
    Effect.gen(function*() {
      const challenge = yield* CriteoConsent.codeChallenge(
        Redacted.make("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
      )
      assert.strictEqual(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }))

  it.effect("start: a fresh 43-character state each time; with PKCE, a verifier whose challenge is in the link", () =>
    Effect.gen(function*() {
      const a = yield* CriteoConsent.start({ clientId: "my-app", redirectUri })
      const b = yield* CriteoConsent.start({ clientId: "my-app", redirectUri, pkce: true })
      assert.match(a.state, /^[A-Za-z0-9_-]{43}$/)
      assert.notStrictEqual(a.state, b.state)
      assert.strictEqual(query(a.url).get("state"), a.state)
      assert.isUndefined(a.codeVerifier)
      assert.isDefined(b.codeVerifier)
      assert.match(Redacted.value(b.codeVerifier!), /^[A-Za-z0-9_-]{43}$/)
      assert.strictEqual(query(b.url).get("code_challenge"), yield* CriteoConsent.codeChallenge(b.codeVerifier!))
      // the verifier itself never goes in the link
      assert.notInclude(b.url, Redacted.value(b.codeVerifier!))
    }))

  it.effect("start: a redirect URI that is not an absolute URL is a ConsentError, not a link", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CriteoConsent.start({ clientId: "my-app", redirectUri: "/callback" }))
      assert.strictEqual(error._tag, "ConsentError")
      assert.strictEqual(error.reason, "InvalidInput")
      const empty = yield* Effect.flip(CriteoConsent.start({ clientId: " ", redirectUri }))
      assert.strictEqual(empty.reason, "InvalidInput")
    }))

  describe("callback", () => {
    const state = "the-state-0123456789"
    it.effect("the redirected URL: its code, state checked", () =>
      Effect.gen(function*() {
        const result = yield* CriteoConsent.callback(
          `https://app.example.com/criteo/callback?code=c%2B1&state=${state}#ignored`,
          { state }
        )
        assert.strictEqual(Redacted.value(result.code), "c+1")
        assert.isTrue(result.stateChecked)
        // the query string alone works too, surrounding blanks ignored
        const bare = yield* CriteoConsent.callback(`  state=${state}&code=c2\n`, { state })
        assert.strictEqual(Redacted.value(bare.code), "c2")
      }))

    it.effect("another state, or none: StateMismatch; the error names neither state nor code", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          CriteoConsent.callback("https://x.example/cb?code=secret-code&state=forged-state", { state })
        )
        assert.strictEqual(error.reason, "StateMismatch")
        for (const rendered of [error.message, String(error), JSON.stringify(error)]) {
          assert.notInclude(rendered, "secret-code")
          assert.notInclude(rendered, "forged-state")
          assert.notInclude(rendered, state)
        }
        const missing = yield* Effect.flip(CriteoConsent.callback("https://x.example/cb?code=abc", { state }))
        assert.strictEqual(missing.reason, "StateMismatch")
      }))

    it.effect("an OAuth error: Denied, with its code", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          CriteoConsent.callback(`https://x.example/cb?error=access_denied&error_description=no&state=${state}`, {
            state
          })
        )
        assert.strictEqual(error.reason, "Denied")
        assert.strictEqual(error.error, "access_denied")
      }))

    it.effect("a bare code: accepted unchecked, or refused when the state is required; nothing: MissingCode", () =>
      Effect.gen(function*() {
        const result = yield* CriteoConsent.callback("code.acme-1", { state })
        assert.strictEqual(Redacted.value(result.code), "code.acme-1")
        assert.isFalse(result.stateChecked)
        const refused = yield* Effect.flip(CriteoConsent.callback("code.acme-1", { state, requireState: true }))
        assert.strictEqual(refused.reason, "InvalidInput")
        const nothing = yield* Effect.flip(CriteoConsent.callback("   ", { state }))
        assert.strictEqual(nothing.reason, "MissingCode")
        const noCode = yield* Effect.flip(CriteoConsent.callback(`https://x.example/cb?state=${state}`, { state }))
        assert.strictEqual(noCode.reason, "MissingCode")
        const garbage = yield* Effect.flip(CriteoConsent.callback("not a url, not a code", { state }))
        assert.strictEqual(garbage.reason, "InvalidInput")
      }))
  })

  it.scoped("grant: the code exchange sends the redirect URI and the PKCE verifier", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeClient(() =>
        Effect.succeed({ status: 200, body: { access_token: "a", token_type: "Bearer", expires_in: 900 } })
      )
      const request = yield* CriteoConsent.start({ clientId: "my-app", redirectUri, pkce: true })
      const { code } = yield* CriteoConsent.callback(`${redirectUri}&code=the-code&state=${request.state}`, request)
      const endpoint = yield* TokenEndpoint.make({}).pipe(Effect.provide(fake.layer))
      yield* endpoint.request(CriteoConsent.grant(request, code, Redacted.make("secret")))
      const [sent] = yield* fake.requests
      assert.strictEqual(sent.form.get("grant_type"), "authorization_code")
      assert.strictEqual(sent.form.get("code"), "the-code")
      assert.strictEqual(sent.form.get("redirect_uri"), redirectUri)
      assert.strictEqual(sent.form.get("code_verifier"), Redacted.value(request.codeVerifier!))
    }))
})
