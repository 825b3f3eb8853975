/**
 * The fleet figures (issue 10): processes sharing their tokens through the Redis store
 * (`CriteoRedisStore`), each side by side with the same fleet without the shared store, in one run.
 * Every process is a real child process (`lib/fleetWorker.ts`) with its own provider, against the
 * loopback server, and a real `redis-server` (Debian's package).
 *
 * - cold stampede: `processes` processes, each with `callers` concurrent first calls, the token endpoint
 *   answering in `tokenLatencyMs`: token requests the server received (target 1, against `processes`);
 * - outage: `outageProcesses` processes calling in a loop for `outageMs`; Redis is stopped (SIGSTOP)
 *   a quarter in, every token is revoked (401: each process needs a new one while the store does not
 *   answer), Redis is killed halfway, tokens are revoked again: failed calls (target 0), and the token
 *   requests it cost;
 * - simulated day: `dayProcesses` providers, each with its own state and its own Redis connection as a
 *   process would have, on one TestClock (86,400 s; a call from each every `dayIntervalSeconds`), against the
 *   in-memory Criteo of the day figure (900 s tokens issued in 300 ms): token requests for the whole fleet
 *   (target ≤ 101, against about `dayProcesses` × 96 without the store), and expired tokens sent (0). Separate
 *   processes cannot share a TestClock: this part runs the providers in this process, everything else
 *   (state, connections, Redis) as separate as processes. Redis answers in real time while the clock
 *   jumps: the store bounds its operations in real time (its operation timeout), never on the Clock, so a
 *   jump of the TestClock does not fail an operation in flight;
 * - hot path: in this process, `CriteoHttpClient` with the Redis store configured ÷ the same without,
 *   requests per second in ABBA rounds with a token cached (target: 1, the hot path never waits on
 *   Redis).
 */
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as CriteoRedisStore from "@criteo-auth/platform/CriteoRedisStore"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { apiPath, apiVersion, grant } from "../lib/clients.js"
import * as FakeCriteo from "../lib/fakeCriteo.js"
import * as Loopback from "../lib/loopback.js"
import * as Redis from "../lib/redis.js"
import { order, round, type Spread, spread } from "../lib/stats.js"

export interface Options {
  readonly processes: number
  readonly callers: number
  readonly tokenLatencyMs: number
  readonly outageProcesses: number
  readonly outageMs: number
  /** The store's limit of one operation in the outage figure. */
  readonly storeTimeoutMs: number
  readonly dayProcesses: number
  readonly dayIntervalSeconds: number
  readonly hotRounds: number
  readonly hotRequests: number
  readonly hotConcurrency: number
}

export const defaults: Options = {
  processes: 8,
  callers: 500,
  tokenLatencyMs: 50,
  outageProcesses: 4,
  outageMs: 8_000,
  storeTimeoutMs: 300,
  dayProcesses: 8,
  dayIntervalSeconds: 60,
  hotRounds: 20,
  hotRequests: 1_000,
  hotConcurrency: 32
}

export interface Side {
  readonly tokenRequests: number
  readonly calls: number
  readonly failed: number
  readonly firstFailure: string | undefined
}

export interface DaySide {
  readonly calls: number
  readonly tokenRequests: number
  readonly expiredSent: number
  readonly failed: number
}

export interface Result extends Options {
  readonly stampede: { readonly withStore: Side; readonly withoutStore: Side }
  readonly outage: { readonly withStore: Side; readonly withoutStore: Side }
  readonly day: { readonly withStore: DaySide; readonly withoutStore: DaySide }
  /** Requests per second with the Redis store configured ÷ without, per round. */
  readonly hotPathRatio: Spread
  readonly hotPathFailures: number
}

const here = Path.dirname(fileURLToPath(import.meta.url))
const storeKey = Crypto.randomBytes(32).toString("base64")

interface Answer {
  readonly ok: number
  readonly failed: number
  readonly firstFailure?: string
}

interface Worker {
  readonly send: (command: Record<string, unknown>) => void
  readonly answer: () => Promise<Answer>
  readonly close: () => Promise<void>
}

const spawn = (env: Record<string, string>): Promise<Worker> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--import", "tsx", Path.join(here, "..", "lib", "fleetWorker.ts")],
      { cwd: Path.join(here, "..", ".."), env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] }
    )
    const pending: Array<(answer: Answer) => void> = []
    const queued: Array<Answer> = []
    const timer = setTimeout(() => reject(new Error("a fleet worker did not start within 120 s")), 120_000)
    Readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as Answer & { ready?: boolean }
      if (message.ready === true) {
        clearTimeout(timer)
        return resolve({
          send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
          answer: () =>
            new Promise((done) => {
              const next = queued.shift()
              if (next !== undefined) done(next)
              else pending.push(done)
            }),
          close: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done()
              child.once("exit", () => done())
              child.kill("SIGKILL")
            })
        })
      }
      const waiter = pending.shift()
      if (waiter !== undefined) waiter(message)
      else queued.push(message)
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`a fleet worker exited (${code})`))
    })
  })

