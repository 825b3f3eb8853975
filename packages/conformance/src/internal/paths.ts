import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))

/**
 * The fixtures: `dist/fixtures` in the published package (copied from the repository's `fixtures/` by
 * `scripts/copy-assets.mjs` at build and pack time), else the repository's `fixtures/` (from `src/internal`
 * or `dist/internal` of this package); `CRITEO_SIMULATOR_FIXTURES` overrides both.
 */
export const defaultFixturesDir = (): string => {
  const packaged = Path.resolve(here, "../fixtures")
  return process.env["CRITEO_SIMULATOR_FIXTURES"] ??
    (Fs.existsSync(Path.join(packaged, "mappings")) ? packaged : Path.resolve(here, "../../../../fixtures"))
}

/** The WireMock standalone jar shipped by the npm package `wiremock`. */
export const wiremockJar = (): string => {
  const require = createRequire(import.meta.url)
  const build = Path.join(Path.dirname(require.resolve("wiremock/package.json")), "build")
  const jar = Fs.readdirSync(build).find((name) => /^wiremock-standalone-.*\.jar$/.test(name))
  if (jar === undefined) throw new Error(`no wiremock-standalone jar in ${build}`)
  return Path.join(build, jar)
}
