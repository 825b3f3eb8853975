import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Args from "@effect/cli/Args"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
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

// -----------------------------------------------------------------------------
// sizes
// -----------------------------------------------------------------------------

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

const units: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: KiB,
  mib: MiB,
  gib: GiB
}

/**
 * A size as people write it: bytes (`1048576`), or a number with a unit, decimal (`KB`, `MB`, `GB`) or
 * binary (`KiB`, `MiB`, `GiB`), in any case (`64MiB`, `500kb`, `1.5 GB`). `None` for anything else.
 *
 * @internal
 */
export const parseSize = (input: string): Option.Option<number> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input)
  if (match === null) return Option.none()
  const unit = units[match[2].toLowerCase()]
  return unit === undefined ? Option.none() : Option.some(Math.floor(Number(match[1]) * unit))
}

const displayUnits = [
  ["GiB", GiB],
  ["MiB", MiB],
  ["KiB", KiB],
  ["GB", 1000 ** 3],
  ["MB", 1000 ** 2],
  ["KB", 1000]
] as const

/**
 * A size for a message, in a unit `--max-body-size` accepts: `64MiB`, `500KB`, or bytes.
 *
 * @internal
 */
export const formatSize = (bytes: number): string => {
  for (const [unit, size] of displayUnits) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return `${bytes} bytes`
}

/**
 * The most of an API answer's body the tool holds (64 MiB) unless `--max-body-size` says otherwise: far
 * above any answer of Criteo's API the tool is for (JSON of a few KB, reports of a few MB), far below
 * what makes Node.js run out of memory holding it, its scrubbed copy and its pretty-printed copy.
 *
 * @internal
 */
export const defaultMaxBodySize = 64 * MiB

/**
 * The highest `--max-body-size` (256 MiB): the body is held, scrubbed and printed as one string, and
 * V8 cannot make a string of much more than 512 MiB.
 *
 * @internal
 */
export const maxMaxBodySize = 256 * MiB

/**
 * The most `--data` reads from a file or standard input (16 MiB): a request body of Criteo's API is
 * JSON of a few KB; more is a mistake (the wrong file, a stream piped in by accident).
 *
 * @internal
 */
export const maxDataSize = 16 * MiB

/** @internal */
export const maxBodySizeOption = Options.text("max-body-size").pipe(
  Options.withDescription(
    `The most of the response body to read, e.g. 500KB or 128MiB (default ${formatSize(defaultMaxBodySize)}, ` +
      `at most ${formatSize(maxMaxBodySize)}). A longer body is not printed: the call fails (exit 13) as soon ` +
      "as the body passes it."
  ),
  Options.withPseudoName("SIZE"),
  Options.withDefault(formatSize(defaultMaxBodySize)),
  Options.mapEffect((input) =>
    Option.match(Option.filter(parseSize(input), (size) => size <= maxMaxBodySize), {
      onNone: () =>
        Effect.fail(ValidationError.invalidValue(HelpDoc.p(
          `Invalid --max-body-size ${JSON.stringify(input.slice(0, 40))}: use a size up to ` +
            `${formatSize(maxMaxBodySize)}, e.g. 500KB or 64MiB`
        ))),
      onSome: Effect.succeed
    })
  )
)

/**
 * The bytes of `stream` as UTF-8 text, or `None` as soon as they pass `maxBytes`: the stream is ended
 * there, not read to its end (ending a response body stream aborts its request; ending a file or
 * standard input closes it). At most `maxBytes` plus one chunk is held.
 *
 * core has the same reader for the bodies of 401 and 403 (`internal/body.ts`), private to core; this
 * one is the tool's own, as it reads files and standard input too.
 *
 * @internal
 */
export const readCapped = <E, R>(
  stream: Stream.Stream<Uint8Array, E, R>,
  maxBytes: number
): Effect.Effect<Option.Option<string>, E, R> =>
  Effect.map(
    Stream.runFoldWhile(
      stream,
      { size: 0, chunks: [] as Array<Uint8Array> },
      (read) => read.size <= maxBytes,
      (read, chunk) => {
        read.chunks.push(chunk)
        return { size: read.size + chunk.length, chunks: read.chunks }
      }
    ),
    (read) => {
      if (read.size > maxBytes) return Option.none()
      const bytes = new Uint8Array(read.size)
      let offset = 0
      for (const chunk of read.chunks) {
        bytes.set(chunk, offset)
        offset += chunk.length
      }
      return Option.some(new TextDecoder().decode(bytes))
    }
  )

/**
 * The body of an API answer, or `None` if it is longer than `maxBytes`. A `content-length` above the
 * bound is refused at once, nothing of the body read (not even a first chunk, which a server may not send
 * before `--api-timeout`): the request ends with the run's dispatcher, destroyed as the run ends. Except
 * where no body follows it (an answer to HEAD, a 204 or a 304).
 *
 * @internal
 */
export const readBody = (
  response: HttpClientResponse.HttpClientResponse,
  maxBytes: number
): Effect.Effect<Option.Option<string>, ResponseError> => {
  const declared = Number(response.headers["content-length"])
  const bodyless = response.request.method === "HEAD" || response.status === 204 || response.status === 304
  if (!bodyless && Number.isFinite(declared) && declared > maxBytes) {
    return Effect.succeed(Option.none())
  }
  return readCapped(response.stream, maxBytes)
}

type ResponseError = Stream.Stream.Error<HttpClientResponse.HttpClientResponse["stream"]>

/**
 * The JSON body of `--data`: inline, `@FILE` or `@-` (standard input), checked and compacted. A file or
 * standard input is read up to `maxDataSize`, no further: past it, a usage error.
 *
 * @internal
 */
export const readData = (data: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isNone(data)) return Option.none<string>()
    const fs = yield* FileSystem.FileSystem
    const input = data.value
    const tooLarge = (what: string) =>
      usage(`${what} is larger than ${formatSize(maxDataSize)}, the most criteo-auth sends with --data`)
    let text = input
    if (input === "@-") {
      const read = yield* readCapped(
        NodeStream.fromReadable(() => process.stdin, () => usage("Cannot read --data from standard input")),
        maxDataSize
      )
      if (Option.isNone(read)) return yield* tooLarge("--data from standard input")
      text = read.value
    } else if (input.startsWith("@")) {
      const file = input.slice(1)
      const cannotRead = (error: unknown) => usage(`Cannot read the --data file ${file} (${describeFileError(error)})`)
      const info = yield* Effect.mapError(fs.stat(file), cannotRead)
      if (Number(info.size) > maxDataSize) {
        return yield* tooLarge(`The --data file ${file} (${Number(info.size)} bytes)`)
      }
      // read with the bound all the same: a device or a pipe (/dev/stdin, a FIFO) has no size, a file may grow
      const read = yield* Effect.mapError(readCapped(fs.stream(file), maxDataSize), cannotRead)
      if (Option.isNone(read)) return yield* tooLarge(`The --data file ${file}`)
      text = read.value
    }
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
