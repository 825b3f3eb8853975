// The JSON-lines loop shared by the shipped JavaScript adapters (see ../PROTOCOL.md).
import * as readline from "node:readline"

/** `500ms`, `1s`, `1.5s`, `2m` or a number of milliseconds; `fallback` when unset or unreadable. */
export const parseDuration = (text, fallback) => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text ?? "")
  if (match === null) return fallback
  const value = Number(match[1])
  return match[2] === "s" ? value * 1000 : match[2] === "m" ? value * 60_000 : value
}

export const env = {
  tokenUrl: process.env.CRITEO_TOKEN_URL ?? "https://api.criteo.com/oauth2/token",
  apiUrl: (process.env.CRITEO_API_URL ?? "https://api.criteo.com").replace(/\/+$/, ""),
  apiVersion: process.env.CRITEO_API_VERSION ?? "2026-07",
  clientId: process.env.CRITEO_CLIENT_ID ?? "",
  clientSecret: process.env.CRITEO_CLIENT_SECRET ?? "",
  grantType: process.env.CRITEO_GRANT_TYPE ?? "client_credentials",
  code: process.env.CRITEO_AUTHORIZATION_CODE ?? "",
  redirectUri: process.env.CRITEO_REDIRECT_URI ?? "",
  refreshToken: process.env.CRITEO_REFRESH_TOKEN ?? "",
  tokenTimeout: parseDuration(process.env.CRITEO_TOKEN_TIMEOUT, 10_000),
  apiTimeout: parseDuration(process.env.CRITEO_API_TIMEOUT, 30_000)
}

export const apiUrlFor = (path) => `${env.apiUrl}/${env.apiVersion}${path.startsWith("/") ? path : `/${path}`}`

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`)

/** What a failed call reports: the error's name (or code) and message. */
export const errorOutcome = (error) => ({
  error: error?.name && error.name !== "Error" ? error.name : (error?.code ?? "Error"),
  message: String(error?.message ?? error)
})

const settle = async (call) => {
  try {
    return await call()
  } catch (error) {
    return errorOutcome(error)
  }
}

/**
 * Runs the protocol: `call(method, path, body)` makes one authenticated request and resolves to
 * `{ status, body? }`, or throws (the error's name is reported). With `capabilities` the `ready` line is of
 * protocol version 2 and claims only those; without, it is of version 1 (claims everything).
 */
export const serve = ({ name, version, call, capabilities }) => {
  const lines = readline.createInterface({ input: process.stdin })
  const exit = () => process.stdout.write("", () => process.exit(0))
  lines.on("line", (line) => {
    let command
    try {
      command = JSON.parse(line)
    } catch {
      return
    }
    if (command.type === "shutdown") {
      lines.close()
      return
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
  lines.on("close", exit)
  send(
    capabilities === undefined
      ? { type: "ready", name, version, protocol: 1 }
      : { type: "ready", name, version, protocol: 2, capabilities }
  )
}

/** Reads a fetch Response as the protocol's answer: the whole body is read, so a broken body throws. */
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

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
