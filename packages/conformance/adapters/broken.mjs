#!/usr/bin/env node
// A configurable client that is right in every way but one, to prove the suite catches each mistake.
// Usage: node broken.mjs <mode>  — modes below; `none` is the well-behaved baseline.
import { answerOf, apiUrlFor, env, serve, tokenForm } from "./lib/protocol.mjs"

export const modes = [
  "none",
  "never-caches",
  "caches-forever",
  "refresh-after-expiry",
  "loops-on-401",
  "refresh-on-403",
  "secret-in-query",
  "no-single-flight",
  "prints-token"
]

const mode = process.argv[2] ?? "none"
if (!modes.includes(mode)) {
  process.stderr.write(`unknown mode ${mode}; one of ${modes.join(", ")}\n`)
  process.exit(2)
}

let cached // { value, expiresAt, refreshToken }
let inflight
let refreshToken

const fetchToken = async () => {
  const form = tokenForm(refreshToken)
  const url = mode === "secret-in-query" ? `${env.tokenUrl}?${form.toString()}` : env.tokenUrl
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
    body: form.toString(),
    signal: AbortSignal.timeout(10_000)
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok || typeof body.access_token !== "string") {
    const error = new Error(`token endpoint answered ${response.status} ${body.error ?? ""}`)
    error.name = response.status === 401
      ? "InvalidClientError"
      : response.status === 429
      ? "RateLimitedError"
      : "TokenError"
    throw error
  }
  if (typeof body.refresh_token === "string") refreshToken = body.refresh_token
  const lifetime = Number(body.expires_in) * 1000
  const token = { value: body.access_token, expiresAt: Date.now() + lifetime, lifetime }
  if (mode === "prints-token") console.log(`got token ${token.value} for ${env.clientId}:${env.clientSecret}`)
  return token
}

const isUsable = (token) => {
  if (token === undefined) return false
  if (mode === "caches-forever") return true
  if (mode === "refresh-after-expiry") return Date.now() < token.expiresAt + 15_000
  // the baseline refreshes ahead: 30 s before expiry, or a quarter of the lifetime for short-lived tokens
  return Date.now() < token.expiresAt - Math.min(30_000, token.lifetime / 4)
}

const getToken = async () => {
  if (mode !== "never-caches" && isUsable(cached)) return cached
  if (mode === "no-single-flight") {
    cached = await fetchToken()
    return cached
  }
  if (inflight === undefined) {
    inflight = fetchToken().then(
      (token) => {
        cached = token
        inflight = undefined
        return token
      },
      (error) => {
        inflight = undefined
        throw error
      }
    )
  }
  return inflight
}

const send = (token, method, path, body) =>
  fetch(apiUrlFor(path), {
    method,
    headers: {
      authorization: `Bearer ${token.value}`,
      accept: "application/json",
      ...(body === null ? {} : { "content-type": "application/json" })
    },
    body: body === null ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000)
  })

const call = async (method, path, body) => {
  let token = await getToken()
  let response = await send(token, method, path, body)
  const refreshOn = mode === "refresh-on-403" ? [401, 403] : [401]
  let replays = 0
  const maxReplays = mode === "loops-on-401" ? 25 : mode === "caches-forever" ? 0 : 1
  while (refreshOn.includes(response.status) && replays < maxReplays) {
    replays++
    if (cached === token) cached = undefined
    token = await getToken()
    response = await send(token, method, path, body)
  }
  return answerOf(response)
}

serve({ name: `broken:${mode}`, version: "1.0.0", call })
