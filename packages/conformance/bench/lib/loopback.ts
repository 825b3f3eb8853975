/**
 * Starts the loopback server of `server.ts` in a child process and drives it. Control requests go
 * through `node:http` without an agent, so they never touch the connection pools being measured.
 */
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export interface ServerStats {
  readonly tokenRequests: number
  /** Token requests answered with a token (the others failed on purpose: `tokenFailures`). */
  readonly tokensIssued: number
  readonly tokenFailures: number
  readonly apiRequests: number
  /** API requests whose bearer token, issued by this server since the last reset, had expired. */
  readonly expiredSent: number
  readonly unauthorized: number
  readonly revoked: number
  readonly issued: number
  readonly connections: number
}

export interface Loopback {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  readonly tokenUrl: string
  /**
   * Counters to zero and revocations forgotten; the token endpoint then takes `tokenLatencyMs`, issues
   * tokens of `tokenLifetimeSeconds` (default 900) and fails `tokenFailurePercent` of its requests
   * (default 0; half 503s, half connection resets).
   */
  readonly reset: (
    tokenLatencyMs: number,
    faults?: { readonly tokenLifetimeSeconds?: number; readonly tokenFailurePercent?: number }
  ) => Promise<void>
  /** Refuses, from now on, every token issued so far. */
  readonly revoke: () => Promise<number>
  /** Closes every pooled client connection (from the server side). */
  readonly disconnect: () => Promise<void>
  readonly stats: () => Promise<ServerStats>
  readonly close: () => Promise<void>
}

const here = Path.dirname(fileURLToPath(import.meta.url))

const control = (port: number, path: string): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const request = Http.request({ host: "127.0.0.1", port, path, method: "POST", agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        body += chunk
      })
      response.on("end", () => {
        try {
          resolve(JSON.parse(body))
        } catch (error) {
          reject(error)
        }
      })
    })
    request.on("error", reject)
    request.setTimeout(30_000, () => request.destroy(new Error(`control ${path} timed out`)))
    request.end()
  })

/** Starts the server process; `close` stops it (by its pid). */
export const start = (): Promise<Loopback> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", Path.join(here, "server.ts")],
      { stdio: ["pipe", "pipe", "inherit"], cwd: Path.join(here, "..", "..") }
    )
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error("the loopback server did not start within 20 s"))
    }, 20_000)
    let output = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      output += chunk
      const match = /port: (\d+)/.exec(output)
      if (match === null) return
      clearTimeout(timer)
      child.stdout.removeAllListeners("data")
      const port = Number(match[1])
      const baseUrl = `http://127.0.0.1:${port}`
      resolve({
        baseUrl,
        tokenUrl: `${baseUrl}/oauth2/token`,
        reset: async (tokenLatencyMs, faults) => {
          const lifetime = faults?.tokenLifetimeSeconds ?? 900
          const failures = faults?.tokenFailurePercent ?? 0
          await control(
            port,
            `/__control/reset?tokenLatencyMs=${tokenLatencyMs}&tokenLifetimeSeconds=${lifetime}&tokenFailurePercent=${failures}`
          )
        },
        revoke: async () => ((await control(port, "/__control/revoke")) as { revoked: number }).revoked,
        disconnect: async () => {
          await control(port, "/__control/disconnect")
        },
        stats: async () => (await control(port, "/__control/stats")) as ServerStats,
        close: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done()
            child.once("exit", () => done())
            child.kill("SIGTERM")
          })
      })
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the loopback server exited (code ${code})`))
    })
  })
