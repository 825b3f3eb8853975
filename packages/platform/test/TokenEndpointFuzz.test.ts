/**
 * The adversarial review of issue 16, kept in the suite: `TokenEndpoint` against a local HTTP server
 * that answers arbitrary status x headers x body (valid and hostile token responses, OAuth errors that
 * echo the request, deep nesting, huge bodies, invalid UTF-8, random JSON), over undici and fetch.
 * Every answer must give an `AccessToken` or a typed `TokenError`: no defect, no hang (the exchange
 * timeout holds), bounded memory, and no secret in any rendering of the error in any encoding.
 *
 * `pnpm test` runs FUZZ_RUNS (default 200) cases; `pnpm fuzz` runs 3,000.
 */
import * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as Grant from "@criteo-auth/core/Grant"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { createServer, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { inspect } from "node:util"
import * as CriteoFetch from "../src/CriteoFetch.js"

const runs = Number(process.env.FUZZ_RUNS ?? 200)

const clientId = "fuzz-client"
const SECRET = "Fz$ecret+/=&%\u00e9 ~q1"
const REFRESH = "Rt-fuzz/+=?&x\"z\\2"
const secrets = [SECRET, REFRESH]

/** Every spelling a secret may take on the wire, computed here independently of core's scrubber. */
const spellings = (value: string): ReadonlyArray<string> => {
  const form = new URLSearchParams({ v: value }).toString().slice(2)
  const json = JSON.stringify(value).slice(1, -1)
  return [
    value,
    form,
    form.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    encodeURIComponent(value),
    json,
    json.replace(/\//g, "\\/"),
    Buffer.from(value).toString("base64"),
    Buffer.from(value).toString("base64url"),
    Buffer.from(`${clientId}:${value}`).toString("base64")
  ]
}
const forbidden = secrets.flatMap(spellings)
/**
 * What must not appear in an error of a grant's request: the spellings of the secrets it holds. A
 * client_credentials grant holds no refresh token, so the refresh token's spellings are only text a
 * server may send it (the hostile strings include them): nothing the client could know to scrub.
 */
const forbiddenFor = (grant: Grant.Grant): ReadonlyArray<string> =>
  grant._tag === "RefreshToken" ? forbidden : spellings(SECRET)

const grants: ReadonlyArray<Grant.Grant> = [
  Grant.clientCredentials({ clientId, clientSecret: Redacted.make(SECRET) }),
  Grant.refreshToken({ clientId, clientSecret: Redacted.make(SECRET), refreshToken: Redacted.make(REFRESH) })
]

// -----------------------------------------------------------------------------
// what the server answers
// -----------------------------------------------------------------------------

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  /** The body, or instructions to build it when the request arrives. */
  readonly body:
    | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
    | { readonly _tag: "Echo"; readonly template: string }
    | { readonly _tag: "Huge"; readonly size: number; readonly prefix: string }
    | { readonly _tag: "Trickle" }
}

const printable = (s: string) => /^[\t\x20-\x7e]*$/.test(s)

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom(...secrets, ...forbidden, "Bearer", "bearer", "\r\nX-Injected: 1", "a\u0000b", "\u20ac", ""),
  fc.string({ unit: fc.constantFrom("\r", "\n", "\u0000", "\u001b", "a", "%", "+", "=") })
)

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, 0.0001, 1, 900, 86_400, 86_401, -1, null, true, "900", "1e3", "Infinity", "NaN"),
  fc.jsonValue({ maxDepth: 3 })
)

const nested = fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.constantFrom("[", "{\"a\":")).map(([depth, open]) =>
  open === "[" ? "[".repeat(depth) + "]".repeat(depth) : open.repeat(depth) + "1" + "}".repeat(depth)
)

const tokenBody = fc.record({
  access_token: fc.oneof(hostileValue, fc.constantFrom("eyJ.abc.def", "tok-" + "x".repeat(70_000))),
  token_type: fc.oneof(fc.constant("Bearer"), hostileValue),
  expires_in: fc.oneof(fc.constant(900), hostileValue),
  refresh_token: fc.oneof(fc.constant(undefined), hostileValue)
}, { requiredKeys: [] })

