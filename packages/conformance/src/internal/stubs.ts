/**
 * WireMock stub mappings the cases add for their own client id, on top of the fixtures: a token
 * endpoint that answers this client differently (a short lifetime, an unusual body, a redirect), and
 * API answers for one token.
 */
import type * as Effect from "effect/Effect"
import type * as ConformanceCase from "../ConformanceCase.js"
import type * as SimulatorError from "../SimulatorError.js"
import * as Mappings from "./mappings.js"

/** Above every refusal of the fixtures; below faults (see `Mappings.priority`). */
export const casePriority = Mappings.priority.caseAnswer

/** A regular expression matching exactly `value` (WireMock refuses a `%` that is not an escape). */
export const exactly = (value: string): string =>
  value.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`).replace(/%/g, "\\x25")

/**
 * The handlebars of a simulator token valid for `seconds`: `sim.<expiry instant>` with random digits,
 * which the API accepts until that instant.
 */
export const simToken = (seconds: number): string => Mappings.accessToken(seconds)

/**
 * A token response body: `fields` as JSON, where the string `token` stands for a fresh simulator token
 * valid for `seconds`.
 */
export const tokenBody = Mappings.tokenBody

/** Stands for a fresh simulator token in `tokenBody`. */
export const token = Mappings.token

export interface TokenAnswer {
  /** The status. Default 200. */
  readonly status?: number
  /** The raw body. Default a normal token response with `lifetime`. */
  readonly body?: string
  /** `expires_in`, and the validity of the token. Default 900. */
  readonly lifetime?: number
  readonly headers?: Readonly<Record<string, string>>
  /** The grant type this answer is for. Default `client_credentials`. */
  readonly grantType?: string
  /** The secret that must come with the request. Default the simulator's demo secret. */
  readonly secret?: string
  readonly delayMillis?: number
  readonly name?: string
}

/**
 * Makes the token endpoint answer this case's client (with the right secret, form-encoded) as told.
 */
export const tokenAnswer = (
  environment: ConformanceCase.Context,
  answer: TokenAnswer = {}
): Effect.Effect<void, SimulatorError.SimulatorAdminError> => {
  const lifetime = answer.lifetime ?? 900
  const body = answer.body ?? tokenBody({ access_token: token, token_type: "Bearer", expires_in: lifetime }, lifetime)
  return environment.addStub({
    name: answer.name ?? `token: case answer for ${environment.clientId}`,
    priority: casePriority,
    request: Mappings.tokenForm({
      grant_type: { equalTo: answer.grantType ?? "client_credentials" },
      client_id: { equalTo: environment.clientId },
      client_secret: { matches: exactly(answer.secret ?? environment.clientSecret) }
    }),
    response: {
      status: answer.status ?? 200,
      headers: { ...Mappings.tokenHeaders, ...answer.headers },
      body,
      ...(answer.delayMillis === undefined ? {} : { fixedDelayMilliseconds: answer.delayMillis }),
      transformers: ["response-template"]
    }
  })
}

/** The other loopback name of the simulator's host: a different origin on the same server. */
export const otherOrigin = (baseUrl: string): string => {
  const url = new URL(baseUrl)
  url.hostname = url.hostname === "localhost" ? "127.0.0.1" : "localhost"
  return url.origin
}

/** An API error body (`authorization` type), as text. */
export const criteoError = (code: string, title: string): string =>
  JSON.stringify(Mappings.criteoErrors({ type: "authorization", code, title }))
