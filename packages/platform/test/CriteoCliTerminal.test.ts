/**
 * The command-line tool as people at a keyboard meet it (issue 13): help, parse errors, pasted paths,
 * curl-like flags, progress while it waits, in a pipe and in a pseudo-terminal.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, layer, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ExitCode } from "../src/CriteoCli.js"
import * as Cli from "./utils/cli.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"
import { listenOnLoopback } from "./utils/ports.js"

// Each test runs the CLI as a subprocess, several times for some: on a shared, loaded machine (2 CPUs,
// load 20+) one Node.js start takes seconds. A generous bound; the tests time nothing themselves.
vi.setConfig({ testTimeout: 180_000 })

const envFor = (fake: FakeCriteo.Service, client: FakeCriteo.Client, extra: Record<string, string> = {}) => ({
  CRITEO_CLIENT_ID: client.clientId,
  CRITEO_CLIENT_SECRET: client.clientSecret,
  CRITEO_TOKEN_URL: fake.tokenUrl,
  CRITEO_API_URL: fake.url,
  ...extra
})

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/

/** util-linux `script`, for the pseudo-terminal tests: required in CI, where .ci/run installs it. */
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    if (process.env.CI === "true") throw new Error("util-linux `script` is required in CI (bsdutils)")
    return false
  }
})()

/** A server that sends the headers of a 200 and then one byte of body every 200 ms, forever. */
const tricklingServer = Effect.gen(function*() {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" })
    response.write("[")
    const timer = setInterval(() => response.write(" "), 200)
    response.on("close", () => clearInterval(timer))
  })
  const url = yield* listenOnLoopback(server)
  return { url, server }
})

/**
 * A forward proxy on loopback: CONNECT tunnels and absolute-form requests, each logged as its request
 * line only (what a proxy operator would see in an access log).
 */
const forwardProxy = Effect.gen(function*() {
  const log: Array<string> = []
  const server = http.createServer((request, response) => {
    log.push(`${request.method} ${request.url}`)
    const target = new URL(request.url ?? "")
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: request.method,
        headers: request.headers
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      }
    )
    upstream.on("error", () => response.destroy())
    request.pipe(upstream)
  })
  server.on("connect", (request, socket, head) => {
    log.push(`CONNECT ${request.url}`)
    const [host, port] = (request.url ?? "").split(":")
    const upstream = net.connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    upstream.on("error", () => socket.destroy())
    socket.on("error", () => upstream.destroy())
  })
  const url = yield* listenOnLoopback(server)
  return { url, log, server }
})

