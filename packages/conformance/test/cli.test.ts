/**
 * End to end: the platform's `criteo-auth` command-line tool, run as a subprocess as users run it,
 * against the simulator. Success, each failure category with its exit code, and no secret printed.
 */
import { CriteoSimulator, Fault, SimulatorConsents } from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { demoSecret, simulatorLayer } from "./utils.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = path.join(root, "packages/platform/src/bin.ts")
const tsx = createRequire(import.meta.url).resolve("tsx")

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI from its sources (`--conditions=source` resolves the workspace packages to src). */
const cli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<Result>((resume) => {
    const child = execFile(
      process.execPath,
      ["--conditions=source", "--import", tsx, bin, ...args],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }))
    )
    return Effect.sync(() => child.kill())
  })

/** Runs `criteo-auth consent ...`, answering its link as a person would: the consent page's redirect, pasted. */
const consent = (_sim: CriteoSimulator.Service, args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<Result>((resume) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, bin, "consent", ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env }
    })
    let stdout = ""
    let stderr = ""
    let answered = false
    const timer = setTimeout(() => child.kill(), 60_000)
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk)
      const link = /^(http\S+\/request\?\S+)$/m.exec(stdout)?.[1]
      if (link === undefined || answered) return
      answered = true
      // the person: opens the link; the consent page redirects; they paste the URL they land on
      fetch(link, { redirect: "manual" }).then(
        (response) => child.stdin.end(`${response.headers.get("location") ?? ""}\n`),
        () => child.stdin.end("\n")
      )
    })
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code: code ?? 1, stdout, stderr }))
    })
    return Effect.sync(() => child.kill())
  })

/**
 * Runs `criteo-auth consent --listen ...`, its browser played by the test: opens the link, follows the
 * consent page's redirect to the command's loopback listener, and keeps the page it answers.
 */
const consentListening = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<Result & { readonly page: string; readonly status: number; readonly redirectUri: string }>((resume) => {
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", tsx, bin, "consent", "--listen", ...args],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env } }
    )
    let stdout = ""
    let stderr = ""
    let browser: Promise<{ page: string; status: number; redirectUri: string }> | undefined
    const timer = setTimeout(() => child.kill(), 90_000)
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk)
      const link = /^(http\S+\/request\?\S+)$/m.exec(stdout)?.[1]
      if (link === undefined || browser !== undefined) return
      const redirectUri = new URL(link).searchParams.get("redirect_uri") ?? ""
      // the person's browser: the consent page redirects, the browser follows to the listener
      browser = fetch(link, { redirect: "manual" })
        .then((consentPage) => fetch(consentPage.headers.get("location") ?? "", { redirect: "manual" }))
        .then(async (listener) => ({ status: listener.status, page: await listener.text(), redirectUri }))
        .catch((error) => ({ status: 0, page: String(error), redirectUri }))
    })
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    child.on("close", (code) => {
      clearTimeout(timer)
      void (browser ?? Promise.resolve({ status: 0, page: "", redirectUri: "" })).then((seen) =>
        resume(Effect.succeed({ code: code ?? 1, stdout, stderr, ...seen }))
      )
    })
    return Effect.sync(() => child.kill())
  })

const envFor = (sim: CriteoSimulator.Service, clientId: string, secret = demoSecret): Record<string, string> => ({
  CRITEO_CLIENT_ID: clientId,
  CRITEO_CLIENT_SECRET: secret,
  CRITEO_TOKEN_URL: sim.tokenUrl,
  CRITEO_API_URL: sim.baseUrl,
  CRITEO_API_VERSION: CriteoSimulator.apiVersions.current,
  CRITEO_MAX_ATTEMPTS: "2",
  // a token cache of its own for each run's environment (a run reusing an env reuses its cache)
  XDG_CACHE_HOME: Fs.mkdtempSync(path.join(Os.tmpdir(), "criteo-cli-cache-"))
})

const assertNoSecret = (result: Result, ...secrets: ReadonlyArray<string>) => {
  for (const secret of [demoSecret, ...secrets]) {
    assert.notInclude(result.stdout, secret)
    assert.notInclude(result.stderr, secret)
  }
}

