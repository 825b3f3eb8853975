/**
 * End to end: the core client (CriteoAuth + CriteoHttpClient on undici) against the simulator. It
 * obtains tokens, calls the API, lives through real-time and scripted expiry, and meets the simulated
 * cause of each of its error mappings.
 */
import { CriteoSimulator, Fault } from "@criteo-auth/conformance"
import { CriteoAuth, CriteoHttpClient, Grant } from "@criteo-auth/core"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted, Ref } from "effect"
import { demo, simulatorLayer } from "./utils.js"

const { current } = CriteoSimulator.apiVersions

type AuthOptions = Omit<CriteoAuth.Options, "grant" | "tokenUrl"> & {
  readonly grant?: Grant.Grant
  readonly tokenUrl?: string
}

const clientCredentials = (clientId: string, secret = demo.clientSecret) =>
  Grant.clientCredentials({ clientId, clientSecret: secret })

/** The core client on the simulator, on the suite's HttpClient (undici). */
const coreClient = (sim: CriteoSimulator.Service, clientId: string, options: AuthOptions = {}) =>
  CriteoHttpClient.layer({ baseUrl: sim.baseUrl, apiVersion: current, retry: { baseDelay: Duration.millis(20) } }).pipe(
    Layer.provideMerge(
      CriteoAuth.layer({
        tokenUrl: sim.tokenUrl,
        grant: clientCredentials(clientId),
        retry: { baseDelay: Duration.millis(20) },
        ...options
      })
    )
  )

const getJson = (path: string) =>
  Effect.gen(function*() {
    const client = yield* CriteoHttpClient.CriteoHttpClient
    const response = yield* client.get(path)
    return { status: response.status, body: (yield* response.json) as any }
  })

const tokenError = Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => Effect.flip(auth.token))

const fresh = Effect.flatMap(CriteoSimulator.CriteoSimulator, (sim) => Effect.as(sim.reset, sim))

