/**
 * The simulator as one case sees it: its own port (a relay), and setup operations — stubs, faults,
 * expiry, consent — that apply to requests arriving on that port only, so that other cases running at
 * the same time are not affected. Its journal is the requests whose `Host` names that port.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as CriteoSimulator from "../CriteoSimulator.js"
import * as Fault from "../Fault.js"
import type * as Journal from "../Journal.js"
import type * as SimulatorError from "../SimulatorError.js"
import * as E from "./evidence.js"

type AdminEffect = Effect.Effect<void, SimulatorError.SimulatorAdminError>

export interface CaseSimulator {
  readonly port: number
  readonly baseUrl: string
  readonly tokenUrl: string
  /** Adds a stub for this case's requests only (a `Host` matcher is added unless the mapping has one). */
  readonly addStub: (mapping: Readonly<Record<string, unknown>>) => AdminEffect
  readonly setFault: (target: Fault.Target, fault: Fault.Fault, options?: { readonly times?: number }) => AdminEffect
  readonly clearFaults: AdminEffect
  /** Refuses (401) every token issued so far, on this case's port. */
  readonly expireTokens: AdminEffect
  /** The API answers 403 and refresh tokens are refused, on this case's port. */
  readonly revokeConsent: AdminEffect
  readonly requests: Effect.Effect<
    {
      readonly tokenRequests: ReadonlyArray<Journal.TokenRequest>
      readonly apiRequests: ReadonlyArray<Journal.ApiRequest>
    },
    SimulatorError.SimulatorAdminError
  >
  /** Removes this case's stubs and journal entries. */
  readonly cleanup: Effect.Effect<void>
}

const tokenRequest = { method: "POST", urlPath: "/oauth2/token" }
const apiRequest = { method: "ANY", urlPathPattern: "/[0-9]{4}-[0-9]{2}/.+" }
const json = { "Content-Type": "application/json; charset=utf-8" }
const tokenFormat = "'Bearer sim.'yyyyMMdd'T'HHmmss.SSSSSSSSSX"

const criteoErrors = (code: string, title: string, type = "authorization") => ({
  errors: [{ traceId: "{{randomValue type='UUID'}}", type, code, title, instance: "{{request.path}}" }]
})

const defaultBody = (target: Fault.Target, status: number) =>
  target === "token"
    ? JSON.stringify({
      error: status >= 500 ? "server_error" : status === 429 ? "rate_limited" : "invalid_request",
      error_description: `The simulator answers ${status} on purpose`
    })
    : JSON.stringify(criteoErrors(
      status >= 500 ? "server-error" : status === 429 ? "rate-limit-exceeded" : `http-${status}`,
      `The simulator answers ${status} on purpose`,
      status >= 500 ? "unavailable" : status === 429 ? "quota" : "validation"
    ))

/** What a slow endpoint eventually answers: a usable answer, too late. */
const lateAnswer = (target: Fault.Target, delay: Duration.Duration) =>
  target === "token"
    ? {
      status: 200,
      headers: json,
      body: JSON.stringify({ access_token: "__TOKEN__", token_type: "Bearer", expires_in: 900 }).replace(
        "__TOKEN__",
        "sim.{{now offset='900 seconds' format=\"yyyyMMdd'T'HHmmss.SSS\"}}{{randomValue length=6 type='NUMERIC'}}Z"
      ),
      fixedDelayMilliseconds: Duration.toMillis(delay),
      transformers: ["response-template"]
    }
    : {
      status: 200,
      headers: json,
      bodyFileName: "api/advertisers-me.json",
      fixedDelayMilliseconds: Duration.toMillis(delay)
    }

const faultResponse = (target: Fault.Target, fault: Fault.Fault) =>
  Fault.match(fault, {
    Network: ({ fault }) => ({ fault }),
    Latency: ({ delay }) => lateAnswer(target, delay),
    Response: ({ body, headers, status }) => ({
      status,
      headers: { ...json, ...headers },
      body: body.length > 0 ? body : defaultBody(target, status),
      transformers: ["response-template"]
    }),
    RateLimit: ({ limit, resetAfter }) => ({
      status: 429,
      headers: {
        ...json,
        "x-ratelimit-limit": String(limit),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": `{{now offset='${
          Math.max(0, Math.ceil(Duration.toSeconds(resetAfter)))
        } seconds' format='unix'}}`
      },
      body: defaultBody(target, 429),
      transformers: ["response-template"]
    })
  })

