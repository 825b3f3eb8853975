import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"

/**
 * A fleet of worker processes (`test/fleet/worker.ts`, compiled by the global setup), each a real Node.js
 * process with its own provider, driven by JSON lines. Every process is killed with the scope.
 */

const packageDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The compiled worker. */
export const workerScript = Path.join(packageDir, ".tsbuildinfo/test-out/test/fleet/worker.js")

export interface Tally {
  readonly ok: number
  readonly failed: number
  readonly errors: ReadonlyArray<string>
  /** What a query command (`limit`) answers. */
  readonly value?: number
}

export class WorkerError extends Data.TaggedError("WorkerError")<{ readonly reason: string }> {
  get message() {
    return `fleet worker: ${this.reason}`
  }
}

export interface Worker {
  readonly pid: number
  /** Sends a command and waits (at most `timeout`) for its answer. */
  readonly send: (
    command: Record<string, unknown>,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Tally, WorkerError>
  /** Sends a command without waiting; `answer` waits for the next answer. */
  readonly post: (command: Record<string, unknown>) => Effect.Effect<void>
  readonly answer: (timeout?: Duration.DurationInput) => Effect.Effect<Tally, WorkerError>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** What the worker logged on stderr so far. */
  readonly logs: () => string
}

export interface Settings {
  readonly clientId: string
  readonly clientSecret: string
  readonly tokenUrl: string
  readonly apiUrl: string
  readonly refreshToken?: string | undefined
  /** Without it, the worker keeps its tokens to itself. */
  readonly redisUrl?: string | undefined
  readonly storeKey?: string | undefined
  readonly storeTimeoutMs?: number | undefined
  /** The limit of one token request, and the attempts of one acquisition: together they bound the lease. */
  readonly tokenTimeoutMs?: number | undefined
  readonly maxAttempts?: number | undefined
}

/** Starts a worker; resolves once its layer is built (it printed `ready`). */
export const spawn = (settings: Settings) =>
  Effect.gen(function*() {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      FLEET_CLIENT_ID: settings.clientId,
      FLEET_CLIENT_SECRET: settings.clientSecret,
      FLEET_TOKEN_URL: settings.tokenUrl,
      FLEET_API_URL: settings.apiUrl
    }
    if (settings.refreshToken !== undefined) env.FLEET_REFRESH_TOKEN = settings.refreshToken
    if (settings.redisUrl !== undefined) env.FLEET_REDIS_URL = settings.redisUrl
    if (settings.storeKey !== undefined) env.FLEET_STORE_KEY = settings.storeKey
    if (settings.storeTimeoutMs !== undefined) env.FLEET_STORE_TIMEOUT_MS = String(settings.storeTimeoutMs)
    if (settings.tokenTimeoutMs !== undefined) env.FLEET_TOKEN_TIMEOUT_MS = String(settings.tokenTimeoutMs)
    if (settings.maxAttempts !== undefined) env.FLEET_MAX_ATTEMPTS = String(settings.maxAttempts)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(process.execPath, [workerScript], { env, stdio: ["pipe", "pipe", "pipe"] })),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGKILL")
        })
    )
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const answers = yield* Queue.unbounded<Record<string, unknown>>()
    const ready = yield* Deferred.make<void, WorkerError>()
    Readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as Record<string, unknown>
      if (message.ready === true) Deferred.unsafeDone(ready, Effect.void)
      else Queue.unsafeOffer(answers, message)
    })
    child.once("exit", (code, signal) => {
      Deferred.unsafeDone(
        ready,
        Effect.fail(new WorkerError({ reason: `exited (${signal ?? code}): ${stderr.slice(-2000)}` }))
      )
    })
    yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({
        duration: Duration.seconds(90),
        onTimeout: () => new WorkerError({ reason: `not ready within 90 s: ${stderr.slice(-2000)}` })
      })
    )
    const post = (command: Record<string, unknown>) =>
      Effect.sync(() => child.stdin.write(`${JSON.stringify(command)}\n`))
    const answer = (timeout: Duration.DurationInput = Duration.seconds(60)) =>
      Queue.take(answers).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new WorkerError({ reason: `no answer within ${Duration.format(Duration.decode(timeout))}` })
        }),
        Effect.map((message) => message as unknown as Tally)
      )
    return {
      pid: child.pid ?? -1,
      post,
      answer,
      send: (command, timeout) => Effect.zipRight(post(command), answer(timeout)),
      kill: (signal) => Effect.sync(() => child.kill(signal)),
      logs: () => stderr
    } satisfies Worker
  })

/** `n` workers, started 4 at a time (each start loads a Node.js process on a shared machine). */
export const spawnMany = (n: number, settings: Settings) =>
  Effect.all(Array.from({ length: n }, () => spawn(settings)), { concurrency: 4 })

/** Sends the same command to every worker at once and collects the answers. */
export const broadcast = (
  workers: ReadonlyArray<Worker>,
  command: Record<string, unknown>,
  timeout?: Duration.DurationInput
) =>
  Effect.gen(function*() {
    yield* Effect.forEach(workers, (worker) => worker.post(command), { discard: true })
    return yield* Effect.forEach(workers, (worker) => worker.answer(timeout), { concurrency: "unbounded" })
  })

/** The sum of tallies. */
export const total = (tallies: ReadonlyArray<Tally>): Tally => ({
  ok: tallies.reduce((sum, t) => sum + t.ok, 0),
  failed: tallies.reduce((sum, t) => sum + t.failed, 0),
  errors: tallies.flatMap((t) => t.errors)
})
