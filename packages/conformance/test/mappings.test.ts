/**
 * The mapping builder, without a simulator: what each function builds, and that the fixture files say
 * the same (the stubs the builder makes, the token bodies, every priority a row of the table).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Fault from "../src/Fault.js"
import * as Mappings from "../src/internal/mappings.js"

const fixtures = Path.resolve(import.meta.dirname, "../../../fixtures")

const fixtureMappings = (file: string): ReadonlyArray<Record<string, any>> =>
  JSON.parse(Fs.readFileSync(Path.join(fixtures, "mappings", file), "utf8")).mappings

const fixtureStub = (name: string) => {
  const found = ["api.json", "token-endpoint.json"].flatMap(fixtureMappings).find((stub) => stub["name"] === name)
  assert.isDefined(found, name)
  const { id: _id, ...stub } = found!
  return stub
}

describe("Mappings", () => {
  describe("faults", () => {
    it("a fault until removed: one stub at the fault priority, on every request of its target", () => {
      const [stub, ...rest] = Mappings.fault("token", Fault.serverError(503), { scenarioName: "s" })
      assert.strictEqual(rest.length, 0)
      assert.strictEqual(stub.priority, Mappings.priority.fault)
      assert.deepStrictEqual(stub.request, { method: "POST", urlPath: "/oauth2/token" })
      assert.strictEqual(stub.response.status, 503)
      assert.deepStrictEqual(JSON.parse(stub.response.body!).error, "server_error")
      assert.isUndefined(stub.scenarioName)
      assert.strictEqual(stub.name, "token: 503")
    })

    it("`times`: a scenario chain Started → served-1 → ... → served-n", () => {
      const stubs = Mappings.fault("api", Fault.connectionReset, { times: 3, scenarioName: "chain" })
      assert.deepStrictEqual(
        stubs.map((stub) => [stub.scenarioName, stub.requiredScenarioState, stub.newScenarioState]),
        [["chain", "Started", "served-1"], ["chain", "served-1", "served-2"], ["chain", "served-2", "served-3"]]
      )
      assert.deepStrictEqual(stubs[0].response, { fault: "CONNECTION_RESET_BY_PEER" })
      assert.deepStrictEqual(stubs[0].request, { method: "ANY", urlPathPattern: Mappings.apiPathPattern })
      assert.strictEqual(stubs[0].name, "api: CONNECTION_RESET_BY_PEER (3 times)")
      // a fractional or non-positive count is at least one request
      assert.strictEqual(Mappings.fault("api", Fault.connectionReset, { times: 0, scenarioName: "c" }).length, 1)
    })

    it("a canned response keeps its body and headers; without a body, the target's error format", () => {
      const [custom] = Mappings.fault("api", Fault.response(418, { body: "{}", headers: { "X-A": "1" } }), {
        scenarioName: "s"
      })
      assert.strictEqual(custom.response.body, "{}")
      assert.deepStrictEqual(custom.response.headers, { ...Mappings.jsonHeaders, "X-A": "1" })
      const api = JSON.parse(Mappings.errorBody("api", 502))
      assert.strictEqual(api.errors[0].code, "server-error")
      assert.strictEqual(api.errors[0].type, "unavailable")
      assert.strictEqual(JSON.parse(Mappings.errorBody("token", 429)).error, "rate_limited")
      assert.strictEqual(JSON.parse(Mappings.errorBody("token", 400)).error, "invalid_request")
      assert.strictEqual(JSON.parse(Mappings.errorBody("api", 404)).errors[0].code, "http-404")
    })

    it("a rate limit: 429 with x-ratelimit-* (reset in whole seconds, never negative)", () => {
      const response = Mappings.faultResponse("token", Fault.rateLimit({ limit: 40, resetAfter: "1500 millis" }))
      assert.strictEqual(response.status, 429)
      assert.strictEqual(response.headers!["x-ratelimit-limit"], "40")
      assert.strictEqual(response.headers!["x-ratelimit-remaining"], "0")
      assert.strictEqual(response.headers!["x-ratelimit-reset"], "{{now offset='2 seconds' format='unix'}}")
      assert.strictEqual(response.headers!["Cache-Control"], "no-store")
      const past = Mappings.rateLimited("api", { limit: 1, resetAfter: Duration.seconds(-5) })
      assert.strictEqual(past.headers!["x-ratelimit-reset"], "{{now offset='0 seconds' format='unix'}}")
    })

    it("latency: a usable answer after the delay (per case), or the normal stub delayed (whole simulator)", () => {
      const late = Mappings.faultResponse("token", Fault.latency(Duration.seconds(30)))
      assert.strictEqual(late.status, 200)
      assert.strictEqual(late.fixedDelayMilliseconds, 30_000)
      assert.include(late.body, Mappings.accessToken(900))
      assert.strictEqual(Mappings.lateAnswer("api", Duration.millis(5)).bodyFileName, "api/advertisers-me.json")
      assert.deepStrictEqual(
        Mappings.withDelay(
          { status: 200, delayDistribution: { type: "lognormal" }, chunkedDribbleDelay: {} },
          Duration.seconds(1)
        ),
        { status: 200, fixedDelayMilliseconds: 1000 }
      )
    })
  })

  describe("expiry", () => {
    it("expireTokens: refuses every token expiring before issuedAt + lifetime (+1 ms)", () => {
      const issuedAt = Date.UTC(2026, 10, 30, 12, 0, 0, 0)
      const stub = Mappings.expired({ issuedAt, lifetime: Duration.seconds(900) })
      assert.strictEqual(stub.priority, Mappings.priority.tokenExpired)
      assert.deepStrictEqual(stub.request.headers, {
        Authorization: { before: "2026-11-30T12:15:00.001Z", actualFormat: Mappings.tokenFormat }
      })
      assert.strictEqual(stub.response.status, 401)
      assert.strictEqual((stub.response.jsonBody as any).errors[0].code, "authorization-token-expired")
      assert.include(stub.name, "2026-11-30T12:00:00.000Z")
    })
  })

  describe("consent", () => {
    it("revoked: 403 on the API and invalid_grant on refresh, now or in a scenario, narrowed to one consent", () => {
      const [api, token] = Mappings.consentRevoked({ label: "x" })
      assert.strictEqual(api.response.status, 403)
      assert.strictEqual((api.response.jsonBody as any).errors[0].code, "consent-revoked")
      assert.isUndefined(api.scenarioName)
      assert.strictEqual(token.response.status, 400)
      assert.strictEqual((token.response.jsonBody as any).error, "invalid_grant")
      assert.deepStrictEqual(token.request.formParameters, { grant_type: { equalTo: "refresh_token" } })
      // the refusal of refresh tokens beats the rotation grants; the 403 beats the API answers
      assert.isBelow(token.priority, Mappings.priority.grant)
      assert.isBelow(api.priority, Mappings.priority.apiAnswer)

      const [one, oneToken] = Mappings.consentRevoked({
        label: "acme",
        scenario: "consent-acme",
        authorization: "A",
        refreshToken: "R"
      })
      assert.deepStrictEqual(one.request.headers, { Authorization: { matches: "A" } })
      assert.deepStrictEqual(oneToken.request.formParameters!["refresh_token"], { matches: "R" })
      assert.strictEqual(one.requiredScenarioState, "revoked")
      assert.strictEqual(oneToken.scenarioName, "consent-acme")
    })
  })

  describe("tokens", () => {
    it("one template for the simulator's access tokens, its lifetime fixed or from the environment", () => {
      assert.strictEqual(
        Mappings.accessToken(5),
        "sim.{{now offset='5 seconds' format=\"yyyyMMdd'T'HHmmss.SSS\"}}{{randomValue length=6 type='NUMERIC'}}Z"
      )
      assert.include(Mappings.accessToken("environment", "900001"), "key='WIREMOCK_TOKEN_LIFETIME'")
      assert.isTrue(Mappings.accessToken("environment", "900001").endsWith("}}900001Z"))
      // the template is JSON once WireMock has rendered it (its `format="..."` is inside the handlebars)
      assert.strictEqual(
        Mappings.tokenBody({ access_token: Mappings.token, expires_in: "2" }, 2),
        `{"access_token":"${Mappings.accessToken(2)}","expires_in":"2"}`
      )
    })

    it("the token bodies of the fixtures are the builder's", () => {
      const file = (name: string) => Fs.readFileSync(Path.join(fixtures, "__files/token", name), "utf8")
      assert.strictEqual(
        file("client-credentials.json"),
        `${Mappings.tokenResponseBody({ lifetime: "environment" })}\n`
      )
      for (
        const [name, generation] of [["authorization-code.json", "a"], ["refresh-to-a.json", "a"], [
          "refresh-to-b.json",
          "b"
        ]]
      ) {
        assert.strictEqual(
          file(name),
          `${
            Mappings.tokenResponseBody({
              lifetime: "environment",
              refreshToken: Mappings.refreshToken(`rt.${generation}`)
            })
          }\n`,
          name
        )
      }
    })

    it("a case's stub applies to its port only, its own Host matcher kept", () => {
      const scoped = Mappings.onPort({ name: "n", request: { method: "GET" }, metadata: { a: 1 } }, 4321, {
        metadata: { case: "k" },
        label: "case k"
      })
      assert.deepStrictEqual(scoped, {
        name: "n (case k)",
        request: { method: "GET", headers: { Host: { matches: "^[^:/]+:4321$" } } },
        metadata: { a: 1, case: "k" }
      })
      const own = Mappings.onPort({ request: { headers: { Host: { equalTo: "x" } } } }, 1, { metadata: {} })
      assert.deepStrictEqual((own["request"] as any).headers, { Host: { equalTo: "x" } })
    })
  })

  describe("the fixtures agree with the builder", () => {
    it("expiry in real time, the rate-limit scenarios and the demo consent's revocation", () => {
      assert.deepStrictEqual(fixtureStub("api: expired token (its expiry instant is past)"), Mappings.expired("now"))
      assert.deepStrictEqual(
        fixtureStub("api: rate limited (scenario api-rate-limit = limited)"),
        Mappings.rateLimitScenario("api", "api-rate-limit")
      )
      assert.deepStrictEqual(
        fixtureStub("token: rate limited (scenario token-rate-limit = limited)"),
        Mappings.rateLimitScenario("token", "token-rate-limit")
      )
      const [api, token] = Mappings.consentRevoked({ label: "scenario consent = revoked", scenario: "consent" })
      assert.deepStrictEqual(fixtureStub("api: consent revoked (scenario consent = revoked)"), api)
      assert.deepStrictEqual(
        fixtureStub("token: refresh_token after consent revoked (scenario consent = revoked)"),
        token
      )
    })

    it("every priority in the fixtures is a row of the table", () => {
      const rows = new Set<number>(Object.values(Mappings.priority))
      for (const file of ["api.json", "token-endpoint.json", "consents.json"]) {
        for (const stub of fixtureMappings(file)) assert.isTrue(rows.has(stub["priority"]), `${file}: ${stub["name"]}`)
      }
    })
  })
})
