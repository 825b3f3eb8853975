/**
 * The adapter of criteo-auth itself: the client as an application uses it, `CriteoNode.layerConfig()`
 * (every setting from the CRITEO_* variables: credentials, grant, URLs, version, timeouts) and
 * `CriteoHttpClient`. Each call reads the whole body, so a broken body is an error, not a 200.
 *
 * Run by `criteo-conformance run --adapter criteo-auth` (bundled with esbuild first), or directly:
 * `node --conditions=source --import tsx adapters/criteo-auth.ts`.
 */
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
// The version of the client under test (inlined by the bundler).
import * as CriteoNode from "@criteo-auth/platform/CriteoNode"
import platformPackage from "@criteo-auth/platform/package.json" with { type: "json" }
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Readline from "node:readline"

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

interface Outcome {
  readonly status?: number
  readonly body?: unknown
  readonly error?: string
  readonly message?: string
}

// Logs (warnings and errors only) go to stderr: stdout carries the protocol.
const logging = Layer.merge(
  Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)),
  Logger.minimumLogLevel(LogLevel.Warning)
)

// The layer is built on the first call: nothing is sent before the first command.
const runtime = ManagedRuntime.make(CriteoNode.layerConfig().pipe(Layer.provideMerge(logging)))

const parse = (text: string): unknown => {
  try {
    return text.length === 0 ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

const call = (
  method: Method,
  path: string,
  body: unknown
): Effect.Effect<Outcome, never, CriteoHttpClient.CriteoHttpClient> =>
  Effect.gen(function*() {
    const client = yield* CriteoHttpClient.CriteoHttpClient
    const request = HttpClientRequest.make(method)(path).pipe(
      body === null || body === undefined ? (r) => r : HttpClientRequest.bodyUnsafeJson(body)
    )
    const response = yield* client.execute(request)
    const text = yield* response.text
    const decoded = parse(text)
    return decoded === undefined ? { status: response.status } : { status: response.status, body: decoded }
  }).pipe(
    Effect.scoped,
    Effect.catchAll((error) => Effect.succeed<Outcome>({ error: error._tag, message: error.message })),
    Effect.catchAllCause((cause) =>
      Effect.succeed<Outcome>({ error: "Defect", message: Cause.pretty(cause).split("\n")[0] ?? "defect" })
    )
  )

const send = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`)

/** Runs on the client's runtime; a client that cannot be built (a ConfigError) answers every call with it. */
const answer = <A>(
  effect: Effect.Effect<A, never, CriteoHttpClient.CriteoHttpClient>,
  orElse: (outcome: Outcome) => A
): Promise<A> =>
  runtime.runPromise(effect).catch((error: unknown) => {
    const tagged = error as { readonly _tag?: unknown; readonly message?: unknown }
    return orElse({
      error: typeof tagged?._tag === "string" ? tagged._tag : "Error",
      message: typeof tagged?.message === "string" ? tagged.message : String(error)
    })
  })

const lines = Readline.createInterface({ input: process.stdin })

let closing = false
const shutdown = () => {
  if (closing) return
  closing = true
  lines.close()
  runtime.dispose().finally(() => process.stdout.write("", () => process.exit(0)))
}

lines.on("line", (line) => {
  let command: Record<string, unknown>
  try {
    command = JSON.parse(line)
  } catch {
    return
  }
  const method = (typeof command["method"] === "string" ? command["method"] : "GET") as Method
  const path = typeof command["path"] === "string" ? command["path"] : "/"
  switch (command["type"]) {
    case "shutdown":
      return shutdown()
    case "call":
      return void answer(call(method, path, command["body"]), (outcome) => outcome).then((outcome) =>
        send({ id: command["id"], type: "result", ...outcome })
      )
    case "calls": {
      const count = typeof command["count"] === "number" ? command["count"] : 1
      const all = Effect.all(Array.from({ length: count }, () => call(method, path, null)), {
        concurrency: "unbounded"
      })
      return void answer(all, (outcome) => Array.from({ length: count }, () => outcome)).then((results) =>
        send({ id: command["id"], type: "results", results })
      )
    }
    default:
      return send({ id: command["id"], type: "result", error: "UnknownCommand", message: String(command["type"]) })
  }
})
lines.on("close", shutdown)

// Protocol version 2: every grant, any API path, and timeouts from CRITEO_TOKEN_TIMEOUT / CRITEO_API_TIMEOUT.
send({
  type: "ready",
  name: "criteo-auth",
  version: platformPackage.version,
  protocol: 2,
  capabilities: {
    grants: ["client_credentials", "authorization_code", "refresh_token"],
    apiPaths: "any",
    configurableTimeouts: true
  }
})