layer(simulatorLayer({ runtime: "process" }), { excludeTestServices: true, timeout: Duration.minutes(2) })(
  "core client against the simulator",
  (it) => {
    it.effect("obtains a token and calls the API", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-basic")
        const { body, status } = yield* getJson("/advertisers/me").pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(status, 200)
        assert.strictEqual(body.data[0].type, "advertiser")
        const tokens = yield* sim.tokenRequests({ clientId })
        assert.strictEqual(tokens.length, 1)
        const api = yield* sim.apiRequests()
        assert.deepStrictEqual(api.map((entry) => [entry.path, entry.status]), [[`/${current}/advertisers/me`, 200]])
        assert.match(String(api[0].headers["accept"]), /application\/json/)
      }))

    it.effect("scripted expiry: 401, one refresh, the request replayed succeeds", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-scripted")
        const statuses = yield* Effect.gen(function*() {
          const first = yield* getJson("/advertisers/me")
          yield* sim.expireTokens
          const second = yield* getJson("/retail-media/accounts")
          return [first.status, second.status]
        }).pipe(Effect.provide(coreClient(sim, clientId)))
        assert.deepStrictEqual(statuses, [200, 200])
        const api = yield* sim.apiRequests()
        assert.deepStrictEqual(api.map((entry) => entry.status), [200, 401, 200])
        assert.strictEqual(api[1].stub?.includes("expireTokens"), true)
        assert.notStrictEqual(Redacted.value(api[1].bearerToken!), Redacted.value(api[2].bearerToken!))
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 2)
      }))

    it.effect("authorization_code: the code once, then rotated refresh tokens", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const grant = Grant.authorizationCode({
          clientId: demo.clientId,
          clientSecret: demo.clientSecret,
          code: demo.authorizationCode,
          redirectUri: demo.redirectUri
        })
        yield* Effect.gen(function*() {
          const auth = yield* CriteoAuth.CriteoAuth
          const first = yield* auth.token
          const second = yield* auth.refresh
          const third = yield* auth.refresh
          assert.isDefined(first.refreshToken)
          assert.notStrictEqual(Redacted.value(first.value), Redacted.value(second.value))
          assert.notStrictEqual(Redacted.value(second.value), Redacted.value(third.value))
          assert.strictEqual((yield* getJson("/advertisers/me")).status, 200)
        }).pipe(
          Effect.provide(coreClient(sim, demo.clientId, {
            grant,
            onRefreshToken: (token) => Ref.update(seen, (all) => [...all, Redacted.value(token)])
          }))
        )
        const requests = yield* sim.tokenRequests()
        assert.deepStrictEqual(requests.map((entry) => [entry.grantType, entry.status]), [
          ["authorization_code", 200],
          ["refresh_token", 200],
          ["refresh_token", 200]
        ])
        const rotated = yield* Ref.get(seen)
        assert.strictEqual(new Set(rotated).size, 3)
        // each refresh sent the refresh token the previous answer rotated in
        assert.strictEqual(Redacted.value(requests[1].form["refresh_token"] as Redacted.Redacted<string>), rotated[0])
        assert.strictEqual(Redacted.value(requests[2].form["refresh_token"] as Redacted.Redacted<string>), rotated[1])
      }))

    it.effect("InvalidClientError <- a wrong client secret (401 invalid_client)", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-invalid-client")
        const error = yield* tokenError.pipe(
          Effect.provide(coreClient(sim, clientId, { grant: clientCredentials(clientId, Redacted.make("wrong")) }))
        )
        assert.strictEqual(error._tag, "InvalidClientError")
        if (error._tag !== "InvalidClientError") return
        assert.strictEqual(error.status, 401)
        assert.strictEqual(error.clientId, clientId)
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
      }))

    it.effect("InvalidGrantError <- an unknown authorization code (400 invalid_grant)", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const grant = Grant.authorizationCode({
          clientId: demo.clientId,
          clientSecret: demo.clientSecret,
          code: Redacted.make("expired-code"),
          redirectUri: demo.redirectUri
        })
        const error = yield* tokenError.pipe(Effect.provide(coreClient(sim, demo.clientId, { grant })))
        assert.strictEqual(error._tag, "InvalidGrantError")
        if (error._tag !== "InvalidGrantError") return
        assert.strictEqual(error.grantType, "authorization_code")
        assert.strictEqual(error.status, 400)
      }))

    it.effect("InvalidGrantError <- a refresh after the consent was revoked", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const grant = Grant.authorizationCode({
          clientId: demo.clientId,
          clientSecret: demo.clientSecret,
          code: demo.authorizationCode,
          redirectUri: demo.redirectUri
        })
        const error = yield* Effect.gen(function*() {
          const auth = yield* CriteoAuth.CriteoAuth
          yield* auth.token
          yield* sim.revokeConsent
          return yield* Effect.flip(auth.refresh)
        }).pipe(Effect.provide(coreClient(sim, demo.clientId, { grant })))
        assert.strictEqual(error._tag, "InvalidGrantError")
        if (error._tag !== "InvalidGrantError") return
        assert.strictEqual(error.grantType, "refresh_token")
      }))

    it.effect("TokenRequestRejectedError <- a wrong token URL (404)", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-rejected")
        const error = yield* tokenError.pipe(
          Effect.provide(coreClient(sim, clientId, { tokenUrl: `${sim.baseUrl}/oauth2/tokens` }))
        )
        assert.strictEqual(error._tag, "TokenRequestRejectedError")
        if (error._tag !== "TokenRequestRejectedError") return
        assert.strictEqual(error.status, 404)
      }))

    it.effect("RateLimitedError <- 429 on the token endpoint with a reset beyond the wait limit", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-rate-limited")
        yield* sim.setFault("token", Fault.rateLimit({ resetAfter: Duration.seconds(120), limit: 40 }))
        const error = yield* tokenError.pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(error._tag, "RateLimitedError")
        if (error._tag !== "RateLimitedError") return
        assert.strictEqual(error.endpoint, "token")
        assert.strictEqual(error.limit, 40)
        assert.approximately(Duration.toSeconds(error.retryAfter!), 120, 3)
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
      }))

    it.effect("TokenEndpointUnavailableError <- 503 on every attempt", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-unavailable")
        yield* sim.setFault("token", Fault.serverError(503))
        const error = yield* tokenError.pipe(
          Effect.provide(coreClient(sim, clientId, { retry: { maxAttempts: 3, baseDelay: Duration.millis(10) } }))
        )
        assert.strictEqual(error._tag, "TokenEndpointUnavailableError")
        if (error._tag !== "TokenEndpointUnavailableError") return
        assert.strictEqual(error.status, 503)
        assert.strictEqual(error.attempts, 3)
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 3)
      }))

    it.effect("a 503 then a 200 on the token endpoint: retried, the caller sees a token", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-retry")
        yield* sim.setFault("token", Fault.serverError(503), { times: 2 })
        const { status } = yield* getJson("/advertisers/me").pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(status, 200)
        const statuses = (yield* sim.tokenRequests({ clientId })).map((entry) => entry.status)
        assert.deepStrictEqual(statuses, [503, 503, 200])
      }))

    it.effect("TransportError (Transport) <- the connection reset by the peer", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-reset")
        yield* sim.setFault("token", Fault.connectionReset)
        const error = yield* tokenError.pipe(
          Effect.provide(coreClient(sim, clientId, { retry: { maxAttempts: 2, baseDelay: Duration.millis(10) } }))
        )
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag !== "TransportError") return
        assert.strictEqual(error.endpoint, "token")
        assert.strictEqual(error.reason, "Transport")
      }))

    it.effect("TransportError (Timeout) <- a token endpoint slower than the timeout", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-timeout")
        yield* sim.setFault("token", Fault.latency(Duration.seconds(2)))
        const error = yield* tokenError.pipe(
          Effect.provide(coreClient(sim, clientId, { timeout: Duration.millis(300), retry: { maxAttempts: 1 } }))
        )
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag !== "TransportError") return
        assert.strictEqual(error.reason, "Timeout")
      }))

    it.effect("MalformedTokenResponseError <- a 200 that is not a token (an HTML page)", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-malformed")
        yield* sim.setFault(
          "token",
          Fault.response(200, { body: "<html>Maintenance</html>", headers: { "Content-Type": "text/html" } })
        )
        const error = yield* tokenError.pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(error._tag, "MalformedTokenResponseError")
        if (error._tag !== "MalformedTokenResponseError") return
        assert.include(error.reason, "not JSON")
      }))

    it.effect("UnauthorizedError <- the API refusing even a fresh token", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-unauthorized")
        const body = JSON.stringify({
          errors: [{ type: "authorization", code: "authorization-token-invalid", title: "Refused" }]
        })
        yield* sim.setFault("api", Fault.response(401, { body }))
        const error = yield* Effect.flip(getJson("/advertisers/me")).pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(error._tag, "UnauthorizedError")
        if (error._tag !== "UnauthorizedError") return
        assert.strictEqual(error.code, "authorization-token-invalid")
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 2)
        assert.deepStrictEqual((yield* sim.apiRequests()).map((entry) => entry.status), [401, 401])
      }))

    it.effect("ForbiddenError <- a revoked consent, and no token is requested for it", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-forbidden")
        yield* sim.revokeConsent
        const error = yield* Effect.flip(getJson("/advertisers/me")).pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(error._tag, "ForbiddenError")
        if (error._tag !== "ForbiddenError") return
        assert.strictEqual(error.code, "consent-revoked")
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
      }))

    it.effect("5xx and 429 from the API are retried (429 after x-ratelimit-reset)", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-api-retries")
        yield* sim.setFault("api", Fault.serverError(503), { times: 1 })
        const afterServerError = yield* getJson("/advertisers/me").pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(afterServerError.status, 200)
        yield* sim.setFault("api", Fault.rateLimit({ resetAfter: Duration.seconds(1) }), { times: 1 })
        const afterRateLimit = yield* getJson("/advertisers/me").pipe(Effect.provide(coreClient(sim, clientId)))
        assert.strictEqual(afterRateLimit.status, 200)
        assert.deepStrictEqual((yield* sim.apiRequests()).map((entry) => entry.status), [503, 200, 429, 200])
      }))

    it.effect("the client's requests carry no secret in the journal's printed form", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("e2e-redaction")
        yield* getJson("/advertisers/me").pipe(Effect.provide(coreClient(sim, clientId)))
        const printed = JSON.stringify([yield* sim.tokenRequests(), yield* sim.apiRequests()])
        assert.notInclude(printed, Redacted.value(demo.clientSecret))
        assert.notInclude(printed, "sim.")
        assert.include(printed, clientId)
      }))
  }
)

