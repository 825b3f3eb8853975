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
const Entries = Schema.Array(Schema.Tuple(Schema.String, FieldValue))

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
  headers: Fields,
  /** The query string parameters, in order, repeated ones repeated; secret ones redacted. */
  query: Entries,
  /** The headers of the response, names in lower case (none when a network fault was sent). */
  responseHeaders: Schema.Record({ key: Schema.String, value: Schema.String })
}

/**
 * A request to `POST /oauth2/token`.
 *
 * @since 0.1.0
 * @category models
 */
export class TokenRequest extends Schema.Class<TokenRequest>("@criteo-auth/conformance/Journal/TokenRequest")({
  ...commonFields,
  /** The form fields sent (when the body was a form); secret ones redacted. A repeated field keeps its last value. */
  form: Fields,
  /** Every form field in the order sent, repeated and empty ones included; secret ones redacted. */
  formEntries: Entries,
  /** The access token the simulator answered with, when it answered with one. */
  issuedAccessToken: Schema.optional(Schema.RedactedFromSelf(Schema.String)),
  /** The refresh token the simulator answered with, when it answered with one. */
  issuedRefreshToken: Schema.optional(Schema.RedactedFromSelf(Schema.String))
}) {
  /**
   * @since 0.1.0
   */
  get grantType(): string | undefined {
    return unlessRedacted(this.form["grant_type"])
  }
  /**
   * @since 0.1.0
   */
  get clientId(): string | undefined {
    return unlessRedacted(this.form["client_id"])
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

/** A field's value unless it is redacted (`Evidence.reveal`, in the kit, reveals it). */
const unlessRedacted = (value: FieldValue | undefined): string | undefined =>
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
  response: Schema.optional(Schema.NullOr(Schema.Struct({
    status: Schema.optional(Schema.Number),
    headers: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown }))),
    body: Schema.optional(Schema.NullOr(Schema.String)),
    bodyAsBase64: Schema.optional(Schema.NullOr(Schema.String))
  }))),
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

const entriesOf = (params: URLSearchParams): Array<readonly [string, FieldValue]> =>
  Array.from(params, ([name, value]) => [name, secretFormFields.has(name) ? Redacted.make(value) : value] as const)

const formEntriesOf = (
  event: ServeEvent,
  headers: Record<string, FieldValue>
): Array<readonly [string, FieldValue]> => {
  const contentType = headers["content-type"]
  const body = event.request.body
  if (typeof contentType !== "string" || !/application\/x-www-form-urlencoded/i.test(contentType) || !body) return []
  return entriesOf(new URLSearchParams(body))
}

const responseHeadersOf = (event: ServeEvent): Record<string, string> => {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(event.response?.headers ?? {})) {
    result[name.toLowerCase()] = headerValue(value)
  }
  return result
}

/** The tokens of a token endpoint's JSON answer, whatever its content type. */
const issuedTokensOf = (event: ServeEvent) => {
  const response = event.response
  const text = typeof response?.body === "string"
    ? response.body
    : typeof response?.bodyAsBase64 === "string"
    ? Buffer.from(response.bodyAsBase64, "base64").toString("utf8")
    : undefined
  if (text === undefined || text.length === 0) return {}
  const json = Option.getOrUndefined(Option.liftThrowable(JSON.parse)(text)) as Record<string, unknown> | undefined
  if (typeof json !== "object" || json === null) return {}
  const access = json["access_token"]
  const refresh = json["refresh_token"]
  return {
    ...(typeof access === "string" && access.length > 0 ? { issuedAccessToken: Redacted.make(access) } : {}),
    ...(typeof refresh === "string" && refresh.length > 0 ? { issuedRefreshToken: Redacted.make(refresh) } : {})
  }
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
      query: entriesOf(url.searchParams),
      responseHeaders: responseHeadersOf(event),
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
  const formEntries = formEntriesOf(event, headers)
  return new TokenRequest({
    ...fields,
    form: Object.fromEntries(formEntries),
    formEntries,
    ...(fields.status === 200 ? issuedTokensOf(event) : {})
  })
}

/** @internal */
export const toApiRequest = (event: ServeEvent): ApiRequest => {
  const { fields } = common(event)
  const version = Option.fromNullable(/^\/(\d{4}-\d{2})\//.exec(fields.path)?.[1])
  return new ApiRequest({ ...fields, ...(Option.isSome(version) ? { version: version.value } : {}) })
}
