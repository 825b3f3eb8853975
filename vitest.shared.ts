import * as path from "node:path"
import type { ViteUserConfig } from "vitest/config"

const root = path.dirname(new URL(import.meta.url).pathname)

/**
 * Workspace packages resolve to their TypeScript sources in tests, so no build is needed first.
 */
const config: ViteUserConfig = {
  resolve: {
    alias: [
      { find: /^@criteo-auth\/([a-z-]+)$/, replacement: path.join(root, "packages/$1/src/index.ts") },
      { find: /^@criteo-auth\/([a-z-]+)\/(.*)$/, replacement: path.join(root, "packages/$1/src/$2.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    sequence: { concurrent: false },
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
}

export default config
