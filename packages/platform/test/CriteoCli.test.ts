import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, describe, layer, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as http from "node:http"
import { connect, createServer } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ExitCode } from "../src/CriteoCli.js"
import * as Cli from "./utils/cli.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"
import * as Ports from "./utils/ports.js"

// Each test runs the CLI as a subprocess, several times for some: on a shared, loaded machine (2 CPUs,
// load 20+) one Node.js start takes seconds. A generous bound; the tests time nothing themselves.
vi.setConfig({ testTimeout: 180_000 })

const packageVersion = (JSON.parse(
  fs.readFileSync(path.resolve(path.dirname(Cli.bin), "../package.json"), "utf8")
) as { version: string }).version

const envFor = (fake: FakeCriteo.Service, client: FakeCriteo.Client, extra: Record<string, string> = {}) => ({
  CRITEO_CLIENT_ID: client.clientId,
  CRITEO_CLIENT_SECRET: client.clientSecret,
  CRITEO_TOKEN_URL: fake.tokenUrl,
  CRITEO_API_URL: fake.url,
  // a token cache of its own for each run's environment (a run reusing an env reuses its cache)
  XDG_CACHE_HOME: tempDir(),
  ...extra
})

/** A client newly registered on the fake (`spec`), and its environment for the CLI (`envFor`). */
const newClient = (spec?: FakeCriteo.ClientSpec, extra?: Record<string, string>) =>
  Effect.gen(function*() {
    const fake = yield* FakeCriteo.FakeCriteo
    const client = yield* fake.register(spec)
    return { fake, client, env: envFor(fake, client, extra) }
  })

/** Runs the CLI once, `args`, as a newly registered client (`spec`), with `env` added to its environment. */
const runAsNewClient = (
  args: ReadonlyArray<string>,
  options: { readonly spec?: FakeCriteo.ClientSpec; readonly env?: Record<string, string> } = {}
) =>
  Effect.gen(function*() {
    const { client, env, fake } = yield* newClient(options.spec, options.env)
    return { fake, client, result: yield* Cli.run(args, env) }
  })

const MiB = 1024 * 1024

/**
 * An API that answers 200 with a body sent as fast as the client reads it, for ever (64 KiB chunks,
 * respecting back-pressure): `written` counts what it has handed to the socket. A safety net ends the body
 * after 512 MiB, so that a client that reads it all (the tool before its bound) ends and fails the test
 * rather than eating the machine's memory; a bounded client stops far earlier.
 */
const endlessApi = Effect.gen(function*() {
  const state = { written: 0 }
  const chunk = Buffer.alloc(64 * 1024, " ")
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json" })
    response.write("[")
    const pump = () => {
      while (!response.destroyed && state.written < 512 * MiB) {
        state.written += chunk.length
        if (!response.write(chunk)) return void response.once("drain", pump)
      }
      if (!response.destroyed) response.end("]")
    }
    pump()
  })
  const url = yield* Ports.listenOnLoopback(server)
  return { url, state }
})

/**
 * An API whose `GET /small` is a 50 000-byte JSON body, `GET /declared` declares a 200 000-byte body
 * (content-length) and sends it, and `HEAD /declared` declares it without a body (as HEAD does).
 */
const sizedApi = Effect.gen(function*() {
  const small = JSON.stringify({ data: "x".repeat(50_000 - 11) })
  const server = http.createServer((request, response) => {
    if (request.url?.endsWith("/small")) {
      response.writeHead(200, { "content-type": "application/json", "content-length": String(small.length) })
      return void response.end(small)
    }
    response.writeHead(200, { "content-type": "application/json", "content-length": "200000" })
    if (request.method === "HEAD") return void response.end()
    response.end(JSON.stringify({ data: "y".repeat(200_000 - 11) }))
  })
  return yield* Ports.listenOnLoopback(server)
})

/**
 * An API whose answer declares a 200 000-byte body (content-length) in headers sent at once, then sends
 * none of it, holding the connection open: a large report still being produced, a stalled gateway.
 */
const stalledDeclaredApi = Effect.gen(function*() {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": "200000" })
    response.flushHeaders()
  })
  return yield* Ports.listenOnLoopback(server)
})

/** A token endpoint that answers every request 429, its limit reset in 10 minutes. */
const tokenEndpointRateLimited = (): FakeCriteo.ClientSpec => ({
  tokenAlways: {
    status: 429,
    headers: { "x-ratelimit-limit": "250", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 600) }
  }
})

/** Nothing printed contains any of `secrets`. */
const assertClean = (result: Cli.Result, secrets: ReadonlyArray<string | undefined>) => {
  for (const secret of secrets) {
    if (secret === undefined) continue
    assert.notInclude(result.stdout, secret, "a secret on stdout")
    assert.notInclude(result.stderr, secret, "a secret on stderr")
  }
}

/**
 * An expected failure: its exit code, and one sentence on stderr, without a stack trace (besides the
 * progress lines of a wait longer than a second, which a slow machine may show).
 */
