#!/usr/bin/env node
// A client that is right in every way but one, to prove the suite catches each mistake.
// Usage: node broken.mjs <mode>. The modes, and the cases meant to catch each, are in broken-modes.json;
// `none` is the careful baseline the other modes break in one place each.
import { Buffer } from "node:buffer"
import { readFileSync } from "node:fs"
import { clearTimeout, setImmediate } from "node:timers"
import { URL } from "node:url"
import { apiUrlFor, env, serve, sleep } from "./lib/protocol.mjs"

const modes = JSON.parse(readFileSync(new URL("./broken-modes.json", import.meta.url), "utf8"))
const mode = process.argv[2] ?? "none"
if (!(mode in modes)) {
  process.stderr.write(`unknown mode ${mode}; one of ${Object.keys(modes).join(", ")}\n`)
  process.exit(2)
}
const is = (name) => mode === name

class ClientError extends Error {
  constructor(name, message, extra = {}) {
    super(message)
    this.name = name
    Object.assign(this, extra)
  }
}

// -----------------------------------------------------------------------------
// HTTP: a timeout on the whole exchange, the whole body read, redirects not followed
// -----------------------------------------------------------------------------

const crash = (error) => {
  setImmediate(() => {
    throw error
  })
  return new Promise(() => {})
}

// no-default-timeout: honours CRITEO_TOKEN_TIMEOUT / CRITEO_API_TIMEOUT when given, and has no timeout of its
// own when they are not (the kit's timeout cases give them; a client in production is often not told).
const given = (variable) => process.env[variable] !== undefined

const exchange = async (url, init, timeout, variable) => {
  const unbounded = is("no-timeout") || (is("no-default-timeout") && !given(variable))
  const signal = unbounded ? undefined : AbortSignal.timeout(timeout)
  try {
    let response = await fetch(url, { ...init, redirect: "manual", signal })
    if (is("forwards-credentials-on-redirect")) {
      for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops++) {
        const location = response.headers.get("location")
        if (location === null) break
        await response.body?.cancel()
        url = new URL(location, url).toString()
        response = await fetch(url, { ...init, redirect: "manual", signal })
      }
    }
    return { status: response.status, headers: response.headers, text: await response.text() }
  } catch (error) {
    if (is("crashes-on-network-error")) return crash(error)
    if (error?.name === "TimeoutError" || error?.name === "AbortError") {
      throw new ClientError("TimeoutError", `no answer within ${timeout} ms`)
    }
    throw new ClientError("NetworkError", String(error?.cause?.code ?? error?.cause?.message ?? error?.message))
  }
}

const rateLimited = (headers, response) => {
  const reset = Number(headers.get("x-ratelimit-reset"))
  const retryAfter = Number(headers.get("retry-after"))
  const resetAt = Number.isFinite(reset) && reset > 0
    ? reset * 1000
    : Number.isFinite(retryAfter)
    ? Date.now() + retryAfter * 1000
    : undefined
  return new ClientError("RateLimited", "429 Too Many Requests", { resetAt, response })
}

const transient = new Set(["NetworkError", "TimeoutError", "ServerError", "RateLimited"])

/** Up to 3 attempts with exponential backoff, waiting for x-ratelimit-reset after a 429 (60 s at most). */
const withRetries = async (attempt) => {
  const max = is("no-retry") ? 1 : is("retries-forever") ? 30 : 3
  for (let i = 0;; i++) {
    try {
      return await attempt()
    } catch (error) {
      const again = is("retries-forever") || (error instanceof ClientError && transient.has(error.name))
      if (!again || i + 1 >= max) {
        if (error?.response !== undefined) return error.response
        throw error
      }
      if (is("retries-forever")) continue
      const backoff = 200 * 2 ** i
      const wait = error.resetAt === undefined ? backoff : Math.max(backoff, error.resetAt - Date.now() + 50)
      if (wait > 60_000) throw error
      await sleep(wait)
    }
  }
}

// -----------------------------------------------------------------------------
// tokens
// -----------------------------------------------------------------------------

let cached // { value, type, expiresAt, lifetime }
let inflight
let refreshToken = env.grantType === "refresh_token" ? env.refreshToken : undefined
let codeSpent = false

// client-credentials-only: implements only client_credentials, claims only that grant in its `ready` line (the kit
// reports the other grants' cases N/A), and refuses to be configured with another, as such a client would.
// ignores-grant-type: the same client claiming every grant: it silently uses client_credentials whatever it is told.
const grantForm = () => {
  if (is("client-credentials-only") && env.grantType !== "client_credentials") {
    throw new ClientError("UnsupportedGrantType", `only client_credentials is supported, not ${env.grantType}`)
  }
  const grant = is("ignores-grant-type") ? "client_credentials" : env.grantType
  const form = []
  if (grant === "authorization_code" && (refreshToken === undefined || is("replays-code"))) {
    if (codeSpent && !is("replays-code") && !is("retries-forever")) {
      throw new ClientError("InvalidGrantError", "the authorization code was already used; consent again")
    }
    codeSpent = true
    form.push(["grant_type", "authorization_code"], ["code", env.code], ["redirect_uri", env.redirectUri])
  } else if (grant === "authorization_code" || grant === "refresh_token") {
    form.push(["grant_type", "refresh_token"], ["refresh_token", refreshToken ?? ""])
  } else {
    form.push(["grant_type", "client_credentials"])
  }
  form.push(["client_id", env.clientId], ["client_secret", env.clientSecret])
  if (is("sloppy-form")) form.push(["scope", ""], ["client_id", env.clientId])
  return form
}

