import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository's `fixtures/` folder (from `src/internal` or `dist/internal` of this package). */
export const defaultFixturesDir = (): string =>
  process.env["CRITEO_SIMULATOR_FIXTURES"] ??
    Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../../fixtures")

/** The WireMock standalone jar shipped by the npm package `wiremock`. */
export const wiremockJar = (): string => {
  const require = createRequire(import.meta.url)
  const build = Path.join(Path.dirname(require.resolve("wiremock/package.json")), "build")
  const jar = Fs.readdirSync(build).find((name) => /^wiremock-standalone-.*\.jar$/.test(name))
  if (jar === undefined) throw new Error(`no wiremock-standalone jar in ${build}`)
  return Path.join(build, jar)
}