const assertFailure = (result: Cli.Result, code: ExitCode) => {
  assert.strictEqual(result.code, code, `exit code; stderr: ${result.stderr}`)
  const lines = Cli.withoutProgress(result.stderr).trimEnd().split("\n")
  assert.strictEqual(lines.length, 1, `one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0], /^criteo-auth: [A-Z-].*\.$/)
  assert.notMatch(result.stderr, /\n\s+at /)
  return lines[0]
}

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "criteo-auth-cli-"))

layer(Layer.merge(FakeCriteo.layer, NodeContext.layer), { excludeTestServices: true })("criteo-auth", (it) => {
  describe("help and version", () => {
    it.effect("--version prints the package version", () =>
      Effect.gen(function*() {
        const result = yield* Cli.run(["--version"])
        assert.strictEqual(result.code, 0)
        assert.strictEqual(Cli.plain(result.stdout).trim(), packageVersion)
      }))

    it.effect("--help lists the commands; each command has its own help", () =>
      Effect.gen(function*() {
        const root = yield* Cli.run(["--help"])
        assert.strictEqual(root.code, 0)
        assert.include(Cli.plain(root.stdout), "token")
        assert.include(Cli.plain(root.stdout), "request")
        const token = Cli.plain((yield* Cli.run(["token", "--help"])).stdout)
        for (const flag of ["--raw", "--json", "--client-id", "--client-secret-file", "--token-url", "--api-version"]) {
          assert.include(token, flag)
        }
        assert.notMatch(token, /--client-secret(?!-file)/, "no flag takes the secret itself")
        const request = yield* Cli.run(["request", "--help"])
        assert.strictEqual(request.code, 0)
        for (const word of ["METHOD", "PATH", "--data", "--api-url"]) assert.include(Cli.plain(request.stdout), word)
      }))

    it.effect("no command, an unknown command or an unknown flag is a usage error", () =>
      Effect.gen(function*() {
        assertFailure(yield* Cli.run([]), ExitCode.Usage)
        assert.strictEqual((yield* Cli.run(["tokens"])).code, ExitCode.Usage)
        assert.strictEqual((yield* Cli.run(["token", "--bogus"])).code, ExitCode.Usage)
      }))
  })

  describe("token", () => {
    it.effect("prints type, lifetime, expiry and fingerprint, never the token or the secret", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["token"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stderr, "")
        const [issued] = yield* fake.issued(client.clientId)
        const fingerprint = AccessToken.fingerprint(Redacted.make(issued.accessToken))
        assert.match(result.stdout, /Token type:\s+Bearer\n/)
        assert.match(result.stdout, /Lifetime:\s+15m \(900 s\)\n/)
        assert.match(result.stdout, /Expires at:\s+\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\n/)
        assert.match(result.stdout, new RegExp(`Fingerprint:\\s+${fingerprint}\\n`))
        assert.match(result.stdout, new RegExp(`Client id:\\s+${client.clientId}\\n`))
        assert.match(result.stdout, /Grant type:\s+client_credentials\n/)
        assertClean(result, [issued.accessToken, client.clientSecret])
      }))

    it.effect("the token cache: a second run within the token's life makes no token request; --no-cache does", () =>
      Effect.gen(function*() {
        const { client, fake, env } = yield* newClient()
        const first = yield* Cli.run(["token", "--json"], env)
        const second = yield* Cli.run(["token", "--json"], env)
        assert.strictEqual(second.code, 0, second.stderr)
        assert.strictEqual((yield* fake.issued(client.clientId)).length, 1)
        assert.strictEqual(JSON.parse(second.stdout).fingerprint, JSON.parse(first.stdout).fingerprint)
        const uncached = yield* Cli.run(["token", "--no-cache"], env)
        assert.strictEqual(uncached.code, 0, uncached.stderr)
        assert.strictEqual((yield* fake.issued(client.clientId)).length, 2)
        // the cache files: 0600 in a 0700 directory, no token or secret in clear
        const directory = path.join(env.XDG_CACHE_HOME, "criteo-auth")
        assert.strictEqual(fs.statSync(directory).mode & 0o777, 0o700)
        const [issued] = yield* fake.issued(client.clientId)
        for (const name of fs.readdirSync(directory)) {
          assert.strictEqual(fs.statSync(path.join(directory, name)).mode & 0o777, 0o600)
          const text = fs.readFileSync(path.join(directory, name), "utf8")
          assert.notInclude(text, issued.accessToken)
          assert.notInclude(text, client.clientSecret)
        }
        // a corrupt cache file: a warning naming no secret, and a new token
        for (const name of fs.readdirSync(directory)) fs.writeFileSync(path.join(directory, name), "garbage")
        const afterCorruption = yield* Cli.run(["token"], env)
        assert.strictEqual(afterCorruption.code, 0, afterCorruption.stderr)
        assert.include(afterCorruption.stderr, "corrupt or foreign")
        assertClean(afterCorruption, [issued.accessToken, client.clientSecret])
      }))

    it.effect("the token cache: a file of another client, a file others can read: a warning, no crash, no secret", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const [a, b] = [yield* fake.register(), yield* fake.register()]
        const cache = tempDir()
        const envA = envFor(fake, a, { XDG_CACHE_HOME: cache })
        const envB = envFor(fake, b, { XDG_CACHE_HOME: cache })
        const directory = path.join(cache, "criteo-auth")
        const entries = () => fs.readdirSync(directory).filter((name) => name.endsWith(".json"))
        assert.strictEqual((yield* Cli.run(["token"], envA)).code, 0)
        const [fileA] = entries()
        assert.strictEqual((yield* Cli.run(["token"], envB)).code, 0)
        const [fileB] = entries().filter((name) => name !== fileA)
        const secrets = () =>
          Effect.map(
            Effect.zip(fake.issued(a.clientId), fake.issued(b.clientId)),
            ([x, y]) => [a.clientSecret, b.clientSecret, ...[...x, ...y].map((i) => i.accessToken)]
          )
        // a's file where b's belongs: it does not decrypt for b (another secret, another key)
        fs.copyFileSync(path.join(directory, fileA), path.join(directory, fileB))
        const foreign = yield* Cli.run(["token"], envB)
        assert.strictEqual(foreign.code, 0, foreign.stderr)
        assert.match(foreign.stderr, /ignoring .*: it does not decrypt with this secret/)
        assert.strictEqual((yield* fake.issued(b.clientId)).length, 2)
        assertClean(foreign, yield* secrets())
        // b's file readable by others: ignored (and replaced by a 0600 one)
        fs.chmodSync(path.join(directory, fileB), 0o644)
        const loose = yield* Cli.run(["token"], envB)
        assert.strictEqual(loose.code, 0, loose.stderr)
        assert.match(loose.stderr, /ignoring .*: its permissions are 644/)
        assert.strictEqual((yield* fake.issued(b.clientId)).length, 3)
        assert.strictEqual(fs.statSync(path.join(directory, fileB)).mode & 0o777, 0o600)
        assertClean(loose, yield* secrets())
        // a's own entry was never touched
        assert.strictEqual((yield* fake.issued(a.clientId)).length, 1)
      }))

    it.effect("--raw prints the token alone", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["token", "--raw"])
        assert.strictEqual(result.code, 0, result.stderr)
        const [issued] = yield* fake.issued(client.clientId)
        assert.strictEqual(result.stdout, `${issued.accessToken}\n`)
        assert.strictEqual(result.stderr, "")
        assertClean(result, [client.clientSecret])
      }))

    it.effect("--json prints a machine-readable object with the token", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["token", "--json"])
        assert.strictEqual(result.code, 0, result.stderr)
        const [issued] = yield* fake.issued(client.clientId)
        const json = JSON.parse(result.stdout)
        assert.strictEqual(json.access_token, issued.accessToken)
        assert.strictEqual(json.token_type, "Bearer")
        assert.strictEqual(json.expires_in, 900)
        assert.strictEqual(json.fingerprint, AccessToken.fingerprint(Redacted.make(issued.accessToken)))
        assert.strictEqual(json.client_id, client.clientId)
        assert.strictEqual(json.grant_type, "client_credentials")
        assert.strictEqual(Date.parse(json.expires_at) - Date.parse(json.issued_at), 900_000)
        assert.isNull(json.refresh_token_fingerprint)
        assertClean(result, [client.clientSecret])
      }))

    it.effect("--raw and --json together are a usage error", () =>
      Effect.gen(function*() {
        const { client, env, fake } = yield* newClient()
        assertFailure(yield* Cli.run(["token", "--raw", "--json"], env), ExitCode.Usage)
        assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
      }))

    it.effect("flags override the environment; the secret comes from a file", () =>
      Effect.gen(function*() {
        const { client, fake } = yield* newClient()
        const port = yield* Ports.freePort
        const dir = tempDir()
        const secretFile = path.join(dir, "secret")
        fs.writeFileSync(secretFile, `${client.clientSecret}\n`)
        const result = yield* Cli.run(
          ["token", "--client-id", client.clientId, "--client-secret-file", secretFile, "--token-url", fake.tokenUrl],
          {
            CRITEO_CLIENT_ID: "someone-else",
            CRITEO_CLIENT_SECRET: "wrong-secret-from-env",
            CRITEO_TOKEN_URL: `http://127.0.0.1:${port}/oauth2/token`
          }
        )
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual((yield* fake.issued(client.clientId)).length, 1)
        assertClean(result, [client.clientSecret, "wrong-secret-from-env"])
      }))

    it.effect("debug logs show no secret and no token", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["--log-level", "debug", "token"])
        assert.strictEqual(result.code, 0, result.stderr)
        const [issued] = yield* fake.issued(client.clientId)
        assert.include(result.stderr, AccessToken.fingerprint(Redacted.make(issued.accessToken)), "debug logs shown")
        assertClean(result, [client.clientSecret, issued.accessToken])
      }))
  })

  describe("refresh tokens", () => {
    it.effect("--refresh-token-file: reads the refresh token and writes the rotated one back (mode 600)", () =>
      Effect.gen(function*() {
        const { client, fake } = yield* newClient({ refreshTokens: ["rt_initial_0c9d8e7f"] })
        const file = path.join(tempDir(), "refresh-token")
        fs.writeFileSync(file, "rt_initial_0c9d8e7f\n")
        const first = yield* Cli.run(["token", "--refresh-token-file", file], envFor(fake, client))
        assert.strictEqual(first.code, 0, first.stderr)
        const [issued] = yield* fake.issued(client.clientId)
        assert.strictEqual(fs.readFileSync(file, "utf8").trim(), issued.refreshToken)
        assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
        assert.match(first.stdout, /Grant type:\s+refresh_token\n/)
        assert.include(first.stdout, `saved to ${file}`)
        // The next run uses the rotated token: the initial one is spent.
        const second = yield* Cli.run(["token", "--json", "--refresh-token-file", file], envFor(fake, client))
        assert.strictEqual(second.code, 0, second.stderr)
        const issuedNow = yield* fake.issued(client.clientId)
        assert.strictEqual(fs.readFileSync(file, "utf8").trim(), issuedNow[1].refreshToken)
        assert.strictEqual(JSON.parse(second.stdout).refresh_token_file, file)
        for (const result of [first, second]) {
          assertClean(result, [
            "rt_initial_0c9d8e7f",
            issued.refreshToken,
            issuedNow[1].refreshToken,
            client.clientSecret
          ])
        }
      }))

    it.effect("authorization_code: the first refresh token goes to the file", () =>
      Effect.gen(function*() {
        const redirectUri = "https://app.example/callback"
        const file = path.join(tempDir(), "refresh-token")
        const { client, fake, result } = yield* runAsNewClient(
          [
            "token",
            "--authorization-code",
            "code_4f3e2d1c",
            "--redirect-uri",
            redirectUri,
            "--refresh-token-file",
            file
          ],
          { spec: { codes: [{ code: "code_4f3e2d1c", redirectUri }] } }
        )
        assert.strictEqual(result.code, 0, result.stderr)
        const [issued] = yield* fake.issued(client.clientId)
        assert.strictEqual(issued.grantType, "authorization_code")
        assert.strictEqual(fs.readFileSync(file, "utf8").trim(), issued.refreshToken)
        assertClean(result, ["code_4f3e2d1c", issued.refreshToken, issued.accessToken])
      }))

    it.effect("warns when a rotated refresh token cannot be kept, without printing it", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["token"], {
          spec: { refreshTokens: ["rt_env_5a6b7c8d"] },
          env: { CRITEO_REFRESH_TOKEN: "rt_env_5a6b7c8d" }
        })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.match(result.stderr, /^criteo-auth: warning: .*--refresh-token-file/)
        const [issued] = yield* fake.issued(client.clientId)
        assertClean(result, ["rt_env_5a6b7c8d", issued.refreshToken, issued.accessToken])
      }))

    it.effect("fails when the rotated refresh token cannot be saved", () =>
      Effect.gen(function*() {
        const file = path.join(tempDir(), "missing-dir", "refresh-token")
        const { result } = yield* runAsNewClient(["token", "--raw", "--refresh-token-file", file], {
          spec: { refreshTokens: ["rt_a1"] },
          env: { CRITEO_REFRESH_TOKEN: "rt_a1" }
        })
        const line = assertFailure(result, ExitCode.Configuration)
        assert.include(line, file)
        assert.strictEqual(result.stdout, "")
      }))
  })

  describe("failures", () => {
    it.effect("bad credentials: exit 4", () =>
      Effect.gen(function*() {
        const wrong = "wrong-secret-77c1d2e3"
        const { client, result } = yield* runAsNewClient(["token"], { env: { CRITEO_CLIENT_SECRET: wrong } })
        const line = assertFailure(result, ExitCode.InvalidCredentials)
        assert.include(line, client.clientId)
        assert.include(line, "invalid_client")
        assertClean(result, [wrong, client.clientSecret])
      }))

    it.effect("refused grant (consent withdrawn, refresh token revoked): exit 5", () =>
      Effect.gen(function*() {
        const { client, result } = yield* runAsNewClient(["token"], { env: { CRITEO_REFRESH_TOKEN: "rt_revoked_99" } })
        const line = assertFailure(result, ExitCode.GrantRefused)
        assert.include(line, "invalid_grant")
        assertClean(result, ["rt_revoked_99", client.clientSecret])
      }))

    it.effect("forbidden by the API (consent revoked): exit 6", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["request", "GET", "/forbidden"])
        const line = assertFailure(result, ExitCode.Forbidden)
        assert.include(line, "403")
        const [issued] = yield* fake.issued(client.clientId)
        assertClean(result, [issued.accessToken, client.clientSecret])
        assert.strictEqual((yield* fake.issued(client.clientId)).length, 1)
      }))

    it.effect("unauthorized even with a fresh token: exit 7", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["request", "GET", "/always-401"])
        const line = assertFailure(result, ExitCode.Unauthorized)
        assert.include(line, "authorization-token-invalid")
        const issued = yield* fake.issued(client.clientId)
        assert.strictEqual(issued.length, 2)
        assertClean(result, [...issued.map((i) => i.accessToken), client.clientSecret])
      }))

    it.effect("rate limited by the token endpoint: exit 8", () =>
      Effect.gen(function*() {
        const { result } = yield* runAsNewClient(["token"], { spec: tokenEndpointRateLimited() })
        const line = assertFailure(result, ExitCode.RateLimited)
        assert.include(line, "429")
      }))

    it.effect("a token-endpoint rate limit is remembered across runs (the cache): the next run asks nothing", () =>
      Effect.gen(function*() {
        const { client, env, fake } = yield* newClient(tokenEndpointRateLimited())
        assertFailure(yield* Cli.run(["token"], env), ExitCode.RateLimited)
        const asked = (yield* fake.requests(client.clientId, "token")).length
        assert.isAtLeast(asked, 1)
        // the next run, within the remembered wait (capped at --max-rate-limit-wait, 60 s): exit 8, no request
        const again = assertFailure(yield* Cli.run(["token"], env), ExitCode.RateLimited)
        assert.include(again, "429")
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, asked)
        // --no-cache does not read the cache: it asks again
        assertFailure(yield* Cli.run(["token", "--no-cache"], env), ExitCode.RateLimited)
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, asked + 1)
      }))

    it.effect("rate limited by the API: exit 8, the body on stdout", () =>
      Effect.gen(function*() {
        const { result } = yield* runAsNewClient(["request", "GET", "/limited"])
        const line = assertFailure(result, ExitCode.RateLimited)
        assert.include(line, "limit 250")
        assert.match(line, /retry in (59m|1h)/)
        assert.strictEqual(JSON.parse(result.stdout).errors[0].code, "rate-limited")
      }))

    it.effect("token endpoint down: exit 9 after the configured attempts", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["token"], {
          spec: { tokenAlways: { status: 503 } },
          env: { CRITEO_MAX_ATTEMPTS: "2" }
        })
        const line = assertFailure(result, ExitCode.Unavailable)
        assert.include(line, "503 after 2 attempts")
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 2)
      }))

    it.effect("API down: exit 9", () =>
      Effect.gen(function*() {
        const { result } = yield* runAsNewClient(["request", "GET", "/broken"], { env: { CRITEO_MAX_ATTEMPTS: "1" } })
        const line = assertFailure(result, ExitCode.Unavailable)
        assert.include(line, "503 Service Unavailable")
        assert.include(line, "service-unavailable")
      }))

    it.effect("network failure: exit 10", () =>
      Effect.gen(function*() {
        const { client, fake } = yield* newClient()
        const port = yield* Ports.freePort
        const token = yield* Cli.run(
          ["token"],
          envFor(fake, client, { CRITEO_TOKEN_URL: `http://127.0.0.1:${port}/oauth2/token`, CRITEO_MAX_ATTEMPTS: "1" })
        )
        assert.include(assertFailure(token, ExitCode.Network), "ECONNREFUSED")
        const api = yield* Cli.run(
          ["request", "GET", "/advertisers/me"],
          envFor(fake, client, { CRITEO_API_URL: `http://127.0.0.1:${port}` })
        )
        assert.include(assertFailure(api, ExitCode.Network), "ECONNREFUSED")
        assertClean(api, [client.clientSecret, ...(yield* fake.issued(client.clientId)).map((i) => i.accessToken)])
      }))

    it.effect("bad configuration: exit 3, naming the variable", () =>
      Effect.gen(function*() {
        const { client, fake, env } = yield* newClient()
        const { CRITEO_CLIENT_ID: _, ...withoutId } = env
        const missing = assertFailure(yield* Cli.run(["token"], withoutId), ExitCode.Configuration)
        assert.include(missing, "CRITEO_CLIENT_ID (or --client-id) is not set")
        const duration = assertFailure(
          yield* Cli.run(["token"], { ...env, CRITEO_TOKEN_TIMEOUT: "soon" }),
          ExitCode.Configuration
        )
        assert.include(duration, "CRITEO_TOKEN_TIMEOUT (or --token-timeout) is invalid")
        const insecure = yield* Cli.run(["token"], {
          ...env,
          CRITEO_TOKEN_URL: "http://api.criteo.example/oauth2/token"
        })
        assert.include(assertFailure(insecure, ExitCode.Configuration), "CRITEO_TOKEN_URL (or --token-url)")
        const flag = yield* Cli.run(["token", "--api-url", "http://api.criteo.example"], env)
        assert.include(assertFailure(flag, ExitCode.Configuration), "plain http")
        // A flag is decoded like its variable, and a bad flag is not hidden by a good variable.
        const version = yield* Cli.run(["token", "--api-version", "v2"], { ...env, CRITEO_API_VERSION: "2026-01" })
        assert.include(assertFailure(version, ExitCode.Configuration), "CRITEO_API_VERSION (or --api-version)")
        const file = yield* Cli.run(["token", "--client-secret-file", path.join(tempDir(), "nope")], env)
        assert.include(assertFailure(file, ExitCode.Configuration), "no such file")
        for (const result of [insecure, flag, version, file]) assertClean(result, [client.clientSecret])
        // Nothing was sent anywhere.
        assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
      }))

    it.effect("token request rejected or unusable: exit 11", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const rejected = yield* fake.register({
          tokenAlways: { status: 400, body: { error: "unauthorized_client", error_description: "grant not allowed" } }
        })
        const line = assertFailure(yield* Cli.run(["token"], envFor(fake, rejected)), ExitCode.TokenRequestRejected)
        assert.include(line, "unauthorized_client")
        const malformed = yield* fake.register({ tokenAlways: { status: 200, body: "<html>oops</html>" } })
        assertFailure(yield* Cli.run(["token"], envFor(fake, malformed)), ExitCode.TokenRequestRejected)
      }))
  })

  describe("request", () => {
    it.effect("GET prints the status on stderr and pretty JSON on stdout", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["request", "get", "/advertisers/me"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stderr, "HTTP 200 OK\n")
        const body = { data: { id: client.clientId, type: "AdvertiserMe", attributes: { name: "Fake advertiser" } } }
        assert.strictEqual(result.stdout, `${JSON.stringify(body, null, 2)}\n`)
        const [call] = yield* fake.requests(client.clientId, "api")
        assert.strictEqual(call.path, "/2026-07/advertisers/me")
        const [issued] = yield* fake.issued(client.clientId)
        assertClean(result, [issued.accessToken, client.clientSecret])
      }))

    it.effect("--api-version overrides CRITEO_API_VERSION; a query string goes through", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(
          ["request", "GET", "advertisers/me?fields=id", "--api-version", "2026-01"],
          { env: { CRITEO_API_VERSION: "2025-10" } }
        )
        assert.strictEqual(result.code, 0, result.stderr)
        const [call] = yield* fake.requests(client.clientId, "api")
        assert.deepStrictEqual([call.path, call.query], ["/2026-01/advertisers/me", "?fields=id"])
      }))

    it.effect("POST --data sends JSON inline, from a file, or from stdin", () =>
      Effect.gen(function*() {
        const { client, fake, env } = yield* newClient()
        const inline = yield* Cli.run(["request", "POST", "/echo", "--data", "{\"name\": \"inline\"}"], env)
        assert.strictEqual(inline.code, 0, inline.stderr)
        assert.deepStrictEqual(JSON.parse(inline.stdout).body, { name: "inline" })
        const file = path.join(tempDir(), "body.json")
        fs.writeFileSync(file, "{\"name\": \"file\"}")
        const fromFile = yield* Cli.run(["request", "PUT", "/echo", "--data", `@${file}`], env)
        assert.deepStrictEqual(JSON.parse(fromFile.stdout), { method: "PUT", query: "", body: { name: "file" } })
        const fromStdin = yield* Cli.run(["request", "PATCH", "/echo", "--data", "@-"], env, {
          stdin: "{\"name\": \"stdin\"}"
        })
        assert.deepStrictEqual(JSON.parse(fromStdin.stdout).body, { name: "stdin" })
        const calls = yield* fake.requests(client.clientId, "api")
        assert.deepStrictEqual(calls.map((c) => c.headers["content-type"]), [
          "application/json",
          "application/json",
          "application/json"
        ])
      }))

    it.effect("invalid --data, --data with GET, or an unknown method is a usage error sent nowhere", () =>
      Effect.gen(function*() {
        const { client, fake, env } = yield* newClient()
        assert.include(
          assertFailure(yield* Cli.run(["request", "POST", "/echo", "--data", "{oops"], env), ExitCode.Usage),
          "--data is not valid JSON"
        )
        assertFailure(yield* Cli.run(["request", "GET", "/echo", "--data", "{}"], env), ExitCode.Usage)
        assert.strictEqual((yield* Cli.run(["request", "FETCH", "/echo"], env)).code, ExitCode.Usage)
        assert.strictEqual((yield* Cli.run(["request", "GET", "https://evil.example/x"], env)).code, ExitCode.Usage)
        assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
      }))

    it.scoped("a body that streams for ever is cut at 64MiB by default: exit 13, nothing printed, reading stopped", () =>
      Effect.gen(function*() {
        const { env } = yield* newClient()
        const api = yield* endlessApi
        const result = yield* Cli.run(
          ["request", "GET", "/reports", "--api-url", api.url, "--api-timeout", "120s", "--max-attempts", "1"],
          env
        )
        const line = assertFailure(result, ExitCode.ResponseTooLarge)
        assert.include(line, "longer than 64MiB (--max-body-size)")
        assert.strictEqual(result.stdout, "")
        // The tool stopped reading at the bound (and aborted the request), rather than reading until its
        // memory ran out. What the server could write is at most: what the tool held (64 MiB + one 64 KiB
        // chunk), undici's buffer (64 KiB), the kernel's receive and send buffers on loopback (tcp_rmem and
        // tcp_wmem maxima: 6 MiB and 4 MiB by default, 32 MiB and 4 MiB on some machines) and the server's
        // own (16 KiB + one chunk): under 101 MiB. Reading it all would reach the 512 MiB safety net.
        assert.isBelow(api.state.written, 128 * MiB)
      }))

    it.scoped("--max-body-size: a body under it prints as before; a content-length over it is refused", () =>
      Effect.gen(function*() {
        const { env } = yield* newClient()
        const url = yield* sizedApi
        const flags = ["--api-url", url, "--max-attempts", "1", "--max-body-size", "100KB"]
        const small = yield* Cli.run(["request", "GET", "/small", ...flags], env)
        assert.strictEqual(small.code, 0, small.stderr)
        assert.strictEqual(small.stderr, "HTTP 200 OK\n")
        assert.strictEqual(JSON.parse(small.stdout).data.length, 50_000 - 11)
        const declared = yield* Cli.run(["request", "GET", "/declared", ...flags], env)
        assert.include(assertFailure(declared, ExitCode.ResponseTooLarge), "longer than 100KB (--max-body-size)")
        assert.strictEqual(declared.stdout, "")
        // HEAD: the content-length describes a body that is not sent
        const head = yield* Cli.run(["request", "HEAD", "/declared", ...flags], env)
        assert.strictEqual(head.code, 0, head.stderr)
        const invalid = yield* Cli.run(["request", "GET", "/small", ...flags, "--max-body-size", "1TB"], env)
        assert.strictEqual(invalid.code, ExitCode.Usage, invalid.stderr)
        assert.include(invalid.stderr, "--max-body-size")
      }))

    it.scoped("a content-length over --max-body-size is refused at once, before any of the body arrives", () =>
      Effect.gen(function*() {
        const { env } = yield* newClient()
        const url = yield* stalledDeclaredApi
        // the headers say 200 000 bytes, over the bound: exit 13 there, not a wait for a first chunk that the
        // server does not send until --api-timeout (then exit 10, "did not send the whole body")
        const flags = ["--api-url", url, "--max-attempts", "1", "--max-body-size", "100KB", "--api-timeout", "20s"]
        const result = yield* Cli.run(["request", "GET", "/report", ...flags], env)
        assert.include(assertFailure(result, ExitCode.ResponseTooLarge), "longer than 100KB (--max-body-size)")
        assert.strictEqual(result.stdout, "")
      }))

    it.effect("--data @- from an endless standard input: a usage error at 16MiB, sent nowhere", () =>
      Effect.gen(function*() {
        const { client, env, fake } = yield* newClient()
        // `yes` writes for ever; the tool must stop reading at the bound (then `yes` ends on SIGPIPE)
        const result = yield* Cli.run(
          ["-c", "yes 1 | \"$0\" \"$@\"", process.execPath, Cli.bin, "request", "POST", "/echo", "--data", "@-"],
          env,
          { executable: "sh" }
        )
        assert.include(assertFailure(result, ExitCode.Usage), "--data from standard input is larger than 16MiB")
        assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
      }))

    it.effect("--data @FILE over 16MiB, or a device that never ends, is a usage error sent nowhere", () =>
      Effect.gen(function*() {
        const { client, env, fake } = yield* newClient()
        const file = path.join(tempDir(), "big.json")
        fs.writeFileSync(file, "")
        fs.truncateSync(file, 16 * MiB + 1) // sparse: no disk used
        const big = yield* Cli.run(["request", "POST", "/echo", "--data", `@${file}`], env)
        assert.include(
          assertFailure(big, ExitCode.Usage),
          `The --data file ${file} (${16 * MiB + 1} bytes) is larger than 16MiB`
        )
        // a character device has no size to check first: the bound is on what is read
        const device = yield* Cli.run(["request", "POST", "/echo", "--data", "@/dev/zero"], env)
        assert.include(assertFailure(device, ExitCode.Usage), "The --data file /dev/zero is larger than 16MiB")
        assert.strictEqual((yield* fake.requests(client.clientId)).length, 0)
      }))

    it.effect("another 4xx: exit 12, the body on stdout", () =>
      Effect.gen(function*() {
        const { result } = yield* runAsNewClient(["request", "DELETE", "/missing"])
        const line = assertFailure(result, ExitCode.ApiError)
        assert.include(line, "404 Not Found")
        assert.include(line, "not-found")
        assert.strictEqual(JSON.parse(result.stdout).errors[0].code, "not-found")
      }))

    it.effect("a secret echoed by the API is scrubbed from what is printed", () =>
      Effect.gen(function*() {
        const { client, fake, result } = yield* runAsNewClient(["request", "GET", "/echo-authorization"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepStrictEqual(JSON.parse(result.stdout), { authorization: "Bearer <redacted>" })
        const [issued] = yield* fake.issued(client.clientId)
        assertClean(result, [issued.accessToken])
      }))

    it.effect("a body that is not JSON is printed as it is", () =>
      Effect.gen(function*() {
        const { result } = yield* runAsNewClient(["request", "GET", "/text"])
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(result.stdout, "plain text answer\n")
      }))

    it.effect("a token refused with 401 (expired) is replaced and the call replayed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register({
          apiScript: [FakeCriteo.apiError(401, "authorization-token-expired", "The authorization token has expired")]
        })
        const result = yield* Cli.run(["request", "GET", "/advertisers/me"], envFor(fake, client))
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual(JSON.parse(result.stdout).data.id, client.clientId)
        const issued = yield* fake.issued(client.clientId)
        assert.strictEqual(issued.length, 2)
        const calls = yield* fake.requests(client.clientId, "api")
        assert.deepStrictEqual(calls.map((call) => call.headers.authorization), [
          `Bearer ${issued[0].accessToken}`,
          `Bearer ${issued[1].accessToken}`
        ])
        assertClean(result, issued.map((i) => i.accessToken))
      }))
  })

  describe("consent --listen: the redirect on a loopback listener", () => {
    /** The link the command printed on stdout: its redirect URI and state. */
    const linkOf = (cli: Cli.Interactive) =>
      Effect.map(cli.waitFor(/^(https?:\/\/\S+\?\S+)$/m), (match) => {
        const url = new URL(match[1])
        return { redirectUri: url.searchParams.get("redirect_uri")!, state: url.searchParams.get("state")! }
      })
    /** The browser: follows the consent page's redirect to the listener. */
    const follow = (url: string) =>
      Effect.promise(() =>
        fetch(url, { redirect: "manual" }).then(async (response) => ({
          status: response.status,
          headers: response.headers,
          page: await response.text()
        }))
      )
    /** A failure after the prompt: its exit code, and one sentence after the prompt line on stderr. */
    const failedAfterPrompt = (result: Cli.Result, code: ExitCode) =>
      assertFailure({ ...result, stderr: result.stderr.replace(/^Open this link.*\n/, "") }, code)
    const refused = (url: string) => Effect.promise(() => fetch(url).then(() => false, () => true))

    it.scoped("state checked, code exchanged, the page says so without a secret; then request --account works", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const code = `code-${Date.now()}-listen`
        const client = yield* fake.register({ codes: [{ code, redirectUri: /^http:\/\/127\.0\.0\.1:\d+\/callback$/ }] })
        const env = envFor(fake, client)
        const cli = yield* Cli.start(["consent", "--account", "acme", "--listen"], env)
        const { redirectUri, state } = yield* linkOf(cli)
        assert.match(redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
        assert.notMatch(redirectUri, /:0\//, "the port the system chose, not 0")
        // another path (a browser's favicon) is not the redirect: 404, and the command keeps waiting
        assert.strictEqual((yield* follow(new URL("/favicon.ico", redirectUri).href)).status, 404)
        const answer = yield* follow(`${redirectUri}?code=${code}&state=${encodeURIComponent(state)}`)
        assert.strictEqual(answer.status, 200, answer.page)
        assert.include(answer.page, "Account connected")
        assert.include(answer.page, "\"acme\"".replace(/"/g, "&quot;"))
        assert.strictEqual(answer.headers.get("cache-control"), "no-store")
        assert.strictEqual(answer.headers.get("content-security-policy"), "default-src 'none'")
        const result = yield* cli.result
        assert.strictEqual(result.code, 0, result.stderr)
        assert.include(result.stderr, "Connected account \"acme\"")
        // the exchange sent the listener's redirect URI, and the listener is closed
        const [exchange] = yield* fake.requests(client.clientId, "token")
        assert.strictEqual(exchange.form.redirect_uri, redirectUri)
        assert.isTrue(yield* refused(redirectUri))
        // then the account works, on the token the consent obtained (one token request in all)
        const me = yield* Cli.run(["request", "--account", "acme", "GET", "/advertisers/me"], env)
        assert.strictEqual(me.code, 0, me.stderr)
        const issued = yield* fake.issued(client.clientId)
        assert.strictEqual(issued.length, 1)
        const secrets = [code, client.clientSecret, ...issued.flatMap((i) => [i.accessToken, i.refreshToken])]
        assertClean(result, secrets)
        assertClean(me, secrets)
        for (const secret of secrets) if (secret !== undefined) assert.notInclude(answer.page, secret)
      }))

    it.scoped("a redirect with another state: exit 2, the page says why, no code exchanged", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const code = `code-${Date.now()}-forged`
        const port = yield* Ports.freePort
        const registered = `http://127.0.0.1:${port}/criteo/callback`
        const client = yield* fake.register({ codes: [{ code, redirectUri: registered }] })
        // the app's registered loopback redirect URI: the listener takes its port and path
        const cli = yield* Cli.start(
          ["consent", "--account", "acme", "--listen", "--redirect-uri", registered],
          envFor(fake, client)
        )
        const { redirectUri } = yield* linkOf(cli)
        assert.strictEqual(redirectUri, registered)
        assert.strictEqual((yield* follow(`http://127.0.0.1:${port}/callback?code=${code}&state=x`)).status, 404)
        const answer = yield* follow(`${registered}?code=${code}&state=not-the-state<script>`)
        assert.strictEqual(answer.status, 400)
        assert.include(answer.page, "not connected")
        assert.include(answer.page, "state")
        assert.notInclude(answer.page, "<script>", "nothing echoed unescaped")
        assert.notInclude(answer.page, code)
        const line = failedAfterPrompt(yield* cli.result, ExitCode.Usage)
        assert.include(line, "state")
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 0)
      }))

    it.scoped("Ctrl-C while waiting: exit 130, the listener closed; --wait bounds the wait: exit 2", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const interrupted = yield* Cli.start(["consent", "--account", "acme", "--listen"], envFor(fake, client))
        const { redirectUri } = yield* linkOf(interrupted)
        yield* interrupted.signal("SIGINT")
        assert.strictEqual((yield* interrupted.result).code, ExitCode.Interrupted)
        assert.isTrue(yield* refused(redirectUri))
        const waited = yield* Cli.start(
          ["consent", "--account", "acme", "--listen", "--wait", "1s"],
          envFor(fake, client)
        )
        const line = failedAfterPrompt(yield* waited.result, ExitCode.Usage)
        assert.include(line, "No redirect came within 1s")
      }))

    /**
     * A browser (or a rebinding page) as the listener sees it: a GET to `address` (`127.0.0.1`, `::1`) with
     * the Host header `host`, raw, since fetch sets Host itself (none: an HTTP/1.0 request without one).
     * The status (0: no answer, -1: refused) and the whole answer.
     */
    const rawGet = (address: string, port: number, target: string, host: string | undefined) =>
      Effect.async<{ readonly status: number; readonly page: string }>((resume) => {
        let data = ""
        const socket = connect({ host: address, port }, () =>
          socket.write(
            host === undefined
              ? `GET ${target} HTTP/1.0\r\n\r\n`
              : `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`
          ))
        socket.setEncoding("utf8")
        socket.on("data", (chunk: string) => data += chunk)
        socket.on(
          "end",
          () => resume(Effect.succeed({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(data)?.[1] ?? 0), page: data }))
        )
        socket.on("error", () => resume(Effect.succeed({ status: -1, page: data })))
      })

    /** Whether this machine has an IPv6 loopback (the listener binds `::1` only where it does). */
    const hasIpv6Loopback = Effect.async<boolean>((resume) => {
      const server = createServer()
      server.once("error", () => resume(Effect.succeed(false)))
      server.listen(0, "::1", () => server.close(() => resume(Effect.succeed(true))))
    })

    it.scoped("another Host (DNS rebinding) is answered 421 and is not the redirect; localhost is served on ::1 too", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const code = `code-${Date.now()}-rebind`
        const port = yield* Ports.freePort
        const registered = `http://localhost:${port}/callback`
        const client = yield* fake.register({ codes: [{ code, redirectUri: registered }] })
        const cli = yield* Cli.start(
          ["consent", "--account", "acme", "--listen", "--redirect-uri", registered],
          envFor(fake, client)
        )
        const { state } = yield* linkOf(cli)
        const redirect = `/callback?code=${code}&state=${encodeURIComponent(state)}`
        // a page of evil.example resolving to 127.0.0.1: its requests carry its own Host, on any path
        for (
          const host of [
            `evil.example:${port}`,
            "evil.example",
            `localhost.evil.example:${port}`,
            `127.0.0.1:${port + 1}`,
            `localhost`,
            undefined
          ]
        ) {
          for (const target of [redirect, "/favicon.ico"]) {
            const answer = yield* rawGet("127.0.0.1", port, target, host)
            assert.strictEqual(answer.status, 421, `Host ${host}: ${answer.page}`)
            assert.notInclude(answer.page, "evil")
            assert.notInclude(answer.page, code)
            assert.notInclude(answer.page, state)
          }
        }
        // the redirect was not consumed: the browser's own, on ::1 (where it may resolve localhost first)
        const browser = (yield* hasIpv6Loopback) ? "::1" : "127.0.0.1"
        const answer = yield* rawGet(browser, port, redirect, `LocalHost:${port}`)
        assert.strictEqual(answer.status, 200, answer.page)
        assert.include(answer.page, "Account connected")
        const result = yield* cli.result
        assert.strictEqual(result.code, 0, result.stderr)
        assert.strictEqual((yield* fake.requests(client.clientId, "token")).length, 1)
        assert.strictEqual((yield* rawGet(browser, port, redirect, `localhost:${port}`)).status, -1, "closed")
      }))

    it.scoped("the listener answers to its loopback names: 127.0.0.1, localhost and [::1] with its port", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const cli = yield* Cli.start(["consent", "--account", "acme", "--listen"], envFor(fake, client))
        const { redirectUri } = yield* linkOf(cli)
        const port = Number(new URL(redirectUri).port)
        for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
          assert.strictEqual((yield* rawGet("127.0.0.1", port, "/favicon.ico", host)).status, 404, host)
        }
        assert.strictEqual((yield* rawGet("127.0.0.1", port, "/favicon.ico", "evil.example")).status, 421)
        yield* cli.signal("SIGINT")
        assert.strictEqual((yield* cli.result).code, ExitCode.Interrupted)
      }))

    it.effect("a redirect URI the listener cannot serve, or --port with --redirect-uri: a usage error", () =>
      Effect.gen(function*() {
        const fake = yield* FakeCriteo.FakeCriteo
        const client = yield* fake.register()
        const https = yield* Cli.run(
          ["consent", "--account", "acme", "--listen", "--redirect-uri", "https://app.example.com/cb"],
          envFor(fake, client)
        )
        assert.include(assertFailure(https, ExitCode.Usage), "loopback redirect URI")
        const both = yield* Cli.run(
          ["consent", "--account", "acme", "--listen", "--port", "0", "--redirect-uri", "http://127.0.0.1:9/cb"],
          envFor(fake, client)
        )
        assertFailure(both, ExitCode.Usage)
      }))
  })
})
