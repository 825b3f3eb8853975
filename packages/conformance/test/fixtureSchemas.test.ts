/**
 * The simulator's API bodies against Criteo's published schemas (issue 11, false positive 3): every body
 * under `fixtures/__files/api` and every API error body the mapping builder makes must decode with the
 * models Criteo generated into its own SDK, so that a typed client never rejects the kit's answers.
 *
 * Source of every model below: Criteo's Python SDK, generated from its OpenAPI specs,
 * github.com/criteo/criteo-api-python-sdk at commit d9b7e14a6b64ff345017081de65ab38a4ba59902 (the newest
 * stored snapshot; it holds the 2026-01 SDKs, not yet 2026-07):
 * - marketing solutions: `sdks/marketingsolutions_2026-01/docs/<Model>.md` (fields, types, required) and
 *   `sdks/marketingsolutions_2026-01/criteo_api_marketingsolutions_v2026_01/model/<model>.py`
 *   (`allowed_values`: the enums; `additional_properties_type`: whether extras are allowed);
 * - retail media: `sdks/retailmedia_2026-01/docs/<Model>.md` and
 *   `sdks/retailmedia_2026-01/criteo_api_retailmedia_v2026_01/model/<model>.py`.
 * Every field the models mark `[optional]` and `none_type` is `optional` and nullable here; the models
 * whose generated class sets `additional_properties_type = None` (the schema says
 * `additionalProperties: false`) decode with `onExcessProperty: "error"`, the others allow extras.
 *
 * Not checked against a published model: the models type only the 200 answers (`AdvertiserApi.md`,
 * `CampaignApi.md`, `AccountsApi.md` list no 401/403/429 body), so the error bodies are checked against
 * `CommonProblem`, the element type of `errors` in marketing solutions' responses (the one error model that
 * carries both `traceId` and `traceIdentifier`), not against a per-status response schema. Retail media's
 * `CommonError` forbids extras and has no `traceIdentifier`; the simulator's error bodies carry it (as
 * observed, see /work/shared/reference/criteo-api-facts.md), so they are not checked against `CommonError`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Fixtures from "../src/internal/fixtures.js"
import * as Mappings from "../src/internal/mappings.js"

const files = Path.resolve(import.meta.dirname, "../../../fixtures/__files/api")

/** An optional, nullable property: `[optional]` with `none_type` in the generated models. */
const opt = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

// -----------------------------------------------------------------------------
// marketing solutions 2026-01
// -----------------------------------------------------------------------------

/** `CommonProblem` (docs/CommonProblem.md, model/common_problem.py): `type` is an enum; extras allowed. */
const CommonProblem = Schema.Struct({
  code: opt(Schema.String),
  detail: opt(Schema.String),
  instance: opt(Schema.String),
  source: opt(Schema.Record({ key: Schema.String, value: Schema.String })),
  stackTrace: opt(Schema.String),
  title: opt(Schema.String),
  traceId: opt(Schema.String),
  traceIdentifier: opt(Schema.String),
  type: opt(
    Schema.Literal(
      "unknown",
      "access-control",
      "authentication",
      "authorization",
      "availability",
      "deprecation",
      "quota",
      "validation"
    )
  )
})

/**
 * `CriteoApiError` (docs/CriteoApiError.md, model/criteo_api_error.py): the element of `errors` in
 * `GetPortfolioResponse`; `type` spells `access_control` with an underscore and `code` is an enum.
 */
const CriteoApiError = Schema.Struct({
  code: opt(
    Schema.Literal(
      "internal-error",
      "deprecated-field",
      "endpoint-deprecated",
      "required-field",
      "invalid-date-format",
      "invalid",
      "invalid-ranged",
      "invalid-timespan"
    )
  ),
  detail: opt(Schema.String),
  instance: opt(Schema.String),
  source: opt(Schema.Record({ key: Schema.String, value: Schema.String })),
  title: opt(Schema.String),
  traceId: opt(Schema.String),
  type: opt(
    Schema.Literal(
      "access_control",
      "authentication",
      "authorization",
      "availability",
      "deprecation",
      "quota",
      "validation"
    )
  )
})

