// Writes the generated fixture files (src/internal/fixtures.ts: the mappings of fixtures/mappings and the token
// bodies of fixtures/__files/token) into the repository's fixtures/. test/mappings.test.ts fails until they are
// regenerated after a change of the builder: `pnpm --filter @criteo-auth/conformance fixtures`.
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Fixtures from "../src/internal/fixtures.js"

const fixtures = Path.resolve(import.meta.dirname, "../../../fixtures")
for (const [path, text] of Fixtures.files) {
  const file = Path.join(fixtures, path)
  const before = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : undefined
  if (before === text) continue
  Fs.writeFileSync(file, text)
  process.stdout.write(`fixtures: ${path} written\n`)
}
