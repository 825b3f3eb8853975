/**
 * The stubs of the fixtures, `fixtures/mappings/api.json` and `fixtures/mappings/token-endpoint.json`,
 * built with the mapping builder (`internal/mappings.ts`) from the public constants (demo credentials, API
 * versions): the JSON files are generated from here (`pnpm --filter @criteo-auth/conformance fixtures`) and
 * `test/mappings.test.ts` fails when they differ. Each stub keeps a stable `id`, so a regeneration changes
 * only what changed. (`fixtures/mappings/consents.json` is `SimulatorConsents.fixtureFile()`.)
 */
import * as Redacted from "effect/Redacted"
import * as CriteoSimulator from "../CriteoSimulator.js"
import * as SimulatorConsents from "../SimulatorConsents.js"
import * as Mappings from "./mappings.js"

const { current, deprecated } = CriteoSimulator.apiVersions
const demo = CriteoSimulator.demoCredentials
const secret = Redacted.value(demo.clientSecret)
const demoCode = Redacted.value(demo.authorizationCode)

const api = { method: "ANY", urlPathPattern: Mappings.apiPathPattern } as const

const apiError = (
  id: string,
  name: string,
  priority: number,
  request: Mappings.RequestPattern,
  status: number,
  error: Parameters<typeof Mappings.criteoErrors>[0]
): Mappings.Mapping => ({
  id,
  name,
  priority,
  request,
  response: {
    status,
    headers: Mappings.jsonHeaders,
    transformers: Mappings.templated,
    jsonBody: Mappings.criteoErrors(error)
  },
  metadata: { target: "api" }
})

const invalidToken = {
  type: "authorization",
  code: "authorization-token-invalid",
  title: "The authorization token is invalid",
  detail: "Missing, malformed or unknown bearer token"
}

const deprecation = {
  Deprecation: "true",
  Sunset: "Thu, 28 Jan 2027 00:00:00 GMT",
  Link: "<https://developers.criteo.com/marketing-solutions/docs/versioning-policy>; rel=\"deprecation\""
}

/** The API's normal answer for a resource, in the current and the deprecated version. */
const apiAnswers = (
  resource: { readonly name: string; readonly path: string; readonly file: string },
  ids: readonly [current: string, deprecated: string]
): ReadonlyArray<Mappings.Mapping> =>
  ([[current, ids[0]], [deprecated, ids[1]]] as const).map(([version, id]) => ({
    id,
    name: `api: GET ${resource.name} (${version}${version === deprecated ? ", deprecated" : ""})`,
    priority: Mappings.priority.apiAnswer,
    request: {
      method: "GET",
      urlPathPattern: `/${version}/${resource.path}`,
      headers: { Authorization: { matches: Mappings.bearerPattern() } }
    },
    response: {
      status: 200,
      headers: version === deprecated ? { ...Mappings.jsonHeaders, ...deprecation } : Mappings.jsonHeaders,
      transformers: Mappings.templated,
      bodyFileName: resource.file
    },
    metadata: { target: "api" }
  }))

/**
 * `fixtures/mappings/api.json`.
 *
 * @since 0.2.0
 * @category fixtures
 */
export const apiStubs: ReadonlyArray<Mappings.Mapping> = [
  apiError(
    "12b258fe-bb1c-5a06-be5b-8b0d1303e0e5",
    "api: decommissioned version (2025-10 and older)",
    Mappings.priority.versionDecommissioned,
    { method: "ANY", urlPathPattern: "/(20[01][0-9]|202[0-5])-[0-9]{2}/.+" },
    410,
    {
      type: "deprecation",
      code: "api-version-decommissioned",
      title: "This API version has been decommissioned",
      detail: `Version {{request.pathSegments.[0]}} is no longer supported: use ${current}`
    }
  ),
  apiError(
    "c0bc6bba-e706-5b3a-800b-204f6b16c21a",
    "api: no Authorization header",
    Mappings.priority.tokenInvalid,
    { ...api, headers: { Authorization: { absent: true } } },
    401,
    invalidToken
  ),
  apiError(
    "e8cea0e9-b308-5385-b8ed-57f1c84383d1",
    "api: unknown or malformed token",
    Mappings.priority.tokenInvalid,
    { ...api, headers: { Authorization: { doesNotMatch: Mappings.bearerPattern() } } },
    401,
    invalidToken
  ),
  { id: "1ebf5952-2518-50fd-a47f-efa08a3f821c", ...Mappings.expired("now") },
  { id: "005fcdb3-6e79-5fd2-9452-d9ec61a8cbd4", ...Mappings.rateLimitScenario("api", "api-rate-limit") },
  {
    id: "a5d14e2f-a946-59f3-bdca-08808558c80e",
    ...Mappings.consentRevoked({ label: "scenario consent = revoked", scenario: "consent" })[0]
  },
  ...apiAnswers(
    { name: "advertisers/me", path: "advertisers/me", file: "api/advertisers-me.json" },
    ["ea95d58e-b78a-532f-ab87-235fcc2b6eda", "3d2e7a9d-e477-56f6-a1cc-f568a2071f86"]
  ),
  ...apiAnswers(
    {
      name: "marketing-solutions/campaigns/{id}",
      path: "marketing-solutions/campaigns/[0-9]+",
      file: "api/campaign.json"
    },
    ["a1409296-acec-5054-ba75-f0a4e30a9511", "c612af44-bcc3-5d3d-9a6b-ad45d3d01109"]
  ),
  ...apiAnswers(
    { name: "retail-media/accounts", path: "retail-media/accounts", file: "api/retail-media-accounts.json" },
    ["f226639f-7148-51d8-b0d3-168e7f0b9091", "eccb9a59-33fd-5bc9-8d8b-c2c0bdedd38b"]
  ),
  apiError(
    "ba4cacbd-33f5-5089-8643-7bd6bfd78b22",
    "api: unknown resource or version",
    Mappings.priority.notFound,
    api,
    404,
    {
      type: "validation",
      code: "resource-not-found",
      title: "Resource not found",
      detail: `No resource at {{request.method}} {{request.path}} (supported versions: ${deprecated}, ${current})`
    }
  )
]

