import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Http from "node:http"
import { text as readAll } from "node:stream/consumers"
import { describeFileError, ExitCode, usage, UserError } from "./failure.js"

/** @internal */
export const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const

/** @internal */
export type Method = typeof methods[number]

/** @internal */
export const methodArg = Args.text({ name: "METHOD" }).pipe(
  Args.withDescription(`The HTTP method: ${methods.join(", ")}.`),
  Args.mapEffect((input) => {
    const method = input.toUpperCase()
    return (methods as ReadonlyArray<string>).includes(method)
      ? Effect.succeed(method as Method)
      : Effect.fail(HelpDoc.p(`Unknown HTTP method "${input}": use one of ${methods.join(", ")}`))
  })
)

/** @internal */
export const pathArg = Args.text({ name: "PATH" }).pipe(
  Args.withDescription(
    "The path under the API version, e.g. /advertisers/me (a query string may follow). The host and the " +
      "version come from --api-url and --api-version."
  ),
  Args.mapEffect((input) =>
    /^[a-z][a-z0-9+.-]*:/i.test(input)
      ? Effect.fail(HelpDoc.p(`PATH must be a path such as /advertisers/me, not a URL: the host comes from --api-url`))
      : Effect.succeed(input.startsWith("/") ? input : `/${input}`)
  )
)

/**
 * The JSON body of `--data`: inline, `@FILE` or `@-` (standard input), checked and compacted.
 *
 * @internal
 */
export const readData = (data: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(data)) return Option.none<string>()
    const fs = yield* FileSystem.FileSystem
    const input = data.value
    const text = input === "@-"
      ? yield* Effect.tryPromise({
        try: () => readAll(process.stdin),
        catch: () => usage("Cannot read --data from standard input")
      })
      : input.startsWith("@")
      ? yield* fs.readFileString(input.slice(1)).pipe(
        Effect.mapError((error) => usage(`Cannot read the --data file ${input.slice(1)} (${describeFileError(error)})`))
      )
      : input
    return yield* Either.try({
      try: () => Option.some(JSON.stringify(JSON.parse(text))),
      catch: (error) =>
        usage(`--data is not valid JSON (${error instanceof Error ? error.message.slice(0, 120) : "parse error"})`)
    })
  })

const reasonPhrase = (status: number) => Http.STATUS_CODES[status] ?? ""

/** @internal */
export const statusLine = (response: HttpClientResponse.HttpClientResponse) =>
  `HTTP ${response.status} ${reasonPhrase(response.status)}`.trim()

const CriteoErrors = Schema.Struct({
  errors: Schema.NonEmptyArray(Schema.Struct({
    code: Schema.optional(Schema.String),
    title: Schema.optional(Schema.String)
  }))
})

const decodeCriteoErrors = Schema.decodeUnknownOption(Schema.parseJson(CriteoErrors))

/** Criteo's own error code and title from an error body, when there is one. */
const errorSummary = (body: string): string =>
  Option.match(decodeCriteoErrors(body), {
    onNone: () => "",
    onSome: ({ errors: [first] }) => {
      const parts = [first.code, first.title === undefined ? undefined : JSON.stringify(first.title.slice(0, 120))]
        .filter((part) => part !== undefined)
      return parts.length === 0 ? "" : ` (${parts.join(": ")})`
    }
  })

const rateLimitWait = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(DateTime.now, (now) => {
    const reset = Number(response.headers["x-ratelimit-reset"])
    if (!Number.isFinite(reset) || reset <= 0) return Option.none<Duration.Duration>()
    const waitMillis = reset >= 1_000_000_000 ? reset * 1000 - DateTime.toEpochMillis(now) : reset * 1000
    return Option.some(Duration.millis(Math.max(0, Math.ceil(waitMillis / 1000) * 1000)))
  })

/**
 * The failure for an API answer of 400 or more, as one sentence with Criteo's error code and title.
 *
 * @internal
 */
export const statusFailure = (response: HttpClientResponse.HttpClientResponse, body: string) =>
  Effect.gen(function*() {
    const target = `${response.request.method} ${response.request.url}`
    if (response.status === 429) {
      const wait = yield* rateLimitWait(response)
      const limit = response.headers["x-ratelimit-limit"]
      return new UserError({
        code: ExitCode.RateLimited,
        sentence: `Criteo rate-limited ${target} (HTTP 429${limit === undefined ? "" : `, limit ${limit}`}): ${
          Option.match(wait, {
            onNone: () => "the server did not say when to retry",
            onSome: (duration) => `retry in ${Duration.format(duration)}`
          })
        }`
      })
    }
    if (response.status >= 500) {
      return new UserError({
        code: ExitCode.Unavailable,
        sentence: `The Criteo API is unavailable: it answered ${statusLine(response)} to ${target}${errorSummary(body)}`
      })
    }
    return new UserError({
      code: ExitCode.ApiError,
      sentence: `Criteo answered ${statusLine(response)} to ${target}${errorSummary(body)}`
    })
  })

/** @internal */
export const prettyBody = (body: string): string =>
  Either.match(Either.try(() => JSON.parse(body) as unknown), {
    onLeft: () => body,
    onRight: (json) => JSON.stringify(json, null, 2)
  })
