import { SimulatorConsents } from "@criteo-auth/conformance"
import type { CriteoSimulator } from "@criteo-auth/conformance"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, layer } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { CriteoSimulator as Simulator } from "../src/index.js"
import { apiGet, demoSecret, send, simulatorLayer, tokenRequest } from "./utils.js"

const codeExchange = (sim: CriteoSimulator.Service, clientId: string, name: string) =>
  tokenRequest(sim, {
    grant_type: "authorization_code",
    client_id: clientId,
    client_secret: demoSecret,
    code: Redacted.value(SimulatorConsents.code(name)),
    redirect_uri: "https://app.example.com/criteo/callback"
  })

const refresh = (sim: CriteoSimulator.Service, clientId: string, refreshToken: string) =>
  tokenRequest(sim, {
    grant_type: "refresh_token",
    client_id: clientId,
    client_secret: demoSecret,
    refresh_token: refreshToken
  })

describe("SimulatorConsents", () => {
  // that fixtures/mappings/consents.json is fixtureFile(): test/mappings.test.ts, with the other generated fixtures

  layer(simulatorLayer({ runtime: "process" }), { excludeTestServices: true, timeout: Duration.minutes(2) })((it) => {
    it.effect("several consents at once: own codes, own chains, own advertisers; one revoked alone", () =>
      Effect.gen(function*() {
        const sim = yield* Simulator.CriteoSimulator
        yield* sim.reset
        const clientId = Simulator.clientId("consents")
        const acme = yield* codeExchange(sim, clientId, "acme")
        const globex = yield* codeExchange(sim, clientId, "globex")
        assert.strictEqual(acme.status, 200, acme.text)
        assert.strictEqual(globex.status, 200, globex.text)
        assert.match(acme.json.refresh_token, /^rt\.acme\.a\.[A-Za-z0-9]{40}$/)
        // a code works once
        assert.strictEqual((yield* codeExchange(sim, clientId, "acme")).json.error, "invalid_grant")
        // each consent's token reads its own advertiser
        const me = (token: string) => apiGet(sim, "/2026-07/advertisers/me", token)
        assert.strictEqual((yield* me(acme.json.access_token)).json.data[0].id, "200001")
        assert.strictEqual((yield* me(globex.json.access_token)).json.data[0].id, "200002")
        // chains: rotation revokes the previous refresh token, per consent
        const acme2 = yield* refresh(sim, clientId, acme.json.refresh_token)
        assert.strictEqual(acme2.status, 200)
        assert.match(acme2.json.refresh_token, /^rt\.acme\.b\./)
        assert.strictEqual((yield* refresh(sim, clientId, acme.json.refresh_token)).json.error, "invalid_grant")
        const globex2 = yield* refresh(sim, clientId, globex.json.refresh_token)
        assert.strictEqual(globex2.status, 200)
        // revoke acme: its API calls 403, its refresh token invalid_grant; globex keeps working
        yield* SimulatorConsents.revoke(sim, "acme")
        const forbidden = yield* me(acme2.json.access_token)
        assert.strictEqual(forbidden.status, 403)
        assert.strictEqual(forbidden.json.errors[0].code, "consent-revoked")
        assert.strictEqual((yield* refresh(sim, clientId, acme2.json.refresh_token)).json.error, "invalid_grant")
        assert.strictEqual((yield* me(globex2.json.access_token)).status, 200)
        assert.strictEqual((yield* refresh(sim, clientId, globex2.json.refresh_token)).status, 200)
        // the demo consent and client_credentials are untouched
        const cc = yield* tokenRequest(sim, {
          grant_type: "client_credentials",
          client_id: clientId,
          client_secret: demoSecret
        })
        assert.strictEqual((yield* me(cc.json.access_token)).json.data[0].id, "100042")
        yield* SimulatorConsents.restore(sim, "acme")
        // the stats: token requests per client and per consent
        const stats = yield* SimulatorConsents.stats(sim, { clientId })
        assert.strictEqual(stats.total, 9)
        assert.deepStrictEqual(stats.byClient, { [clientId]: 9 })
        assert.deepStrictEqual(stats.byConsent, { acme: 5, globex: 3, "(none)": 1 })
        assert.deepStrictEqual(stats.grantedByConsent, { acme: 2, globex: 3, "(none)": 1 })
        assert.notInclude(JSON.stringify(stats), acme.json.refresh_token)
      }))

    it.effect("the consent page redirects to the redirect URI with the consent's code and the state", () =>
      Effect.gen(function*() {
        const sim = yield* Simulator.CriteoSimulator
        yield* sim.reset
        const page = (state: string, redirectUri = "https://app.example.com/cb?tenant=1") =>
          send(
            HttpClientRequest.get(`${sim.baseUrl}/request`).pipe(HttpClientRequest.setUrlParams({
              response_type: "code",
              client_id: Simulator.clientId("page"),
              redirect_uri: redirectUri,
              state
            }))
          )
        const first = yield* page("s t&1")
        assert.strictEqual(first.status, 302)
        const location = new URL(first.headers["location"])
        assert.strictEqual(`${location.origin}${location.pathname}`, "https://app.example.com/cb")
        assert.strictEqual(location.searchParams.get("tenant"), "1")
        assert.strictEqual(location.searchParams.get("code"), "code.acme")
        assert.strictEqual(location.searchParams.get("state"), "s t&1")
        yield* SimulatorConsents.usePage(sim, "globex")
        const second = yield* page("x", "http://127.0.0.1:4567/callback")
        assert.strictEqual(new URL(second.headers["location"]).searchParams.get("code"), "code.globex")
        assert.isTrue(second.headers["location"].startsWith("http://127.0.0.1:4567/callback?code="))
        const invalid = yield* send(HttpClientRequest.get(`${sim.baseUrl}/request?client_id=x`))
        assert.strictEqual(invalid.status, 400)
      }))

    it.effect("add installs another consent at run time", () =>
      Effect.gen(function*() {
        const sim = yield* Simulator.CriteoSimulator
        yield* sim.reset
        const consent = { name: "hooli", number: 900042, advertiserId: "200042", advertiserName: "Hooli" }
        yield* SimulatorConsents.add(sim, consent)
        const answer = yield* codeExchange(sim, Simulator.clientId("add"), "hooli")
        assert.strictEqual(answer.status, 200, answer.text)
        assert.strictEqual(
          (yield* apiGet(sim, "/2026-07/advertisers/me", answer.json.access_token)).json.data[0].id,
          "200042"
        )
        yield* sim.reset
      }))
  })
})
