/**
 * The Criteo simulator: WireMock serving the fixtures of `fixtures/` (Criteo's token endpoint and a few
 * API reads, with their errors, expiry, consent and rate limits), in a container or in a local JVM,
 * started with its scope and stopped with it, plus the admin operations tests need.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as WireMockCaptain from "wiremock-captain"
import type * as Fault from "./Fault.js"
import * as AdminApi from "./internal/admin.js"
import * as ContainerRuntime from "./internal/containerRuntime.js"
import * as Mappings from "./internal/mappings.js"
import { defaultFixturesDir } from "./internal/paths.js"
import * as ProcessRuntime from "./internal/processRuntime.js"
import * as Journal from "./Journal.js"
import * as SimulatorError from "./SimulatorError.js"

/**
 * The official WireMock image at the version of the npm jar. On machines without a registry,
 * `docker/build-offline-image.sh` builds an equivalent image under this name.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultImage = "wiremock/wiremock:3.13.2"

/**
 * Where the simulator listens by default: the loopback interface only (see `Options.bindAddress`).
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultBindAddress = "127.0.0.1"

/**
 * Criteo's token lifetime, the simulator's default.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTokenLifetime: Duration.Duration = Duration.seconds(900)

/**
 * The API versions the fixtures know: the current one, one in its last months (answers carry
 * `Deprecation` and `Sunset`), one decommissioned (410 Gone).
 *
 * @since 0.1.0
 * @category constants
 */
export const apiVersions = {
  current: "2026-07",
  deprecated: "2026-01",
  decommissioned: "2025-10"
} as const

/**
 * The credentials the fixtures accept. Any client id `demo-client-<suffix>` is accepted too, with the
 * same secret, so that each test can use its own and find its own requests in the journal.
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoCredentials {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** The authorization code of the demo consent: it works once (until `reset`). */
  readonly authorizationCode: Redacted.Redacted<string>
  /** The redirect URI the code was issued for: it must be sent exactly. */
  readonly redirectUri: string
}

/**
 * @since 0.1.0
 * @category constants
 */
export const demoCredentials: DemoCredentials = {
  clientId: "demo-client",
  clientSecret: Redacted.make("demo-secret"),
  authorizationCode: Redacted.make("demo-code"),
  redirectUri: "https://localhost:8443/criteo/callback"
}

/**
 * A client id the fixtures accept (`demo-client-<suffix>`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientId = (suffix: string): string => `demo-client-${suffix.replace(/[^A-Za-z0-9_.-]/g, "-")}`

/**
 * @since 0.1.0
 * @category models
 */
export type Runtime = "container" | "process"

/**
 * @since 0.1.0
 * @category models
 */
