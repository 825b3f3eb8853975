/**
 * The `criteo-conformance` executable (see `ConformanceCli`).
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ConformanceCli from "../ConformanceCli.js"
import * as Signals from "../internal/signals.js"

// SIGINT/SIGTERM/SIGHUP stop the run through its scope: simulator, adapters and temporary files go with it.
Signals.guard()

ConformanceCli.run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      const code = Exit.isSuccess(exit) && typeof exit.value === "number"
        ? exit.value
        : Signals.interruptedExitCode() ?? 130
      // Exit once stdout and stderr are flushed: a pipe may be asynchronous.
      // Exit even if a handle (a child's pipe) is still open: the run is over.
      process.stdout.write("", () =>
        process.stderr.write("", () => {
          onExit(code)
          process.exit(code)
        }))
    }
  })
)
