/**
 * Runtime selection and lifecycle: `auto` picks a container runtime when one answers, else Java; a
 * missing runtime is a typed error that says what to install; nothing outlives the scope, even when
 * the code using the simulator fails.
 */
import { CriteoSimulator, SimulatorError } from "@criteo-auth/conformance"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Ref } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"

const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"
const containers = await Effect.runPromise(CriteoSimulator.containerRuntimeAvailable())

/** Starts a simulator, fails inside its scope, and returns the base URL it had. */
const failInside = (options: CriteoSimulator.Options) =>
  Effect.gen(function*() {
    const url = yield* Ref.make("")
    const exit = yield* Effect.exit(Effect.scoped(
      Effect.gen(function*() {
        const sim = yield* CriteoSimulator.make(options)
        yield* Ref.set(url, sim.baseUrl)
        const client = yield* HttpClient.HttpClient
        const health = yield* client.get(`${sim.baseUrl}/__admin/health`)
        assert.strictEqual(health.status, 200)
        return yield* Effect.fail("the test failed" as const)
      })
    ))
    assert.isTrue(Exit.isFailure(exit))
    return yield* Ref.get(url)
  })

const refusesConnections = (baseUrl: string) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const error = yield* Effect.flip(
      client.get(`${baseUrl}/__admin/health`).pipe(Effect.timeout(Duration.seconds(5)))
    )
    assert.strictEqual(error._tag, "RequestError")
  })

/** The parts of dockerode's API the binding test reads. */
interface Docker {
  listContainers(options: object): Promise<Array<{ Id: string; Ports: Array<{ PublicPort?: number }> }>>
  getContainer(id: string): {
    inspect(): Promise<{
      HostConfig: { PortBindings?: Record<string, Array<{ HostIp: string }>> }
      NetworkSettings: { Ports?: Record<string, Array<{ HostIp: string }> | null> }
    }>
  }
}

/** This machine's addresses other than loopback (and link-local, which needs a zone). */
const otherAddresses = Object.values(Os.networkInterfaces()).flat().flatMap((info) =>
  info === undefined || info.internal || info.address.startsWith("fe80") ? [] : [info.address]
)

/** Whether a TCP connection to `host:port` is accepted (5 s at most). */
const accepts = (host: string, port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host, port, timeout: 5_000 })
    const done = (accepted: boolean) => {
      socket.destroy()
      resume(Effect.succeed(accepted))
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.once("timeout", () => done(false))
    return Effect.sync(() => socket.destroy())
  })

/** The simulator answers on loopback and on none of the machine's other addresses. */
const loopbackOnly = (baseUrl: string) =>
  Effect.gen(function*() {
    const port = Number(new URL(baseUrl).port)
    assert.isTrue(yield* accepts("127.0.0.1", port), "the simulator answers on 127.0.0.1")
    for (const address of otherAddresses) {
      assert.isFalse(yield* accepts(address, port), `the simulator must not answer on ${address}:${port}`)
    }
  })

