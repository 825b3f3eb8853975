/**
 * `node --import tsx bench/profile/summary.ts FILE.cpuprofile [N]`: the N functions with the most self
 * time, and the share of self time in criteo-auth's own code (core/platform dist), Effect, undici and
 * the rest.
 */
import * as Fs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, top = "25"] = process.argv.slice(2)
const profile = JSON.parse(Fs.readFileSync(file!, "utf8")) as Profile
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const self = new Map<string, number>()
const groups = new Map<string, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const node = byId.get(id)!
  const delta = profile.timeDeltas[i] ?? 0
  const { functionName, lineNumber, url } = node.callFrame
  if (functionName === "(idle)" || functionName === "(program)") return
  total += delta
  const where = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/^.*\/packages\//, "")
  const key = `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`
  self.set(key, (self.get(key) ?? 0) + delta)
  const group = /packages\/(core|platform)\/dist/.test(url)
    ? "criteo-auth"
    : /\/effect\/|@effect\+platform@|@effect\/platform\//.test(url)
    ? "effect + @effect/platform"
    : /undici/.test(url)
    ? "undici"
    : url.startsWith("node:") || url === ""
    ? "node internals / GC"
    : "other"
  groups.set(group, (groups.get(group) ?? 0) + delta)
})
const pct = (value: number) => `${((value / total) * 100).toFixed(1)} %`
for (const [group, time] of [...groups].sort((a, b) => b[1] - a[1])) process.stdout.write(`${group}: ${pct(time)}\n`)
process.stdout.write("\n")
for (const [key, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  process.stdout.write(`${pct(time).padStart(7)}  ${key}\n`)
}
