/**
 * The simulator suite: every fixture and admin operation, run over one runtime. `process.test.ts` and
 * `container.test.ts` run it over the JVM and the container; both must behave the same.
 */
import { CriteoSimulator, Fault, Journal } from "@criteo-auth/conformance"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, layer } from "@effect/vitest"
import { DateTime, Duration, Effect, Redacted } from "effect"
import * as Util from "node:util"
import {
  accessToken,
  apiGet,
  clientCredentials,
  criteoErrorCode,
  demo,
  demoCode,
  demoSecret,
  eventually,
  send,
  simulatorLayer,
  tokenRequest
} from "./utils.js"

const TOKEN = /^sim\.\d{8}T\d{6}\.\d{9}Z$/
const REFRESH = /^rt\.[ab]\.[a-z0-9]{40}$/
const { current, decommissioned, deprecated } = CriteoSimulator.apiVersions

const codeGrant = (overrides: Record<string, string> = {}) => ({
  grant_type: "authorization_code",
  client_id: demo.clientId,
  client_secret: demoSecret,
  code: demoCode,
  redirect_uri: demo.redirectUri,
  ...overrides
})

const refreshGrant = (refreshToken: string) => ({
  grant_type: "refresh_token",
  client_id: demo.clientId,
  client_secret: demoSecret,
  refresh_token: refreshToken
})

