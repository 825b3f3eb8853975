/**
 * What core exports for other clients of the Criteo API (the CLI among them) instead of copies:
 * `Retry-After` parsing, Criteo's error body, the description of a transport failure.
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const now = DateTime.unsafeMake(Date.UTC(2026, 10, 30, 12, 0, 0))
const wait = (headers: Record<string, string>) =>
  Option.map(CriteoHttpClient.retryAfter(Headers.fromInput(headers), now), Duration.toMillis)

describe("CriteoHttpClient shared helpers", () => {
  it("retryAfter: seconds, an HTTP date, x-ratelimit-reset (seconds or epoch), whichever says more", () => {
    assert.deepStrictEqual(wait({ "retry-after": "3" }), Option.some(3000))
    assert.deepStrictEqual(wait({ "retry-after": "Mon, 30 Nov 2026 12:00:10 GMT" }), Option.some(10_000))
    assert.deepStrictEqual(
      wait({ "x-ratelimit-reset": String(Date.UTC(2026, 10, 30, 12, 1, 0) / 1000) }),
      Option.some(60_000)
    )
    assert.deepStrictEqual(wait({ "retry-after": "2", "x-ratelimit-reset": "5" }), Option.some(5000))
    assert.deepStrictEqual(wait({ "retry-after": "soon" }), Option.none())
  })

  it("decodeErrorBody: Criteo's errors array, or none", () => {
    const body = CriteoHttpClient.decodeErrorBody(
      JSON.stringify({ errors: [{ code: "not-found", title: "No such advertiser", traceIdentifier: "t1" }] })
    )
    assert.deepStrictEqual(
      Option.map(body, (b) => [b.errors[0].code, b.errors[0].title]),
      Option.some(["not-found", "No such advertiser"])
    )
    assert.isTrue(Option.isNone(CriteoHttpClient.decodeErrorBody("<html>")))
    assert.isTrue(Option.isNone(CriteoHttpClient.decodeErrorBody(JSON.stringify({ errors: [] }))))
  })

  it("describeTransportFailure: the description and the cause's code, never the request", () => {
    const request = HttpClientRequest.get("https://api.criteo.com/2026-07/advertisers/me").pipe(
      HttpClientRequest.bearerToken("secret-token-0123456789")
    )
    const cause = Object.assign(new Error("connect failed"), { code: "ECONNREFUSED" })
    const text = CriteoHttpClient.describeTransportFailure(
      new HttpClientError.RequestError({ request, reason: "Transport", cause })
    )
    assert.include(text, "connect failed")
    assert.include(text, "ECONNREFUSED")
    assert.notInclude(text, "secret-token")
  })
})
