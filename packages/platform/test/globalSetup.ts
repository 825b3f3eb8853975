import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * Compiles core and platform, with the tests and examples (`tsc -b`, incremental), before the tests:
 * the command-line tests run `dist/bin.js` with plain Node.js, as users do, and the README's example
 * runs compiled too.
 */
export default function setup(): void {
  const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  execFileSync(process.execPath, [tsc, "-b", path.join(packageDir, "tsconfig.json")], {
    cwd: packageDir,
    stdio: "inherit"
  })
}
