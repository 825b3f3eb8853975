#!/usr/bin/env node
// The criteo-conformance command: runs src/bin/criteoConformance.ts through tsx, so that it works from a
// fresh clone without a build (`node dist/bin/criteoConformance.js` runs the compiled one after `pnpm build`).
import { register } from "tsx/esm/api"

register()
await import("../src/bin/criteoConformance.ts")