const body: fc.Arbitrary<Answer["body"]> = fc.oneof(
  tokenBody.map((b) => ({ _tag: "Bytes" as const, bytes: Buffer.from(JSON.stringify(b)) })),
  fc.record({ error: hostileValue, error_description: hostileValue }, { requiredKeys: [] }).map((b) => ({
    _tag: "Bytes" as const,
    bytes: Buffer.from(JSON.stringify(b))
  })),
  // a careless server echoing the request body (the form-encoded secrets) in various fields
  fc.constantFrom(
    "{\"error\":\"invalid_request\",\"error_description\":\"got ECHO\"}",
    "{\"error\":\"ECHO\"}",
    "{\"access_token\":\"abc\",\"token_type\":\"ECHO\",\"expires_in\":900}",
    "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":\"ECHO\"}",
    "ECHO"
  ).map((template) => ({ _tag: "Echo" as const, template })),
  nested.map((text) => ({ _tag: "Bytes" as const, bytes: Buffer.from(text) })),
  nested.map((text) => ({
    _tag: "Bytes" as const,
    bytes: Buffer.from(`{"access_token":"a","token_type":${text},"expires_in":900}`)
  })),
  fc.uint8Array({ maxLength: 2_000 }).map((bytes) => ({ _tag: "Bytes" as const, bytes })),
  fc.jsonValue().map((v) => ({ _tag: "Bytes" as const, bytes: Buffer.from(JSON.stringify(v) ?? "") })),
  fc.tuple(fc.integer({ min: 60_000, max: 8_000_000 }), fc.constantFrom("{\"access_token\":\"", "[", "")).map((
    [size, prefix]
  ) => ({ _tag: "Huge" as const, size, prefix })),
  // rare: each one costs the whole exchange timeout
  fc.integer({ min: 0, max: 39 }).map((n) =>
    n === 0 ? { _tag: "Trickle" as const } : { _tag: "Bytes" as const, bytes: Buffer.from("{}") }
  )
)

const headers = fc.dictionary(
  fc.constantFrom("content-type", "retry-after", "x-ratelimit-reset", "x-ratelimit-limit", "x-other", "location"),
  fc.oneof(
    fc.string().filter(printable),
    fc.constantFrom("application/json", "text/html", "1000000000", "0", "Wed, 21 Oct 2015 07:28:00 GMT", "-1")
  )
)

/** A good answer, sometimes with a hostile extra: tokens must come out of the fuzzing too. */
const good: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(200, 201),
  headers: fc.constant({ "content-type": "application/json" }),
  body: fc.record({
    access_token: fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,200}=*$/),
    expires_in: fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom("900", 1.5)),
    refresh_token: fc.oneof(fc.constant(null), hostileString),
    scope: hostileValue
  }).map((b) => ({ _tag: "Bytes" as const, bytes: Buffer.from(JSON.stringify({ ...b, token_type: "Bearer" })) }))
})

const arbitrary: fc.Arbitrary<Answer> = fc.record({
  status: fc.oneof(
    fc.constantFrom(200, 201, 204, 302, 307, 400, 401, 403, 404, 429, 500, 503),
    fc.integer({
      min: 200,
      max: 599
    })
  ),
  headers,
  body
})

const answer: fc.Arbitrary<Answer> = fc.oneof({ arbitrary, weight: 5 }, { arbitrary: good, weight: 1 })

// -----------------------------------------------------------------------------
// the server
// -----------------------------------------------------------------------------

let current: Answer | undefined
let server: Server
let tokenUrl: string
const huge = Buffer.alloc(1024 * 1024, "a")

