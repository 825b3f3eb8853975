/** The group "token responses": unusual and malformed token responses. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as ConformanceCase from "../../ConformanceCase.js"
import * as Fault from "../../Fault.js"
import * as Evidence from "../evidence.js"
import * as Mappings from "../mappings.js"
import * as Stubs from "../stubs.js"

const group = "token responses" as const

const rfc6749Response = (text: string) => ({ source: "RFC 6749 §5.1", text })

/** `n` calls one after the other, recorded under `label` (`ctx.calls` makes them at the same time). */
const callInSequence = (ctx: ConformanceCase.Context, label: string, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* ctx.call(label)
  })

/** A JWT-shaped token of about 8 KB, the same on every run (the API is told to accept exactly it). */
export const largeToken: string = (() => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  let seed = 42
  const chunk = (n: number) => {
    let text = ""
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648
      text += alphabet[seed % 64]
    }
    return text
  }
  return `eyJhbGciOiJSUzI1NiIsImtpZCI6ImNvbmZvcm1hbmNlIiwidHlwIjoiSldUIn0.${chunk(7600)}.${chunk(342)}`
})()

const incomplete = (options: {
  readonly id: string
  readonly title: string
  readonly body: string
  readonly contentType?: string
  readonly setup: string
  readonly requirement: ConformanceCase.Requirement
}) =>
  ConformanceCase.make({
    id: options.id,
    title: options.title,
    group,
    level: "MUST",
    // Its point is what the client does with this response: a client refused by the token endpoint (the
    // wrong client authentication) or that never asks never meets it.
    preconditions: [Evidence.tokenResponseServed],
    requirements: [options.requirement],
    setup: options.setup,
    expectation: "The call ends in an error; the client never calls the API with a made-up token (`Bearer " +
      "undefined`, an empty one, HTML), and does not hammer the token endpoint.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, {
          body: options.body,
          ...(options.contentType === undefined ? {} : { headers: { "Content-Type": options.contentType } })
        })
        yield* ctx.call("call")
      }),
    check: (evidence) => [
      Evidence.failedCleanly(evidence, "call"),
      Evidence.noApiRequest(evidence, "the API is not called with an unusable token"),
      Evidence.tokenRequestCount(evidence, { max: 5 }, "at most 5 token requests")
    ]
  })

/**
 * A token response the client must accept, the counterpart of `incomplete`: the token endpoint serves
 * `answer`, then `calls` calls one after the other all succeed, and no made-up token is ever sent.
 */
const accepted = (options: {
  readonly id: string
  readonly title: string
  readonly level: ConformanceCase.Level
  readonly requirements: ReadonlyArray<ConformanceCase.Requirement>
  readonly setup: string
  readonly expectation: string
  readonly answer: Stubs.TokenAnswer
  readonly calls: number
  /** The name of the check that the calls succeed. */
  readonly succeeded?: string
}) =>
  ConformanceCase.make({
    id: options.id,
    title: options.title,
    group,
    level: options.level,
    preconditions: [Evidence.tokenResponseServed],
    requirements: options.requirements,
    setup: options.setup,
    expectation: options.expectation,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, options.answer)
        yield* callInSequence(ctx, "call", options.calls)
      }),
    check: (evidence) => [Evidence.succeeded(evidence, "call", options.succeeded), Evidence.noBogusBearer(evidence)]
  })

