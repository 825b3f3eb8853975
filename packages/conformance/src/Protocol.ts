/**
 * The adapter protocol (version 2): how the runner drives a client under test. The runner starts the
 * adapter as a subprocess with the simulator's addresses and credentials in `CRITEO_*` environment
 * variables, sends commands as JSON lines on its stdin and reads answers as JSON lines on its stdout.
 * `adapters/PROTOCOL.md` is the reference for adapter authors.
 *
 * Version 2 adds the adapter's capabilities to its `ready` line (the grants it supports, the API paths it
 * accepts, whether its timeouts can be configured): the cases needing what it does not claim are `N/A`.
 * An adapter of version 1 keeps working: without `capabilities` it claims everything.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { forTerminal, jsonDepth } from "./internal/sanitize.js"

/**
 * @since 0.1.0
 * @category constants
 */
export const version = 2

/**
 * The protocol versions the runner speaks: an adapter may announce any of them.
 *
 * @since 0.2.0
 * @category constants
 */
export const supportedVersions: ReadonlyArray<number> = [1, 2]

/**
 * The environment variables the runner sets for the adapter.
 *
 * @since 0.1.0
 * @category constants
 */
export const variables = {
  tokenUrl: "CRITEO_TOKEN_URL",
  apiUrl: "CRITEO_API_URL",
  apiVersion: "CRITEO_API_VERSION",
  clientId: "CRITEO_CLIENT_ID",
  clientSecret: "CRITEO_CLIENT_SECRET",
  grantType: "CRITEO_GRANT_TYPE",
  authorizationCode: "CRITEO_AUTHORIZATION_CODE",
  redirectUri: "CRITEO_REDIRECT_URI",
  refreshToken: "CRITEO_REFRESH_TOKEN",
  tokenTimeout: "CRITEO_TOKEN_TIMEOUT",
  apiTimeout: "CRITEO_API_TIMEOUT",
  protocol: "CRITEO_CONFORMANCE_PROTOCOL",
  caseId: "CRITEO_CONFORMANCE_CASE"
} as const

/**
 * What the client answered to one call: the HTTP status it finally returned to its caller (after its
 * own retries and refreshes), or the name of its error when it returned no response.
 *
 * @since 0.1.0
 * @category models
 */
export const Outcome = Schema.Struct({
  status: Schema.optional(Schema.Int.pipe(Schema.between(100, 599))),
  body: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}).pipe(
  Schema.filter((outcome) =>
    (outcome.status === undefined) !== (outcome.error === undefined) ||
    "an answer has either a status (a number) or an error (the name of the client's error)"
  )
)

/**
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * What an adapter claims in its `ready` line (protocol version 2), each member optional — an absent one
 * claims everything: `grants`, the grant types it can be configured with; `apiPaths`, `"any"` or the
 * API paths it accepts in a `call`; `configurableTimeouts`, whether `CRITEO_TOKEN_TIMEOUT` and
 * `CRITEO_API_TIMEOUT` reach the client.
 *
 * @since 0.2.0
 * @category models
 */
export const ClaimedCapabilities = Schema.Struct({
  grants: Schema.optional(Schema.Array(Schema.String)),
  apiPaths: Schema.optional(Schema.Union(Schema.Literal("any"), Schema.Array(Schema.String))),
  configurableTimeouts: Schema.optional(Schema.Boolean)
})

/**
 * What the adapter can do, every member resolved.
 *
 * @since 0.2.0
 * @category models
 */
export interface Capabilities {
  readonly grants: "any" | ReadonlyArray<string>
  readonly apiPaths: "any" | ReadonlyArray<string>
  readonly configurableTimeouts: boolean
}

/**
 * Everything: what an adapter of protocol version 1, or one that claims nothing, is taken to support.
 *
 * @since 0.2.0
 * @category constants
 */
export const allCapabilities: Capabilities = { grants: "any", apiPaths: "any", configurableTimeouts: true }

/**
 * `{"type":"ready","name":"my-client","version":"1.2.3","protocol":2,"capabilities":{...}}`: the adapter is
 * ready for commands.
 *
 * @since 0.1.0
 * @category models
 */
