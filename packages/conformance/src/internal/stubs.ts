/**
 * WireMock stub mappings the cases add for their own client id, on top of the fixtures (built by
 * `internal/mappings.ts`; this module posts them through the case context): a token
 * endpoint that answers this client differently (a short lifetime, an unusual body, a redirect), and
 * API answers for one token.
 */
import type * as Effect from "effect/Effect"
import type * as ConformanceCase from "../ConformanceCase.js"
import type * as SimulatorError from "../SimulatorError.js"
import * as Mappings from "./mappings.js"

/** Above every refusal of the fixtures; below faults (see `Mappings.priority`). */
export const casePriority = Mappings.priority.caseAnswer

/**
 * A token response body: `fields` as JSON, where the string `token` stands for a fresh simulator token
 * valid for `seconds`.
 */
export const tokenBody = Mappings.tokenBody

/** Stands for a fresh simulator token in `tokenBody`. */
export const token = Mappings.token

export interface TokenAnswer extends Mappings.TokenAnswer {
  /** The secret that must come with the request. Default the case's client secret. */
  readonly secret?: string
}

/**
 * Makes the token endpoint answer this case's client (with the right secret, form-encoded) as told
 * (`Mappings.tokenAnswer`, on the case's port).
 */
export const tokenAnswer = (
  environment: ConformanceCase.Context,
  answer: TokenAnswer = {}
): Effect.Effect<void, SimulatorError.SimulatorAdminError> =>
  environment.addStub(
    Mappings.tokenAnswer(
      { clientId: environment.clientId, clientSecret: answer.secret ?? environment.clientSecret },
      answer
    )
  )

/** The other loopback name of the simulator's host: a different origin on the same server. */
export const otherOrigin = (baseUrl: string): string => {
  const url = new URL(baseUrl)
  url.hostname = url.hostname === "localhost" ? "127.0.0.1" : "localhost"
  return url.origin
}

/** An API error body (`authorization` type), as text. */
export const criteoError = (code: string, title: string): string =>
  JSON.stringify(Mappings.criteoErrors({ type: "authorization", code, title }))
