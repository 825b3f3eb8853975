import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import * as CriteoUrl from "../src/CriteoUrl.js"
import * as TokenEndpoint from "../src/TokenEndpoint.js"
import { grant, makeFakeClient } from "./utils.js"

const refused: ReadonlyArray<[string, CriteoUrl.Problem["_tag"]]> = [
  ["api.criteo.com", "Malformed"],
  ["/oauth2/token", "Malformed"],
  ["ftp://api.criteo.com/token", "UnsupportedScheme"],
  ["file:///etc/passwd", "UnsupportedScheme"],
  ["javascript:alert(1)", "UnsupportedScheme"],
  ["ws://127.0.0.1/token", "UnsupportedScheme"],
  ["http://api.criteo.com/oauth2/token", "Insecure"],
  ["http://10.0.0.8/oauth2/token", "Insecure"],
  ["http://127.0.0.1.nip.io/oauth2/token", "Insecure"],
  ["http://[::2]/oauth2/token", "Insecure"],
  ["https://me:hunter2@api.criteo.com/oauth2/token", "UserInfo"],
  ["https://me@api.criteo.com", "UserInfo"],
  ["http://me:hunter2@127.0.0.1:8080", "UserInfo"],
  ["https://api.criteo.com/?token=abc123", "QueryOrFragment"],
  ["https://api.criteo.com/#frag", "QueryOrFragment"],
  ["https://api.criteo.com/?", "QueryOrFragment"]
]

const accepted = [
  "https://api.criteo.com",
  "https://api.criteo.com/oauth2/token",
  "https://API.criteo.com:8443/base/",
  "http://127.0.0.1:8080/oauth2/token",
  "http://127.1.2.3",
  "http://localhost:9000",
  "http://[::1]:8080",
  "http://[::ffff:127.0.0.1]/x"
]

/** Every way an error may be rendered. */
const renderings = (error: unknown): ReadonlyArray<string> => [
  String(error),
  String((error as Error).message),
  JSON.stringify(error),
  Cause.pretty(Cause.fail(error)),
  Inspectable.format(error)
]

describe("CriteoUrl.check", () => {
  for (const [url, tag] of refused) {
    it(`refuses ${url} (${tag})`, () => {
      const result = CriteoUrl.check(url)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) assert.strictEqual(result.left._tag, tag)
    })
  }
  for (const url of accepted) {
    it(`accepts ${url}`, () => assert.isTrue(Either.isRight(CriteoUrl.check(url))))
  }
  it("allowInsecureHttp allows plain http anywhere, but never user info, a query or another scheme", () => {
    assert.isTrue(Either.isRight(CriteoUrl.check("http://api.criteo.com", { allowInsecureHttp: true })))
    for (const url of ["http://u:p@api.criteo.com", "http://api.criteo.com/?a=1", "ftp://api.criteo.com"]) {
      assert.isTrue(Either.isLeft(CriteoUrl.check(url, { allowInsecureHttp: true })), url)
    }
  })
  it("never shows user info, query or fragment in a problem or its sentence", () => {
    for (const url of ["https://me:hunter2@api.criteo.com/x?k=abc123#frag", "http://me:hunter2@10.0.0.1/?k=abc123"]) {
      const result = CriteoUrl.check(url)
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        const text = JSON.stringify(result.left) + CriteoUrl.describe(result.left, "tokenUrl")
        for (const secret of ["hunter2", "me:", "abc123", "frag"]) assert.notInclude(text, secret)
      }
    }
  })
})

describe("core's layers check their URLs when built (issue 16 items 7, 11, 12)", () => {
  const build = <A, E>(layer: Layer.Layer<A, E, never>) => Effect.flip(Effect.scoped(Layer.build(layer)))

  it.scoped("TokenEndpoint.layer, CriteoAuth.layer and CriteoHttpClient.layer fail with RefusedUrlError", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeClient(() => Effect.succeed({ status: 500 }))
      for (const [url, reason] of refused) {
        const endpoint = yield* build(TokenEndpoint.layer({ tokenUrl: url }).pipe(Layer.provide(fake.layer)))
        assert.deepInclude(endpoint, { _tag: "RefusedUrlError", option: "tokenUrl", reason }, url)
        const auth = yield* build(CriteoAuth.layer({ grant, tokenUrl: url }).pipe(Layer.provide(fake.layer)))
        assert.deepInclude(auth, { _tag: "RefusedUrlError", option: "tokenUrl", reason }, url)
        const api = yield* build(
          CriteoHttpClient.layer({ baseUrl: url }).pipe(
            Layer.provide(CriteoAuth.layer({ grant })),
            Layer.provide(fake.layer)
          )
        )
        assert.deepInclude(api, { _tag: "RefusedUrlError", option: "baseUrl", reason }, url)
        for (const text of [...renderings(endpoint), ...renderings(api)]) {
          assert.notInclude(text, "hunter2", url)
          assert.notInclude(text, "abc123", url)
        }
      }
      // nothing was sent anywhere
      assert.strictEqual((yield* fake.requests).length, 0)
    }))

  it.scoped("the defaults, loopback http and the explicit opt-in build", () =>
    Effect.gen(function*() {
      const fake = yield* makeFakeClient(() => Effect.succeed({ status: 500 }))
      const layers = [
        CriteoHttpClient.layer().pipe(Layer.provide(CriteoAuth.layer({ grant }))),
        CriteoHttpClient.layer({ baseUrl: "http://127.0.0.1:8080" }).pipe(
          Layer.provide(CriteoAuth.layer({ grant, tokenUrl: "http://localhost:8080/oauth2/token" }))
        ),
        CriteoHttpClient.layer({ baseUrl: "http://sim:8080", allowInsecureHttp: true }).pipe(
          Layer.provide(CriteoAuth.layer({ grant, tokenUrl: "http://sim:8080/oauth2/token", allowInsecureHttp: true }))
        )
      ]
      for (const layer of layers) yield* Effect.scoped(Layer.build(layer.pipe(Layer.provide(fake.layer))))
    }))
})
