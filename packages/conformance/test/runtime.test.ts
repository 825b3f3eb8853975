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

describe("runtimes", () => {
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
