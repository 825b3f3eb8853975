#!/usr/bin/env node
// The criteo-conformance command. In a clone of the repository it runs src/bin/criteoConformance.ts through
// tsx, so that it works without a build; installed from npm it runs the compiled dist/bin/criteoConformance.js.
import { run } from "./lib/entry.mjs"

await run("criteoConformance")