export const make = (
  sim: CriteoSimulator.Service,
  port: number,
  key: string
): CaseSimulator => {
  const host = { matches: `^[^:/]+:${port}$` }
  let faults = 0

  const addStub = (mapping: Readonly<Record<string, unknown>>, kind = "stub") => {
    const request = (mapping["request"] ?? {}) as Record<string, unknown>
    const headers = (request["headers"] ?? {}) as Record<string, unknown>
    return sim.addStub({
      ...mapping,
      request: { ...request, headers: { Host: host, ...headers } },
      metadata: { ...(mapping["metadata"] as Record<string, unknown> | undefined), case: key, kind }
    })
  }

  const setFault = (target: Fault.Target, fault: Fault.Fault, options: { readonly times?: number } = {}) =>
    Effect.gen(function*() {
      const request = target === "token" ? tokenRequest : apiRequest
      const response = faultResponse(target, fault)
      const what = Fault.match(fault, {
        Network: ({ fault }) => fault,
        Latency: ({ delay }) => `answers after ${Duration.format(delay)}`,
        Response: ({ status }) => `${status}`,
        RateLimit: () => "429 rate limited"
      })
      const name = `${target}: ${what}${
        options.times === undefined ? "" : ` (${options.times} time${options.times === 1 ? "" : "s"})`
      }, case ${key}`
      if (options.times === undefined) return yield* addStub({ name, priority: 1, request, response }, "fault")
      const scenarioName = `case-${key}-fault-${++faults}`
      for (let i = 0; i < options.times; i++) {
        yield* addStub({
          name,
          priority: 1,
          request,
          response,
          scenarioName,
          requiredScenarioState: i === 0 ? "Started" : `served-${i}`,
          newScenarioState: `served-${i + 1}`
        }, "fault")
      }
    })

  const expireTokens = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const cutoff = DateTime.formatIso(DateTime.unsafeMake(now + Duration.toMillis(sim.tokenLifetime) + 1))
    yield* addStub({
      name: `api: tokens issued before ${DateTime.formatIso(DateTime.unsafeMake(now))} refused (case ${key})`,
      priority: 3,
      request: { ...apiRequest, headers: { Authorization: { before: cutoff, actualFormat: tokenFormat } } },
      response: {
        status: 401,
        headers: json,
        jsonBody: criteoErrors("authorization-token-expired", "The authorization token has expired"),
        transformers: ["response-template"]
      }
    })
  })

  const revokeConsent = Effect.zipRight(
    addStub({
      name: `api: consent revoked (case ${key})`,
      priority: 5,
      request: apiRequest,
      response: {
        status: 403,
        headers: json,
        jsonBody: criteoErrors(
          "consent-revoked",
          "The advertiser revoked the consent of this application",
          "access-control"
        ),
        transformers: ["response-template"]
      }
    }),
    addStub({
      name: `token: refresh refused, consent revoked (case ${key})`,
      priority: 8,
      request: { ...tokenRequest, formParameters: { grant_type: { equalTo: "refresh_token" } } },
      response: {
        status: 400,
        headers: json,
        jsonBody: { error: "invalid_grant", error_description: "The consent was revoked" }
      }
    })
  )

  const mine = (r: Journal.TokenRequest | Journal.ApiRequest) => (E.plain(r.headers["host"]) ?? "").endsWith(`:${port}`)

  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    tokenUrl: `http://127.0.0.1:${port}/oauth2/token`,
    addStub: (mapping) => addStub(mapping),
    setFault,
    clearFaults: sim.removeStubs({ case: key, kind: "fault" }),
    expireTokens,
    revokeConsent,
    requests: Effect.map(sim.requests(), ({ apiRequests, tokenRequests }) => ({
      tokenRequests: tokenRequests.filter(mine),
      apiRequests: apiRequests.filter(mine)
    })),
    cleanup: Effect.all([
      sim.removeStubs({ case: key }),
      sim.removeRequests({ method: "ANY", headers: { Host: host } })
    ], { concurrency: 2, discard: true }).pipe(Effect.ignore)
  }
}
