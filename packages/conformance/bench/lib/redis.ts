/**
 * A redis-server for the fleet figures (Debian's `redis-server`): on a free loopback port, no
 * persistence, stopped by `close`. `pause` / `resume` send SIGSTOP / SIGCONT, `kill` SIGKILL.
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"

export interface RedisServer {
  readonly url: string
  readonly pause: () => void
  readonly resume: () => void
  readonly kill: () => Promise<void>
  readonly close: () => Promise<void>
}

export const available = (): boolean => ChildProcess.spawnSync("redis-server", ["--version"]).status === 0

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export const start = async (): Promise<RedisServer> => {
  const port = await freePort()
  const child = ChildProcess.spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start within 10 s")), 10_000)
    let output = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      output += chunk
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer)
        child.stdout.removeAllListeners("data")
        child.stdout.resume()
        resolve()
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited (${code})`))
    })
  })
  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGCONT")
      child.kill("SIGKILL")
    })
  return {
    url: `redis://127.0.0.1:${port}`,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    kill,
    close: kill
  }
}
