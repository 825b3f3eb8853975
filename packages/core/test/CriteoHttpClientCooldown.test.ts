/**
 * The 401 cooldown (`AuthOptions.unauthorizedCooldown`) against an API that answers in 100 ms of virtual
 * time and checks the bearer token when it answers, so that a token revoked while its request is in
 * flight is refused, as Criteo does. Everything on the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as CriteoAuth from "../src/CriteoAuth.js"
import * as CriteoHttpClient from "../src/CriteoHttpClient.js"
import { grant, makeFakeClient, settle } from "./utils.js"

const apiLatency = 100

/** The token endpoint issues `access-1`, `access-2`, ... at once; the API refuses the tokens `refuses` names. */
const setup = (refuses: (token: string) => boolean) =>
  Effect.gen(function*() {
    const stats = { tokenRequests: 0, apiRequests: 0 }
    const fake = yield* makeFakeClient((request) =>
      Effect.gen(function*() {
        if (request.path === "/oauth2/token") {
          stats.tokenRequests++
          return {
            status: 200,
            body: { access_token: `access-${stats.tokenRequests}`, token_type: "Bearer", expires_in: 900 }
          }
        }
        stats.apiRequests++
        yield* Effect.sleep(apiLatency)
        const token = (request.headers["authorization"] ?? "").replace(/^Bearer /, "")
        return refuses(token)
          ? { status: 401, body: { errors: [{ code: "authorization-token-invalid", traceId: "t" }] } }
          : { status: 200, body: { data: { id: "42" } } }
      })
    )
    const context = yield* Layer.build(
      CriteoHttpClient.layer({ unauthorizedCooldown: "10 seconds" }).pipe(
        Layer.provideMerge(CriteoAuth.layer({ grant })),
        Layer.provide(fake.layer)
      )
    )
    const client = yield* Effect.provide(CriteoHttpClient.CriteoHttpClient, context)
    const auth = yield* Effect.provide(CriteoAuth.CriteoAuth, context)
    const call = Effect.exit(Effect.scoped(client.get("/advertisers/me")))
    return { auth, call, stats }
  })

/** Runs `effect` to its end, moving the clock 10 ms at a time (at most 2 s of virtual time). */
const drive = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 200; i++) {
      yield* settle
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      yield* TestClock.adjust("10 millis")
    }
    return yield* Effect.dieMessage("still running after 2 s of virtual time")
  })

const failures = (exits: ReadonlyArray<Exit.Exit<unknown, { readonly _tag: string }>>) =>
  exits.flatMap((exit) =>
    Exit.isFailure(exit) ? [Option.match(Exit.causeOption(exit), { onNone: () => "?", onSome: String })] : []
  )

const tagOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.match(exit, {
    onFailure: (cause) => cause._tag === "Fail" ? cause.error._tag : cause._tag,
    onSuccess: () => "Success"
  })

/**
 * The fleet's outage, in one process: `access-1` is revoked; a call sends it, gets a 401 and is replayed
 * with `access-2`, which is revoked while the replay is in flight (the second revocation). Two calls send
 * `access-2` (still cached) meanwhile and are answered after the replay's refusal.
 */
const race = (api: Effect.Effect.Success<ReturnType<typeof setup>>, revoked: Set<string>) =>
  Effect.gen(function*() {
    yield* api.auth.token // access-1, at t = 0
    revoked.add("access-1")
    const replayed = yield* Effect.fork(api.call) // sends access-1
    yield* settle
    yield* TestClock.adjust(apiLatency) // t = 100: the 401; access-1 invalidated, access-2 obtained and sent
    yield* settle
    yield* TestClock.adjust(20)
    revoked.add("access-2") // t = 120: the second revocation, the replay in flight
    yield* TestClock.adjust(30)
    const inFlight = yield* Effect.forEach([1, 2], () => Effect.fork(api.call)) // t = 150: they send access-2
    yield* settle
    yield* TestClock.adjust(50) // t = 200: the replay is answered 401
    yield* settle
    yield* TestClock.adjust(50) // t = 250: the two calls are answered 401
    return yield* drive(
      Fiber.joinAll([replayed, ...inFlight]).pipe(
        Effect.zipRight(Effect.all([Fiber.join(replayed), ...inFlight.map(Fiber.join)]))
      )
    )
  })

describe("CriteoHttpClient 401 cooldown: a token revoked in a race", () => {
  it.scoped("fails the one call whose replay it refused; the calls sent with it are replayed on the probe", () =>
    Effect.gen(function*() {
      const revoked = new Set<string>()
      const api = yield* setup((token) => revoked.has(token))
      const [replayed, ...inFlight] = yield* race(api, revoked)
      // the replay was answered 401: the call fails (a request is replayed once)
      assert.strictEqual(tagOf(replayed), "UnauthorizedError")
      // the two calls sent with access-2 are replayed on access-3, the probe (one token request for both)
      assert.deepStrictEqual(inFlight.map(tagOf), ["Success", "Success"])
      assert.strictEqual(api.stats.tokenRequests, 3)
      // and every call afterwards, inside the 10 s window, succeeds with the probe, without a token request
      const later: Array<Exit.Exit<unknown, { readonly _tag: string }>> = []
      for (let i = 0; i < 5; i++) {
        later.push(yield* drive(api.call))
        yield* TestClock.adjust("1 second")
      }
      assert.deepStrictEqual(failures(later), [])
      assert.strictEqual(api.stats.tokenRequests, 3)
      // access-1, then access-2 (the replay); access-2, then access-3 (each in flight); 5 × access-3
      assert.strictEqual(api.stats.apiRequests, 2 + 2 * 2 + 5)
    }))

  it.scoped("after the window, a revocation of the probe is answered as before: a new token and a replay", () =>
    Effect.gen(function*() {
      const revoked = new Set<string>()
      const api = yield* setup((token) => revoked.has(token))
      yield* race(api, revoked)
      yield* TestClock.adjust("10 seconds")
      revoked.add("access-3")
      const exit = yield* drive(api.call)
      assert.strictEqual(tagOf(exit), "Success")
      assert.strictEqual(api.stats.tokenRequests, 4)
    }))
})

describe("CriteoHttpClient 401 cooldown: an API that refuses every token", () => {
  it.scoped("8 callers in a loop for 25 s: at most two token requests per window, every call UnauthorizedError", () =>
    Effect.gen(function*() {
      const api = yield* setup(() => true)
      const exits: Array<Exit.Exit<unknown, { readonly _tag: string }>> = []
      const end = 25_000
      const caller = Effect.gen(function*() {
        while ((yield* Clock.currentTimeMillis) < end) {
          exits.push(yield* api.call)
          yield* Effect.sleep("250 millis")
        }
      })
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 8 }, () => caller), { concurrency: 8 }))
      for (let t = 0; t < end + 2_000; t += 100) {
        yield* settle
        yield* TestClock.adjust(100)
      }
      // no hang: every caller is done within 2 s of the end
      assert.isTrue(Option.isSome(yield* Fiber.poll(fiber)))
      assert.isAbove(exits.length, 8 * 25 * 2)
      assert.deepStrictEqual([...new Set(exits.map(tagOf))], ["UnauthorizedError"])
      // windows of 10 s do not overlap: over 25 s at most floor(25 / 10) + 1 = 3 open; each costs at most the
      // replay's token and the probe, beside the first token: 1 + 2 × 3
      assert.isAtMost(api.stats.tokenRequests, 1 + 2 * 3)
      // and the calls made once a window's probe is refused send one request each, without a replay
      assert.isBelow(api.stats.apiRequests, exits.length * 1.1)
    }))
})