/** Every access and refresh token the simulator issued to `clientId`, in clear (to check none is printed). */
const issuedSecrets = (sim: CriteoSimulator.Service, clientId: string) =>
  Effect.map(
    sim.tokenRequests({ clientId }),
    (tokens) =>
      tokens.flatMap((t) => [t.issuedAccessToken, t.issuedRefreshToken])
        .flatMap((secret) => secret === undefined ? [] : [Redacted.value(secret)])
  )

const fresh = Effect.flatMap(CriteoSimulator.CriteoSimulator, (sim) => Effect.as(sim.reset, sim))

layer(simulatorLayer({ runtime: "process" }), { excludeTestServices: true, timeout: Duration.minutes(2) })(
  "the criteo-auth CLI against the simulator",
  (it) => {
    it.effect(
      "token: prints the fingerprint and lifetime, never the token or the secret",
      () =>
        Effect.gen(function*() {
          const sim = yield* fresh
          const clientId = CriteoSimulator.clientId("cli-token")
          const result = yield* cli(["token"], envFor(sim, clientId))
          assert.strictEqual(result.code, 0, result.stderr)
          assert.match(result.stdout, /tok_[0-9a-f]{12}/)
          assert.match(result.stdout, /900/)
          assert.notMatch(result.stdout, /sim\.\d{8}T/)
          assertNoSecret(result)
          assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
        }),
      60_000
    )

    it.effect("token --raw prints a token the API accepts", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("cli-raw")
        const result = yield* cli(["token", "--raw"], envFor(sim, clientId))
        assert.strictEqual(result.code, 0, result.stderr)
        const token = result.stdout.trim()
        assert.match(token, /^sim\.\d{8}T\d{6}\.\d+Z$/)
        const api = yield* cli(["request", "GET", "/advertisers/me"], envFor(sim, clientId))
        assert.strictEqual(api.code, 0, api.stderr)
        assert.include(api.stdout, "Advertiser")
        assertNoSecret(api, token)
      }), 60_000)

    it.effect(
      "the token cache: a second request within the token's life makes no token request",
      () =>
        Effect.gen(function*() {
          const sim = yield* fresh
          const clientId = CriteoSimulator.clientId("cli-cache")
          const env = envFor(sim, clientId)
          for (let i = 0; i < 2; i++) {
            const result = yield* cli(["request", "GET", "/advertisers/me"], env)
            assert.strictEqual(result.code, 0, result.stderr)
          }
          assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
          assert.strictEqual((yield* sim.apiRequests()).length, 2)
          const uncached = yield* cli(["request", "--no-cache", "GET", "/advertisers/me"], env)
          assert.strictEqual(uncached.code, 0, uncached.stderr)
          assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 2)
        }),
      60_000
    )

    it.effect(
      "consent, then request --account: the refresh token kept in the cache, the account's advertiser",
      () =>
        Effect.gen(function*() {
          const sim = yield* fresh
          const clientId = CriteoSimulator.clientId("cli-consent")
          const env = envFor(sim, clientId)
          const connected = yield* consent(sim, [
            "--account",
            "acme",
            "--redirect-uri",
            "https://app.example.com/criteo/callback",
            "--consent-url",
            `${sim.baseUrl}/request`
          ], env)
          assert.strictEqual(connected.code, 0, connected.stderr)
          assert.include(connected.stderr, "Connected account \"acme\"")
          const me = yield* cli(["request", "--account", "acme", "GET", "/advertisers/me"], env)
          assert.strictEqual(me.code, 0, me.stderr)
          assert.strictEqual(JSON.parse(me.stdout).data[0].id, "200001")
          // one token request: the code exchange; the request used the cached token
          const stats = yield* SimulatorConsents.stats(sim, { clientId })
          assert.deepStrictEqual(stats.byConsent, { acme: 1 })
          const secrets = yield* issuedSecrets(sim, clientId)
          assertNoSecret(connected, ...secrets, "code.acme")
          assertNoSecret(me, ...secrets)
          // an account never connected: a clear sentence, not a crash
          const unknown = yield* cli(["request", "--account", "globex", "GET", "/advertisers/me"], env)
          assert.notStrictEqual(unknown.code, 0)
          assert.include(unknown.stderr, "criteo-auth consent --account globex")
        }),
      120_000
    )

    it.effect(
      "consent --listen: the consent page redirects to the CLI's loopback listener; then request --account",
      () =>
        Effect.gen(function*() {
          const sim = yield* fresh
          const clientId = CriteoSimulator.clientId("cli-listen")
          const env = envFor(sim, clientId)
          const connected = yield* consentListening(
            ["--account", "acme", "--consent-url", `${sim.baseUrl}/request`],
            env
          )
          assert.strictEqual(connected.code, 0, connected.stderr)
          assert.match(connected.redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
          assert.strictEqual(connected.status, 200, connected.page)
          assert.include(connected.page, "Account connected")
          assert.include(connected.stderr, "Connected account \"acme\"")
          const me = yield* cli(["request", "--account", "acme", "GET", "/advertisers/me"], env)
          assert.strictEqual(me.code, 0, me.stderr)
          assert.strictEqual(JSON.parse(me.stdout).data[0].id, "200001")
          // one token request: the code exchange, with the listener's redirect URI
          assert.deepStrictEqual((yield* SimulatorConsents.stats(sim, { clientId })).byConsent, { acme: 1 })
          const secrets = yield* issuedSecrets(sim, clientId)
          assertNoSecret(connected, ...secrets, "code.acme")
          assertNoSecret(me, ...secrets)
          for (const secret of [demoSecret, ...secrets, "code.acme"]) assert.notInclude(connected.page, secret)
        }),
      120_000
    )

    it.effect("request: an authenticated call, pretty JSON on stdout", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("cli-request")
        const result = yield* cli(["request", "GET", "/advertisers/me"], envFor(sim, clientId))
        assert.strictEqual(result.code, 0, result.stderr)
        const body = JSON.parse(result.stdout)
        assert.strictEqual(body.data[0].type, "advertiser")
        assert.include(result.stdout, "\n  ")
        const [call] = yield* sim.apiRequests()
        assert.strictEqual(call.status, 200)
        assertNoSecret(result)
      }), 60_000)

    it.effect("a wrong secret: one sentence, exit 4, the wrong secret not printed", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const result = yield* cli(["token"], envFor(sim, CriteoSimulator.clientId("cli-bad"), "wrong-secret-value"))
        assert.strictEqual(result.code, 4)
        assert.notInclude(result.stderr, "    at ")
        assertNoSecret(result, "wrong-secret-value")
      }), 60_000)

    it.effect("consent revoked: exit 6 on the API's 403, and no token requested for it", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("cli-consent")
        yield* sim.revokeConsent
        const result = yield* cli(["request", "GET", "/advertisers/me"], envFor(sim, clientId))
        assert.strictEqual(result.code, 6, result.stderr)
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 1)
        assertNoSecret(result)
      }), 60_000)

    it.effect("the token endpoint down (503): exit 9 after bounded retries", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        const clientId = CriteoSimulator.clientId("cli-down")
        yield* sim.setFault("token", Fault.serverError(503))
        const result = yield* cli(["token"], envFor(sim, clientId))
        assert.strictEqual(result.code, 9, result.stderr)
        assert.strictEqual((yield* sim.tokenRequests({ clientId })).length, 2)
      }), 60_000)

    it.effect("the token endpoint rate-limiting: exit 8", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        yield* sim.setFault("token", Fault.rateLimit({ resetAfter: Duration.hours(1) }))
        const result = yield* cli(["token"], envFor(sim, CriteoSimulator.clientId("cli-429")))
        assert.strictEqual(result.code, 8, result.stderr)
      }), 60_000)

    it.effect("a connection reset: exit 10", () =>
      Effect.gen(function*() {
        const sim = yield* fresh
        yield* sim.setFault("token", Fault.connectionReset)
        const result = yield* cli(["token"], envFor(sim, CriteoSimulator.clientId("cli-reset")))
        assert.strictEqual(result.code, 10, result.stderr)
        yield* sim.clearFaults()
      }), 60_000)
  }
)
