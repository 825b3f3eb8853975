/** The token request: method, encoding, where the credentials go. */
import * as Effect from "effect/Effect"
import * as ConformanceCase from "../../ConformanceCase.js"
import type * as Journal from "../../Journal.js"
import * as Evidence from "../evidence.js"
import * as Stubs from "../stubs.js"

const group = "token request" as const

const criteoAuth = {
  source: "Criteo: Authentication",
  text: "POST /oauth2/token with Content-Type: application/x-www-form-urlencoded (mandatory), client_id, " +
    "client_secret and grant_type in the form body"
}

const eachTokenRequest = (
  evidence: ConformanceCase.Evidence,
  name: string,
  problem: (request: Journal.TokenRequest) => string | undefined
) => {
  const problems = evidence.tokenRequests.flatMap((request, i) => {
    const found = problem(request)
    return found === undefined ? [] : [`request ${i + 1}: ${found}`]
  })
  return Evidence.check(
    name,
    evidence.tokenRequests.length > 0 && problems.length === 0,
    evidence.tokenRequests.length === 0
      ? "no token request was made"
      : problems.length === 0
      ? `${Evidence.plural(evidence.tokenRequests.length, "token request")}, all as required`
      : problems.slice(0, 3).join("; ")
  )
}

/** application/x-www-form-urlencoded, as URLSearchParams writes it (space as +). */
const formEncode = (value: string) => new URLSearchParams([["", value]]).toString().slice(1)

/** The Basic headers a server decoding per RFC 6749 §2.3.1 reads as `id` and `secret`, in both usual spellings. */
const rfcBasicSpellings = (id: string, secret: string): ReadonlyArray<string> =>
  Array.from(
    new Set([formEncode, encodeURIComponent].map((encode) =>
      `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString("base64")}`
    ))
  )

const basicEncodings = {
  none: "no Basic header",
  rfc: "Basic, encoded per RFC 6749 §2.3.1 (form-encoded id and secret, then base64)",
  raw: "Basic, not per RFC 6749 §2.3.1: id and secret put in base64 without form-encoding them first",
  other: "Basic, with a user name or password that does not decode to the client id and secret"
} as const

/** Which encoding a token request's Authorization header has, decoded as RFC 6749 §2.3.1 says. */
const basicEncoding = (
  header: string | undefined,
  evidence: ConformanceCase.Evidence
): keyof typeof basicEncodings => {
  const match = /^basic\s+(\S+)$/i.exec(header ?? "")
  if (match === null) return "none"
  const decoded = Buffer.from(match[1], "base64").toString("utf8")
  const id = evidence.clientId
  const secret = evidence.env["CRITEO_CLIENT_SECRET"] ?? evidence.clientSecret
  if (decoded === `${id}:${secret}` && formEncode(secret) !== secret) return "raw"
  const colon = decoded.indexOf(":")
  const formDecode = (value: string) => {
    try {
      return decodeURIComponent(value.replace(/\+/g, " "))
    } catch {
      return undefined
    }
  }
  return colon >= 0 && formDecode(decoded.slice(0, colon)) === id && formDecode(decoded.slice(colon + 1)) === secret
    ? "rfc"
    : "other"
}