// The baseline counts the lifetime from when it sent the token request (the server minted the token after
// that); no-margin and refresh-only-on-expiry count it from when the answer arrived, as many clients do.
const countsFromArrival = () => is("no-margin") || is("refresh-only-on-expiry")

const lifetimeOf = (expiresIn, sentAt = Date.now()) => {
  let seconds
  if (typeof expiresIn === "number") seconds = expiresIn
  else if (typeof expiresIn === "string" && /^\d+(\.\d+)?$/.test(expiresIn)) {
    seconds = is("string-expiry-zero") ? 0 : Number(expiresIn)
  } else if (expiresIn === undefined || expiresIn === null) {
    if (is("rejects-missing-expires-in")) throw new ClientError("MalformedTokenResponse", "expires_in is missing")
    seconds = is("nan-refresh-timer") ? Number(expiresIn) : 900
  } else throw new ClientError("MalformedTokenResponse", "expires_in is not a number")
  const lifetime = seconds * 1000
  return { expiresAt: (countsFromArrival() ? Date.now() : sentAt) + lifetime, lifetime }
}

const known = new Set(["access_token", "token_type", "expires_in", "refresh_token"])

const oauthError = (status, body) => {
  const code = typeof body?.error === "string" ? body.error : undefined
  const name = code === "invalid_client" || (code === undefined && status === 401)
    ? "InvalidClientError"
    : code === "invalid_grant"
    ? "InvalidGrantError"
    : "TokenRequestRejected"
  return new ClientError(name, `the token endpoint answered ${status} ${code ?? ""}`.trim())
}

