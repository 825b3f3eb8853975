// Runs one of the package's executables (src/bin/NAME.ts): through tsx from the TypeScript sources in a clone
// of the repository (recognised by tsconfig.src.json, which is not published), else the compiled
// dist/bin/NAME.js of the installed package.
import * as Fs from "node:fs"

/** @param {string} name */
export const run = async (name) => {
  if (Fs.existsSync(new URL("../../tsconfig.src.json", import.meta.url))) {
    const { register } = await import("tsx/esm/api")
    register()
    await import(new URL(`../../src/bin/${name}.ts`, import.meta.url).href)
    return
  }
  const compiled = new URL(`../../dist/bin/${name}.js`, import.meta.url)
  if (!Fs.existsSync(compiled)) {
    process.stderr.write(`${compiled.pathname} is missing: this copy of @criteo-auth/conformance was not built.\n`)
    process.exit(2)
  }
  await import(compiled.href)
}
