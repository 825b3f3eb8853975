import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      name: "conformance",
      // Each file starts its own simulator (a JVM or a container): with two cores, one file at a time.
      fileParallelism: false,
      testTimeout: 60_000,
      hookTimeout: 120_000
    }
  })
)