export const simulatorSuite = (runtime: CriteoSimulator.Runtime) => {
  layer(simulatorLayer({ runtime }), { excludeTestServices: true, timeout: Duration.minutes(2) })(
    `simulator (${runtime})`,
    (it) => {
      const fresh = Effect.flatMap(CriteoSimulator.CriteoSimulator, (sim) => Effect.as(sim.reset, sim))

      it.effect("reports its runtime and addresses", () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.CriteoSimulator
          assert.strictEqual(sim.runtime, runtime)
          assert.match(sim.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
          assert.strictEqual(sim.tokenUrl, `${sim.baseUrl}/oauth2/token`)
          assert.strictEqual(sim.adminUrl, `${sim.baseUrl}/__admin`)
          assert.strictEqual(Duration.toSeconds(sim.tokenLifetime), 900)
        }))

      describe("token endpoint", () => {
        it.effect("client_credentials: a bearer token that carries its expiry, no-store", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const before = Date.now()
            const answer = yield* tokenRequest(sim, clientCredentials())
            assert.strictEqual(answer.status, 200)
            assert.strictEqual(answer.headers["cache-control"], "no-store")
            assert.match(answer.headers["content-type"], /^application\/json/)
            assert.match(answer.json.access_token, TOKEN)
            assert.strictEqual(answer.json.token_type, "Bearer")
            assert.strictEqual(answer.json.expires_in, 900)
            assert.isUndefined(answer.json.refresh_token)
            const [, date, time] = /^sim\.(\d{8})T(\d{6}\.\d{3})/.exec(answer.json.access_token)!
            const expiry = Date.parse(
              `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}T${time.slice(0, 2)}:${time.slice(2, 4)}:${
                time.slice(4)
              }Z`
            )
            assert.isAtLeast(expiry, before + 900_000 - 1_000)
            assert.isAtMost(expiry, Date.now() + 900_000 + 1_000)
          }))

        it.effect("several tokens are valid at once, each different", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const first = yield* accessToken(sim)
            const second = yield* accessToken(sim, CriteoSimulator.clientId("other"))
            assert.notStrictEqual(first, second)
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, first)).status, 200)
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, second)).status, 200)
          }))

        it.effect("401 invalid_client for an unknown client id or a wrong secret", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            for (
              const form of [
                clientCredentials("someone-else"),
                { ...clientCredentials(), client_secret: "not-the-secret" }
              ]
            ) {
              const answer = yield* tokenRequest(sim, form)
              assert.strictEqual(answer.status, 401)
              assert.strictEqual(answer.json.error, "invalid_client")
              assert.strictEqual(
                answer.json.error_description,
                "client_id doesn't exist or the client_secret is invalid"
              )
              assert.isString(answer.json.error_uri)
              assert.strictEqual(answer.headers["cache-control"], "no-store")
            }
          }))

        it.effect("400 invalid_request for a missing parameter or another Content-Type", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            for (const missing of ["grant_type", "client_id", "client_secret"] as const) {
              const { [missing]: _, ...form } = clientCredentials()
              const answer = yield* tokenRequest(sim, form)
              assert.strictEqual(answer.status, 400, missing)
              assert.strictEqual(answer.json.error, "invalid_request")
              assert.include(answer.json.error_description, missing)
            }
            const json = yield* send(
              HttpClientRequest.post(sim.tokenUrl).pipe(HttpClientRequest.bodyUnsafeJson(clientCredentials()))
            )
            assert.strictEqual(json.status, 400)
            assert.strictEqual(json.json.error, "invalid_request")
            assert.include(json.json.error_description, "application/x-www-form-urlencoded")
            const none = yield* send(HttpClientRequest.post(sim.tokenUrl))
            assert.strictEqual(none.status, 400)
            assert.strictEqual(none.json.error, "invalid_request")
          }))

        it.effect("400 unsupported_grant_type", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const answer = yield* tokenRequest(sim, { ...clientCredentials(), grant_type: "password" })
            assert.strictEqual(answer.status, 400)
            assert.strictEqual(answer.json.error, "unsupported_grant_type")
          }))

        it.effect("authorization_code: the code works once, with its exact redirect_uri", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const wrongRedirect = yield* tokenRequest(sim, codeGrant({ redirect_uri: `${demo.redirectUri}/` }))
            assert.strictEqual(wrongRedirect.status, 400)
            assert.strictEqual(wrongRedirect.json.error, "invalid_grant")
            const unknown = yield* tokenRequest(sim, codeGrant({ code: "not-the-code" }))
            assert.strictEqual(unknown.status, 400)
            assert.strictEqual(unknown.json.error, "invalid_grant")
            const { redirect_uri: _, ...withoutRedirect } = codeGrant()
            assert.strictEqual((yield* tokenRequest(sim, withoutRedirect)).json.error, "invalid_request")

            const first = yield* tokenRequest(sim, codeGrant())
            assert.strictEqual(first.status, 200)
            assert.match(first.json.access_token, TOKEN)
            assert.match(first.json.refresh_token, REFRESH)
            assert.strictEqual(first.json.expires_in, 900)
            const again = yield* tokenRequest(sim, codeGrant())
            assert.strictEqual(again.status, 400)
            assert.strictEqual(again.json.error, "invalid_grant")
            assert.include(again.json.error_description, "already been used")
          }))

        it.effect("refresh_token rotates: each refresh returns a new one and refuses the previous one", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const r1 = (yield* tokenRequest(sim, codeGrant())).json.refresh_token as string
            const second = yield* tokenRequest(sim, refreshGrant(r1))
            assert.strictEqual(second.status, 200)
            assert.match(second.json.access_token, TOKEN)
            const r2 = second.json.refresh_token as string
            assert.match(r2, REFRESH)
            assert.notStrictEqual(r2, r1)
            const reused = yield* tokenRequest(sim, refreshGrant(r1))
            assert.strictEqual(reused.status, 400)
            assert.strictEqual(reused.json.error, "invalid_grant")
            const third = yield* tokenRequest(sim, refreshGrant(r2))
            assert.strictEqual(third.status, 200)
            assert.notStrictEqual(third.json.refresh_token, r2)
            assert.strictEqual((yield* tokenRequest(sim, refreshGrant("rt.a.forged"))).json.error, "invalid_grant")
            const { refresh_token: _, ...missing } = refreshGrant(r2)
            assert.strictEqual((yield* tokenRequest(sim, missing)).json.error, "invalid_request")
          }))
      })

      describe("API", () => {
        it.effect("versioned reads answer with a valid token", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            const me = yield* apiGet(sim, `/${current}/advertisers/me`, token)
            assert.strictEqual(me.status, 200)
            // Criteo's schema (as generated into its SDK) allows "advertiser"; a typed client rejects "Advertiser".
            assert.strictEqual(me.json.data[0].type, "advertiser")
            assert.isUndefined(me.headers["deprecation"])
            const campaign = yield* apiGet(sim, `/${current}/marketing-solutions/campaigns/4711`, token)
            assert.strictEqual(campaign.status, 200)
            assert.strictEqual(campaign.json.data.id, "4711")
            const accounts = yield* apiGet(sim, `/${current}/retail-media/accounts`, token)
            assert.strictEqual(accounts.status, 200)
            assert.strictEqual(accounts.json.data.length, accounts.json.metadata.totalItemsAcrossAllPages)
            const missing = yield* apiGet(sim, `/${current}/no-such-resource`, token)
            assert.strictEqual(missing.status, 404)
            assert.strictEqual(criteoErrorCode(missing), "resource-not-found")
          }))

        it.effect("401 authorization-token-invalid without a token or with an unknown one", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            for (const token of [undefined, "eyJhbGciOiJSUzI1NiJ9.forged.token", "sim.garbage"]) {
              const answer = yield* apiGet(sim, `/${current}/advertisers/me`, token)
              assert.strictEqual(answer.status, 401)
              assert.strictEqual(criteoErrorCode(answer), "authorization-token-invalid")
              assert.isString(answer.json.errors[0].traceId)
            }
          }))

        it.effect("a deprecated version carries Deprecation and Sunset; a decommissioned one is 410", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            const old = yield* apiGet(sim, `/${deprecated}/advertisers/me`, token)
            assert.strictEqual(old.status, 200)
            assert.strictEqual(old.headers["deprecation"], "true")
            assert.isTrue(Number.isFinite(Date.parse(old.headers["sunset"])))
            const gone = yield* apiGet(sim, `/${decommissioned}/advertisers/me`, token)
            assert.strictEqual(gone.status, 410)
            assert.strictEqual(criteoErrorCode(gone), "api-version-decommissioned")
          }))

        it.effect("expireTokens: every token issued so far is refused as expired, later ones work", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const old = yield* accessToken(sim)
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, old)).status, 200)
            yield* sim.expireTokens
            const refused = yield* apiGet(sim, `/${current}/advertisers/me`, old)
            assert.strictEqual(refused.status, 401)
            assert.strictEqual(criteoErrorCode(refused), "authorization-token-expired")
            const renewed = yield* accessToken(sim)
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, renewed)).status, 200)
            yield* sim.expireTokens
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, renewed)).status, 401)
          }))

        it.effect("revokeConsent: 403 on the API and invalid_grant on refresh, until restoreConsent", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const code = yield* tokenRequest(sim, codeGrant())
            const token = code.json.access_token as string
            yield* sim.revokeConsent
            const forbidden = yield* apiGet(sim, `/${current}/advertisers/me`, token)
            assert.strictEqual(forbidden.status, 403)
            assert.strictEqual(criteoErrorCode(forbidden), "consent-revoked")
            const refresh = yield* tokenRequest(sim, refreshGrant(code.json.refresh_token))
            assert.strictEqual(refresh.status, 400)
            assert.strictEqual(refresh.json.error, "invalid_grant")
            yield* sim.restoreConsent
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
          }))

        it.effect("the fixtures' rate-limit scenario answers 429 with x-ratelimit-* headers", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            yield* send(
              HttpClientRequest.put(`${sim.baseUrl}/__admin/scenarios/api-rate-limit/state`).pipe(
                HttpClientRequest.bodyUnsafeJson({ state: "limited" })
              )
            )
            const limited = yield* apiGet(sim, `/${current}/advertisers/me`, token)
            assert.strictEqual(limited.status, 429)
            assert.strictEqual(limited.headers["x-ratelimit-limit"], "250")
            assert.strictEqual(limited.headers["x-ratelimit-remaining"], "0")
            const reset = Number(limited.headers["x-ratelimit-reset"]) * 1000
            assert.approximately(reset, Date.now() + 60_000, 5_000)
          }))
      })

      describe("faults", () => {
        const networkFaults: ReadonlyArray<Fault.NetworkFault> = [
          "CONNECTION_RESET_BY_PEER",
          "EMPTY_RESPONSE",
          "MALFORMED_RESPONSE_CHUNK",
          "RANDOM_DATA_THEN_CLOSE"
        ]
        for (const fault of networkFaults) {
          it.effect(`${fault} on the token endpoint and on the API, until cleared`, () =>
            Effect.gen(function*() {
              const sim = yield* fresh
              const token = yield* accessToken(sim)
              yield* sim.setFault("token", Fault.network(fault))
              yield* sim.setFault("api", Fault.network(fault))
              const tokenError = yield* Effect.flip(tokenRequest(sim, clientCredentials()))
              assert.oneOf(tokenError._tag, ["RequestError", "ResponseError"])
              const apiError = yield* Effect.flip(apiGet(sim, `/${current}/advertisers/me`, token))
              assert.oneOf(apiError._tag, ["RequestError", "ResponseError"])
              yield* sim.clearFaults()
              assert.strictEqual((yield* tokenRequest(sim, clientCredentials())).status, 200)
              assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
            }))
        }

        it.effect("a 5xx on the token endpoint for the next `times` requests only", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            yield* sim.setFault("token", Fault.serverError(503), { times: 2 })
            const first = yield* tokenRequest(sim, clientCredentials())
            assert.strictEqual(first.status, 503)
            assert.strictEqual(first.json.error, "server_error")
            assert.strictEqual((yield* tokenRequest(sim, clientCredentials())).status, 503)
            assert.strictEqual((yield* tokenRequest(sim, clientCredentials())).status, 200)
          }))

        it.effect("a 5xx on the API, a target at a time", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            yield* sim.setFault("api", Fault.serverError(502))
            const failed = yield* apiGet(sim, `/${current}/advertisers/me`, token)
            assert.strictEqual(failed.status, 502)
            assert.strictEqual(criteoErrorCode(failed), "server-error")
            assert.strictEqual((yield* tokenRequest(sim, clientCredentials())).status, 200)
            yield* sim.clearFaults("token")
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 502)
            yield* sim.clearFaults("api")
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
          }))

        it.effect("a rate limit on the token endpoint or the API: 429 with x-ratelimit-*", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            yield* sim.setFault("token", Fault.rateLimit({ resetAfter: Duration.seconds(30), limit: 40 }))
            yield* sim.setFault("api", Fault.rateLimit({ resetAfter: Duration.seconds(5) }), { times: 1 })
            const tokenLimited = yield* tokenRequest(sim, clientCredentials())
            assert.strictEqual(tokenLimited.status, 429)
            assert.strictEqual(tokenLimited.headers["x-ratelimit-limit"], "40")
            assert.strictEqual(tokenLimited.headers["x-ratelimit-remaining"], "0")
            assert.approximately(Number(tokenLimited.headers["x-ratelimit-reset"]) * 1000, Date.now() + 30_000, 3_000)
            const apiLimited = yield* apiGet(sim, `/${current}/advertisers/me`, token)
            assert.strictEqual(apiLimited.status, 429)
            assert.strictEqual(apiLimited.headers["x-ratelimit-limit"], "250")
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
          }))

        it.effect("latency delays the normal answers of one target until cleared", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            yield* sim.setFault("token", Fault.latency(Duration.millis(400)))
            const started = Date.now()
            const slow = yield* tokenRequest(sim, clientCredentials())
            assert.strictEqual(slow.status, 200)
            assert.isAtLeast(Date.now() - started, 400)
            const apiStarted = Date.now()
            assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
            assert.isBelow(Date.now() - apiStarted, 400)
            yield* sim.clearFaults()
            const clearedStarted = Date.now()
            assert.strictEqual((yield* tokenRequest(sim, clientCredentials())).status, 200)
            assert.isBelow(Date.now() - clearedStarted, 400)
            const refused = yield* Effect.flip(sim.setFault("api", Fault.latency(Duration.millis(10)), { times: 1 }))
            assert.strictEqual(refused._tag, "SimulatorAdminError")
          }))
      })

      describe("journal", () => {
        it.effect("token requests with their form fields, secrets redacted when printed", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const clientId = CriteoSimulator.clientId("journal")
            const since = yield* DateTime.now
            yield* tokenRequest(sim, clientCredentials(clientId))
            const code = yield* tokenRequest(sim, codeGrant())
            yield* tokenRequest(sim, refreshGrant(code.json.refresh_token))
            const mine = yield* sim.tokenRequests({ clientId })
            assert.strictEqual(mine.length, 1)
            const entry = mine[0]
            assert.instanceOf(entry, Journal.TokenRequest)
            assert.strictEqual(entry.status, 200)
            assert.strictEqual(entry.grantType, "client_credentials")
            assert.strictEqual(entry.clientId, clientId)
            assert.strictEqual(entry.method, "POST")
            assert.strictEqual(entry.path, "/oauth2/token")
            assert.strictEqual(entry.stub, "token: client_credentials")
            assert.match(String(entry.headers["content-type"]), /application\/x-www-form-urlencoded/)
            const secret = entry.form["client_secret"]
            assert.isTrue(Redacted.isRedacted(secret))
            assert.strictEqual(Redacted.value(secret as Redacted.Redacted<string>), demoSecret)
            assert.isAtLeast(DateTime.toEpochMillis(entry.loggedAt), DateTime.toEpochMillis(since) - 1_000)

            const all = yield* sim.tokenRequests()
            assert.deepStrictEqual(all.map((entry) => entry.grantType), [
              "client_credentials",
              "authorization_code",
              "refresh_token"
            ])
            const secrets = [demoSecret, demoCode, code.json.refresh_token as string, code.json.access_token as string]
            for (const printed of [String(all), JSON.stringify(all), Util.inspect(all, { depth: 10 })]) {
              for (const value of secrets) assert.notInclude(printed, value)
            }
            assert.include(JSON.stringify(all), clientId)
          }))

        it.effect("API requests with their headers, the bearer token redacted when printed", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            const token = yield* accessToken(sim)
            yield* apiGet(sim, `/${current}/advertisers/me`, token)
            yield* apiGet(sim, `/${deprecated}/retail-media/accounts`)
            const requests = yield* sim.apiRequests()
            assert.deepStrictEqual(requests.map((entry) => [entry.path, entry.version, entry.status]), [
              [`/${current}/advertisers/me`, current, 200],
              [`/${deprecated}/retail-media/accounts`, deprecated, 401]
            ])
            assert.strictEqual(Redacted.value(requests[0].bearerToken!), token)
            assert.isUndefined(requests[1].bearerToken)
            for (const printed of [String(requests), JSON.stringify(requests), Util.inspect(requests, { depth: 10 })]) {
              assert.notInclude(printed, token)
            }
            yield* sim.clearJournal
            assert.strictEqual((yield* sim.apiRequests()).length, 0)
          }))

        it.effect("a network fault is journaled without a status", () =>
          Effect.gen(function*() {
            const sim = yield* fresh
            yield* sim.setFault("token", Fault.connectionReset, { times: 1 })
            yield* Effect.flip(tokenRequest(sim, clientCredentials()))
            yield* tokenRequest(sim, clientCredentials())
            const statuses = (yield* sim.tokenRequests()).map((entry) => entry.status)
            assert.deepStrictEqual(statuses, [undefined, 200])
          }))
      })

      it.effect("reset: fixtures, scenarios and journal as at start", () =>
        Effect.gen(function*() {
          const sim = yield* fresh
          const token = yield* accessToken(sim)
          yield* tokenRequest(sim, codeGrant())
          yield* sim.revokeConsent
          yield* sim.expireTokens
          yield* sim.setFault("api", Fault.serverError())
          yield* sim.setFault("token", Fault.latency(Duration.millis(200)))
          yield* sim.reset
          assert.strictEqual((yield* sim.tokenRequests()).length, 0)
          assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
          assert.strictEqual((yield* tokenRequest(sim, codeGrant())).status, 200)
        }))
    }
  )

  layer(simulatorLayer({ runtime, tokenLifetime: Duration.seconds(2) }), {
    excludeTestServices: true,
    timeout: Duration.minutes(2)
  })(
    `simulator (${runtime}), 2 s tokens`,
    (it) => {
      it.effect("a token is refused once its expiry instant is past, in real time", () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.CriteoSimulator
          yield* sim.reset
          const issued = yield* tokenRequest(sim, clientCredentials())
          assert.strictEqual(issued.json.expires_in, 2)
          const token = issued.json.access_token as string
          const started = Date.now()
          assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, token)).status, 200)
          const expired = yield* eventually(
            apiGet(sim, `/${current}/advertisers/me`, token),
            (answer) => answer.status !== 200,
            Duration.seconds(6)
          )
          assert.strictEqual(expired.status, 401)
          assert.strictEqual(criteoErrorCode(expired), "authorization-token-expired")
          assert.isAtLeast(Date.now() - started, 1_000)
          assert.strictEqual((yield* apiGet(sim, `/${current}/advertisers/me`, yield* accessToken(sim))).status, 200)
        }))
    }
  )
}