/** `CriteoApiWarning` (docs/CriteoApiWarning.md): the fixture's `warnings` are empty; any object passes. */
const CriteoApiWarning = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** `PortfolioMessage` (docs/PortfolioMessage.md): only `advertiserName`; extras allowed. */
const PortfolioMessage = Schema.Struct({ advertiserName: opt(Schema.String) })

/** `EntityOfPortfolioMessage` (model/entity_of_portfolio_message.py): `type` is a lower-case enum. */
const EntityOfPortfolioMessage = Schema.Struct({
  attributes: Schema.optional(PortfolioMessage),
  id: opt(Schema.String),
  meta: opt(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  type: opt(
    Schema.Literal(
      "campaign",
      "adset",
      "ad",
      "advertiser",
      "agency",
      "publisher",
      "address",
      "client",
      "contact",
      "industry"
    )
  )
})

/** `GetPortfolioResponse`: the 200 of `GET /{version}/advertisers/me` (docs/AdvertiserApi.md, list_advertisers). */
const GetPortfolioResponse = Schema.Struct({
  data: opt(Schema.Array(EntityOfPortfolioMessage)),
  errors: opt(Schema.Array(CriteoApiError)),
  warnings: opt(Schema.Array(CriteoApiWarning))
})

/** `NillableDecimal` (docs/NillableDecimal.md). */
const NillableDecimal = Schema.Struct({ value: opt(Schema.Number) })

/** `CampaignSpendLimitV23Q1` (model/campaign_spend_limit_v23_q1.py): two enums. */
const CampaignSpendLimitV23Q1 = Schema.Struct({
  spendLimitAmount: Schema.optional(NillableDecimal),
  spendLimitRenewal: opt(Schema.Literal("undefined", "daily", "monthly", "lifetime")),
  spendLimitType: opt(Schema.Literal("capped", "uncapped"))
})

/** `CampaignV23Q1` (model/campaign_v23_q1.py): `goal` is an enum; extras allowed. */
const CampaignV23Q1 = Schema.Struct({
  advertiserId: opt(Schema.String),
  budgetAutomation: opt(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  goal: opt(Schema.Literal("unspecified", "acquisition", "retention")),
  id: opt(Schema.String),
  name: opt(Schema.String),
  spendLimit: Schema.optional(CampaignSpendLimitV23Q1)
})

/** `CampaignV23Q1Resource` (docs/CampaignV23Q1Resource.md): `type` is a free string. */
const CampaignV23Q1Resource = Schema.Struct({
  attributes: Schema.optional(CampaignV23Q1),
  id: opt(Schema.String),
  type: opt(Schema.String)
})

/** `CampaignV23Q1Response`: the 200 of `GET /{version}/marketing-solutions/campaigns/{campaign-id}` (get_campaign). */
const CampaignV23Q1Response = Schema.Struct({
  data: Schema.optional(CampaignV23Q1Resource),
  errors: opt(Schema.Array(CommonProblem)),
  warnings: opt(Schema.Array(CommonProblem))
})

// -----------------------------------------------------------------------------
// retail media 2026-01 (every model here: additionalProperties false)
// -----------------------------------------------------------------------------

const strict = { onExcessProperty: "error" } as const

/** `CommonError` / `CommonWarning` (model/common_error.py): `type` is an enum; no extras. */
const CommonError = Schema.Struct({
  code: opt(Schema.String),
  detail: opt(Schema.String),
  instance: opt(Schema.String),
  source: opt(Schema.Record({ key: Schema.String, value: Schema.String })),
  stackTrace: opt(Schema.String),
  title: opt(Schema.String),
  traceId: opt(Schema.String),
  type: opt(
    Schema.Literal(
      "unknown",
      "access-control",
      "authentication",
      "authorization",
      "availability",
      "deprecation",
      "quota",
      "validation"
    )
  )
})

/** `ExternalAccount` (model/external_account.py): six required fields, `subtype` (lower-case t), enums. */
const ExternalAccount = Schema.Struct({
  countries: Schema.Array(Schema.String),
  currency: Schema.String,
  name: Schema.String.pipe(Schema.maxLength(510)),
  parentAccountLabel: Schema.String.pipe(Schema.maxLength(510)),
  timeZone: Schema.String,
  type: Schema.Literal("unknown", "supply", "demand"),
  companyName: opt(Schema.String),
  onBehalfCompanyName: opt(Schema.String),
  subtype: opt(Schema.Literal("unknown", "brand", "seller"))
})

/** `JsonApiBodyWithIdOfInt64AndAccountAndAccount`: `id` and `type` required, `type` a free string. */
const AccountBody = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  attributes: Schema.optional(ExternalAccount)
})

