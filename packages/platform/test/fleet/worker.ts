/**
 * One process of a fleet, for the multi-process tests and the fleet figures: `CriteoAuth` and
 * `CriteoHttpClient` over undici, with the Redis token store when `FLEET_REDIS_URL` is set (without it,
 * the process keeps its tokens to itself, as before the shared store). Driven by JSON lines on stdin,
 * answered by JSON lines on stdout:
 *
 *   {"cmd":"tokens","n":500}   n concurrent `CriteoAuth.token` calls   -> {"ok":n,"failed":0,"errors":[]}
 *   {"cmd":"refresh"}          one forced refresh (`CriteoAuth.refresh`) -> {"ok":1,...}
 *   {"cmd":"api","n":10}       n concurrent GET /advertisers/me         -> {"ok":n,...}
 *   {"cmd":"run","ms":2000,"concurrency":4,"pauseMs":20}  calls in a loop for ms, each worker of the
 *                              loop pausing pauseMs between calls       -> {"ok":...,"failed":...}
 *   {"cmd":"limit"}            the API rate limit this process knows    -> {"ok":1,...,"value":untilMillis}
 *   {"cmd":"exit"}
 *
 * It prints {"ready":true} once its layer is built. Settings come from FLEET_* variables (see below).
 * Logs go to stderr, one JSON object a line.
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import { type CriteoConfig, CriteoNode } from "@criteo-auth/platform"
import * as CriteoRedisStore from "@criteo-auth/platform/CriteoRedisStore"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Readline from "node:readline"

const env = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}
const required = (name: string): string => {
  const value = env(name)
  if (value === undefined) throw new Error(`${name} is required`)
  return value
}

const clientId = required("FLEET_CLIENT_ID")
const clientSecret = Redacted.make(required("FLEET_CLIENT_SECRET"))
const refreshToken = env("FLEET_REFRESH_TOKEN")
const grant = refreshToken === undefined
  ? Grant.clientCredentials({ clientId, clientSecret })
  : Grant.refreshToken({ clientId, clientSecret, refreshToken: Redacted.make(refreshToken) })

const write = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`)

interface Tally {
  ok: number
  failed: number
  errors: Array<string>
  value?: number
}

const tally = (exits: ReadonlyArray<Exit.Exit<unknown, { readonly _tag: string }>>): Tally => {
  const result: Tally = { ok: 0, failed: 0, errors: [] }
  for (const exit of exits) {
    if (Exit.isSuccess(exit)) {
      result.ok++
    } else {
      result.failed++
      if (result.errors.length < 5) {
        const failure = exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag
        result.errors.push(failure)
      }
    }
  }
  return result
}

const main = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const redisUrl = env("FLEET_REDIS_URL")
  const store = redisUrl === undefined ? undefined : yield* CriteoRedisStore.make({
    url: Redacted.make(redisUrl),
    key: Redacted.make(required("FLEET_STORE_KEY")),
    prefix: env("FLEET_STORE_PREFIX"),
    operationTimeout: Duration.millis(Number(env("FLEET_STORE_TIMEOUT_MS") ?? "1000"))
  }).pipe(Scope.extend(scope))
  // without a store: CriteoAuth's private in-memory one, as a process alone
  const options: CriteoConfig.Options = {
    grant,
    tokenUrl: required("FLEET_TOKEN_URL"),
    apiUrl: required("FLEET_API_URL"),
    ...(store === undefined ? {} : { tokenStore: store }),
    ...(env("FLEET_STORE_KEY_NAME") === undefined ? {} : { storeKey: env("FLEET_STORE_KEY_NAME") }),
    // the lease's time to live is the longest an acquisition may take: these bound it
    ...(env("FLEET_TOKEN_TIMEOUT_MS") === undefined
      ? {}
      : { timeout: Duration.millis(Number(env("FLEET_TOKEN_TIMEOUT_MS"))) }),
    ...(env("FLEET_MAX_ATTEMPTS") === undefined ? {} : {
      retry: {
        maxAttempts: Number(env("FLEET_MAX_ATTEMPTS")),
        maxDelay: Duration.millis(500),
        maxRateLimitWait: Duration.seconds(1)
      }
    })
  }
  const context = yield* Layer.buildWithScope(CriteoNode.layer(options), scope)
  const auth = Context.get(context, CriteoAuth.CriteoAuth)
  const api = Context.get(context, CriteoHttpClient.CriteoHttpClient)

  const call = api.get("/advertisers/me").pipe(
    Effect.flatMap((response) =>
      response.status === 200
        ? Effect.void
        : Effect.fail({ _tag: `Status${response.status}` as const })
    ),
    Effect.scoped
  )

  const commands: Record<string, (message: Record<string, number>) => Effect.Effect<Tally>> = {
    tokens: ({ n }) =>
      Effect.all(Array.from({ length: n }, () => Effect.exit(auth.token)), { concurrency: "unbounded" }).pipe(
        Effect.map(tally)
      ),
    refresh: () => Effect.map(Effect.exit(auth.refresh), (exit) => tally([exit])),
    limit: () => Effect.succeed({ ok: 1, failed: 0, errors: [], value: auth.apiRateLimit?.untilMillis() ?? -1 }),
    api: ({ n }) =>
      Effect.all(Array.from({ length: n }, () => Effect.exit(call)), { concurrency: "unbounded" }).pipe(
        Effect.map(tally)
      ),
    run: ({ concurrency, ms, pauseMs }) =>
      Effect.gen(function*() {
        const deadline = Date.now() + ms
        const exits: Array<Exit.Exit<unknown, { readonly _tag: string }>> = []
        const loop = Effect.gen(function*() {
          while (Date.now() < deadline) {
            exits.push(yield* Effect.exit(call))
            yield* Effect.sleep(Duration.millis(pauseMs ?? 10))
          }
        })
        yield* Effect.all(Array.from({ length: concurrency ?? 1 }, () => loop), { concurrency: "unbounded" })
        return tally(exits)
      })
  }

  write({ ready: true, pid: process.pid })
  const lines = Readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  while (true) {
    const next = yield* Effect.promise(() => lines.next())
    if (next.done === true) break
    const line: string = next.value
    const message = JSON.parse(line) as Record<string, number> & { cmd: string }
    if (message.cmd === "exit") break
    const command = commands[message.cmd]
    if (command === undefined) {
      write({ error: `unknown command ${message.cmd}` })
      continue
    }
    write(yield* command(message))
  }
  yield* Scope.close(scope, Exit.void)
})

/** Logs as JSON lines on stderr: stdout is the protocol. */
const stderrLogger = Logger.make(({ annotations, date, logLevel, message }) => {
  process.stderr.write(
    `${
      JSON.stringify({
        at: date.toISOString(),
        pid: process.pid,
        level: logLevel.label,
        message,
        ...Object.fromEntries(annotations)
      })
    }\n`
  )
})

Effect.runPromise(
  main.pipe(
    Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger)),
    Logger.withMinimumLogLevel(LogLevel.Info)
  )
).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    process.exit(1)
  }
)