const fleet = async (n: number, server: Loopback.Loopback, redis: Redis.RedisServer | undefined, timeoutMs = 1000) => {
  const clientId = `fleet-${Crypto.randomUUID()}`
  const env: Record<string, string> = {
    BENCH_CLIENT_ID: clientId,
    BENCH_TOKEN_URL: server.tokenUrl,
    BENCH_BASE_URL: server.baseUrl,
    BENCH_STORE_TIMEOUT_MS: String(timeoutMs),
    ...(redis === undefined ? {} : { BENCH_REDIS_URL: redis.url, BENCH_STORE_KEY: storeKey })
  }
  // 4 at a time: each start loads a Node.js process (and tsx) on a machine of 2 cores
  const workers: Array<Worker> = []
  while (workers.length < n) {
    const batch = await Promise.all(Array.from({ length: Math.min(4, n - workers.length) }, () => spawn(env)))
    for (const worker of batch) workers.push(worker)
  }
  return workers
}

const broadcast = async (workers: ReadonlyArray<Worker>, command: Record<string, unknown>) => {
  const answers = workers.map((worker) => worker.answer())
  for (const worker of workers) worker.send(command)
  return Promise.all(answers)
}

const sum = (answers: ReadonlyArray<Answer>, tokenRequests: number): Side => ({
  tokenRequests,
  calls: answers.reduce((total, answer) => total + answer.ok + answer.failed, 0),
  failed: answers.reduce((total, answer) => total + answer.failed, 0),
  firstFailure: answers.find((answer) => answer.firstFailure !== undefined)?.firstFailure
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const stampede = async (options: Options, server: Loopback.Loopback, withStore: boolean): Promise<Side> => {
  const redis = withStore ? await Redis.start() : undefined
  let workers: ReadonlyArray<Worker> = []
  try {
    workers = await fleet(options.processes, server, redis)
    await server.reset(options.tokenLatencyMs)
    const answers = await broadcast(workers, { cmd: "tokens", n: options.callers })
    const side = sum(answers, (await server.stats()).tokenRequests)
    process.stderr.write(
      `  stampede ${
        withStore ? "with" : "without"
      } the store: ${side.tokenRequests} token requests, ${side.failed} failed\n`
    )
    return side
  } finally {
    await Promise.all(workers.map((worker) => worker.close()))
    await redis?.close()
  }
}

const outage = async (options: Options, server: Loopback.Loopback, withStore: boolean): Promise<Side> => {
  const redis = withStore ? await Redis.start() : undefined
  let workers: ReadonlyArray<Worker> = []
  try {
    workers = await fleet(options.outageProcesses, server, redis, options.storeTimeoutMs)
    await server.reset(options.tokenLatencyMs)
    // every process has its token (from the store, or its own) before the outage
    await broadcast(workers, { cmd: "tokens", n: 10 })
    const answers = workers.map((worker) => worker.answer())
    for (const worker of workers) worker.send({ cmd: "run", ms: options.outageMs, concurrency: 4, pauseMs: 20 })
    const quarter = options.outageMs / 4
    await sleep(quarter)
    redis?.pause()
    await server.revoke()
    await sleep(quarter)
    await redis?.kill()
    await server.revoke()
    const side = sum(await Promise.all(answers), (await server.stats()).tokenRequests)
    process.stderr.write(
      `  outage ${
        withStore ? "with" : "without"
      } the store: ${side.calls} calls, ${side.failed} failed, ${side.tokenRequests} token requests\n`
    )
    return side
  } finally {
    await Promise.all(workers.map((worker) => worker.close()))
    await redis?.close()
  }
}

const dayOfTraffic = async (options: Options, withStore: boolean): Promise<DaySide> => {
  const redis = withStore ? await Redis.start() : undefined
  const lifetimeSeconds = 900
  const program = Effect.gen(function*() {
    const fake = FakeCriteo.makeStrict({ lifetimeSeconds, tokenLatencyMs: 300 })
    const clients = yield* Effect.forEach(Array.from({ length: options.dayProcesses }), () =>
      Effect.gen(function*() {
        const auth = redis === undefined
          ? CriteoAuth.layer({ grant })
          : Layer.unwrapScoped(Effect.map(
            CriteoRedisStore.make({ url: Redacted.make(redis.url), key: Redacted.make(storeKey) }),
            (tokenStore) => CriteoAuth.layer({ grant, tokenStore })
          ))
        const context = yield* Layer.build(
          CriteoHttpClient.layer().pipe(
            Layer.provide(auth),
            Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))
          )
        )
        return Context.get(context, CriteoHttpClient.CriteoHttpClient)
      }))
    const tick = options.dayIntervalSeconds * 1000
    let calls = 0
    let failed = 0
    for (let t = 0; t < 86_400_000; t += tick) {
      const fibers = yield* Effect.forEach(clients, (client) => Effect.fork(client.get(`/advertisers/me?t=${t}`)))
      yield* TestClock.adjust(tick)
      // Redis answers in real time: an acquisition may go on after the adjustment (a lease taken, then the
      // token request's 300 ms on the TestClock). Let real time pass and move the clock in 10 ms steps until
      // every call is answered (bounded: 2,000 steps, 20 simulated seconds).
      for (let step = 0; step < 2_000; step++) {
        const polls = yield* Effect.forEach(fibers, Fiber.poll)
        if (polls.every(Option.isSome)) break
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
        yield* TestClock.adjust(10)
      }
      for (const fiber of fibers) {
        const response = yield* Fiber.join(fiber)
        calls++
        if (response.status !== 200) failed++
      }
      // background refreshes read their bodies, and the store answers, through real I/O: let them land
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    }
    return { calls, failed, tokenRequests: fake.stats.tokenRequests, expiredSent: fake.stats.expiredSent }
  })
  try {
    const side = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestContext.TestContext)))
    process.stderr.write(
      `  day of ${options.dayProcesses} providers ${
        withStore ? "with" : "without"
      } the store: ${side.tokenRequests} token requests, ${side.expiredSent} expired sent, ${side.failed} failed\n`
    )
    return side
  } finally {
    await redis?.close()
  }
}

