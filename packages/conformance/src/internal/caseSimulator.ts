/**
 * The simulator as one case sees it: its own port (a relay), and setup operations — stubs, faults,
 * expiry, consent — that apply to requests arriving on that port only, so that other cases running at
 * the same time are not affected. Its journal is the requests whose `Host` names that port. A thin shell:
 * every mapping comes from `internal/mappings.ts` (the same builder as `CriteoSimulator`'s), scoped to the
 * port by `Mappings.onPort`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as CriteoSimulator from "../CriteoSimulator.js"
import type * as Fault from "../Fault.js"
import type * as Journal from "../Journal.js"
import type * as SimulatorError from "../SimulatorError.js"
import * as Evidence from "./evidence.js"
import * as Mappings from "./mappings.js"

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

export const make = (
  sim: CriteoSimulator.Service,
  port: number,
  key: string
): CaseSimulator => {
  let faults = 0

  /** Installs a mapping for this case's port only, under its metadata (`kind` says what `clearFaults` removes). */
  const install = (mapping: Readonly<Record<string, unknown>>, kind = "stub") =>
    sim.addStub(Mappings.onPort(mapping, port, { metadata: { case: key, kind }, label: `case ${key}` }))

  const setFault = (target: Fault.Target, fault: Fault.Fault, options: { readonly times?: number } = {}) =>
    Effect.forEach(
      Mappings.fault(target, fault, { times: options.times, scenarioName: `case-${key}-fault-${++faults}` }),
      (mapping) => install(mapping, "fault"),
      { discard: true }
    )

  const expireTokens = Effect.flatMap(
    Clock.currentTimeMillis,
    (issuedAt) => install(Mappings.expired({ issuedAt, lifetime: sim.tokenLifetime }))
  )

  const revokeConsent = Effect.forEach(Mappings.consentRevoked({ label: "revokeConsent" }), (m) => install(m), {
    discard: true
  })

  const mine = (r: Journal.TokenRequest | Journal.ApiRequest) =>
    (Evidence.reveal(r.headers["host"]) ?? "").endsWith(`:${port}`)

  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    tokenUrl: `http://127.0.0.1:${port}/oauth2/token`,
    addStub: (mapping) => install(mapping),
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
      sim.removeRequests({ method: "ANY", headers: { Host: Mappings.hostMatcher(port) } })
    ], { concurrency: 2, discard: true }).pipe(Effect.ignore)
  }
}
