/**
 * The simulator suite over the container runtime. In CI (CI=true) a missing container runtime fails the
 * suite: the layer cannot be built. Elsewhere the suite is skipped, saying why.
 */
import { CriteoSimulator } from "@criteo-auth/conformance"
import { describe } from "@effect/vitest"
import { Effect } from "effect"
import { simulatorSuite } from "./simulatorSuite.js"

const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"
const available = await Effect.runPromise(CriteoSimulator.containerRuntimeAvailable())

if (available || inCi) {
  simulatorSuite("container")
} else {
  describe.skip("simulator (container): no container runtime answered; install and start Docker", () => {})
}
