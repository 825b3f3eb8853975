import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
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
    "The API path, e.g. /advertisers/me (a query string may follow). A leading API version, as in Criteo's " +
      "docs (/2026-07/advertisers/me), is understood; so is a full URL on the configured API host " +
      "(https://api.criteo.com/2026-07/advertisers/me). The host comes from --api-url, the default version from " +
      "--api-version."
  )
)

const API_VERSION_SEGMENT = /^\/(\d{4}-(?:0[1-9]|1[0-2])|preview)(?=\/|\?|$)/

/**
 * Where the call goes: the path under the version, and the version.
 *
 * @internal
 */
export interface Target {
  readonly path: string
  readonly apiVersion: string | null
}

/**
 * Forgives the forms people paste: a full URL on the configured API host is cut down to its path (any
 * other host, or scheme, is refused: the bearer token goes to the API host only), and a leading version
 * segment (`/2026-07/...`) becomes the version of the call instead of being doubled.
 *
 * @internal
 */
export const resolveTarget = (
  input: string,
  apiUrl: string,
  apiVersion: string | null
): Either.Either<Target, UserError> => {
  let path = input
  if (/^[a-z][a-z0-9+.-]*:/i.test(input)) {
    const api = new URL(apiUrl)
    if (!URL.canParse(input)) return Either.left(usage(`PATH ${JSON.stringify(input.slice(0, 80))} is not a valid URL`))
    const url = new URL(input)
    if (url.protocol !== api.protocol || url.host !== api.host) {
      return Either.left(usage(
        `PATH ${url.protocol}//${url.host}/... is not on the configured API host ${api.protocol}//${api.host}: ` +
          "criteo-auth sends the token to that host only. Pass a path such as /advertisers/me, or set --api-url"
      ))
    }
    if (url.username !== "" || url.password !== "") {
      return Either.left(usage("PATH must not carry user info (user:password@)"))
    }
    const base = api.pathname.replace(/\/+$/, "")
    path = `${url.pathname.startsWith(`${base}/`) ? url.pathname.slice(base.length) : url.pathname}${url.search}`
  }
  if (!path.startsWith("/")) path = `/${path}`
  if (apiVersion === null) return Either.right({ path, apiVersion })
  const version = API_VERSION_SEGMENT.exec(path)
  if (version === null) return Either.right({ path, apiVersion })
  const rest = path.slice(version[0].length)
  return Either.right({ path: rest.startsWith("/") ? rest : `/${rest}`, apiVersion: version[1] })
}

/**
 * A `-H 'Name: value'` header. `Authorization` is refused: the tool sets it.
 *
 * @internal
 */
export const parseHeader = (input: string): Either.Either<readonly [string, string], UserError> => {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/.exec(input)
  if (match === null) {
    return Either.left(usage(`-H ${JSON.stringify(input.slice(0, 80))} is not a header: write -H 'Name: value'`))
  }
  if (/[\r\n\0]/.test(match[2])) return Either.left(usage(`-H ${match[1]}: the value contains a line break`))
  if (match[1].toLowerCase() === "authorization") {
    return Either.left(usage("-H Authorization: criteo-auth sets the Authorization header itself"))
  }
  return Either.right([match[1], match[2].trim()] as const)
}

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

/**
 * The status line and the headers, as `-i` prints them (like curl).
 *
 * @internal
 */
export const head = (response: HttpClientResponse.HttpClientResponse): string =>
  [statusLine(response), ...Object.entries(response.headers).map(([name, value]) => `${name}: ${value}`)].join("\n")

/** Criteo's own error code and title from an error body, when there is one. */
const errorSummary = (body: string): string =>
  Option.match(CriteoHttpClient.decodeErrorBody(body), {
    onNone: () => "",
    onSome: ({ errors: [first] }) => {
      const parts = [first.code, first.title === undefined ? undefined : JSON.stringify(first.title.slice(0, 120))]
        .filter((part) => part !== undefined)
      return parts.length === 0 ? "" : ` (${parts.join(": ")})`
    }
  })

/** How long the 429 asks to wait (core's parsing), in whole seconds, for the message. */
const rateLimitWait = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(
    DateTime.now,
    (now) =>
      Option.map(
        CriteoHttpClient.retryAfter(response.headers, now),
        (wait) => Duration.seconds(Math.ceil(Duration.toSeconds(wait)))
      )
  )

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
