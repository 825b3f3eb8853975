#!/usr/bin/env node
// A popular third-party client: @badgateway/oauth2-client (OAuth2Client for the token endpoint, OAuth2Fetch
// for the API), integrated the way its README shows, with what Criteo's documentation asks for: credentials
// in the form body (client_secret_post), and the timeouts the runner gives (the library has none of its own,
// so the adapter passes a fetch with one). Everything else is the library's own behaviour.
import { OAuth2Client, OAuth2Fetch } from "@badgateway/oauth2-client"
import { createRequire } from "node:module"
import { answerOf, apiUrlFor, env, serve } from "./lib/protocol.mjs"

const { version } = createRequire(import.meta.url)("@badgateway/oauth2-client/package.json")

const withTimeout = (timeout) => (input, init = {}) => fetch(input, { ...init, signal: AbortSignal.timeout(timeout) })

const client = new OAuth2Client({
  tokenEndpoint: env.tokenUrl,
  clientId: env.clientId,
  clientSecret: env.clientSecret,
  authenticationMethod: "client_secret_post",
  fetch: withTimeout(env.tokenTimeout)
})

let codeExchanged = false

const wrapper = new OAuth2Fetch({
  client,
  // The initial token: client_credentials, or the authorization code (once: a code is single-use).
  getNewToken: () => {
    if (env.grantType === "authorization_code") {
      if (codeExchanged) return null
      codeExchanged = true
      return client.authorizationCode.getToken({ code: env.code, redirectUri: env.redirectUri })
    }
    if (env.grantType === "refresh_token") return null
    return client.clientCredentials()
  },
  // With a refresh token from the configuration, start from an expired token that carries it.
  getStoredToken: () =>
    env.grantType === "refresh_token" ? { accessToken: "", expiresAt: 0, refreshToken: env.refreshToken } : null,
  onError: () => {}
})

const call = async (method, path, body) => {
  try {
    const response = await wrapper.fetch(apiUrlFor(path), {
      method,
      headers: { accept: "application/json", ...(body === null ? {} : { "content-type": "application/json" }) },
      body: body === null ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(env.apiTimeout)
    })
    return await answerOf(response)
  } catch (error) {
    const name = error?.constructor?.name && error.constructor.name !== "Error" ? error.constructor.name : error?.name
    return { error: name ?? "Error", message: String(error?.message ?? error) }
  }
}

serve({ name: "@badgateway/oauth2-client", version, call })
