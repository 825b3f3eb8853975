/**
 * What the simulator can do wrong on purpose, on the token endpoint or on the API: the four network
 * faults of WireMock, latency, a canned response (a 5xx, or anything else) and a rate limit. The stubs
 * that serve each one are built in one place, the simulator's internal mapping builder (`faultResponse`), for
 * `CriteoSimulator.setFault` and the conformance cases alike.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/**
 * Where a fault applies: `"token"` is `POST /oauth2/token`, `"api"` every versioned API path.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = "token" | "api"

/**
 * WireMock's network faults. Node sees, in order: `ECONNRESET`; a socket closed before any response;
 * a broken chunked body after a 200 status line; garbage that is not HTTP.
 *
 * @since 0.1.0
 * @category models
 */
export type NetworkFault =
  | "CONNECTION_RESET_BY_PEER"
  | "EMPTY_RESPONSE"
  | "MALFORMED_RESPONSE_CHUNK"
  | "RANDOM_DATA_THEN_CLOSE"

/**
 * @since 0.1.0
 * @category models
 */
export type Fault = Data.TaggedEnum<{
  /** A WireMock network fault instead of a response. */
  Network: { readonly fault: NetworkFault }
  /** The normal responses, each sent after `delay`. */
  Latency: { readonly delay: Duration.Duration }
  /** A canned response instead of the normal one. */
  Response: {
    readonly status: number
    readonly body: string
    readonly headers: Readonly<Record<string, string>>
  }
  /** 429 with `x-ratelimit-limit`, `x-ratelimit-remaining: 0` and `x-ratelimit-reset` (`resetAfter` from now). */
  RateLimit: { readonly limit: number; readonly resetAfter: Duration.Duration }
}>

const Fault = Data.taggedEnum<Fault>()

/**
 * @since 0.1.0
 * @category constructors
 */
export const network = (fault: NetworkFault): Fault => Fault.Network({ fault })

/**
 * @since 0.1.0
 * @category constructors
 */
export const connectionReset: Fault = network("CONNECTION_RESET_BY_PEER")

/**
 * @since 0.1.0
 * @category constructors
 */
export const emptyResponse: Fault = network("EMPTY_RESPONSE")

/**
 * @since 0.1.0
 * @category constructors
 */
export const malformedResponseChunk: Fault = network("MALFORMED_RESPONSE_CHUNK")

/**
 * @since 0.1.0
 * @category constructors
 */
export const randomDataThenClose: Fault = network("RANDOM_DATA_THEN_CLOSE")

/**
 * @since 0.1.0
 * @category constructors
 */
export const latency = (delay: Duration.DurationInput): Fault => Fault.Latency({ delay: Duration.decode(delay) })

/**
 * A canned response. Without a body, a JSON body in the target's error format is sent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const response = (
  status: number,
  options: { readonly body?: string | undefined; readonly headers?: Readonly<Record<string, string>> | undefined } = {}
): Fault =>
  Fault.Response({
    status,
    body: options.body ?? "",
    headers: options.headers ?? {}
  })

/**
 * A server error (503 unless told otherwise).
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverError = (status: 500 | 502 | 503 | 504 = 503): Fault => response(status)

/**
 * @since 0.1.0
 * @category constructors
 */
export const rateLimit = (
  options: { readonly resetAfter?: Duration.DurationInput | undefined; readonly limit?: number | undefined } = {}
): Fault =>
  Fault.RateLimit({
    limit: options.limit ?? 250,
    resetAfter: Duration.decode(options.resetAfter ?? Duration.seconds(60))
  })

/**
 * @since 0.1.0
 * @category pattern matching
 */
export const match = Fault.$match

/**
 * @since 0.1.0
 * @category guards
 */
export const is = Fault.$is
