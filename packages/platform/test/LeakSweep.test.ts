/**
 * The leak sweep of issue 16: the `criteo-auth` CLI, at `--log-level all`, against a careless server
 * that echoes what it receives (the form-encoded token request, the bearer token) back in every field
 * and spelling, across the error paths. Everything the tool prints (stdout and stderr: results,
 * error sentences, logs) is grepped for each distinctive secret in every spelling it can take on the
 * wire. (Core's Redaction.test sweeps errors, their renderings, logs at level All and spans the same way.)
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Cli from "./utils/cli.js"

vi.setConfig({ testTimeout: 180_000 })

const CLIENT_ID = "leak-client"
const SECRET = "Leak$ecret+/=&% 0xA1"
const REFRESH = "Leak refresh/+=?&0xB2"
const ACCESS = "LeakAccess-0xC3.abc_def~ghi"

const spellings = (value: string): ReadonlyArray<string> => {
  const form = new URLSearchParams({ v: value }).toString().slice(2)
  return [
    value,
    form,
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
    Buffer.from(value).toString("base64"),
    Buffer.from(`${CLIENT_ID}:${value}`).toString("base64")
  ]
}

/** What the server does for the current run. */
type Mode = "token-echo" | "token-type-echo" | "api-403-echo" | "api-500-echo" | "api-401-echo"
let mode: Mode = "token-echo"
let server: Server
let url: string

const echoes = (text: string) =>
  [text, Buffer.from(text).toString("base64"), encodeURIComponent(text), JSON.stringify(text)].join(" | ")

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString()
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(value))
      }
      if (req.url === "/oauth2/token") {
        if (mode === "token-echo") {
          return json(400, { error: `invalid_request ${body}`, error_description: echoes(body) })
        }
        if (mode === "token-type-echo") {
          return json(200, { access_token: ACCESS, token_type: echoes(body), expires_in: 900 })
        }
        return json(200, { access_token: ACCESS, token_type: "Bearer", expires_in: 900, refresh_token: REFRESH })
      }
      const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
      const echoed = { errors: [{ code: echoes(token), title: echoes(token), traceId: token }], echo: echoes(token) }
      if (mode === "api-403-echo") return json(403, echoed)
      if (mode === "api-401-echo") return json(401, echoed)
      return json(500, echoed)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const env = () => ({
  CRITEO_CLIENT_ID: CLIENT_ID,
  CRITEO_CLIENT_SECRET: SECRET,
  CRITEO_REFRESH_TOKEN: REFRESH,
  CRITEO_TOKEN_URL: `${url}/oauth2/token`,
  CRITEO_API_URL: url,
  // a token cache of its own per run: a token cached by an earlier run would skip the token endpoint
  XDG_CACHE_HOME: Fs.mkdtempSync(Path.join(Os.tmpdir(), "criteo-leak-sweep-"))
})

/** Each run, and what its stderr must say (so the run reached the server and the error path). */
const runs: ReadonlyArray<[Mode, ReadonlyArray<string>, RegExp]> = [
  ["token-echo", ["token", "--log-level", "all", "--no-cache"], /invalid_request/],
  ["token-type-echo", ["token", "--log-level", "all", "--no-cache"], /token_type/],
  ["api-403-echo", ["request", "GET", "/advertisers/me", "--log-level", "all", "--no-cache"], /403/],
  ["api-401-echo", ["request", "GET", "/advertisers/me", "--log-level", "all", "--no-cache"], /401/],
  ["api-500-echo", ["request", "GET", "/advertisers/me", "--log-level", "all", "--no-cache"], /500/]
]

describe("leak sweep: the CLI at --log-level all against a server echoing every secret", () => {
  for (const [name, args, expected] of runs) {
    it.effect(`${name}: no secret in any spelling on stdout or stderr`, () =>
      Effect.gen(function*() {
        mode = name
        const result = yield* Cli.run(args, env())
        assert.notStrictEqual(result.code, 0, `the run fails: ${result.stderr}`)
        assert.match(result.stderr, expected)
        const printed = `${result.stdout}\n${result.stderr}`
        for (const secret of [SECRET, REFRESH, ACCESS]) {
          for (const spelling of spellings(secret)) {
            assert.notInclude(printed, spelling, `${name} prints ${JSON.stringify(spelling)} (a spelling of a secret)`)
          }
        }
      }).pipe(Effect.provide(NodeContext.layer)))
  }
})