const hotPath = async (options: Options, server: Loopback.Loopback) => {
  const redis = await Redis.start()
  const client = (withStore: boolean) => {
    const auth = withStore
      ? Layer.unwrapScoped(
        Effect.map(
          CriteoRedisStore.make({ url: Redacted.make(redis.url), key: Redacted.make(storeKey) }),
          (tokenStore) => CriteoAuth.layer({ grant, tokenUrl: server.tokenUrl, tokenStore })
        )
      )
      : CriteoAuth.layer({ grant, tokenUrl: server.tokenUrl })
    return ManagedRuntime.make(
      CriteoHttpClient.layer({ baseUrl: server.baseUrl, apiVersion }).pipe(
        Layer.provide(auth),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
  }
  const runtimes = { with: client(true), without: client(false) }
  let failures = 0
  const batch = async (side: "with" | "without") => {
    const start = performance.now()
    await runtimes[side].runPromise(Effect.gen(function*() {
      const api = yield* CriteoHttpClient.CriteoHttpClient
      yield* Effect.forEach(
        Array.from({ length: options.hotRequests }),
        () =>
          api.get(apiPath).pipe(
            Effect.flatMap((response): Effect.Effect<unknown, unknown> =>
              response.status === 200 ? response.json : Effect.fail(response.status)
            ),
            Effect.catchAll(() => Effect.sync(() => failures++))
          ),
        { concurrency: options.hotConcurrency, discard: true }
      )
    }))
    return performance.now() - start
  }
  try {
    await server.reset(0)
    // warm-up: each side gets its token and its JIT
    await batch("with")
    await batch("without")
    const ratios: Array<number> = []
    for (let r = 0; r < options.hotRounds; r++) {
      const times = { with: 0, without: 0 }
      for (const side of [...order(["with", "without"] as const, r), ...order(["without", "with"] as const, r)]) {
        times[side] += await batch(side)
      }
      ratios.push(times.without / times.with)
    }
    const ratio = spread(ratios.map((value) => round(value, 4)))
    process.stderr.write(
      `  hot path with the store ÷ without: ${ratio.median.toFixed(3)} (${ratio.min.toFixed(2)}–${
        ratio.max.toFixed(2)
      })\n`
    )
    return { ratio, failures }
  } finally {
    await runtimes.with.dispose()
    await runtimes.without.dispose()
    await redis.close()
  }
}

export const run = async (options: Options = defaults): Promise<Result> => {
  if (!Redis.available()) throw new Error("redis-server is not installed (apt-get install redis-server)")
  const server = await Loopback.start()
  try {
    // FLEET_PARTS=outage,day runs some parts only (to try them; the figure then reports zeros elsewhere)
    const parts = (process.env.FLEET_PARTS ?? "stampede,outage,day,hot").split(",")
    const skipped: Side = { tokenRequests: 0, calls: 0, failed: 0, firstFailure: "skipped" }
    const skippedDay: DaySide = { calls: 0, tokenRequests: 0, expiredSent: 0, failed: 0 }
    const has = (part: string) => parts.includes(part)
    const stampedeWith = has("stampede") ? await stampede(options, server, true) : skipped
    const stampedeWithout = has("stampede") ? await stampede(options, server, false) : skipped
    const outageWith = has("outage") ? await outage(options, server, true) : skipped
    const outageWithout = has("outage") ? await outage(options, server, false) : skipped
    const dayWith = has("day") ? await dayOfTraffic(options, true) : skippedDay
    const dayWithout = has("day") ? await dayOfTraffic(options, false) : skippedDay
    const hot = has("hot") ? await hotPath(options, server) : { ratio: spread([0]), failures: 0 }
    return {
      ...options,
      stampede: { withStore: stampedeWith, withoutStore: stampedeWithout },
      outage: { withStore: outageWith, withoutStore: outageWithout },
      day: { withStore: dayWith, withoutStore: dayWithout },
      hotPathRatio: hot.ratio,
      hotPathFailures: hot.failures
    }
  } finally {
    await server.close()
  }
}