/** The names of credential parameters that must never be in a URL. */
const credentialNames = new Set(["client_id", "client_secret", "code", "refresh_token", "access_token", "token"])

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "request.client-credentials",
    title: "The token request is a form POST with the credentials in the body",
    group,
    level: "MUST",
    requirements: [
      { source: "RFC 6749 §4.4.2", text: "grant_type=client_credentials, form-encoded, POST to the token endpoint" },
      { source: "RFC 6749 §2.3.1", text: "client_id and client_secret in the request body" },
      criteoAuth
    ],
    setup: "The fixtures: a 900 s token for any demo-client-* id with the demo secret.",
    expectation: "One POST to /oauth2/token, form-encoded, with grant_type=client_credentials, client_id and " +
      "client_secret; then the API call with Authorization: Bearer and the token it got.",
    run: (ctx) => Effect.asVoid(ctx.call("call")),
    check: (evidence) => [
      Evidence.succeeded(evidence, "call"),
      eachTokenRequest(evidence, "POST to /oauth2/token, form-encoded", (r) =>
        r.method !== "POST"
          ? `method ${r.method}`
          : r.path !== "/oauth2/token"
          ? `path ${r.path}`
          : !/^application\/x-www-form-urlencoded\b/i.test(Evidence.reveal(r.headers["content-type"]) ?? "")
          ? `Content-Type ${Evidence.reveal(r.headers["content-type"]) ?? "missing"}`
          : undefined),
      eachTokenRequest(
        evidence,
        "grant_type=client_credentials, client_id and client_secret in the body",
        (r) =>
          r.grantType !== "client_credentials"
            ? `grant_type ${r.grantType ?? "missing"}`
            : r.clientId !== evidence.clientId
            ? `client_id ${r.clientId === undefined ? "missing" : "differs from CRITEO_CLIENT_ID"}`
            : Evidence.reveal(r.form["client_secret"]) !== evidence.clientSecret
            ? `client_secret ${r.form["client_secret"] === undefined ? "missing" : "differs from CRITEO_CLIENT_SECRET"}`
            : undefined
      ),
      Evidence.noBogusBearer(evidence),
      Evidence.check(
        "the API request carries Authorization: Bearer <token>",
        evidence.apiRequests.length > 0 &&
          evidence.apiRequests.every((r) => /^Bearer [^ ]+$/.test(Evidence.reveal(r.headers["authorization"]) ?? "")),
        evidence.apiRequests.length === 0
          ? "no API request"
          : `${Evidence.plural(evidence.apiRequests.length, "API request")}, schemes: ${
            Array.from(
              new Set(
                evidence.apiRequests.map((r) => (Evidence.reveal(r.headers["authorization"]) ?? "none").split(" ")[0])
              )
            ).join(", ")
          }`
      )
    ]
  }),

  ConformanceCase.make({
    id: "request.no-credentials-in-url",
    title: "No credential or token is ever put in a URL",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
    requirements: [
      { source: "RFC 6749 §2.3.1", text: "client credentials MUST NOT be included in the request URI" },
      { source: "RFC 6750 §2.3, §5.3", text: "bearer tokens are not passed in page URLs (logs, history, referers)" }
    ],
    setup: "The fixtures; every token is expired once (expireTokens) so that the client also refreshes.",
    expectation: "No client_id, client_secret, code, refresh_token or access_token in any query string, and no " +
      "secret anywhere in a URL, on the token endpoint or the API.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("first")
        yield* ctx.simulate("expired", "expire every token issued so far", ctx.expireTokens)
        yield* ctx.call("after refresh")
      }),
    check: (evidence) => {
      const all: ReadonlyArray<Journal.TokenRequest | Journal.ApiRequest> = [
        ...evidence.tokenRequests,
        ...evidence.apiRequests
      ]
      const secrets = [evidence.clientSecret, ...Evidence.issuedTokens(evidence)]
      const inQuery = all.flatMap((r) => r.query.filter(([name]) => credentialNames.has(name)).map(([name]) => name))
      const inUrl = all.filter((r) =>
        secrets.some((s) =>
          s.length > 0 && (r.path.includes(s) || r.query.some(([, v]) => (Evidence.reveal(v) ?? "").includes(s)))
        )
      )
      return [
        Evidence.succeeded(evidence, "first"),
        Evidence.check(
          "no credential parameter in a query string",
          evidence.tokenRequests.length > 0 && inQuery.length === 0,
          inQuery.length === 0
            ? `${Evidence.plural(all.length, "request")}, none with a credential in its query string`
            : `query parameters: ${Array.from(new Set(inQuery)).join(", ")}`
        ),
        Evidence.check(
          "no secret or token anywhere in a URL",
          inUrl.length === 0,
          inUrl.length === 0 ? "none" : `${Evidence.plural(inUrl.length, "request")} with a secret in the URL`
        )
      ]
    }
  }),

  ConformanceCase.make({
    id: "request.form-encoding",
    title: "A secret with reserved characters is form-encoded correctly",
    group,
    level: "MUST",
    // No precondition: the token request is the point, and a form broken badly enough (a bare `%`) is refused
    // by the simulator before its journal records it: "no token request" is then the defect, not a blocker.
    requirements: [
      {
        source: "RFC 6749 Appendix B",
        text: "form values are UTF-8, percent-encoded as application/x-www-form-urlencoded"
      },
      { source: "RFC 6749 §2.3.1", text: "client_secret in the request body" }
    ],
    setup: "This client's secret is `s3cr+t/=&% ~!:#?*'`: printable ASCII only, as RFC 6749 Appendix A.2 allows " +
      "(VSCHAR), so a client validating that accepts it; the token endpoint grants a token only when the decoded " +
      "form field equals it exactly.",
    expectation: "The secret arrives intact: +, /, =, &, %, space and the rest encoded, not mangled.",
    env: () => ({ CRITEO_CLIENT_SECRET: specialSecret }),
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { secret: specialSecret })
        yield* ctx.call("call")
      }),
    check: (evidence) => {
      const received = evidence.tokenRequests.map((r) => Evidence.reveal(r.form["client_secret"]))
      const wrong = received.filter((s) => s !== specialSecret)
      return [
        Evidence.check(
          "the token endpoint received the secret exactly",
          received.length > 0 && wrong.length === 0,
          received.length === 0
            ? "no token request"
            : wrong.length === 0
            ? `${Evidence.plural(received.length, "token request")}, each with the exact secret`
            : `${Evidence.plural(wrong.length, "token request")} with a different secret (${
              wrong.map((s) => (s === undefined ? "missing or not form-encoded" : `${s.length} characters`)).join(", ")
            }; ${specialSecret.length} expected)`
        ),
        Evidence.succeeded(evidence, "call")
      ]
    }
  }),

  ConformanceCase.make({
    id: "request.one-auth-method",
    title: "One client authentication method per request",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
    requirements: [
      { source: "RFC 6749 §2.3", text: "the client MUST NOT use more than one authentication method in each request" },
      criteoAuth
    ],
    setup: "The fixtures (credentials in the body; HTTP Basic is not documented by Criteo).",
    expectation: "Credentials in the form body only: no Authorization header on the token request as well.",
    run: (ctx) => Effect.asVoid(ctx.call("call")),
    check: (evidence) => [
      eachTokenRequest(
        evidence,
        "never an Authorization header together with client_secret in the body",
        (r) =>
          r.headers["authorization"] !== undefined && r.form["client_secret"] !== undefined
            ? `Authorization (${
              (Evidence.reveal(r.headers["authorization"]) ?? "").split(" ")[0]
            }) and client_secret in the body`
            : undefined
      ),
      Evidence.succeeded(evidence, "call")
    ]
  }),

  ConformanceCase.make({
    id: "request.basic-encoding",
    title: "HTTP Basic credentials, if sent, are form-encoded before base64",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenRequested],
    requirements: [
      {
        source: "RFC 6749 §2.3.1",
        text: "client_id and client_secret are encoded with application/x-www-form-urlencoded, then used as the " +
          "Basic user name and password"
      },
      criteoAuth
    ],
    setup: "This client's secret is `s3cr+t/=&% ~!:#?*'` (printable ASCII with reserved characters). The token " +
      "endpoint takes the credentials in the form body, as Criteo does, or in an Authorization: Basic header it " +
      "decodes per RFC 6749 §2.3.1 (base64, then form-decoding of the user name and the password).",
    expectation: "Credentials in the body (Criteo's way); or, if the client sends Basic, base64(form-encoded id " +
      "\":\" form-encoded secret): the kit says which encoding it got.",
    env: () => ({ CRITEO_CLIENT_SECRET: specialSecret }),
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { secret: specialSecret })
        yield* ctx.addStub({
          name: "token: HTTP Basic per RFC 6749 §2.3.1 (request.basic-encoding)",
          priority: Stubs.casePriority,
          request: {
            method: "POST",
            urlPath: "/oauth2/token",
            headers: {
              Authorization: {
                or: rfcBasicSpellings(ctx.clientId, specialSecret).map((header) => ({ equalTo: header }))
              }
            },
            formParameters: { grant_type: { equalTo: "client_credentials" } }
          },
          response: {
            status: 200,
            headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
            body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "Bearer", expires_in: 900 }),
            transformers: ["response-template"]
          }
        })
        yield* ctx.call("call")
      }),
    check: (evidence) => {
      const seen = evidence.tokenRequests.map((r) =>
        basicEncoding(Evidence.reveal(r.headers["authorization"]), evidence)
      )
      const basic = seen.filter((s) => s !== "none")
      const wrong = basic.filter((s) => s !== "rfc")
      return [
        Evidence.check(
          "an Authorization: Basic header, if any, is encoded per RFC 6749 §2.3.1",
          evidence.tokenRequests.length > 0 && wrong.length === 0,
          evidence.tokenRequests.length === 0
            ? "no token request"
            : basic.length === 0
            ? "no Basic header: the credentials in the body, as Criteo expects"
            : Array.from(new Set(basic)).map((s) => basicEncodings[s]).join("; ")
        ),
        Evidence.succeeded(evidence, "call")
      ]
    }
  }),

  ConformanceCase.make({
    id: "request.clean-parameters",
    title: "No repeated or empty form parameter",
    group,
    level: "SHOULD",
    preconditions: [Evidence.tokenRequested],
    requirements: [
      {
        source: "RFC 6749 §3.2",
        text: "parameters MUST NOT be included more than once; parameters without a value are treated as omitted"
      }
    ],
    setup: "The fixtures.",
    expectation: "Each form parameter once, each with a value.",
    run: (ctx) => Effect.asVoid(ctx.call("call")),
    check: (evidence) => [
      eachTokenRequest(evidence, "no form parameter is repeated", (r) => {
        const names = r.formEntries.map(([name]) => name)
        const repeated = names.filter((name, i) => names.indexOf(name) !== i)
        return repeated.length === 0 ? undefined : `repeated: ${Array.from(new Set(repeated)).join(", ")}`
      }),
      eachTokenRequest(evidence, "no form parameter is empty", (r) => {
        const empty = r.formEntries.filter(([, value]) => (Evidence.reveal(value) ?? "").length === 0).map(([name]) =>
          name
        )
        return empty.length === 0 ? undefined : `empty: ${empty.join(", ")}`
      })
    ]
  }),

  ConformanceCase.make({
    id: "request.accept-json",
    title: "The token request asks for JSON",
    group,
    level: "SHOULD",
    preconditions: [Evidence.tokenRequested],
    requirements: [{ source: "Criteo: Authentication", text: "the token request sends Accept: application/json" }],
    setup: "The fixtures.",
    expectation: "Accept: application/json on every token request.",
    run: (ctx) => Effect.asVoid(ctx.call("call")),
    check: (evidence) => [
      eachTokenRequest(evidence, "Accept: application/json", (r) => {
        const accept = Evidence.reveal(r.headers["accept"])
        return accept !== undefined && /application\/json/i.test(accept) ? undefined : `Accept ${accept ?? "missing"}`
      })
    ]
  })
]

/** Reserved characters of forms and URLs, a non-ASCII letter, a space, and Basic's separator. */
export const specialSecret = "s3cr+t/=&% ~!:#?*'"
