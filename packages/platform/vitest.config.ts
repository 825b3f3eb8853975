import { defineConfig, mergeConfig } from "vitest/config"
import shared from "../../vitest.shared.js"

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      name: "platform",
      // The command-line tests run the compiled `criteo-auth` bin as a subprocess: build it first.
      globalSetup: ["./test/globalSetup.ts"]
    }
  })
)
