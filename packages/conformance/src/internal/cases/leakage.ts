/**
 * The group "leakage": no secret, code or token in what the client prints or reports. `leakCheck` also runs
 * on every case of the catalogue (the runner adds it).
 */
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as Evidence from "../evidence.js"
import * as Stubs from "../stubs.js"
import { codeEnv } from "./authorizationCode.js"

const group = "leakage" as const

/** A secret of this client only, long enough that finding it in output cannot be a coincidence. */
const leakSecret = (clientId: string) => `sk_${createHash("sha256").update(clientId).digest("hex").slice(0, 28)}`

interface Secret {
  readonly name: string
  readonly value: string
}

const secretsOf = (evidence: ConformanceCase.Evidence): ReadonlyArray<Secret> => {
  const secret = evidence.env["CRITEO_CLIENT_SECRET"] ?? evidence.clientSecret
  const code = evidence.env["CRITEO_AUTHORIZATION_CODE"]
  return [
    { name: "the client secret", value: secret },
    { name: "the client secret (form-encoded)", value: encodeURIComponent(secret) },
    {
      name: "the client secret (in a Basic header)",
      value: Buffer.from(`${evidence.clientId}:${secret}`).toString("base64")
    },
    ...(code === undefined ? [] : [{ name: "the authorization code", value: code }]),
    ...Array.from(
      Evidence.issuedTokens(evidence),
      (value) => ({ name: `access token ${Evidence.fingerprint(value)}`, value })
    ),
    ...Evidence.issuedRefreshTokens(evidence).map((value) => ({
      name: `refresh token ${Evidence.fingerprint(value)}`,
      value
    }))
  ].filter((s, i, all) => s.value.length >= 8 && all.findIndex((t) => t.value === s.value) === i)
}

/** The name of the leak check, which the runner adds to every case that has none. */
export const leakCheckName = "no secret, code or token in the client's output or errors"

/**
 * Whether the client wrote a secret, code or token anywhere: its output (stdout, stderr) and the errors it
 * reported. The runner runs it on every case, not only the `leak.*` ones.
 */
export const leakCheck = (evidence: ConformanceCase.Evidence) => {
  const secrets = secretsOf(evidence)
  const places: Array<readonly [string, string]> = [
    ...evidence.output.map((line, i) => [`${line.stream} line ${i + 1}`, line.text] as const),
    ...Array.from(evidence.answers).flatMap(([label, all]) =>
      all.flatMap((a) =>
        [a.error, a.message].filter((t): t is string => t !== undefined).map((t) =>
          [`the error reported for "${label}"`, t] as const
        )
      )
    )
  ]
  const found = secrets.flatMap((secret) =>
    places.filter(([, text]) => text.includes(secret.value)).map(([where]) => `${secret.name} in ${where}`)
  )
  return Evidence.check(
    leakCheckName,
    found.length === 0,
    found.length === 0
      ? `${Evidence.plural(evidence.output.length, "line")} of output searched for ${
        Evidence.plural(secrets.length, "secret value")
      }`
      : Array.from(new Set(found)).slice(0, 6).join("; ")
  )
}

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "leak.client-credentials",
    title: "The secret and the tokens never appear in the client's output",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      { source: "RFC 6750 §5.3", text: "bearer tokens MUST NOT leak to unintended parties (logs included)" },
      { source: "RFC 6749 §10.3, §2.3.1", text: "access tokens and client credentials are confidential" }
    ],
    setup: "A run through every path a client may log on: success, 403, a refresh after 401, a 500 from the token " +
      "endpoint, invalid_client. The client has its own long secret.",
    expectation: "Neither the client secret (raw, form-encoded or in a Basic header), nor any access token appears " +
      "on stdout, stderr, or in the errors reported.",
    env: (environment) => ({ CRITEO_CLIENT_SECRET: leakSecret(environment.clientId) }),
    run: (ctx) =>
      Effect.gen(function*() {
        const secret = leakSecret(ctx.clientId)
        yield* Stubs.tokenAnswer(ctx, { secret })
        yield* ctx.call("success")
        yield* ctx.simulate(
          "forbidden",
          "the next API request gets 403",
          ctx.setFault("api", Fault.response(403), { times: 1 })
        )
        yield* ctx.call("403")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh after 401")
        yield* ctx.simulate(
          "500",
          "the next token request gets 500",
          ctx.setFault("token", Fault.serverError(500), { times: 1 })
        )
        yield* ctx.simulate("expired-again", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh after 500")
        yield* ctx.simulate(
          "invalid-client",
          "the token endpoint answers invalid_client",
          ctx.setFault(
            "token",
            Fault.response(401, {
              body: JSON.stringify({
                error: "invalid_client",
                error_description: "client_id doesn't exist or the client_secret is invalid"
              })
            })
          )
        )
        yield* ctx.simulate("expired-last", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("invalid_client", { timeout: "20 seconds" })
      }),
    check: (evidence) => [Evidence.succeeded(evidence, "success", "the first call succeeds"), leakCheck(evidence)]
  }),

  ConformanceCase.make({
    id: "leak.authorization-code",
    title: "The code and refresh tokens never appear in the client's output",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      { source: "RFC 6749 §10.4, §10.5", text: "refresh tokens and authorization codes are confidential" },
      { source: "RFC 6750 §5.3", text: "bearer tokens MUST NOT leak to unintended parties (logs included)" }
    ],
    grant: "authorization_code",
    scenario: "authorization",
    setup: "The authorization_code grant: the code is exchanged, the token refreshed after a 401, then the consent " +
      "is revoked so that the next refresh is refused (invalid_grant).",
    expectation: "Neither the secret, the code, a refresh token nor an access token appears in the output or errors.",
    env: codeEnv,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* ctx.call("exchange")
        yield* ctx.simulate("expired", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("refresh")
        yield* ctx.simulate("revoked", "revoke the consent: refreshes refused, the API answers 403", ctx.revokeConsent)
        yield* ctx.simulate("expired-again", "refuse every token issued so far (401)", ctx.expireTokens)
        yield* ctx.call("revoked", { timeout: "20 seconds" })
      }),
    check: (evidence) => [Evidence.succeeded(evidence, "exchange", "the first call succeeds"), leakCheck(evidence)]
  })
]