export const cases: ReadonlyArray<ConformanceCase.ConformanceCase> = [
  ConformanceCase.make({
    id: "response.token-type-case",
    title: "token_type \"bearer\" (lower case) is accepted and sent as Bearer",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      rfc6749Response("token_type is case insensitive"),
      { source: "RFC 6750 §2.1", text: "Authorization: Bearer <token>" }
    ],
    setup: "This client's tokens come with \"token_type\": \"bearer\". The API accepts \"Authorization: Bearer …\".",
    expectation: "The client accepts the token and sends `Authorization: Bearer <token>`.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, {
          body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "bearer", expires_in: 900 })
        })
        yield* ctx.call("call")
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "call"),
      Evidence.check(
        "the API request says Bearer",
        evidence.apiRequests.length > 0 &&
          evidence.apiRequests.every((r) => (Evidence.reveal(r.headers["authorization"]) ?? "").startsWith("Bearer ")),
        `schemes: ${
          Array.from(
            new Set(
              evidence.apiRequests.map((r) => (Evidence.reveal(r.headers["authorization"]) ?? "none").split(" ")[0])
            )
          ).join(", ") || "no API request"
        }`
      )
    ]
  }),

  accepted({
    id: "response.unknown-members",
    title: "Unknown members of the token response are ignored",
    level: "MUST",
    requirements: [rfc6749Response("the client MUST ignore unrecognized value names in the response")],
    setup: "This client's token responses add \"scope\", \"ext_expires_in\" and a nested object (members RFC 6749 " +
      "does not define; a known member with a null value is response.refresh-token-null).",
    expectation: "The token is used as usual: the calls succeed.",
    answer: {
      body: Stubs.tokenBody({
        access_token: Stubs.token,
        token_type: "Bearer",
        expires_in: 900,
        scope: "gateway",
        ext_expires_in: 900,
        "x-criteo": { region: "eu", features: ["a", "b"], nested: { deep: true } }
      })
    },
    calls: 3,
    succeeded: "the calls succeed"
  }),

  accepted({
    id: "response.refresh-token-null",
    title: "A client_credentials token response with \"refresh_token\": null is used",
    // A SHOULD: Criteo's documentation shows no refresh_token member for client_credentials (the shape every
    // other case serves), while Criteo's own SDK reads refresh_token unconditionally — so whether the real
    // server sends null is not settled. A client failing here fails on that shape only.
    level: "SHOULD",
    requirements: [
      rfc6749Response("refresh_token is OPTIONAL: a null value carries no refresh token"),
      {
        source: "Criteo: Authentication",
        text: "client_credentials responses document no refresh_token; Criteo's SDK reads the member unconditionally"
      }
    ],
    setup: "This client's token responses carry \"refresh_token\": null (a known member with a null value); " +
      "every other case serves Criteo's documented shape, with no refresh_token member.",
    expectation: "The null is read as no refresh token: the token is used and the calls succeed.",
    answer: {
      body: Stubs.tokenBody({
        access_token: Stubs.token,
        token_type: "Bearer",
        expires_in: 900,
        refresh_token: null
      })
    },
    calls: 3,
    succeeded: "the calls succeed with \"refresh_token\": null in the token response"
  }),

  accepted({
    id: "response.text-plain",
    title: "A token response labelled text/plain is decoded",
    level: "MUST",
    requirements: [{
      source: "Criteo: OpenAPI of /oauth2/token",
      text: "the token response may come as application/json, text/json or text/plain: decode it whatever the type"
    }],
    setup: "This client's token responses are the usual JSON with Content-Type: text/plain; charset=utf-8.",
    expectation: "The client decodes the JSON and the call succeeds.",
    answer: { headers: { "Content-Type": "text/plain; charset=utf-8" } },
    calls: 1
  }),

  ConformanceCase.make({
    id: "response.expires-in-absent",
    title: "A token response without expires_in neither crashes the client nor starts a request storm",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [rfc6749Response("expires_in is RECOMMENDED, not required: it may be absent")],
    setup: "This client's token responses have no expires_in.",
    expectation: "5 calls, then 1 s of idleness: every call is answered (success or a clean error), at most one " +
      "token request per call, none while idle (no timer firing at NaN), no made-up token sent.",
    hangIsFailure: true,
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "Bearer" }) })
        for (let i = 0; i < 5; i++) {
          const answer = yield* ctx.call("call")
          if (!Evidence.isAnswered(answer)) return
        }
        yield* ctx.simulate("idle", "the client is left idle for 1 s", Effect.void)
        yield* ctx.wait(Duration.seconds(1), "idle")
      }),
    check: (evidence) => [
      Evidence.answeredAll(evidence, "call", "every call is answered"),
      Evidence.tokenRequestCount(evidence, { max: 6 }, "at most one token request per call"),
      Evidence.tokenRequestCount(
        evidence,
        { max: 0 },
        "no token request while the client is idle",
        Evidence.since(evidence.tokenRequests, Evidence.mark(evidence, "idle"))
      ),
      Evidence.noBogusBearer(evidence)
    ]
  }),

  ConformanceCase.make({
    id: "response.expires-in-absent-default",
    title: "A token without expires_in is used (with a default lifetime, or until a 401)",
    group,
    level: "SHOULD",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      rfc6749Response("expires_in is RECOMMENDED; when omitted the lifetime is documented or found otherwise"),
      {
        source: "RFC 6750 §3.1",
        text: "an expired token is answered 401 invalid_token: the client then gets a new one"
      }
    ],
    setup: "This client's token responses have no expires_in (the tokens live 900 s).",
    expectation: "The 5 calls succeed on one token.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, { body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "Bearer" }) })
        yield* callInSequence(ctx, "call", 5)
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "call", "the calls succeed"),
      Evidence.tokenRequestCount(evidence, { min: 1, max: 1 }, "one token request")
    ]
  }),

  ConformanceCase.make({
    id: "response.expires-in-string",
    title: "expires_in as a numeric string is read as seconds, or refused clearly",
    group,
    level: "SHOULD",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      rfc6749Response("expires_in is a number of seconds"),
      { source: "Robustness", text: "parse leniently or reject clearly; never treat it as 0 or as forever" }
    ],
    setup: "This client's token responses say \"expires_in\": \"2\" (a string; the tokens live 2 s), then, from " +
      "the first expiry on, \"expires_in\": \"900\" (tokens of 900 s).",
    expectation:
      "Either every call succeeds — no expired token sent (\"2\" not read as forever), and no token request once " +
      "the client holds a 900 s token (\"900\" not read as 0: a margin of a few minutes renews a 2 s token at " +
      "every call, not a 900 s one) — or every call fails cleanly.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, {
          body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "Bearer", expires_in: "2" }, 2)
        })
        yield* callInSequence(ctx, "short", 3)
        yield* ctx.wait(Duration.millis(2500), "the 2 s token expires")
        yield* ctx.simulate(
          "long",
          "the token endpoint answers \"expires_in\": \"900\" from now on",
          ctx.setFault(
            "token",
            Fault.response(200, {
              body: Stubs.tokenBody({ access_token: Stubs.token, token_type: "Bearer", expires_in: "900" }, 900)
            })
          )
        )
        yield* ctx.call("renewed")
        // A client refreshing ahead may have renewed its 2 s token just before: by the end of this wait every 2 s
        // token has expired, so whatever client uses a token holds a 900 s one.
        yield* ctx.wait(Duration.millis(2500), "the last 2 s token expires")
        yield* callInSequence(ctx, "steady", 3)
      }),
    check: (evidence) => {
      const all = ["short", "renewed", "steady"].flatMap((label) => Evidence.answers(evidence, label))
      const lenient = all.length > 0 && all.every(Evidence.isSuccess)
      const refused = all.length > 0 && all.every((a) => Evidence.isAnswered(a) && !Evidence.isSuccess(a))
      // the token requests after the first one answered with a 900 s token (the lifetime it carries)
      const firstLong = evidence.tokenRequests.findIndex((r) => {
        const expiry = r.issuedAccessToken === undefined
          ? undefined
          : Evidence.embeddedExpiry(Redacted.value(r.issuedAccessToken))
        return expiry !== undefined && expiry - r.loggedAt.epochMillis > 60_000
      })
      const steadyTokens = firstLong < 0 ? [] : evidence.tokenRequests.slice(firstLong + 1)
      const shortTokens = evidence.tokenRequests.filter((r) =>
        r.loggedAt.epochMillis < (Evidence.mark(evidence, "long") ?? Number.POSITIVE_INFINITY)
      )
      const expired = Evidence.expiredSends(evidence)
      return [
        Evidence.check(
          "the calls all succeed, or all fail cleanly",
          lenient || refused,
          `answered ${Evidence.describeAll(all)}`
        ),
        Evidence.check(
          "\"900\" not read as 0: no token request once the client has a 900 s token",
          !lenient || (firstLong >= 0 && steadyTokens.length === 0),
          `${
            firstLong < 0
              ? "no 900 s token was obtained"
              : `${Evidence.plural(steadyTokens.length, "token request")} after the first 900 s token`
          }${
            lenient && steadyTokens.length === 0 && shortTokens.length > 1
              ? `; ${
                Evidence.plural(shortTokens.length, "token request")
              } for the three calls on the 2 s token: a margin ` +
                "of its own, not a misread lifetime"
              : ""
          }`
        ),
        Evidence.check(
          "\"2\" not read as forever: no expired token sent",
          expired.length === 0,
          `${Evidence.plural(expired.length, "API request")} with an expired token`
        ),
        Evidence.noBogusBearer(evidence)
      ]
    }
  }),

  ConformanceCase.make({
    id: "response.large-token",
    title: "An 8 KB token is sent intact",
    group,
    level: "MUST",
    preconditions: [Evidence.tokenResponseServed],
    requirements: [
      rfc6749Response("the access token string size is left undefined: no assumption about its size"),
      { source: "Criteo: Authentication", text: "the token is an RS256 JWT: treat it as opaque" }
    ],
    setup: `This client's token is a JWT-shaped string of ${largeToken.length} characters; the API accepts it only ` +
      "if it arrives whole.",
    expectation: "The calls succeed with the whole token in Authorization: Bearer.",
    run: (ctx) =>
      Effect.gen(function*() {
        yield* Stubs.tokenAnswer(ctx, {
          body: JSON.stringify({ access_token: largeToken, token_type: "Bearer", expires_in: 900 })
        })
        yield* ctx.addStub({
          name: "api: the large token of response.large-token",
          priority: Mappings.priority.caseOverride,
          request: {
            method: "GET",
            urlPathPattern: "/[0-9]{4}-[0-9]{2}/advertisers/me",
            headers: { Authorization: { equalTo: `Bearer ${largeToken}` } }
          },
          response: {
            status: 200,
            headers: { "Content-Type": "application/json; charset=utf-8" },
            jsonBody: { data: [{ id: "12345", type: "advertiser", attributes: { advertiserName: "Large token" } }] }
          }
        })
        yield* callInSequence(ctx, "call", 2)
      }),
    check: (evidence) => [
      Evidence.succeeded(evidence, "call", "the calls succeed"),
      Evidence.check(
        "the API received the whole token",
        evidence.apiRequests.length > 0 && evidence.apiRequests.every((r) => Evidence.bearerOf(r) === largeToken),
        evidence.apiRequests.map((r) => `${(Evidence.bearerOf(r) ?? "").length} chars`).join(", ") || "no API request"
      )
    ]
  }),

  incomplete({
    id: "response.missing-access-token",
    title: "A token response without access_token is an error",
    body: JSON.stringify({ token_type: "Bearer", expires_in: 900 }),
    setup: "This client's token responses are 200 {\"token_type\": \"Bearer\", \"expires_in\": 900}.",
    requirement: rfc6749Response("access_token is REQUIRED")
  }),

  incomplete({
    id: "response.missing-token-type",
    title: "A token response without token_type is not used",
    body: Stubs.tokenBody({ access_token: Stubs.token, expires_in: 900 }),
    setup: "This client's token responses are 200 with an access_token and expires_in, but no token_type.",
    requirement: {
      source: "RFC 6749 §5.1, §7.1",
      text: "token_type is REQUIRED; the client MUST NOT use a token whose type it does not understand"
    }
  }),

  incomplete({
    id: "response.not-json",
    title: "An HTML page with status 200 is not a token",
    body: "<html><head><title>Gateway</title></head><body><h1>Please wait…</h1><p>access_token</p></body></html>",
    contentType: "text/html; charset=utf-8",
    setup: "This client's token endpoint answers 200 with an HTML page (as a captive proxy would).",
    requirement: { source: "Robustness", text: "a body that is not a token response is a typed error, not a token" }
  })
]