const readToken = ({ headers, status, text }, sentAt) => {
  if (status === 429) throw rateLimited(headers)
  if (status >= 500) throw new ClientError("ServerError", `the token endpoint answered ${status}`)
  if (status >= 300 && status < 400) {
    throw new ClientError("UnexpectedRedirect", `the token endpoint answered ${status}`)
  }
  const decode = !is("json-content-type-only") || /^application\/json/i.test(headers.get("content-type") ?? "")
  let body
  try {
    body = decode ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  if (status !== 200) {
    const error = oauthError(status, body)
    // secret-in-error: a "helpful" error message with the credentials it sent.
    if (is("secret-in-error")) error.message += ` (client ${env.clientId}, secret ${env.clientSecret})`
    throw error
  }
  if (is("trusts-token-response")) return { value: String(body?.access_token), type: "Bearer", ...lifetimeOf(900) }
  if (typeof body !== "object" || body === null) {
    throw new ClientError("MalformedTokenResponse", "the token response is not a JSON object")
  }
  const unknown = Object.keys(body).filter((key) => !known.has(key))
  if (is("strict-response") && unknown.length > 0) {
    throw new ClientError("MalformedTokenResponse", `unexpected members: ${unknown.join(", ")}`)
  }
  if (typeof body.access_token !== "string" || body.access_token.length === 0) {
    throw new ClientError("MalformedTokenResponse", "access_token is missing")
  }
  if (typeof body.token_type !== "string" || body.token_type.toLowerCase() !== "bearer") {
    throw new ClientError("MalformedTokenResponse", "token_type is not Bearer")
  }
  // rejects-null-refresh-token: a typed client whose schema says `refresh_token?: string`.
  if (is("rejects-null-refresh-token") && body.refresh_token === null) {
    throw new ClientError("MalformedTokenResponse", "refresh_token is not a string")
  }
  if (typeof body.refresh_token === "string" && (refreshToken === undefined || !is("no-rotation"))) {
    refreshToken = body.refresh_token
  }
  const value = is("truncates-token") ? body.access_token.slice(0, 4096) : body.access_token
  return { value, type: body.token_type, ...lifetimeOf(body.expires_in, sentAt) }
}

const requestToken = async () => {
  const form = grantForm()
  const headers = { "content-type": "application/x-www-form-urlencoded" }
  if (!is("no-accept")) headers.accept = "application/json"
  let body = is("raw-form")
    ? form.map(([name, value]) => `${name}=${value}`).join("&")
    : new URLSearchParams(form).toString()
  if (is("json-body")) {
    headers["content-type"] = "application/json"
    body = JSON.stringify(Object.fromEntries(form))
  }
  if (is("basic-non-rfc")) {
    // HTTP Basic instead of the body, with id and secret not form-encoded before base64 (RFC 6749 §2.3.1 says
    // to form-encode each first): a secret with reserved characters comes out different.
    headers.authorization = `Basic ${Buffer.from(`${env.clientId}:${env.clientSecret}`).toString("base64")}`
    body = new URLSearchParams(form.filter(([name]) => name !== "client_id" && name !== "client_secret")).toString()
  }
  if (is("basic-and-body")) {
    const pair = `${encodeURIComponent(env.clientId)}:${encodeURIComponent(env.clientSecret)}`
    headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`
  }
  const url = is("secret-in-query") ? `${env.tokenUrl}?${new URLSearchParams(form)}` : env.tokenUrl
  const sentAt = Date.now()
  return readToken(
    await exchange(url, { method: "POST", headers, body }, env.tokenTimeout, "CRITEO_TOKEN_TIMEOUT"),
    sentAt
  )
}

// nan-refresh-timer: one background refresh timer, re-armed at each new token for lifetime × 0.75; without
// expires_in that is NaN, which setTimeout reads as 1 ms. (Bounded to 15 s, to stay a test double.)
let timer
let firstInstall
const install = (token) => {
  if (is("prints-token")) console.log(`got token ${token.value} for ${env.clientId}:${env.clientSecret}`)
  if (is("nan-refresh-timer")) {
    firstInstall ??= Date.now()
    clearTimeout(timer)
    if (Date.now() - firstInstall < 15_000) {
      timer = setTimeout(async () => {
        await sleep(50)
        cached = await withRetries(requestToken).then(install).catch(() => cached)
      }, token.lifetime * 0.75)
    }
  }
  return token
}

const acquire = () =>
  withRetries(requestToken).then(install).then((token) => {
    // crash-after-storing-token: the token is kept, then its handling throws (a hook, a log line, a typo):
    // the call that fetched it fails; later calls use the stored token.
    if (is("crash-after-storing-token")) {
      cached = token
      throw new TypeError("Cannot read properties of undefined (reading 'scope')")
    }
    return token
  })

const isUsable = (token) => {
  if (token === undefined) return false
  if (is("caches-forever")) return true
  if (is("refresh-after-expiry")) return Date.now() < token.expiresAt + 15_000
  // to the last millisecond (of a lifetime counted from the answer's arrival)
  if (is("no-margin") || is("refresh-only-on-expiry")) return Date.now() < token.expiresAt
  // a sensible margin in absolute time, wider than the kit's short lifetimes: such tokens are renewed at once
  if (is("wide-margin")) return Date.now() < token.expiresAt - 60_000
  // ahead of expiry: 30 s before, or a quarter of the lifetime for short-lived tokens
  return Date.now() < token.expiresAt - Math.min(30_000, token.lifetime / 4)
}

const getToken = async () => {
  if (!is("never-caches") && isUsable(cached)) return cached
  if (is("no-single-flight")) {
    cached = await acquire()
    return cached
  }
  if (inflight === undefined) {
    inflight = acquire().then(
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

// -----------------------------------------------------------------------------
// API calls
// -----------------------------------------------------------------------------

const send = (token, method, path, body) =>
  withRetries(async () => {
    const headers = {
      authorization: is("echo-token-type") ? `${token.type} ${token.value}` : `Bearer ${token.value}`,
      accept: "application/json",
      ...(body === null ? {} : { "content-type": "application/json" })
    }
    const init = { method, headers, body: body === null ? undefined : JSON.stringify(body) }
    const response = await exchange(apiUrlFor(path), init, env.apiTimeout, "CRITEO_API_TIMEOUT")
    if (response.status === 429) throw rateLimited(response.headers, response)
    if (response.status >= 500) {
      throw new ClientError("ServerError", `the API answered ${response.status}`, { response })
    }
    return response
  })

const call = async (method, path, body) => {
  let token = await getToken()
  let response = await send(token, method, path, body)
  const refreshOn = is("refresh-on-403") ? [401, 403] : [401]
  const maxReplays = is("loops-on-401") ? 25 : is("caches-forever") || is("refresh-only-on-expiry") ? 0 : 1
  for (let replays = 0; refreshOn.includes(response.status) && replays < maxReplays; replays++) {
    // compare-and-swap: drop the token only if it is still the one that failed (no-cas-on-401 drops whatever
    // token is current, a fresh one included, when a late 401 for an old token arrives)
    if (cached === token || is("no-single-flight") || is("no-cas-on-401")) cached = undefined
    token = await getToken()
    response = await send(token, method, path, body)
  }
  let decoded
  try {
    decoded = response.text === "" ? undefined : JSON.parse(response.text)
  } catch {
    decoded = undefined
  }
  return decoded === undefined ? { status: response.status } : { status: response.status, body: decoded }
}

serve({
  name: `broken:${mode}`,
  version: "1.0.0",
  call,
  capabilities: is("client-credentials-only") ? { grants: ["client_credentials"] } : undefined
})