layer(Layer.merge(FakeCriteo.layer, NodeContext.layer), { excludeTestServices: true })(
  "criteo-auth at the keyboard",
  (it) => {
    describe("help", () => {
      it.effect("says what each flag does, names the program, shows examples, no --wizard, no colour in a pipe", () =>
        Effect.gen(function*() {
          for (const command of [[], ["token"], ["request"]]) {
            const result = yield* Cli.run([...command, "--help"])
            assert.strictEqual(result.code, 0)
            const help = result.stdout
            assert.notMatch(help, ANSI, "no colour codes when stdout is a pipe")
            assert.notInclude(help, "A user-defined piece of text")
            assert.notInclude(help, "--wizard")
            assert.include(help, "EXAMPLES")
            assert.match(help, new RegExp(`^\\$ criteo-auth${command.length > 0 ? ` ${command[0]}` : ""}`, "m"))
            // Every flag heading is followed by a description of its own.
            for (const match of help.matchAll(/^\(?(?:-\w, )?(--[a-z-]+)[^\n]*\n\n {2}(\S[^\n]*)/gm)) {
              assert.isAbove(match[2].length, 20, `a description for ${match[1]}`)
            }
          }
          const token = (yield* Cli.run(["token", "--help"])).stdout
          for (const flag of ["--token-timeout", "--api-timeout", "--max-attempts", "--max-rate-limit-wait"]) {
            assert.include(token, flag)
          }
        }))

      it.effect("parse errors: one line, prefixed, with a suggestion; --wizard refused", () =>
        Effect.gen(function*() {
          const flag = yield* Cli.run(["token", "--rwa"])
          assert.strictEqual(flag.code, ExitCode.Usage)
          assert.strictEqual(
            flag.stderr.trim(),
            "criteo-auth: unknown flag --rwa: did you mean --raw? (see criteo-auth --help)"
          )
          const command = yield* Cli.run(["tokne"])
          assert.strictEqual(command.code, ExitCode.Usage)
          assert.match(command.stderr.trim(), /^criteo-auth: unknown command "tokne": did you mean token\?/)
          const wizard = yield* Cli.run(["--wizard"])
          assert.strictEqual(wizard.code, ExitCode.Usage)
          assert.match(wizard.stderr, /^criteo-auth: unknown flag --wizard/)
          const missing = yield* Cli.run(["request", "GET"])
          assert.strictEqual(missing.code, ExitCode.Usage)
          assert.match(missing.stderr.trim(), /^criteo-auth: Missing argument <PATH>$/)
        }))
    })

    describe("pasted paths", () => {
      it.effect("a leading version is not doubled; a full URL on the API host is accepted; another host is refused", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const env = envFor(fake, client)
          for (
            const [input, expected] of [
              ["/2026-07/advertisers/me", "/2026-07/advertisers/me"],
              ["2025-10/advertisers/me", "/2025-10/advertisers/me"],
              ["/preview/advertisers/me", "/preview/advertisers/me"],
              [`${fake.url}/2026-01/advertisers/me?fields=id`, "/2026-01/advertisers/me"]
            ]
          ) {
            const result = yield* Cli.run(["request", "GET", input], env)
            assert.strictEqual(result.code, 0, `${input}: ${result.stderr}`)
            const calls = yield* fake.requests(client.clientId, "api")
            assert.strictEqual(calls[calls.length - 1].path, expected, input)
          }
          const other = yield* Cli.run(["request", "GET", "https://api.criteo.com/2026-07/advertisers/me"], env)
          assert.strictEqual(other.code, ExitCode.Usage)
          assert.include(other.stderr, "is not on the configured API host")
          assert.include(other.stderr, fake.url.replace("http://", ""))
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 4, "nothing sent elsewhere")
        }))
    })

    describe("secrets", () => {
      it.effect("a 403 echoing the bearer token: the token is scrubbed from the message", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const result = yield* Cli.run(["request", "GET", "/forbidden-echo"], envFor(fake, client))
          assert.strictEqual(result.code, ExitCode.Forbidden, result.stderr)
          const [issued] = yield* fake.issued(client.clientId)
          assert.notInclude(result.stderr, issued.accessToken)
          assert.notInclude(result.stdout, issued.accessToken)
          assert.notInclude(result.stderr, encodeURIComponent(issued.accessToken))
        }))
    })

    describe("proxies", () => {
      it.scoped("HTTP_PROXY carries the token request and the API call; NO_PROXY bypasses it; no secret in its log", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const proxy = yield* forwardProxy
          const target = fake.url.replace("http://", "")
          const through = yield* Cli.run(
            ["request", "GET", "/advertisers/me"],
            envFor(fake, client, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url })
          )
          assert.strictEqual(through.code, 0, through.stderr)
          const seen = proxy.log.join("\n")
          assert.include(seen, target, "the proxy saw the calls")
          assert.isAtLeast(proxy.log.length, 1)
          const [issued] = yield* fake.issued(client.clientId)
          for (const secret of [client.clientSecret, issued.accessToken]) assert.notInclude(seen, secret)
          proxy.log.length = 0
          const bypassed = yield* Cli.run(
            ["request", "GET", "/advertisers/me"],
            envFor(fake, client, { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" })
          )
          assert.strictEqual(bypassed.code, 0, bypassed.stderr)
          assert.deepStrictEqual(proxy.log, [], "NO_PROXY bypasses the proxy")
        }))
    })

    describe("curl-like flags", () => {
      it.effect("-H sends headers, -i prints status and headers, -o writes the body to a file", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const env = envFor(fake, client)
          const included = yield* Cli.run(
            ["request", "GET", "/advertisers/me", "-i", "-H", "X-Trace: abc", "-H", "Accept-Language: fr"],
            env
          )
          assert.strictEqual(included.code, 0, included.stderr)
          assert.match(included.stdout, /^HTTP 200 OK\n/)
          assert.match(included.stdout, /^content-type: application\/json/m)
          assert.include(included.stdout, "\n\n{")
          const [call] = yield* fake.requests(client.clientId, "api")
          assert.strictEqual(call.headers["x-trace"], "abc")
          assert.strictEqual(call.headers["accept-language"], "fr")
          const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "criteo-auth-o-")), "body.json")
          const output = yield* Cli.run(["request", "GET", "/advertisers/me", "-o", file], env)
          assert.strictEqual(output.code, 0, output.stderr)
          assert.strictEqual(output.stdout, "")
          assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).data.id, client.clientId)
          const authorization = yield* Cli.run(["request", "GET", "/advertisers/me", "-H", "Authorization: x"], env)
          assert.strictEqual(authorization.code, ExitCode.Usage)
          assert.strictEqual((yield* fake.requests(client.clientId, "api")).length, 2)
        }))

      it.effect("--token-timeout and --max-attempts bound the token request", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({ tokenAlways: "hang" })
          const result = yield* Cli.run(
            ["token", "--token-timeout", "1s", "--max-attempts", "1"],
            envFor(fake, client, { CRITEO_TOKEN_TIMEOUT: "1m", CRITEO_MAX_ATTEMPTS: "4" })
          )
          assert.strictEqual(result.code, ExitCode.Network, result.stderr)
          assert.include(result.stderr, "within 1s")
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        }))
    })

    describe("waits", () => {
      it.scoped("a body that trickles forever is given up after --api-timeout", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register()
          const trickle = yield* tricklingServer
          const result = yield* Cli.run(
            ["request", "GET", "/reports", "--api-url", trickle.url, "--api-timeout", "2s", "--max-attempts", "1"],
            envFor(fake, client)
          )
          assert.strictEqual(result.code, ExitCode.Network, result.stderr)
          assert.include(result.stderr, "did not send the whole body within 2s")
          // Progress while the body trickled, on plain lines (stderr is a pipe).
          assert.match(
            result.stderr,
            /^criteo-auth: waiting for the rest of the answer of the API \(GET \/2026-07\/reports\)/m
          )
        }))

      it.effect("a 429 wait shows plain progress lines in a pipe, then the attempts and the time", () =>
        Effect.gen(function*() {
          const fake = yield* FakeCriteo.FakeCriteo
          const client = yield* fake.register({
            tokenScript: [{ status: 429, headers: { "retry-after": "3" }, body: { error: "rate_limited" } }]
          })
          const result = yield* Cli.run(["token"], envFor(fake, client))
          assert.strictEqual(result.code, 0, result.stderr)
          const host = fake.url.replace("http://", "")
          assert.match(
            result.stderr,
            new RegExp(
              `^criteo-auth: waiting for a token from ${host}: ${host} answered 429 \\(rate limited\\), attempt 2 in \\ds`,
              "m"
            )
          )
          assert.match(result.stderr, /^criteo-auth: done: 2 token requests in [3-9]\.\ds\.$/m)
          assert.notInclude(result.stderr, "\r", "no line redrawn in a pipe")
          assert.notMatch(result.stderr, /⠋|⠙|⠹/)
          assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 2)
        }))

      it.effect.skipIf(!hasScript)(
        "in a terminal: a spinner redrawn in place, colour in help unless NO_COLOR",
        () =>
          Effect.gen(function*() {
            const fake = yield* FakeCriteo.FakeCriteo
            const client = yield* fake.register({
              tokenScript: [{ status: 429, headers: { "retry-after": "2" }, body: { error: "rate_limited" } }]
            })
            const result = yield* Cli.runInTerminal(["token"], envFor(fake, client))
            assert.strictEqual(result.code, 0, result.stdout)
            assert.include(result.stdout, "\r\u001b[K", "the line is redrawn in place")
            assert.match(result.stdout, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for a token from /)
            assert.include(result.stdout, "answered 429 (rate limited)")
            assert.match(result.stdout, /criteo-auth: done: 2 token requests in \d+\.\ds\./)
            assert.match(result.stdout, /Token type:\s+Bearer/)
            const help = yield* Cli.runInTerminal(["--help"])
            assert.match(help.stdout, ANSI, "colour on a terminal")
            const plain = yield* Cli.runInTerminal(["--help"], { NO_COLOR: "1" })
            assert.notMatch(plain.stdout, ANSI, "no colour with NO_COLOR")
          })
      )
    })
  }
)
