/**
 * How the Redis store tells a Redis that did not answer in time from one that answered with an error
 * (src/internal/redisErrors.ts), checked against the installed ioredis and a real redis-server: a real
 * command timeout (a stopped server), and real error replies, whatever their text.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Redis, type RedisOptions } from "ioredis"
import * as RedisErrors from "../src/internal/redisErrors.js"
import * as RedisServer from "./utils/RedisServer.js"

/** A client of `server` for the scope, connected. */
const connected = (server: RedisServer.Server, options: Omit<RedisOptions, "replyMapping"> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, ...options })
      redis.on("error", () => {})
      await redis.connect()
      return redis
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/** What the promise of one command rejects with. */
const rejection = (command: () => Promise<unknown>) =>
  Effect.flip(Effect.tryPromise({ try: command, catch: (error) => error }))

describe.runIf(RedisServer.runRedisTests)("redisErrors", () => {
  layer(RedisServer.layer, { excludeTestServices: true, timeout: Duration.seconds(30) })((it) => {
    it.effect("an error reply is not a timeout, whatever its text: even exactly ioredis's, on RESP2 and RESP3", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        for (const protocol of [2, 3] as const) {
          const redis = yield* connected(server, { protocol })
          for (const text of [RedisErrors.commandTimedOut, "ERR upstream timed out"]) {
            const error = yield* rejection(() => redis.eval(`return redis.error_reply('${text}')`, 0))
            assert.instanceOf(error, Error)
            // the server's text, as is: only its class tells it from ioredis's own timeout
            assert.strictEqual((error as Error).message, text)
            assert.isFalse(RedisErrors.isCommandTimeout(error), `RESP${protocol}: ${text}`)
          }
        }
      }).pipe(Effect.scoped))

    it.effect("another ioredis error (a closed connection) is not a timeout", () =>
      Effect.gen(function*() {
        const server = yield* RedisServer.RedisServer
        const redis = yield* connected(server, { enableOfflineQueue: false })
        redis.disconnect()
        const error = yield* rejection(() => redis.get("k"))
        assert.instanceOf(error, Error)
        assert.isFalse(RedisErrors.isCommandTimeout(error))
      }).pipe(Effect.scoped))
  })

  // a server of its own: this test stops it
  describe("a stopped server", () => {
    layer(RedisServer.layer, { excludeTestServices: true, timeout: Duration.seconds(30) })((it) => {
      it.effect("ioredis's command timeout is recognised (the one thing Redis does not send)", () =>
        Effect.gen(function*() {
          const server = yield* RedisServer.RedisServer
          // 50 ms: nothing else can end the command, Redis is stopped (SIGSTOP) and keeps the connection
          const redis = yield* connected(server, { commandTimeout: 50 })
          yield* server.pause
          const error = yield* rejection(() => redis.get("k")).pipe(Effect.ensuring(server.resume))
          assert.instanceOf(error, Error)
          // if ioredis rewords it or gives it a class or a code, the store's recognition must follow
          assert.strictEqual((error as Error).message, RedisErrors.commandTimedOut)
          assert.isTrue(RedisErrors.isCommandTimeout(error))
        }).pipe(Effect.scoped))
    })
  })
})