const respond = (answer: Answer, request: string, res: ServerResponse) => {
  res.statusCode = answer.status
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
  const b = answer.body
  switch (b._tag) {
    case "Bytes":
      return res.end(answer.status === 204 || answer.status === 304 ? undefined : b.bytes)
    case "Echo":
      return res.end(b.template.replace("ECHO", JSON.stringify(request).slice(1, -1)))
    case "Huge": {
      res.write(b.prefix)
      let sent = 0
      const pump = () => {
        while (sent < b.size) {
          sent += huge.length
          if (!res.write(huge)) return res.once("drain", pump)
        }
        res.end()
      }
      res.on("error", () => {})
      return pump()
    }
    case "Trickle": {
      res.write("{\"access_token\":\"")
      const timer = setInterval(() => res.write("a"), 50)
      res.on("close", () => clearInterval(timer))
      return
    }
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      try {
        respond(current!, Buffer.concat(chunks).toString(), res)
      } catch {
        res.destroy()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

// -----------------------------------------------------------------------------
// the property
// -----------------------------------------------------------------------------

const tokenErrorTags = new Set([
  "InvalidClientError",
  "InvalidGrantError",
  "TokenRequestRejectedError",
  "RateLimitedError",
  "TokenEndpointUnavailableError",
  "TransportError",
  "MalformedTokenResponseError"
])

const renderings = (error: unknown): ReadonlyArray<string> => [
  String(error),
  JSON.stringify(error),
  inspect(error, { depth: 10 }),
  Cause.pretty(Cause.fail(error))
]

const runtimes: ReadonlyArray<[string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici", NodeHttpClient.layerUndici],
  ["fetch", CriteoFetch.layerHttpClient]
]

describe("TokenEndpoint against a hostile server (property)", () => {
  for (const [name, layer] of runtimes) {
    it(`${name}: ${runs} arbitrary answers give only typed outcomes, no secret, bounded time and memory`, async () => {
      const runtime = ManagedRuntime.make(layer)
      const timeoutMs = 500
      const endpoint = await runtime.runPromise(TokenEndpoint.make({ tokenUrl, timeout: `${timeoutMs} millis` }))
      const baseline = process.memoryUsage().heapUsed
      let peak = 0
      const outcomes = new Map<string, number>()
      try {
        await fc.assert(
          fc.asyncProperty(answer, fc.constantFrom(...grants), async (a, grant) => {
            current = a
            const start = performance.now()
            const exit = await runtime.runPromiseExit(endpoint.request(grant))
            const elapsed = performance.now() - start
            assert.isBelow(elapsed, timeoutMs + 2_000, "the exchange timeout holds")
            if (Exit.isFailure(exit)) {
              assert.isTrue(Cause.isFailType(exit.cause), `a typed failure, not ${Cause.pretty(exit.cause)}`)
              const error = Cause.squash(exit.cause)
              assert.isTrue(CriteoAuthError.isCriteoAuthError(error))
              assert.isTrue(tokenErrorTags.has((error as { _tag: string })._tag))
              for (const text of renderings(error)) {
                for (const spelling of forbiddenFor(grant)) assert.notInclude(text, spelling)
              }
              const tag = (error as { _tag: string })._tag
              outcomes.set(tag, (outcomes.get(tag) ?? 0) + 1)
            } else {
              outcomes.set("AccessToken", (outcomes.get("AccessToken") ?? 0) + 1)
            }
            peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
          }),
          {
            numRuns: runs,
            endOnFailure: true,
            ...(process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED) })
          }
        )
      } finally {
        await runtime.dispose()
      }
      // a body is never buffered past 64 KiB; the peak (no forced GC) is garbage awaiting collection: about
      // 40-50 MB over 200 answers, 120-130 MB over 3,000
      assert.isBelow(peak, 256 * 1024 * 1024, `heap grew by ${Math.round(peak / 1024 / 1024)} MB`)
      // eslint-disable-next-line no-console
      console.log(
        `${name}: ${runs} answers, heap peak +${Math.round(peak / 1024 / 1024)} MB`,
        JSON.stringify(Object.fromEntries(outcomes))
      )
      // the generators reach more than one kind of outcome
      assert.isAbove(outcomes.size, 3, JSON.stringify([...outcomes]))
    }, 600_000)
  }
})
