import * as Crypto from "node:crypto"

/**
 * The Lua scripts of the Redis token store: each runs atomically on the server. An entry is a hash
 * `{ version, data, fingerprint?, dropped? }`: `data` is the sealed (AES-256-GCM) entry, `fingerprint`
 * the access token's fingerprint (what a CAS invalidation compares), `dropped` marks an access token
 * invalidated since the write (the refresh token in `data` stays valid). Changes are published on the
 * store's channel with the store key as the message, so waiters in every process wake up.
 *
 * @internal
 */
export interface Script {
  readonly lua: string
  readonly sha: string
}

const script = (lua: string): Script => ({ lua, sha: Crypto.createHash("sha1").update(lua).digest("hex") })

/** KEYS: entry, lease. Returns `{ lease PTTL, HGETALL entry }`. */
export const read = script(`
return { redis.call("PTTL", KEYS[2]), redis.call("HGETALL", KEYS[1]) }
`)

/**
 * KEYS: entry. ARGV: expected version ("" = absent), next version, sealed data, fingerprint ("" = no
 * access token), channel, store key, time to live (ms; "" = none). Returns `{1}` when written,
 * `{0, HGETALL entry}` on a conflict.
 */
export const compareAndSet = script(`
local current = redis.call("HGET", KEYS[1], "version")
if (current or "") ~= ARGV[1] then
  return { 0, redis.call("HGETALL", KEYS[1]) }
end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], "version", ARGV[2], "data", ARGV[3])
if ARGV[4] ~= "" then
  redis.call("HSET", KEYS[1], "fingerprint", ARGV[4])
end
if ARGV[7] ~= "" then
  redis.call("PEXPIRE", KEYS[1], ARGV[7])
end
redis.call("PUBLISH", ARGV[5], ARGV[6])
return { 1 }
`)

/** KEYS: entry. ARGV: fingerprint, channel, store key. Returns 1 when the access token was dropped. */
export const invalidate = script(`
if redis.call("HGET", KEYS[1], "fingerprint") ~= ARGV[1] then
  return 0
end
redis.call("HDEL", KEYS[1], "fingerprint")
redis.call("HSET", KEYS[1], "dropped", "1")
redis.call("HINCRBY", KEYS[1], "version", 1)
redis.call("PUBLISH", ARGV[2], ARGV[3])
return 1
`)

/** KEYS: lease. ARGV: lease id, channel, store key. Deletes the lease only if it is still this one. */
export const releaseLease = script(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  redis.call("PUBLISH", ARGV[2], ARGV[3])
  return 1
end
return 0
`)

/** KEYS: entry, lease. ARGV: channel, store key. */
export const remove = script(`
redis.call("DEL", KEYS[1], KEYS[2])
redis.call("PUBLISH", ARGV[1], ARGV[2])
return 1
`)

/**
 * KEYS: rate limit. ARGV: until (epoch ms), channel, store key. Keeps the later instant; the key expires
 * at it. A new instant is published on the channel as `<until> <store key>`.
 */
export const recordRateLimit = script(`
local current = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
local untilMillis = tonumber(ARGV[1])
if current >= untilMillis then
  return 0
end
redis.call("SET", KEYS[1], ARGV[1], "PXAT", ARGV[1])
redis.call("PUBLISH", ARGV[2], ARGV[1] .. " " .. ARGV[3])
return 1
`)
