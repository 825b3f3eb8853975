/**
 * What the simulator was asked: the token requests and API requests in WireMock's request journal,
 * with their headers and form fields. Secrets and tokens (`client_secret`, `code`, `refresh_token`,
 * the `Authorization` header, ...) are kept as `Redacted` values, so that printing an entry (`String`,
 * `JSON.stringify`, `console.log`, a test failure diff) never shows them; `Redacted.value` reads one.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/**
 * A value of a header or form field: plain text, or `Redacted` for secrets and tokens.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldValue = string | Redacted.Redacted<string>

const FieldValue = Schema.Union(Schema.String, Schema.RedactedFromSelf(Schema.String))
const Fields = Schema.Record({ key: Schema.String, value: FieldValue })

/**
 * Form fields whose values are secret.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretFormFields: ReadonlySet<string> = new Set([
  "client_secret",
  "code",
  "refresh_token",
  "access_token",
  "password",
  "assertion",
  "client_assertion"
])

/**
 * Headers (lower case) whose values are secret.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretHeaders: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie"
])

const commonFields = {
  /** WireMock's id of the serve event. */
  id: Schema.String,
  /** When WireMock received the request. */
  loggedAt: Schema.DateTimeUtcFromSelf,
  method: Schema.String,
  /** The path, without the query string. */
  path: Schema.String,
  /** The status answered, or `undefined` when a network fault was sent instead of a response. */
  status: Schema.optional(Schema.Number),
  /** The name of the stub that answered, e.g. `"api: expired token (its expiry instant is past)"`. */
  stub: Schema.optional(Schema.String),
  /** Request headers, names in lower case; secret ones redacted. */
  headers: Fields
}

/**
 * A request to `POST /oauth2/token`.
 *
 * @since 0.1.0
 * @category models
 */
export class TokenRequest extends Schema.Class<TokenRequest>("@criteo-auth/conformance/Journal/TokenRequest")({
  ...commonFields,
  /** The form fields sent (when the body was a form); secret ones redacted. */
  form: Fields
}) {
  /**
   * @since 0.1.0
   */
  get grantType(): string | undefined {
    return plain(this.form["grant_type"])
  }
  /**
   * @since 0.1.0
   */
  get clientId(): string | undefined {
    return plain(this.form["client_id"])
  }
}

/**
 * A request to the API (any path other than the token endpoint).
 *
 * @since 0.1.0
 * @category models
 */
export class ApiRequest extends Schema.Class<ApiRequest>("@criteo-auth/conformance/Journal/ApiRequest")({
  ...commonFields,
  /** The API version, the first path segment when it looks like `2026-07`. */
  version: Schema.optional(Schema.String)
}) {
  /**
   * The bearer token sent, redacted.
   *
   * @since 0.1.0
   */
  get bearerToken(): Redacted.Redacted<string> | undefined {
    const header = this.headers["authorization"]
    if (header === undefined) return undefined
    const value = Redacted.isRedacted(header) ? Redacted.value(header) : header
    const match = /^Bearer\s+(.+)$/i.exec(value)
    return match === null ? undefined : Redacted.make(match[1])
  }
}

const plain = (value: FieldValue | undefined): string | undefined =>
  value === undefined ? undefined : Redacted.isRedacted(value) ? undefined : value

// -----------------------------------------------------------------------------
// decoding WireMock serve events
// -----------------------------------------------------------------------------

/** The parts of a WireMock serve event (`GET /__admin/requests`) that are read. */
const ServeEvent = Schema.Struct({
  id: Schema.String,
  request: Schema.Struct({
    url: Schema.String,
    method: Schema.String,
    loggedDate: Schema.Number,
    headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
    body: Schema.optional(Schema.NullOr(Schema.String))
  }),
  response: Schema.optional(Schema.NullOr(Schema.Struct({ status: Schema.optional(Schema.Number) }))),
  responseDefinition: Schema.optional(Schema.NullOr(Schema.Struct({ fault: Schema.optional(Schema.String) }))),
  stubMapping: Schema.optional(Schema.NullOr(Schema.Struct({ name: Schema.optional(Schema.String) })))
})

/** @internal */
export const ServeEvents = Schema.Struct({ requests: Schema.Array(ServeEvent) })

type ServeEvent = typeof ServeEvent.Type

const headerValue = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(", ") : typeof value === "string" ? value : JSON.stringify(value)

const headersOf = (event: ServeEvent): Record<string, FieldValue> => {
  const result: Record<string, FieldValue> = {}
  for (const [name, value] of Object.entries(event.request.headers ?? {})) {
    const key = name.toLowerCase()
    const text = headerValue(value)
    result[key] = secretHeaders.has(key) ? Redacted.make(text) : text
  }
  return result
}

const formOf = (event: ServeEvent, headers: Record<string, FieldValue>): Record<string, FieldValue> => {
  const contentType = headers["content-type"]
  const body = event.request.body
  if (typeof contentType !== "string" || !/application\/x-www-form-urlencoded/i.test(contentType) || !body) return {}
  const result: Record<string, FieldValue> = {}
  for (const [name, value] of new URLSearchParams(body)) {
    result[name] = secretFormFields.has(name) ? Redacted.make(value) : value
  }
  return result
}

const common = (event: ServeEvent) => {
  const headers = headersOf(event)
  const url = new URL(event.request.url, "http://simulator")
  const fault = event.responseDefinition?.fault
  const status = fault === undefined ? event.response?.status : undefined
  const stub = event.stubMapping?.name
  return {
    headers,
    fields: {
      id: event.id,
      loggedAt: DateTime.unsafeMake(event.request.loggedDate),
      method: event.request.method,
      path: url.pathname,
      headers,
      ...(status === undefined || status === 0 ? {} : { status }),
      ...(stub === undefined ? {} : { stub })
    }
  }
}

/** @internal */
export const tokenPath = "/oauth2/token"

/** @internal */
export const isTokenEvent = (event: ServeEvent): boolean =>
  new URL(event.request.url, "http://simulator").pathname === tokenPath

/** @internal */
export const toTokenRequest = (event: ServeEvent): TokenRequest => {
  const { fields, headers } = common(event)
  return new TokenRequest({ ...fields, form: formOf(event, headers) })
}

/** @internal */
export const toApiRequest = (event: ServeEvent): ApiRequest => {
  const { fields } = common(event)
  const version = Option.fromNullable(/^\/(\d{4}-\d{2})\//.exec(fields.path)?.[1])
  return new ApiRequest({ ...fields, ...(Option.isSome(version) ? { version: version.value } : {}) })
}
