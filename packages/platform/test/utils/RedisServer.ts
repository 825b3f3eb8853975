import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import * as Ports from "./ports.js"

/**
 * A real `redis-server` (Debian's package) for the tests: one per suite, on a free loopback port, with
 * no persistence, stopped with the scope. `CI=true` and no `redis-server`: the suite fails (`.ci/run`
 * installs it); elsewhere the Redis tests skip and say why.
 */

const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"

const probe = ChildProcess.spawnSync("redis-server", ["--version"], { encoding: "utf8" })

/** Whether `redis-server` can run here. */
export const available = probe.status === 0

/** Whether the Redis suites run: always in CI (a missing server then fails them), elsewhere when installed. */
export const runRedisTests = available || inCi

if (!runRedisTests) {
  process.stderr.write(
    "Redis tests skipped: redis-server is not installed (apt-get install redis-server); with CI=true they fail\n"
  )
}

export interface Server {
  readonly port: number
  readonly url: string
  readonly pid: number
  /** SIGSTOP: the server keeps its connections open and answers nothing. */
  readonly pause: Effect.Effect<void>
  /** SIGCONT. */
  readonly resume: Effect.Effect<void>
  /** SIGKILL, then a new server on the same port (empty: no persistence), as after a crash. */
  readonly restart: Effect.Effect<void>
  /** SIGKILL and no new server. */
  readonly kill: Effect.Effect<void>
}

export class RedisServer extends Context.Tag("test/RedisServer")<RedisServer, Server>() {}

class StartError extends Error {}

/** No persistence; the log at its default level, where "Ready to accept connections" is printed. */
const QUIET = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "notice"]

/** Starts `redis-server` on `port` (with `args` after the suite's own); resolves once it accepts connections. */
const spawn = (port: number, args: ReadonlyArray<string>) =>
  Effect.async<ChildProcess.ChildProcess, StartError>((resume) => {
    const child = ChildProcess.spawn(
      "redis-server",
      ["--port", String(port), ...QUIET, ...args],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    let done = false
    const finish = (effect: Effect.Effect<ChildProcess.ChildProcess, StartError>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(effect)
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      finish(Effect.fail(new StartError(`redis-server did not start within 10 s: ${output.slice(-500)}`)))
    }, 10_000)
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) finish(Effect.succeed(child))
    })
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", (error) => finish(Effect.fail(new StartError(`redis-server: ${error.message}`))))
    child.once(
      "exit",
      (code) => finish(Effect.fail(new StartError(`redis-server exited (${code}): ${output.slice(-500)}`)))
    )
  })

const stop = (child: ChildProcess.ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGCONT")
    child.kill("SIGKILL")
  })

/**
 * A redis-server for the scope, with more command-line arguments (`--rename-command EVALSHA ""`, ...),
 * kept on a restart. Retries on another port when the one picked was taken meanwhile.
 */
export const makeWith = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (!available) return yield* Effect.dieMessage("redis-server is not installed (apt-get install redis-server)")
    const started = yield* Effect.gen(function*() {
      const port = yield* Ports.freePort
      const child = yield* spawn(port, args)
      return { child, port }
    }).pipe(Effect.retry(Schedule.recurs(3)), Effect.orDie)
    const port = started.port
    let child = started.child
    yield* Effect.addFinalizer(() => Effect.suspend(() => stop(child)))
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      get pid() {
        return child.pid ?? -1
      },
      pause: Effect.sync(() => child.kill("SIGSTOP")),
      resume: Effect.sync(() => child.kill("SIGCONT")),
      kill: Effect.suspend(() => stop(child)),
      restart: Effect.gen(function*() {
        yield* stop(child)
        child = yield* spawn(port, args).pipe(
          Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.intersect(Schedule.recurs(20)))),
          Effect.orDie
        )
      })
    } satisfies Server
  })

/** A redis-server for the scope. Retries on another port when the one picked was taken meanwhile. */
export const make = makeWith([])

/** One redis-server shared by a suite (`it.layer(RedisServer.layer, { excludeTestServices: true })`). */
export const layer: Layer.Layer<RedisServer> = Layer.scoped(RedisServer, make)