export interface JournalFilter {
  /** Only requests of this client id (token requests: the `client_id` form field). */
  readonly clientId?: string | undefined
  /** Only requests received at or after this instant. */
  readonly since?: DateTime.DateTime | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface FaultOptions {
  /**
   * Apply the fault to the next `times` matching requests only, then answer normally again. Default:
   * until `clearFaults` or `reset`. Not available for latency.
   */
  readonly times?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where the simulator runs. */
  readonly runtime: Runtime
  /** `http://127.0.0.1:<port>`: the API host, to use in place of `https://api.criteo.com`. */
  readonly baseUrl: string
  /** `<baseUrl>/oauth2/token`. */
  readonly tokenUrl: string
  readonly credentials: DemoCredentials
  /** The lifetime of the tokens it issues (`expires_in`). */
  readonly tokenLifetime: Duration.Duration
  /** Expires, at once, every token issued so far; tokens issued afterwards are valid. */
  readonly expireTokens: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** The API answers 403 and refresh tokens are refused (invalid_grant) until `restoreConsent`. */
  readonly revokeConsent: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  readonly restoreConsent: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Makes the token endpoint or the API misbehave. Faults add up; `clearFaults` removes them. */
  readonly setFault: (
    target: Fault.Target,
    fault: Fault.Fault,
    options?: FaultOptions
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Removes the faults of one target, or of both. */
  readonly clearFaults: (target?: Fault.Target) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /**
   * Adds a WireMock stub mapping (WireMock's JSON format) for anything the fixtures and faults do not
   * cover, e.g. a token endpoint answer for one client id. `reset` removes it. Its `metadata` gets
   * `simulator: "custom"`.
   */
  readonly addStub: (
    mapping: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Removes the stubs added with `addStub` whose metadata contains `metadata`. */
  readonly removeStubs: (
    metadata: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Removes the journal entries matching a WireMock request pattern (e.g. `{ headers: { Host: ... } }`). */
  readonly removeRequests: (
    pattern: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Sets a scenario of the fixtures (`authorization`, `consent`, ...) to a state (`Started`: its start). */
  readonly setScenarioState: (name: string, state: string) => Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Back to the state at start: stubs from the fixtures, empty journal, scenarios at their start. */
  readonly reset: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** Empties the request journal only. */
  readonly clearJournal: Effect.Effect<void, SimulatorError.SimulatorAdminError>
  /** The token requests received, oldest first. */
  readonly tokenRequests: (
    filter?: JournalFilter
  ) => Effect.Effect<ReadonlyArray<Journal.TokenRequest>, SimulatorError.SimulatorAdminError>
  /** The API requests received, oldest first. */
  readonly apiRequests: (
    filter?: JournalFilter
  ) => Effect.Effect<ReadonlyArray<Journal.ApiRequest>, SimulatorError.SimulatorAdminError>
  /** Both, from one read of the journal. */
  readonly requests: (filter?: JournalFilter) => Effect.Effect<
    {
      readonly tokenRequests: ReadonlyArray<Journal.TokenRequest>
      readonly apiRequests: ReadonlyArray<Journal.ApiRequest>
    },
    SimulatorError.SimulatorAdminError
  >
  /**
   * `<baseUrl>/__admin`: WireMock's admin API (see its docs), for anything the operations above do not
   * cover.
   *
   * @since 0.2.0
   */
  readonly adminUrl: string
  /**
   * wiremock-captain on this simulator.
   *
   * @deprecated Since 0.2.0: the simulator no longer uses wiremock-captain, and its type ties this API to
   * that package. Use `addStub` / `removeStubs` / `removeRequests` / `setScenarioState`, or call WireMock's
   * admin API at `adminUrl` (or `new WireMock(sim.baseUrl)` from wiremock-captain yourself). To be removed
   * in 0.3.0.
   */
  readonly admin: WireMockCaptain.WireMock
}

/**
 * The `CRITEO_*` environment variables that point the `criteo-auth` CLI, `CriteoConfig` (and any client
 * reading them) at a simulator, with the demo client's credentials and the current API version. The secret
 * is the fixtures' public demo secret.
 *
 * @since 0.2.0
 * @category accessors
 */
export const clientEnvironment = (
  sim: Pick<Service, "baseUrl" | "tokenUrl" | "credentials">
): Readonly<Record<string, string>> => ({
  CRITEO_CLIENT_ID: sim.credentials.clientId,
  CRITEO_CLIENT_SECRET: Redacted.value(sim.credentials.clientSecret),
  CRITEO_TOKEN_URL: sim.tokenUrl,
  CRITEO_API_URL: sim.baseUrl,
  CRITEO_API_VERSION: apiVersions.current
})

/**
 * @since 0.1.0
 * @category tags
 */
export class CriteoSimulator extends Context.Tag("@criteo-auth/conformance/CriteoSimulator")<
  CriteoSimulator,
  Service
>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * `"container"`: testcontainers with `image`; `"process"`: a JVM on the npm `wiremock` jar; `"auto"`
   * (default): a container when a container runtime answers, else Java, else `SimulatorUnavailableError`.
   */
  readonly runtime?: "auto" | Runtime | undefined
  /** The lifetime of issued tokens, in whole seconds (at least 1). Default 900 s. */
  readonly tokenLifetime?: Duration.DurationInput | undefined
  /** The host port to listen on. Default 0: any free port. */
  readonly port?: number | undefined
  /**
   * The host address to listen on (the process runtime) or publish the container's port on. Default
   * `127.0.0.1`: WireMock's admin API (`/__admin`) has no authentication — whoever reaches it can read the
   * journal, add proxy stubs that make the simulator fetch any URL, or shut it down. Give `0.0.0.0` (or
   * another address) only to expose it deliberately, on a network you trust.
   *
   * @since 0.2.0
   */
  readonly bindAddress?: string | undefined
  /** The image of the container runtime. Default `wiremock/wiremock:3.13.2`. */
  readonly image?: string | undefined
  /** The java executable of the process runtime. Default `$JAVA_HOME/bin/java`, else `java`. */
  readonly java?: string | undefined
  /** The folder with `mappings/` and `__files/`. Default the repository's `fixtures/`. */
  readonly fixturesDir?: string | undefined
  /** How long the simulator may take to become healthy. Default 60 s. */
  readonly startupTimeout?: Duration.DurationInput | undefined
  /** How long to wait for a container runtime to answer (`auto`). Default 5 s. */
  readonly detectTimeout?: Duration.DurationInput | undefined
}

const wholeSeconds = (input: Duration.DurationInput | undefined) => {
  const seconds = Math.round(Duration.toSeconds(Duration.decode(input ?? defaultTokenLifetime)))
  return Math.max(1, seconds)
}

interface Started {
  readonly runtime: Runtime
  readonly baseUrl: string
}

const isWildcard = (options: Options) => ["0.0.0.0", "::", ""].includes(options.bindAddress ?? defaultBindAddress)

/** The address this process reaches the simulator on: loopback when it listens on every interface. */
const reachableHost = (options: Options) => {
  const bind = options.bindAddress ?? defaultBindAddress
  if (isWildcard(options)) return "127.0.0.1"
  return bind.includes(":") ? `[${bind}]` : bind
}

/** What either runtime is given: the options it shares with the other, with their defaults. */
const launchOptions = (options: Options, environment: Record<string, string>, startupTimeout: Duration.Duration) => ({
  fixturesDir: options.fixturesDir ?? defaultFixturesDir(),
  environment,
  port: options.port ?? 0,
  bindAddress: options.bindAddress ?? defaultBindAddress,
  startupTimeout,
  wiremockArgs
})

type LaunchOptions = ReturnType<typeof launchOptions>

const startProcess = (options: Options, launch: LaunchOptions) =>
  Effect.gen(function*() {
    const java = options.java ?? ProcessRuntime.defaultJava()
    yield* ProcessRuntime.detectJava(java).pipe(
      Effect.mapError((reason) =>
        new SimulatorError.SimulatorUnavailableError({ runtime: "process", reasons: [reason] })
      )
    )
    const { port } = yield* ProcessRuntime.start({ ...launch, java })
    return { runtime: "process" as const, baseUrl: `http://${reachableHost(options)}:${port}` }
  })

const startContainer = (options: Options, launch: LaunchOptions) =>
  Effect.map(
    ContainerRuntime.start({ ...launch, image: options.image ?? defaultImage }),
    // On every interface, the engine's host (a remote engine's included) is where the port is; else the
    // address it is published on.
    ({ host, port }) => ({
      runtime: "container" as const,
      baseUrl: `http://${isWildcard(options) ? host : reachableHost(options)}:${port}`
    })
  )

// Enough threads for many clients held by delayed answers at once (the default is 25).
const wiremockArgs = ["--max-request-journal-entries", "2000", "--container-threads", "100"]

const startRuntime = (
  options: Options,
  environment: Record<string, string>
): Effect.Effect<
  Started,
  SimulatorError.SimulatorUnavailableError | SimulatorError.SimulatorStartError,
  Scope.Scope
> => {
  const launch = launchOptions(options, environment, Duration.decode(options.startupTimeout ?? Duration.seconds(60)))
  const detectTimeout = options.detectTimeout ?? Duration.seconds(5)
  const runtime = options.runtime ?? "auto"
  if (runtime === "process") return startProcess(options, launch)
  const detected = ContainerRuntime.detect(detectTimeout)
  if (runtime === "container") {
    return detected.pipe(
      Effect.mapError((reason) =>
        new SimulatorError.SimulatorUnavailableError({ runtime: "container", reasons: [reason] })
      ),
      Effect.zipRight(startContainer(options, launch))
    )
  }
  /** Java, after the container runtime gave `containerReason`; if Java is unavailable too, both reasons. */
  const javaAfter = (containerReason: string) =>
    startProcess(options, launch).pipe(
      Effect.catchTag("SimulatorUnavailableError", (javaError) =>
        Effect.fail(
          new SimulatorError.SimulatorUnavailableError({
            runtime: "auto",
            reasons: [containerReason, ...javaError.reasons]
          })
        ))
    )
  // auto: a container when a runtime answers (falling back to Java if the container cannot start), else Java.
  return detected.pipe(
    Effect.matchEffect({
      onSuccess: () =>
        startContainer(options, launch).pipe(
          Effect.catchTag("SimulatorStartError", (containerError) =>
            Effect.logWarning(`CriteoSimulator: ${containerError.message}; trying Java`).pipe(
              Effect.zipRight(javaAfter(containerError.reason))
            ))
        ),
      onFailure: javaAfter
    })
  )
}

/**
 * Starts the simulator; it stops when the scope closes.
 *
 * @example
 * ```ts
 * import { CriteoSimulator } from "@criteo-auth/conformance"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Console, Effect, Redacted } from "effect"
 *
 * // WireMock playing Criteo (a local JVM, or a container when Docker answers), stopped when the scope closes.
 * export const program = Effect.gen(function*() {
 *   const sim = yield* CriteoSimulator.make({ runtime: "auto", port: 0 })
 *   const { clientId, clientSecret } = sim.credentials
 *   yield* Console.log(`POST ${sim.tokenUrl} with ${clientId} / ${Redacted.value(clientSecret)}`)
 * }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Service, SimulatorError.SimulatorError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const lifetimeSeconds = wholeSeconds(options.tokenLifetime)
    const tokenLifetime = Duration.seconds(lifetimeSeconds)
    const environment = { WIREMOCK_TOKEN_LIFETIME: String(lifetimeSeconds) }
    const started = yield* startRuntime(options, environment)
    const { baseUrl, runtime } = started
    const admin = yield* AdminApi.make(baseUrl)
    yield* admin.waitHealthy(Duration.decode(options.startupTimeout ?? Duration.seconds(60))).pipe(
      Effect.mapError((reason) => new SimulatorError.SimulatorStartError({ runtime, reason }))
    )
    yield* Effect.annotateLogsScoped({ "simulator.runtime": runtime, "simulator.base_url": baseUrl })

    /** Original stubs edited to add latency, by id, to put back on `clearFaults`. */
    const delayed = yield* Ref.make(new Map<string, unknown>())
    /** Numbers the scenarios of faults with `times`. */
    const faultCounter = yield* Ref.make(0)
    // WireMock compares token expiry instants with the wall clock: the cutoff of `expireTokens` must be
    // wall-clock time too, even when called from a test running on the TestClock. The clock of the
    // scope the simulator was started in is the live one.
    const clock = yield* Effect.clock

    /** Installs mappings of the builder (in order: a `times` chain is registered first to last). */
    const install = (operation: string, mappings: ReadonlyArray<Mappings.Mapping>) =>
      Effect.forEach(
        mappings,
        (mapping) =>
          admin.send(operation, HttpClientRequest.post("/mappings").pipe(HttpClientRequest.bodyUnsafeJson(mapping))),
        { discard: true }
      )

    const removeByMetadata = (operation: string, metadata: Readonly<Record<string, unknown>>) =>
      admin.send(
        operation,
        HttpClientRequest.post("/mappings/remove-by-metadata").pipe(
          HttpClientRequest.bodyUnsafeJson({ equalToJson: metadata })
        )
      )

    const expireTokens = Effect.gen(function*() {
      const issuedAt = yield* clock.currentTimeMillis
      const metadata = { simulator: "expiry", target: "api" }
      yield* removeByMetadata("expireTokens", metadata)
      yield* install("expireTokens", [{ ...Mappings.expired({ issuedAt, lifetime: tokenLifetime }), metadata }])
    }).pipe(Effect.withSpan("CriteoSimulator.expireTokens"))

    const setConsent = (operation: string, state: string | undefined) =>
      admin.send(
        operation,
        state === undefined
          ? HttpClientRequest.put("/scenarios/consent/state")
          : HttpClientRequest.put("/scenarios/consent/state").pipe(HttpClientRequest.bodyUnsafeJson({ state }))
      ).pipe(Effect.asVoid)

    // Latency slows the normal answers: the target's stubs are edited in place (their originals kept for
    // clearFaults), which only the owner of the whole simulator may do (a case uses `Mappings.lateAnswer`).
    const setLatency = (target: Fault.Target, delay: Duration.Duration) =>
      Effect.gen(function*() {
        const found = yield* admin.send(
          "setFault",
          HttpClientRequest.post("/mappings/find-by-metadata").pipe(
            HttpClientRequest.bodyUnsafeJson({ matchesJsonPath: { expression: "$.target", equalTo: target } })
          )
        )
        const mappings = (found.json as { mappings?: Array<Record<string, unknown>> }).mappings ?? []
        for (const mapping of mappings) {
          const id = String(mapping["id"])
          yield* Ref.update(delayed, (map) => map.has(id) ? map : new Map(map).set(id, mapping))
          const response = Mappings.withDelay(mapping["response"] as Record<string, unknown>, delay)
          yield* admin.send(
            "setFault",
            HttpClientRequest.put(`/mappings/${id}`).pipe(HttpClientRequest.bodyUnsafeJson({ ...mapping, response }))
          )
        }
      })

    const clearLatency = (target: Fault.Target | undefined) =>
      Effect.gen(function*() {
        const originals = yield* Ref.get(delayed)
        for (const [id, mapping] of originals) {
          const metadata = (mapping as { metadata?: { target?: string } }).metadata
          if (target !== undefined && metadata?.target !== target) continue
          yield* admin.send(
            "clearFaults",
            HttpClientRequest.put(`/mappings/${id}`).pipe(HttpClientRequest.bodyUnsafeJson(mapping)),
            { allowStatus: [404] }
          )
          yield* Ref.update(delayed, (map) => {
            const next = new Map(map)
            next.delete(id)
            return next
          })
        }
      })

    const setFault = (target: Fault.Target, fault: Fault.Fault, options: FaultOptions = {}) =>
      Effect.gen(function*() {
        if (fault._tag === "Latency") {
          if (options.times !== undefined) {
            return yield* new SimulatorError.SimulatorAdminError({
              operation: "setFault",
              detail: "latency applies until clearFaults: it takes no `times`"
            })
          }
          return yield* setLatency(target, fault.delay)
        }
        const scenarioName = `fault-${target}-${yield* Ref.updateAndGet(faultCounter, (n) => n + 1)}`
        yield* install(
          "setFault",
          Mappings.fault(target, fault, {
            times: options.times,
            scenarioName,
            metadata: { simulator: "fault", target }
          })
        )
      }).pipe(Effect.withSpan("CriteoSimulator.setFault", { attributes: { target, fault: fault._tag } }))

    const clearFaults = (target?: Fault.Target) =>
      Effect.forEach(
        target === undefined ? (["token", "api"] as const) : [target],
        (target) => removeByMetadata("clearFaults", { simulator: "fault", target }),
        { discard: true }
      ).pipe(
        Effect.zipRight(clearLatency(target)),
        Effect.withSpan("CriteoSimulator.clearFaults")
      )

    const addStub = (mapping: Readonly<Record<string, unknown>>) =>
      admin.send(
        "addStub",
        HttpClientRequest.post("/mappings").pipe(HttpClientRequest.bodyUnsafeJson({
          ...mapping,
          metadata: { ...(mapping["metadata"] as Record<string, unknown> | undefined), simulator: "custom" }
        }))
      ).pipe(Effect.asVoid)

    const removeStubs = (metadata: Readonly<Record<string, unknown>>) =>
      admin.send(
        "removeStubs",
        HttpClientRequest.post("/mappings/remove-by-metadata").pipe(
          HttpClientRequest.bodyUnsafeJson({
            equalToJson: { ...metadata, simulator: "custom" },
            ignoreExtraElements: true
          })
        )
      ).pipe(Effect.asVoid)

    const removeRequests = (pattern: Readonly<Record<string, unknown>>) =>
      admin.send(
        "removeRequests",
        HttpClientRequest.post("/requests/remove").pipe(HttpClientRequest.bodyUnsafeJson(pattern))
      ).pipe(Effect.asVoid)

    const setScenarioState = (name: string, state: string) =>
      admin.send(
        "setScenarioState",
        HttpClientRequest.put(`/scenarios/${encodeURIComponent(name)}/state`).pipe(
          HttpClientRequest.bodyUnsafeJson({ state })
        )
      ).pipe(Effect.asVoid)

    const reset = admin.send("reset", HttpClientRequest.post("/reset")).pipe(
      Effect.zipRight(Ref.set(delayed, new Map())),
      Effect.asVoid
    )

    const journal = Effect.flatMap(
      admin.send("journal", HttpClientRequest.get("/requests")),
      ({ json }) => admin.decode("journal", Journal.ServeEvents, json)
    )

    const sinceMillis = (filter: JournalFilter | undefined) =>
      filter?.since === undefined ? -Infinity : DateTime.toEpochMillis(filter.since)

    const tokenRequestsOf = (
      requests: ReadonlyArray<typeof Journal.ServeEvents.Type["requests"][number]>,
      filter?: JournalFilter
    ) =>
      requests
        .filter(Journal.isTokenEvent)
        .map(Journal.toTokenRequest)
        .filter((entry) =>
          (filter?.clientId === undefined || entry.clientId === filter.clientId) &&
          DateTime.toEpochMillis(entry.loggedAt) >= sinceMillis(filter)
        )
        .sort((a, b) => DateTime.toEpochMillis(a.loggedAt) - DateTime.toEpochMillis(b.loggedAt))

    const apiRequestsOf = (
      requests: ReadonlyArray<typeof Journal.ServeEvents.Type["requests"][number]>,
      filter?: JournalFilter
    ) =>
      requests
        .filter((event) => !Journal.isTokenEvent(event))
        .map(Journal.toApiRequest)
        .filter((entry) => DateTime.toEpochMillis(entry.loggedAt) >= sinceMillis(filter))
        .sort((a, b) => DateTime.toEpochMillis(a.loggedAt) - DateTime.toEpochMillis(b.loggedAt))

    const tokenRequests = (filter?: JournalFilter) =>
      Effect.map(journal, ({ requests }) => tokenRequestsOf(requests, filter))

    const apiRequests = (filter?: JournalFilter) =>
      Effect.map(journal, ({ requests }) => apiRequestsOf(requests, filter))

    const requests = (filter?: JournalFilter) =>
      Effect.map(journal, ({ requests }) => ({
        tokenRequests: tokenRequestsOf(requests, filter),
        apiRequests: apiRequestsOf(requests, filter)
      }))

    yield* Effect.logDebug(`CriteoSimulator: ${runtime} runtime ready at ${baseUrl}`)

    return CriteoSimulator.of({
      runtime,
      baseUrl,
      tokenUrl: `${baseUrl}${Journal.tokenPath}`,
      credentials: demoCredentials,
      tokenLifetime,
      expireTokens,
      revokeConsent: setConsent("revokeConsent", "revoked"),
      restoreConsent: setConsent("restoreConsent", undefined),
      setFault,
      clearFaults,
      addStub,
      removeStubs,
      removeRequests,
      setScenarioState,
      reset,
      clearJournal: admin.send("clearJournal", HttpClientRequest.del("/requests")).pipe(Effect.asVoid),
      tokenRequests,
      apiRequests,
      requests,
      adminUrl: `${baseUrl}/__admin`,
      admin: new WireMockCaptain.WireMock(baseUrl)
    })
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CriteoSimulator, SimulatorError.SimulatorError, HttpClient.HttpClient> =>
  Layer.scoped(CriteoSimulator, make(options))

/**
 * Whether a container runtime answers within `timeout` (default 5 s): what `runtime: "auto"` checks.
 *
 * @since 0.1.0
 * @category runtimes
 */
export const containerRuntimeAvailable = (
  timeout: Duration.DurationInput = Duration.seconds(5)
): Effect.Effect<boolean> =>
  Effect.match(ContainerRuntime.detect(timeout), { onFailure: () => false, onSuccess: () => true })

/**
 * Whether Java 11+ runs (`$JAVA_HOME/bin/java`, else `java`): what the `process` runtime needs.
 *
 * @since 0.1.0
 * @category runtimes
 */
export const javaAvailable = (java?: string): Effect.Effect<boolean> =>
  Effect.match(ProcessRuntime.detectJava(java ?? ProcessRuntime.defaultJava()), {
    onFailure: () => false,
    onSuccess: () => true
  })