/** A token endpoint stub: a request, and an error body or a token body file. */
const tokenStub = (
  id: string,
  name: string,
  priority: number,
  request: Mappings.RequestPattern,
  answer:
    | { readonly status: number; readonly error: string; readonly description: string }
    | { readonly file: string }
): Mappings.Mapping => ({
  id,
  name,
  priority,
  request,
  response: "file" in answer
    ? { status: 200, headers: Mappings.tokenHeaders, bodyFileName: answer.file, transformers: Mappings.templated }
    : {
      status: answer.status,
      headers: Mappings.tokenHeaders,
      jsonBody: Mappings.oauthError(answer.error, answer.description)
    },
  metadata: { target: "token" }
})

const invalidRequest = (description: string) => ({ status: 400, error: "invalid_request", description })
const invalidGrant = (description: string) => ({ status: 400, error: "invalid_grant", description })
const missing = (parameter: string) => invalidRequest(`The request is missing the required parameter ${parameter}`)
const invalidClient = {
  status: 401,
  error: "invalid_client",
  description: "client_id doesn't exist or the client_secret is invalid"
}
const form = Mappings.tokenForm
const grant = (type: string) => ({ grant_type: { equalTo: type } })
const formContentType = "Content-Type must be application/x-www-form-urlencoded"

/** The demo consent's chain: the code once, then the refresh tokens rotating (token bodies from `__files/token`). */
const [codeExchange, refreshA, refreshB] = Mappings.codeChain({
  code: demoCode,
  redirectUri: demo.redirectUri,
  answer: (issued, by) => ({
    status: 200,
    headers: Mappings.tokenHeaders,
    bodyFileName: by === "code" ? "token/authorization-code.json" : `token/refresh-to-${issued}.json`,
    transformers: Mappings.templated
  })
})

/**
 * `fixtures/mappings/token-endpoint.json`.
 *
 * @since 0.2.0
 * @category fixtures
 */
