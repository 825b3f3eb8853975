// Copies the repository's fixtures/ and docker/ (the source of truth) into dist/, so that the published
// package carries them: the compiled simulator looks for dist/fixtures first (src/internal/paths.ts), and
// dist/docker/compose.yaml builds its image from ../fixtures as in the repository. Run by `build` and `prepack`.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const repository = Path.resolve(packageDir, "../..")

for (const name of ["fixtures", "docker"]) {
  const source = Path.join(repository, name)
  const target = Path.join(packageDir, "dist", name)
  if (!Fs.existsSync(source)) throw new Error(`copy-assets: ${source} is missing (run it in the repository)`)
  Fs.rmSync(target, { recursive: true, force: true })
  Fs.cpSync(source, target, { recursive: true })
}
console.log(`copy-assets: fixtures/ and docker/ copied into ${Path.join(packageDir, "dist")}`)