/** `PageMetadata`: `currentPageIndex` and `currentPageSize` required integers. */
const PageMetadata = Schema.Struct({
  currentPageIndex: Schema.Int,
  currentPageSize: Schema.Int,
  nextPage: opt(Schema.String),
  previousPage: opt(Schema.String),
  totalItemsAcrossAllPages: opt(Schema.Int),
  totalPages: opt(Schema.Int)
})

/** `JsonApiPageResponseOfAccount`: the 200 of `GET /{version}/retail-media/accounts` (AccountsApi.md, get_accounts). */
const JsonApiPageResponseOfAccount = Schema.Struct({
  data: Schema.Array(AccountBody),
  metadata: PageMetadata,
  errors: opt(Schema.Array(CommonError)),
  warnings: opt(Schema.Array(CommonError))
})

// -----------------------------------------------------------------------------
// bodies
// -----------------------------------------------------------------------------

/**
 * A body as the simulator sends it: WireMock's handlebars rendered for a request to `path`. A template
 * this table does not know fails the test rather than passing unrendered.
 */
const render = (text: string, path: string): unknown => {
  const segments = path.split("/").filter((segment) => segment.length > 0)
  const rendered = text
    .replace(/\{\{request\.pathSegments\.\[(\d+)\]\}\}/g, (_, index: string) => segments[Number(index)] ?? "")
    .replace(/\{\{request\.path\}\}/g, path)
    .replace(/\{\{request\.method\}\}/g, "GET")
    .replace(/\{\{randomValue type='UUID'\}\}/g, "0b6e3c1c-5f0e-4c1e-9d3a-6f1f2a7b8c9d")
  assert.notMatch(rendered, /\{\{/, `an unrendered template in ${rendered}`)
  return JSON.parse(rendered)
}

const fixture = (file: string, path: string) => render(Fs.readFileSync(Path.join(files, file), "utf8"), path)

const decode = <A, I>(schema: Schema.Schema<A, I>, body: unknown, options?: typeof strict) =>
  Schema.decodeUnknownEither(schema, options)(body)

const valid = <A, I>(schema: Schema.Schema<A, I>, body: unknown, options?: typeof strict) => {
  const result = decode(schema, body, options)
  if (Either.isLeft(result)) assert.fail(String(result.left))
}

/** A deep copy of `body` with `edit` applied. */
const mutated = (body: unknown, edit: (copy: any) => void): unknown => {
  const copy = structuredClone(body)
  edit(copy)
  return copy
}

/** A table of mismatches: each edit of a copy of `body` fails to decode; a failure names the edit. */
const invalidEach = <A, I>(
  schema: Schema.Schema<A, I>,
  body: unknown,
  edits: ReadonlyArray<(copy: any) => void>,
  options?: typeof strict
) => {
  for (const edit of edits) {
    assert.isTrue(Either.isLeft(decode(schema, mutated(body, edit), options)), `decoded after ${String(edit)}`)
  }
}

/** Every API error body of the mapping builder and the fixtures, rendered, with where it comes from. */
const errorBodies = (): ReadonlyArray<readonly [string, unknown]> => {
  const path = "/2026-07/advertisers/me"
  const fromMapping = (label: string, mapping: Mappings.Mapping): readonly [string, unknown] => {
    const { body, jsonBody } = mapping.response as { body?: string; jsonBody?: unknown }
    return [label, render(body ?? JSON.stringify(jsonBody), path)]
  }
  return [
    ...Fixtures.apiStubs
      .filter((stub) => stub.response.status !== undefined && stub.response.status >= 400)
      .map((stub) => fromMapping(`fixture ${stub.name}`, stub)),
    fromMapping("expired (401)", Mappings.expired("now")),
    fromMapping("consent revoked (403)", Mappings.consentRevoked({ label: "test" })[0]),
    [
      "rate limited (429)",
      render(JSON.stringify(Mappings.rateLimitScenario("api", "s").response.jsonBody), path)
    ],
    ...[400, 401, 403, 404, 418, 429, 500, 502, 503, 504].map((status) =>
      [`errorBody(api, ${status})`, render(Mappings.errorBody("api", status), path)] as const
    )
  ]
}

describe("fixture bodies against Criteo's published schemas (criteo-api-python-sdk 2026-01)", () => {
  describe("GET /advertisers/me: GetPortfolioResponse", () => {
    const body = fixture("advertisers-me.json", "/2026-07/advertisers/me")

    it("the fixture decodes", () => valid(GetPortfolioResponse, body))

    it("a mismatch fails: `type: \"Advertiser\"` is not in the enum, a numeric id is not a string", () => {
      valid(GetPortfolioResponse, mutated(body, (copy) => (copy.data[0].type = "advertiser")))
      invalidEach(GetPortfolioResponse, body, [
        (copy) => (copy.data[0].type = "Advertiser"),
        (copy) => (copy.data[0].id = 100042),
        (copy) => (copy.data[0].attributes.advertiserName = 1)
      ])
    })
  })

  describe("GET /marketing-solutions/campaigns/{id}: CampaignV23Q1Response", () => {
    const body = fixture("campaign.json", "/2026-07/marketing-solutions/campaigns/123456")

    it("the fixture decodes, its templates rendered", () => {
      valid(CampaignV23Q1Response, body)
      assert.strictEqual((body as any).data.id, "123456")
    })

    it("a mismatch fails: `goal` and the spend limit's enums, the amount's type", () => {
      invalidEach(CampaignV23Q1Response, body, [
        (copy) => (copy.data.attributes.goal = "Conversions"),
        (copy) => (copy.data.attributes.spendLimit.spendLimitType = "Capped"),
        (copy) => (copy.data.attributes.spendLimit.spendLimitRenewal = "weekly"),
        (copy) => (copy.data.attributes.spendLimit.spendLimitAmount.value = "5000")
      ])
    })
  })

  describe("GET /retail-media/accounts: JsonApiPageResponseOfAccount (no extra members allowed)", () => {
    const body = fixture("retail-media-accounts.json", "/2026-07/retail-media/accounts")

    it("the fixture decodes", () => valid(JsonApiPageResponseOfAccount, body, strict))

    it("a mismatch fails: `subType` (not `subtype`), an unknown account type, a missing required field", () => {
      invalidEach(JsonApiPageResponseOfAccount, body, [
        (copy) => {
          copy.data[0].attributes.subType = copy.data[0].attributes.subtype
          delete copy.data[0].attributes.subtype
        },
        (copy) => (copy.data[0].attributes.type = "Demand"),
        (copy) => (copy.data[0].attributes.subtype = "retailer"),
        (copy) => delete copy.data[0].attributes.timeZone,
        (copy) => delete copy.metadata.currentPageSize,
        (copy) => (copy.metadata.currentPageIndex = 0.5)
      ], strict)
    })
  })

  describe("API error bodies ({\"errors\": [...]}): CommonProblem", () => {
    const ErrorsBody = Schema.Struct({ errors: Schema.NonEmptyArray(CommonProblem) })
    const bodies = errorBodies()

    it("the fixtures' and the builder's 401, 403, 429 and canned error bodies are all checked", () => {
      const labels = bodies.map(([label]) => label)
      assert.isTrue(labels.some((label) => label.startsWith("fixture")), labels.join(", "))
      assert.isAtLeast(bodies.length, 13)
    })

    it("every error body decodes, with the fields the reference documents", () => {
      for (const [label, body] of bodies) {
        const result = decode(ErrorsBody, body)
        if (Either.isLeft(result)) assert.fail(`${label}: ${String(result.left)}`)
        const [error] = result.right.errors
        for (const field of ["type", "code", "title", "instance", "traceId"] as const) {
          assert.isString(error[field], `${label}: ${field}`)
        }
        assert.match(error.code!, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${label}: kebab-case code`)
      }
    })

    it("a mismatch fails: a `type` outside the enum (e.g. `unavailable`, `access_control`)", () => {
      const [, body] = bodies[0]
      invalidEach(ErrorsBody, body, [
        (copy) => (copy.errors[0].type = "unavailable"),
        (copy) => (copy.errors[0].type = "access_control"),
        (copy) => (copy.errors[0].title = 401)
      ])
    })
  })
})
