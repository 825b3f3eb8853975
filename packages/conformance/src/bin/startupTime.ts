/**
 * `pnpm --filter @criteo-auth/conformance startup-time [runs]`: prints how long each runtime takes to
 * start the simulator (until WireMock answers its health check) and to stop it. A figure, not a test.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as CriteoSimulator from "../CriteoSimulator.js"

const runs = Math.max(1, Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 3))

const millis = (duration: Duration.Duration) => `${Math.round(Duration.toMillis(duration))} ms`

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const measure = (runtime: CriteoSimulator.Runtime) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const stops: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const scope = yield* Scope.make()
      const [started] = yield* Effect.timed(Scope.extend(CriteoSimulator.make({ runtime }), scope))
      const [stopped] = yield* Effect.timed(Scope.close(scope, Exit.void))
      starts.push(Duration.toMillis(started))
      stops.push(Duration.toMillis(stopped))
    }
    return [
      runtime.padEnd(10),
      `start median ${Math.round(median(starts))} ms (min ${Math.round(Math.min(...starts))}, max ${
        Math.round(Math.max(...starts))
      })`,
      `stop median ${Math.round(median(stops))} ms`
    ].join("  ")
  })

const main = Effect.gen(function*() {
  yield* Console.log(`Simulator startup time, ${runs} run${runs === 1 ? "" : "s"} per runtime (until healthy):`)
  const [detect, containers] = yield* Effect.timed(CriteoSimulator.containerRuntimeAvailable())
  const [javaCheck, java] = yield* Effect.timed(CriteoSimulator.javaAvailable())
  yield* Console.log(`  container runtime ${containers ? "answers" : "absent"} (checked in ${millis(detect)})`)
  yield* Console.log(`  java 11+ ${java ? "found" : "absent"} (checked in ${millis(javaCheck)})`)
  for (const [runtime, available] of [["process", java], ["container", containers]] as const) {
    if (!available) {
      yield* Console.log(`  ${runtime.padEnd(10)}  not available`)
      continue
    }
    const line = yield* measure(runtime).pipe(
      Effect.catchAll((error) => Effect.succeed(`${runtime.padEnd(10)}  failed: ${error.message}`))
    )
    yield* Console.log(`  ${line}`)
  }
}).pipe(Effect.provide(NodeHttpClient.layerUndici))

NodeRuntime.runMain(main)