layer(simulatorLayer({ runtime: "process", tokenLifetime: Duration.seconds(4) }), {
  excludeTestServices: true,
  timeout: Duration.minutes(2)
})("core client against the simulator, 4 s tokens", (it) => {
  it.effect("real-time expiry: refreshed ahead, the caller never sees a 401", () =>
    Effect.gen(function*() {
      const sim = yield* fresh
      const clientId = CriteoSimulator.clientId("e2e-real-time")
      const statuses = yield* Effect.gen(function*() {
        const client = yield* CriteoHttpClient.CriteoHttpClient
        const statuses: Array<number> = []
        // 10 s of calls, every 250 ms: the 4 s tokens expire twice meanwhile.
        for (let i = 0; i < 40; i++) {
          const response = yield* client.get("/advertisers/me")
          statuses.push(response.status)
          yield* response.text
          yield* Effect.sleep(Duration.millis(250))
        }
        return statuses
      }).pipe(
        Effect.provide(
          coreClient(sim, clientId, { refreshLeadTime: Duration.seconds(1), refreshJitter: Duration.zero })
        )
      )
      assert.isTrue(statuses.every((status) => status === 200), `statuses: ${statuses.join(",")}`)
      assert.isFalse((yield* sim.apiRequests()).some((entry) => entry.status === 401))
      const tokens = yield* sim.tokenRequests({ clientId })
      assert.isAtLeast(tokens.length, 3)
      assert.isTrue(tokens.every((entry) => entry.status === 200))
    }), { timeout: 60_000 })
})
