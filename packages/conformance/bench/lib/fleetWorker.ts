/**
 * One process of a fleet for the fleet figures: `CriteoHttpClient` + `CriteoAuth` with core's defaults
 * on undici, against the loopback server, with the Redis token store when `BENCH_REDIS_URL` is set
 * (without it, the process keeps its tokens to itself). Driven by JSON lines on stdin:
 *
 *   {"cmd":"tokens","n":500}                             n concurrent first calls (GET /advertisers/me)
 *   {"cmd":"run","ms":8000,"concurrency":4,"pauseMs":20} calls in a loop for ms
 *   {"cmd":"exit"}
 *
 * and answers `{"ok":n,"failed":m,"firstFailure":...}` on stdout; `{"ready":true}` once built.
 *
 *   node --import tsx bench/lib/fleetWorker.ts
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as Grant from "@criteo-auth/core/Grant"
import * as CriteoRedisStore from "@criteo-auth/platform/CriteoRedisStore"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Readline from "node:readline"

const env = (name: string) => process.env[name] === "" ? undefined : process.env[name]

const grant = Grant.clientCredentials({
  clientId: env("BENCH_CLIENT_ID") ?? "bench-fleet",
  clientSecret: Redacted.make("bench-secret")
})

const write = (message: unknown) => process.stdout.write(`${JSON.stringify(message)}\n`)

const main = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const redisUrl = env("BENCH_REDIS_URL")
  const tokenStore = redisUrl === undefined ? undefined : yield* CriteoRedisStore.make({
    url: Redacted.make(redisUrl),
    key: Redacted.make(env("BENCH_STORE_KEY") ?? ""),
    operationTimeout: Duration.millis(Number(env("BENCH_STORE_TIMEOUT_MS") ?? "1000"))
  }).pipe(Scope.extend(scope))
  const authOptions = { grant, tokenUrl: env("BENCH_TOKEN_URL")!, ...(tokenStore === undefined ? {} : { tokenStore }) }
  const layer = CriteoHttpClient.layer({ baseUrl: env("BENCH_BASE_URL")!, apiVersion: "2026-07" }).pipe(
    Layer.provide(CriteoAuth.layer(authOptions)),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const context = yield* Layer.buildWithScope(layer, scope)
  const api = Context.get(context, CriteoHttpClient.CriteoHttpClient)
  const call = api.get("/advertisers/me").pipe(
    Effect.flatMap((response): Effect.Effect<unknown, unknown> =>
      response.status === 200 ? response.json : Effect.fail(`status ${response.status}`)
    ),
    Effect.scoped
  )
  const tally = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>) => {
    let ok = 0
    let firstFailure: string | undefined
    for (const exit of exits) {
      if (Exit.isSuccess(exit)) ok++
      else {firstFailure ??= String(
          exit.cause._tag === "Fail"
            ? (exit.cause.error as { _tag?: string })._tag ?? exit.cause.error
            : exit.cause._tag
        )}
    }
    return { ok, failed: exits.length - ok, firstFailure }
  }
  write({ ready: true })
  const lines = Readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  while (true) {
    const next = yield* Effect.promise(() => lines.next())
    if (next.done === true) break
    const message = JSON.parse(next.value as string) as {
      cmd: string
      n: number
      ms: number
      concurrency: number
      pauseMs: number
    }
    if (message.cmd === "exit") break
    if (message.cmd === "tokens") {
      const exits = yield* Effect.all(Array.from({ length: message.n }, () => Effect.exit(call)), {
        concurrency: "unbounded"
      })
      write(tally(exits))
    } else if (message.cmd === "run") {
      const deadline = Date.now() + message.ms
      const exits: Array<Exit.Exit<unknown, unknown>> = []
      const loop = Effect.gen(function*() {
        while (Date.now() < deadline) {
          exits.push(yield* Effect.exit(call))
          yield* Effect.sleep(Duration.millis(message.pauseMs))
        }
      })
      yield* Effect.all(Array.from({ length: message.concurrency }, () => loop), { concurrency: "unbounded" })
      write(tally(exits))
    }
  }
  yield* Scope.close(scope, Exit.void)
})

// logs (the store's and the provider's warnings) on stderr: stdout is the protocol
const logger = Logger.make(({ logLevel, message }) => {
  process.stderr.write(`  [worker ${process.pid}] ${logLevel.label} ${JSON.stringify(message)}\n`)
})

Effect.runPromise(main.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    process.exit(1)
  }
)