export const Ready = Schema.Struct({
  type: Schema.Literal("ready"),
  name: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.Number),
  /** @since 0.2.0 */
  capabilities: Schema.optional(ClaimedCapabilities)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Ready = typeof Ready.Type

/**
 * The capabilities a `ready` line claims: everything it does not restrict (all of them for version 1).
 *
 * @since 0.2.0
 * @category decoding
 */
export const capabilitiesOf = (ready: Ready): Capabilities => ({
  grants: ready.capabilities?.grants ?? "any",
  apiPaths: ready.capabilities?.apiPaths ?? "any",
  configurableTimeouts: ready.capabilities?.configurableTimeouts ?? true
})

/**
 * The answer to a `call` command.
 *
 * @since 0.1.0
 * @category models
 */
export const Result = Schema.extend(
  Schema.Struct({ id: Schema.String, type: Schema.Literal("result") }),
  Outcome
)

/**
 * The answer to a `calls` command: one outcome per call, in any order.
 *
 * @since 0.1.0
 * @category models
 */
export const Results = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("results"),
  results: Schema.Array(Outcome)
})

/**
 * Everything an adapter may write on stdout as a protocol message.
 *
 * @since 0.1.0
 * @category models
 */
export const Message = Schema.Union(Ready, Result, Results)

/**
 * @since 0.1.0
 * @category models
 */
export type Message = typeof Message.Type

/**
 * The `type`s that make a JSON line on stdout a protocol message; any other line is the client's
 * own output.
 *
 * @since 0.1.0
 * @category constants
 */
export const messageTypes: ReadonlySet<string> = new Set(["ready", "result", "results"])

/**
 * A request the client makes to the API: `path` is relative to the API version
 * (`/advertisers/me` goes to `${CRITEO_API_URL}/${CRITEO_API_VERSION}/advertisers/me`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  readonly path: string
  readonly body?: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export type Command =
  | {
    readonly id: string
    readonly type: "call"
    readonly method: string
    readonly path: string
    readonly body: unknown
  }
  | {
    readonly id: string
    readonly type: "calls"
    readonly count: number
    readonly method: string
    readonly path: string
  }
  | { readonly type: "shutdown" }

/**
 * The JSON line of a command.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeCommand = (command: Command): string => JSON.stringify(command)

/**
 * How a line of the adapter's stdout reads: a protocol message, a malformed protocol message, or the
 * client's own output.
 *
 * @since 0.1.0
 * @category models
 */
export type Line =
  | { readonly _tag: "Message"; readonly message: Message }
  | { readonly _tag: "Invalid"; readonly id: string | undefined; readonly problem: string }
  | { readonly _tag: "Output"; readonly text: string }

const decodeMessage = Schema.decodeUnknownEither(Message, { errors: "first", onExcessProperty: "ignore" })

/**
 * How deeply a protocol message may nest objects and arrays (a `body` included).
 *
 * @since 0.2.0
 * @category constants
 */
export const maxDepth = 64

/**
 * Reads one line of the adapter's stdout. A JSON object whose `type` is `ready`, `result` or
 * `results`, or whose `id` is one of `pendingIds`, must be a valid message — nested at most `maxDepth`
 * deep — ; anything else is output. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseLine = (text: string, pendingIds: ReadonlySet<string>): Line => {
  const trimmed = text.trim()
  if (!trimmed.startsWith("{")) return { _tag: "Output", text }
  let json: unknown
  try {
    json = JSON.parse(trimmed)
  } catch {
    return { _tag: "Output", text }
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { _tag: "Output", text }
  const record = json as Record<string, unknown>
  const id = typeof record["id"] === "string" ? record["id"] : undefined
  const claimsProtocol = (typeof record["type"] === "string" && messageTypes.has(record["type"])) ||
    (id !== undefined && pendingIds.has(id))
  if (!claimsProtocol) return { _tag: "Output", text }
  const excerpt = forTerminal(trimmed.slice(0, 200))
  if (jsonDepth(trimmed, maxDepth) > maxDepth) {
    return { _tag: "Invalid", id, problem: `${excerpt}…: nested deeper than ${maxDepth} levels` }
  }
  try {
    const decoded = decodeMessage(json)
    if (decoded._tag === "Right") return { _tag: "Message", message: decoded.right }
    const problem = decoded.left.message.split("\n").slice(-2).join(" ").trim()
    return { _tag: "Invalid", id, problem: `${excerpt}: ${forTerminal(problem.slice(0, 500))}` }
  } catch (error) {
    return { _tag: "Invalid", id, problem: `${excerpt}: cannot be read (${String(error).slice(0, 200)})` }
  }
}
