import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as util from "node:util"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import { grant, makeFakeCriteo, type Reply } from "./utils.js"

/**
 * Issue 16, item 1: every exported way of building the authenticated client, failing on the network
 * (the platform's `RequestError` holds the request it was given) or through a status filter the
 * caller put under the middleware (a `ResponseError` holds the response, which holds the request), must
 * fail with an error no rendering of which shows the bearer token: `String`, `JSON.stringify`,
 * `util.inspect`, `Cause.pretty`, and the rejection of `Runtime.runPromise`, which is what Node prints
 * for an unhandled rejection.
 */
type Build = (
  client: HttpClient.HttpClient
) => Effect.Effect<HttpClient.HttpClient.With<unknown, CriteoAuth.CriteoAuth>, never, CriteoAuth.CriteoAuth>

const combinators: ReadonlyArray<[string, Build]> = [
  ["withCriteoAuth", (client) => Effect.succeed(CriteoHttpClient.withCriteoAuth(client))],
  [
    "withCriteoAuth + withRetries",
    (client) =>
      Effect.succeed(client.pipe(CriteoHttpClient.withCriteoAuth, CriteoHttpClient.withRetries({ maxAttempts: 1 })))
  ],
  [
    "withRetries + withCriteoAuth",
    (client) =>
      Effect.succeed(client.pipe(CriteoHttpClient.withRetries({ maxAttempts: 1 }), CriteoHttpClient.withCriteoAuth))
  ],
  [
    "filterStatusOk under withCriteoAuth",
    (client) => Effect.succeed(client.pipe(HttpClient.filterStatusOk, CriteoHttpClient.withCriteoAuth))
  ],
  [
    "make",
    (client) =>
      CriteoHttpClient.make({ retry: { maxAttempts: 1 } }).pipe(
        Effect.provideService(HttpClient.HttpClient, client),
        Effect.orDie
      )
  ]
]

const replies: ReadonlyArray<[string, Reply]> = [
  ["a network failure", { fail: "transport" }],
  ["a 500 under filterStatusOk", { status: 500, body: "oops" }]
]

const renderings = (error: unknown): Record<string, string> => ({
  String: String(error),
  JSON: JSON.stringify(error),
  toJSON: JSON.stringify(Inspectable.toJSON(error)),
  inspect: util.inspect(error, { depth: 20 }),
  "Cause.pretty": Cause.pretty(Cause.fail(error))
})

describe("no bearer token in any failure of the authenticated client", () => {
  for (const [name, build] of combinators) {
    for (const [what, reply] of replies) {
      it.scoped(`${name}, ${what}`, () =>
        Effect.gen(function*() {
          const fake = yield* makeFakeCriteo({ apiReply: () => reply })
          const auth = yield* Layer.build(CriteoAuth.layer({ grant }).pipe(Layer.provide(fake.layer)))
          const client = yield* Effect.provide(build(fake.client), auth)
          const call = Effect.provide(
            client.execute(HttpClientRequest.get("https://api.criteo.com/2026-07/advertisers/me")),
            auth
          )
          const exit = yield* Effect.exit(call)
          const token = (yield* fake.requests)[1].headers["authorization"].slice("Bearer ".length)
          assert.isTrue(token.length > 0)
          if (Exit.isSuccess(exit)) {
            // only a 500 without a status filter succeeds: nothing to render
            assert.strictEqual(exit.value.status, 500)
            assert.notInclude(JSON.stringify(exit.value), token)
            assert.notInclude(util.inspect(exit.value, { depth: 20 }), token)
            return
          }
          const error = Cause.squash(exit.cause)
          for (const [how, text] of Object.entries(renderings(error))) {
            assert.notInclude(text, token, `${name}, ${what}: ${how} shows the token`)
          }
          // what Node prints for an unhandled rejection: util.inspect of the FiberFailure
          const rejection = yield* Effect.promise(() =>
            Runtime.runPromise(Runtime.defaultRuntime)(call).then(() => undefined, (reason: unknown) => reason)
          )
          assert.isDefined(rejection)
          assert.notInclude(util.inspect(rejection, { depth: 20 }), token, `${name}, ${what}: the rejection`)
          assert.notInclude(String(rejection), token)
        }))
    }
  }
})
