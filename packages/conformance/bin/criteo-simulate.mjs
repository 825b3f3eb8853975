#!/usr/bin/env node
// The criteo-simulate command: the Criteo simulator in the foreground (src/bin/simulate.ts; `--help`).
// In a clone it runs the TypeScript sources through tsx; installed from npm, the compiled dist/bin/simulate.js.
import { run } from "./lib/entry.mjs"

await run("simulate")
