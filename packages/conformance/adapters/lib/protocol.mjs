// The JSON-lines loop shared by the shipped JavaScript adapters (see ../PROTOCOL.md).
import * as readline from "node:readline"

export const env = {
  tokenUrl: process.env.CRITEO_TOKEN_URL ?? "https://api.criteo.com/oauth2/token",
  apiUrl: (process.env.CRITEO_API_URL ?? "https://api.criteo.com").replace(/\/+$/, ""),
  apiVersion: process.env.CRITEO_API_VERSION ?? "2026-07",
  clientId: process.env.CRITEO_CLIENT_ID ?? "",
  clientSecret: process.env.CRITEO_CLIENT_SECRET ?? "",
  grantType: process.env.CRITEO_GRANT_TYPE ?? "client_credentials",
  code: process.env.CRITEO_AUTHORIZATION_CODE ?? "",
  redirectUri: process.env.CRITEO_REDIRECT_URI ?? "",
  refreshToken: process.env.CRITEO_REFRESH_TOKEN ?? ""
}

export const apiUrlFor = (path) => `${env.apiUrl}/${env.apiVersion}${path.startsWith("/") ? path : `/${path}`}`

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`)

const settle = async (call) => {
  try {
    const answer = await call()
    return answer
  } catch (error) {
    return {
      error: error?.name && error.name !== "Error" ? error.name : (error?.code ?? "Error"),
      message: String(error?.message ?? error)
    }
  }
}

/**
 * Runs the protocol: `call(method, path, body)` makes one authenticated request and resolves to
 * `{ status, body? }` or throws (the error's name is reported).
 */
export const serve = ({ name, version, call }) => {
  const lines = readline.createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    if (line.trim() === "") return
    const command = JSON.parse(line)
    if (command.type === "shutdown") {
      lines.close()
      process.exit(0)
    }
    if (command.type === "call") {
      settle(() => call(command.method, command.path, command.body ?? null)).then((answer) =>
        send({ id: command.id, type: "result", ...answer })
      )
    } else if (command.type === "calls") {
      const all = Array.from({ length: command.count }, () => settle(() => call(command.method, command.path, null)))
      Promise.all(all).then((results) => send({ id: command.id, type: "results", results }))
    } else {
      send({ id: command.id, type: "result", error: "UnknownCommand", message: `unknown command ${command.type}` })
    }
  })
  lines.on("close", () => process.exit(0))
  send({ type: "ready", name, version })
}

/** Reads a fetch Response as the protocol's answer. */
export const answerOf = async (response) => {
  const text = await response.text()
  let body
  try {
    body = text === "" ? undefined : JSON.parse(text)
  } catch {
    body = undefined
  }
  return body === undefined ? { status: response.status } : { status: response.status, body }
}

/** The token request form for the configured grant. */
export const tokenForm = (refreshToken) => {
  const form = new URLSearchParams()
  form.set("client_id", env.clientId)
  form.set("client_secret", env.clientSecret)
  if (refreshToken !== undefined) {
    form.set("grant_type", "refresh_token")
    form.set("refresh_token", refreshToken)
  } else if (env.grantType === "authorization_code") {
    form.set("grant_type", "authorization_code")
    form.set("code", env.code)
    form.set("redirect_uri", env.redirectUri)
  } else if (env.grantType === "refresh_token") {
    form.set("grant_type", "refresh_token")
    form.set("refresh_token", env.refreshToken)
  } else {
    form.set("grant_type", "client_credentials")
  }
  return form
}
