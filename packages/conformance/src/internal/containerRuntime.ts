/**
 * The `container` runtime: the WireMock image (official name, or the offline build tagged with it) run
 * with testcontainers, the fixtures copied in before start, stopped and removed when the scope closes.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import type * as Testcontainers from "testcontainers"
import * as SimulatorError from "../SimulatorError.js"

export interface ContainerOptions {
  readonly image: string
  readonly fixturesDir: string
  readonly environment: Readonly<Record<string, string>>
  readonly port: number
  /** The host address the port is published on: `127.0.0.1` unless exposing it is deliberate. */
  readonly bindAddress: string
  readonly startupTimeout: Duration.Duration
  readonly wiremockArgs: ReadonlyArray<string>
}

/**
 * Ryuk (testcontainers' reaper) is an image that cannot be pulled without a registry, and the scope
 * removes the container anyway; `localhost` is where a local engine publishes ports. Both are defaults
 * only: values set in the environment win.
 */
const setDefaults = () => {
  process.env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true"
  process.env["TESTCONTAINERS_HOST_OVERRIDE"] ??= "localhost"
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]

/**
 * testcontainers is an optional peer dependency of the published package (its native dependencies, ssh2 and
 * cpu-features, build at install time and hang without internet): loaded on first use, with a clear error
 * when it is not installed.
 */
const load: Effect.Effect<typeof Testcontainers, string> = Effect.tryPromise({
  try: () => {
    setDefaults()
    return import("testcontainers")
  },
  catch: (error) =>
    `the container runtime needs testcontainers (npm install testcontainers@11.14.0): ${describe(error)}`
})

/** Whether a container runtime answers, within `timeout`. */
export const detect = (timeout: Duration.DurationInput): Effect.Effect<string, string> =>
  load.pipe(
    Effect.flatMap((tc) =>
      Effect.tryPromise({
        try: () => tc.getContainerRuntimeClient(),
        catch: (error) => `no container runtime: ${describe(error)}`
      })
    ),
    Effect.map((client) => `${client.info.containerRuntime.host} (${client.info.node.version})`),
    Effect.timeoutFail({ duration: timeout, onTimeout: () => "no container runtime answered in time" })
  )

/**
 * testcontainers publishes ports on every interface (`0.0.0.0` and `[::]`) and has no option for the host
 * address: WireMock's admin API has no authentication, so the bindings it builds get a `HostIp` here.
 */
const publishOn = (tc: typeof Testcontainers, bindAddress: string) =>
  class extends tc.GenericContainer {
    override withExposedPorts(...ports: Array<Testcontainers.PortWithOptionalBinding>) {
      super.withExposedPorts(...ports)
      const bindings = this.hostConfig.PortBindings as Record<string, Array<Record<string, string>>> | undefined
      for (const list of Object.values(bindings ?? {})) {
        for (const binding of list) binding["HostIp"] = bindAddress
      }
      return this
    }
  }

const instanceLabel = "io.criteo-auth.simulator.instance"

const removeInstance = (tc: typeof Testcontainers, instance: string) =>
  Effect.tryPromise(async () => {
    const client = await tc.getContainerRuntimeClient()
    const docker = client.container.dockerode
    const containers = await docker.listContainers({ all: true, filters: { label: [`${instanceLabel}=${instance}`] } })
    for (const { Id } of containers) await docker.getContainer(Id).remove({ force: true, v: true })
  }).pipe(
    Effect.timeout(Duration.seconds(20)),
    Effect.catchAllCause((cause) => Effect.logWarning("CriteoSimulator: could not remove the failed container", cause))
  )

/** Starts the container; stops and removes it when the scope closes. */
export const start = (
  options: ContainerOptions
): Effect.Effect<
  { readonly host: string; readonly port: number; readonly id: string },
  SimulatorError.SimulatorStartError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const tc = yield* Effect.mapError(
      load,
      (reason) => new SimulatorError.SimulatorStartError({ runtime: "container", reason })
    )
    const instance = Crypto.randomUUID()
    const startupMillis = Duration.toMillis(options.startupTimeout)
    const Container = publishOn(tc, options.bindAddress)
    const container = new Container(options.image)
      .withExposedPorts(options.port === 0 ? 8080 : { container: 8080, host: options.port })
      .withEnvironment({ ...options.environment })
      .withCommand(["--disable-banner", ...options.wiremockArgs])
      .withCopyDirectoriesToContainer([
        { source: Path.join(options.fixturesDir, "mappings"), target: "/home/wiremock/mappings" },
        { source: Path.join(options.fixturesDir, "__files"), target: "/home/wiremock/__files" }
      ])
      .withLabels({ "io.criteo-auth.simulator": "true", [instanceLabel]: instance })
      .withWaitStrategy(tc.Wait.forHttp("/__admin/health", 8080).forStatusCode(200))
      .withStartupTimeout(startupMillis)
    const started = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => container.start(),
        catch: (error) =>
          new SimulatorError.SimulatorStartError({
            runtime: "container",
            reason: `cannot start ${options.image}: ${describe(error)}`
          })
      }).pipe(
        // testcontainers enforces the startup timeout itself; this bound only guards against a hung engine.
        Effect.timeoutFail({
          duration: Duration.sum(options.startupTimeout, Duration.seconds(30)),
          onTimeout: () =>
            new SimulatorError.SimulatorStartError({
              runtime: "container",
              reason: `the container engine did not start ${options.image} in time`
            })
        }),
        // testcontainers leaves the container behind when it fails to start it (a port already taken, a
        // failed health check): remove it.
        Effect.tapError(() => removeInstance(tc, instance))
      ),
      (started: Testcontainers.StartedTestContainer) =>
        Effect.promise(() => started.stop({ timeout: 5_000, remove: true, removeVolumes: true })).pipe(
          Effect.timeout(Duration.seconds(30)),
          Effect.catchAllCause((cause) => Effect.logWarning("CriteoSimulator: could not stop the container", cause))
        )
    )
    const host = started.getHost()
    return {
      host: host === "localhost" ? "127.0.0.1" : host,
      port: started.getMappedPort(8080),
      id: started.getId()
    }
  })
