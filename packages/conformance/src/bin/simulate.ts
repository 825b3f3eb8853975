/**
 * `pnpm simulate`: runs the Criteo simulator in the foreground for offline development, prints where it
 * is, the demo credentials and curl commands that work as pasted; Ctrl-C stops it (JVM or container).
 *
 *   pnpm simulate [--runtime auto|container|process] [--port 8080] [--token-lifetime 900] [--bind 127.0.0.1]
 *
 * The same settings can come from CRITEO_SIMULATOR_RUNTIME, CRITEO_SIMULATOR_PORT,
 * CRITEO_SIMULATOR_TOKEN_LIFETIME (seconds) and CRITEO_SIMULATOR_BIND.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { parseArgs } from "node:util"
import * as CriteoSimulator from "../CriteoSimulator.js"
import * as Signals from "../internal/signals.js"

const usage = `Usage: pnpm simulate [--runtime auto|container|process] [--port PORT] [--token-lifetime SECONDS]
                     [--bind ADDRESS]

Runs the Criteo simulator (WireMock with the fixtures of fixtures/) until Ctrl-C.
  --runtime         auto (default): a container if Docker answers, else a local JVM
  --port            the port to listen on (default 8080; 0 for any free port)
  --token-lifetime  the lifetime of issued tokens in seconds (default 900, Criteo's)
  --bind            the address to listen on (default 127.0.0.1). WireMock's admin API has no
                    authentication: give 0.0.0.0 only to expose it deliberately, on a network you trust
Environment: CRITEO_SIMULATOR_RUNTIME, CRITEO_SIMULATOR_PORT, CRITEO_SIMULATOR_TOKEN_LIFETIME,
CRITEO_SIMULATOR_BIND.`

const { values: flags } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    runtime: { type: "string" },
    port: { type: "string" },
    "token-lifetime": { type: "string" },
    bind: { type: "string" },
    help: { type: "boolean", short: "h" }
  }
})

const settings = Config.all({
  runtime: Config.literal("auto", "container", "process")("CRITEO_SIMULATOR_RUNTIME").pipe(
    Config.withDefault("auto" as const)
  ),
  port: Config.integer("CRITEO_SIMULATOR_PORT").pipe(Config.withDefault(8080)),
  tokenLifetime: Config.integer("CRITEO_SIMULATOR_TOKEN_LIFETIME").pipe(Config.withDefault(900)),
  bind: Config.string("CRITEO_SIMULATOR_BIND").pipe(Config.withDefault(CriteoSimulator.defaultBindAddress))
})

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

const listening = (bindAddress: string) =>
  bindAddress === CriteoSimulator.defaultBindAddress
    ? " It listens on 127.0.0.1 only (--bind 0.0.0.0 exposes it, admin API included)."
    : ` It listens on ${bindAddress}: the admin API (no authentication) is exposed there too.`

const banner = (sim: CriteoSimulator.Service, bindAddress: string) => {
  const { clientId, redirectUri } = sim.credentials
  const secret = Redacted.value(sim.credentials.clientSecret)
  const code = Redacted.value(sim.credentials.authorizationCode)
  const versions = CriteoSimulator.apiVersions
  const tokenRequest = [
    `curl --location --request POST ${quote(sim.tokenUrl)}`,
    `--header 'Content-Type: application/x-www-form-urlencoded'`,
    `--data-urlencode ${quote(`client_id=${clientId}`)}`,
    `--data-urlencode ${quote(`client_secret=${secret}`)}`,
    `--data-urlencode 'grant_type=client_credentials'`
  ].join(" ")
  const apiUrl = `${sim.baseUrl}/${versions.current}/advertisers/me`
  return [
    "",
    `Criteo simulator (${sim.runtime} runtime) listening on ${sim.baseUrl}`,
    "",
    `  token endpoint      ${sim.tokenUrl}`,
    `  API                 ${apiUrl}`,
    `                      also /marketing-solutions/campaigns/{id} and /retail-media/accounts;`,
    `                      ${versions.deprecated} is deprecated (Deprecation, Sunset), ${versions.decommissioned} is gone (410)`,
    `  client id           ${clientId}   (or demo-client-<anything>, same secret)`,
    `  client secret       ${secret}`,
    `  authorization code  ${code}   (works once; redirect_uri ${redirectUri})`,
    `  token lifetime      ${Duration.format(sim.tokenLifetime)}`,
    `  WireMock admin      ${sim.baseUrl}/__admin   (scenarios and admin calls: fixtures/README.md)`,
    "",
    "Get a token (Criteo's own sample request):",
    "",
    `  ${tokenRequest}`,
    "",
    "Get a token and call the API with it:",
    "",
    `  TOKEN=$(${tokenRequest} --silent | sed -n 's/.*"access_token": *"\\([^"]*\\)".*/\\1/p')`,
    `  curl ${quote(apiUrl)} --header "Authorization: Bearer $TOKEN"`,
    "",
    "Point the criteo-auth CLI (or any client reading CRITEO_*) at it (packages/platform/README.md):",
    "",
    ...Object.entries(CriteoSimulator.clientEnvironment(sim)).map(([name, value]) =>
      `  export ${name}=${/^[A-Za-z0-9_.:/@-]+$/.test(value) ? value : quote(value)}`
    ),
    "  criteo-auth token",
    "  criteo-auth request GET /advertisers/me",
    "",
    `Ctrl-C stops the simulator.${listening(bindAddress)}`,
    ""
  ].join("\n")
}

const main = Effect.gen(function*() {
  if (flags.help === true) return yield* Console.log(usage)
  const env = yield* settings
  const runtime = flags.runtime ?? env.runtime
  if (runtime !== "auto" && runtime !== "container" && runtime !== "process") {
    return yield* Effect.fail(`--runtime must be auto, container or process, got ${runtime}`)
  }
  const port = flags.port === undefined ? env.port : Number(flags.port)
  const tokenLifetime = flags["token-lifetime"] === undefined ? env.tokenLifetime : Number(flags["token-lifetime"])
  if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* Effect.fail(`invalid port ${flags.port}`)
  if (!Number.isInteger(tokenLifetime) || tokenLifetime < 1) {
    return yield* Effect.fail(`--token-lifetime must be a whole number of seconds, got ${flags["token-lifetime"]}`)
  }
  yield* Console.log(`Starting the Criteo simulator (runtime: ${runtime})...`)
  const bindAddress = flags.bind ?? env.bind
  const sim = yield* CriteoSimulator.make({
    runtime,
    port,
    bindAddress,
    tokenLifetime: Duration.seconds(tokenLifetime)
  })
  yield* Effect.addFinalizer(() => Console.log(`\nCriteo simulator (${sim.runtime}) stopped.`))
  yield* Console.log(banner(sim, bindAddress))
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(NodeHttpClient.layerUndici),
  Effect.tapError((error) => Console.error(typeof error === "string" ? error : error.message))
)

// Ctrl-C (or SIGTERM, or a closed terminal) stops the simulator through the scope (see internal/signals.ts);
// stopping it that way is how it is meant to end: exit code 0, so `pnpm` reports no failure.
Signals.guard()

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) =>
    onExit(
      Exit.isSuccess(exit) || (Cause.isInterruptedOnly(exit.cause) && Signals.receivedSignal() !== undefined) ? 0 : 1
    )
})