export const tokenStubs: ReadonlyArray<Mappings.Mapping> = [
  { id: "198ae166-c220-5d09-83b9-0476c5c1630c", ...Mappings.rateLimitScenario("token", "token-rate-limit") },
  tokenStub(
    "0d8a338c-57b4-5282-a5f5-8e3b964baa28",
    "token: no Content-Type",
    Mappings.priority.contentType,
    { method: "POST", urlPath: Mappings.tokenPath, headers: { "Content-Type": { absent: true } } },
    invalidRequest(formContentType)
  ),
  tokenStub(
    "ab78b63b-a710-596e-a64c-913bb399b3da",
    "token: wrong Content-Type",
    Mappings.priority.contentType,
    {
      method: "POST",
      urlPath: Mappings.tokenPath,
      headers: { "Content-Type": { doesNotMatch: "(?i)application/x-www-form-urlencoded( *;.*)?" } }
    },
    invalidRequest(formContentType)
  ),
  ...([
    ["a77272fd-cf60-548b-b2a9-3412e0682d89", "grant_type"],
    ["27f73162-5057-597c-a714-db58e20cf8ca", "client_id"],
    ["8d09c9e6-949f-5878-b155-37227cfa363c", "client_secret"]
  ] as const).map(([id, parameter]) =>
    tokenStub(
      id,
      `token: missing ${parameter}`,
      Mappings.priority.missingParameter,
      form({ [parameter]: { absent: true } }),
      missing(parameter)
    )
  ),
  tokenStub(
    "3fa81c34-25fd-5570-abbf-32f22882cce8",
    "token: unknown client_id",
    Mappings.priority.invalidClient,
    form({ client_id: { doesNotMatch: `${demo.clientId}(-[A-Za-z0-9_.-]+)?` } }),
    invalidClient
  ),
  tokenStub(
    "d241b6da-17a4-5d32-b287-9c485dbc7c1c",
    "token: wrong client_secret",
    Mappings.priority.invalidClient,
    form({ client_secret: { doesNotMatch: secret } }),
    invalidClient
  ),
  tokenStub(
    "a104862b-4e27-5208-a880-6b2175e22004",
    "token: unsupported grant_type",
    Mappings.priority.unsupportedGrant,
    form({ grant_type: { doesNotMatch: "client_credentials|authorization_code|refresh_token" } }),
    {
      status: 400,
      error: "unsupported_grant_type",
      description: "grant_type must be client_credentials, authorization_code or refresh_token"
    }
  ),
  ...([
    ["552756ce-c2f7-5e18-8353-df0d9f9175b6", "authorization_code", "code"],
    ["bceccf58-ff2d-5b27-adda-e2398c66c3b8", "authorization_code", "redirect_uri"],
    ["4620eedd-9123-5e81-92dc-080e152c2f73", "refresh_token", "refresh_token"]
  ] as const).map(([id, type, parameter]) =>
    tokenStub(
      id,
      `token: ${type} without ${parameter}`,
      Mappings.priority.missingGrantParameter,
      form({ ...grant(type), [parameter]: { absent: true } }),
      missing(parameter)
    )
  ),
  tokenStub(
    "4f79c433-3bb6-586f-a55d-ed69db023f45",
    "token: client_credentials",
    Mappings.priority.grant,
    form(grant("client_credentials")),
    { file: "token/client-credentials.json" }
  ),
  { id: "f360741b-99e3-5ad0-844e-dbaa6ecd2a9b", ...codeExchange },
  tokenStub(
    "6708ba76-bf9f-5669-a473-c7c70331cecc",
    "token: authorization_code, redirect_uri mismatch",
    Mappings.priority.redirectMismatch,
    form({
      ...grant("authorization_code"),
      code: { equalTo: demoCode },
      redirect_uri: { doesNotMatch: demo.redirectUri }
    }),
    invalidGrant("redirect_uri does not match the one of the authorization request")
  ),
  tokenStub(
    "18dba180-1931-5960-82b7-fe9ba4cc6880",
    "token: authorization_code, code already used",
    Mappings.priority.codeReused,
    form({ ...grant("authorization_code"), code: { equalTo: demoCode } }),
    invalidGrant("The authorization code has already been used")
  ),
  tokenStub(
    "6c6bf127-0f47-5425-a0de-cfdecc553ff2",
    "token: authorization_code, unknown code",
    Mappings.priority.unknownGrant,
    form(grant("authorization_code")),
    invalidGrant("The authorization code is invalid or expired")
  ),
  {
    id: "5b7f6354-0ed3-5053-a2e2-6c0fd5b01c1a",
    ...Mappings.consentRevoked({ label: "scenario consent = revoked", scenario: "consent" })[1]
  },
  { id: "16a9e399-0998-5f0f-94b4-dd89f93a8637", ...refreshA },
  { id: "81e1d631-13e0-51a2-a6d8-f76a7dafce35", ...refreshB },
  tokenStub(
    "441119c0-8a8e-5123-a4a5-d8318bba7bd5",
    "token: refresh_token unknown, expired or already rotated",
    Mappings.priority.unknownGrant,
    form(grant("refresh_token")),
    invalidGrant("The refresh token is invalid, expired or was already used")
  )
]

/** A token body file: an access token for the simulator's lifetime, and a refresh token of `generation`. */
const tokenFile = (generation?: "a" | "b") =>
  `${
    Mappings.tokenResponseBody({
      lifetime: "environment",
      refreshToken: generation === undefined ? undefined : Mappings.refreshToken(`rt.${generation}`)
    })
  }\n`

/**
 * Every generated fixture file: its path under `fixtures/` and its text.
 *
 * @since 0.2.0
 * @category fixtures
 */
export const files: ReadonlyArray<readonly [path: string, text: string]> = [
  ["mappings/api.json", Mappings.mappingsFile(apiStubs)],
  ["mappings/token-endpoint.json", Mappings.mappingsFile(tokenStubs)],
  ["mappings/consents.json", SimulatorConsents.fixtureFile()],
  ["__files/token/client-credentials.json", tokenFile()],
  ["__files/token/authorization-code.json", tokenFile("a")],
  ["__files/token/refresh-to-a.json", tokenFile("a")],
  ["__files/token/refresh-to-b.json", tokenFile("b")]
]
