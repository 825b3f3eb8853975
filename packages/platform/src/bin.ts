#!/usr/bin/env node
/**
 * The `criteo-auth` executable.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as CriteoCli from "./CriteoCli.js"

CriteoCli.run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      const code = Exit.isSuccess(exit)
        ? (typeof exit.value === "number" ? exit.value : CriteoCli.ExitCode.Unexpected)
        : Cause.isInterruptedOnly(exit.cause)
        ? CriteoCli.ExitCode.Interrupted
        : CriteoCli.ExitCode.Unexpected
      // Exit only once what was written to stdout and stderr has been handed to the OS: a pipe may be
      // asynchronous, and `process.exit` would drop the end of the output.
      process.stdout.write("", () => process.stderr.write("", () => onExit(code)))
    }
  })
)