describe("runtimes", () => {
  it("docker/compose.yaml publishes the simulator on 127.0.0.1 unless SIMULATOR_BIND says otherwise", () => {
    const compose = Fs.readFileSync(new URL("../../../docker/compose.yaml", import.meta.url), "utf8")
    const ports = compose.split("\n").filter((line) => /^\s+- "[^"]*:8080"$/.test(line))
    assert.deepStrictEqual(ports.map((line) => line.trim()), [
      `- "\${SIMULATOR_BIND:-127.0.0.1}:\${SIMULATOR_PORT:-8080}:8080"`
    ])
  })

  it.live(
    "process: the JVM listens on 127.0.0.1 only (WireMock's admin API has no authentication)",
    () =>
      Effect.gen(function*() {
        const sim = yield* CriteoSimulator.make({ runtime: "process" })
        yield* loopbackOnly(sim.baseUrl)
      }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)),
    { timeout: 120_000 }
  )

  it.live("process: a missing java is SimulatorUnavailableError saying to install Java 11+", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(CriteoSimulator.make({ runtime: "process", java: "/nonexistent/bin/java" }))
      )
      assert.strictEqual(error._tag, "SimulatorUnavailableError")
      assert.isTrue(SimulatorError.isSimulatorError(error))
      if (error._tag !== "SimulatorUnavailableError") return
      assert.strictEqual(error.runtime, "process")
      assert.include(error.message, "Java 11")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.live("auto with no usable runtime fails with a message naming Docker and Java", () =>
    Effect.sync(() => {
      const error = new SimulatorError.SimulatorUnavailableError({
        runtime: "auto",
        reasons: ["no container runtime: Could not find a working container runtime strategy", "no java found"]
      })
      assert.include(error.message, "Install and start Docker, or install Java 11 or later")
      assert.include(error.message, "no java found")
    }))

  it.live(
    `auto uses ${containers ? "the container runtime, without Java" : "Java when no container runtime answers"}`,
    () =>
      Effect.gen(function*() {
        if (containers) {
          const sim = yield* CriteoSimulator.make({ runtime: "auto", java: "/nonexistent/bin/java" })
          assert.strictEqual(sim.runtime, "container")
        } else {
          const sim = yield* CriteoSimulator.make({ runtime: "auto" })
          assert.strictEqual(sim.runtime, "process")
          const error = yield* Effect.flip(
            Effect.scoped(CriteoSimulator.make({ runtime: "auto", java: "/nonexistent/bin/java" }))
          )
          assert.strictEqual(error._tag, "SimulatorUnavailableError")
          assert.include(error.message, "Docker")
          assert.include(error.message, "Java 11")
        }
      }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)),
    { timeout: 120_000 }
  )

  it.live("process: the JVM is stopped when the scope closes on a failure", () =>
    Effect.gen(function*() {
      const baseUrl = yield* failInside({ runtime: "process" })
      assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      yield* refusesConnections(baseUrl)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)), { timeout: 120_000 })

  if (containers || inCi) {
    it.live(
      "container: the port is published on 127.0.0.1 only (WireMock's admin API has no authentication)",
      () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.make({ runtime: "container" })
          const port = new URL(sim.baseUrl).port
          const tc = yield* Effect.promise(() => import("testcontainers"))
          const docker = (yield* Effect.promise(() => tc.getContainerRuntimeClient())).container.dockerode as Docker
          const listed = yield* Effect.promise(() =>
            docker.listContainers({ filters: { label: ["io.criteo-auth.simulator=true"] } })
          )
          const mine = listed.filter((c) => c.Ports.some((p) => String(p.PublicPort) === port))
          assert.strictEqual(mine.length, 1, `one simulator container publishes port ${port}`)
          const inspected = yield* Effect.promise(() => docker.getContainer(mine[0].Id).inspect())
          const requested = Object.values(inspected.HostConfig.PortBindings ?? {}).flat()
          // Ports the image exposes but nobody publishes are listed as null.
          const published = Object.values(inspected.NetworkSettings.Ports ?? {}).flatMap((list) => list ?? [])
          assert.isAbove(published.length, 0)
          assert.deepStrictEqual(requested.map((b) => b.HostIp), ["127.0.0.1"])
          assert.deepStrictEqual([...new Set(published.map((b) => b.HostIp))], ["127.0.0.1"])
          yield* loopbackOnly(sim.baseUrl)
        }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)),
      { timeout: 120_000 }
    )

    it.live("container: the container is removed when the scope closes on a failure", () =>
      Effect.gen(function*() {
        const baseUrl = yield* failInside({ runtime: "container" })
        yield* refusesConnections(baseUrl)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)), { timeout: 120_000 })
  } else {
    it.live("container: a missing container runtime is SimulatorUnavailableError saying to install Docker", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Effect.scoped(CriteoSimulator.make({ runtime: "container" })))
        assert.strictEqual(error._tag, "SimulatorUnavailableError")
        assert.include(error.message, "Docker")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
  }
})
