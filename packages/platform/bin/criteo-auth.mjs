#!/usr/bin/env node
// The `criteo-auth` command. Its command-line libraries (@effect/cli, @effect/printer, @effect/printer-ansi)
// are optional peer dependencies of @criteo-auth/platform, so that an application using only the layers
// (CriteoNode, CriteoFetch, ...) does not install them: check for them first and say what to install.
import * as Fs from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const peers = ["@effect/cli", "@effect/printer", "@effect/printer-ansi"]
const missing = peers.filter((name) => {
  try {
    require.resolve(`${name}/package.json`)
    return false
  } catch {
    return true
  }
})
if (missing.length > 0) {
  const ranges = JSON.parse(Fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).peerDependencies
  const install = missing.map((name) => `${name}@${JSON.stringify(ranges[name])}`).join(" ")
  process.stderr.write(
    `criteo-auth: the command-line tool needs ${missing.join(", ")}, optional peer dependencies of ` +
      `@criteo-auth/platform that the library alone does not need.\nInstall them next to it:\n\n` +
      `  npm install ${install}\n\n` +
      `or run it without installing anything else:\n\n` +
      `  npx -p @criteo-auth/platform ${peers.map((name) => `-p ${name}`).join(" ")} criteo-auth --help\n`
  )
  process.exit(2)
}
const bin = new URL("../dist/bin.js", import.meta.url)
if (!Fs.existsSync(bin)) {
  process.stderr.write(`criteo-auth: ${bin.pathname} is missing: run \`pnpm build\` first (in a clone).\n`)
  process.exit(2)
}
await import(bin.href)
