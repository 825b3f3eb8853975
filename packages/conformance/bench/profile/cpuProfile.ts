/**
 * What the profile scripts read of a V8 CPU profile (`.cpuprofile`, or `Profiler.stop`'s result): self
 * time per function and per group of code (criteo-auth's own, Effect, undici, Node internals and GC).
 */

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}

export interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Self time in µs, by function (`name file:line`) and by group. */
export interface SelfTime {
  readonly functions: Map<string, number>
  readonly groups: Map<string, number>
}

export const emptySelfTime = (): SelfTime => ({ functions: new Map(), groups: new Map() })

const group = (url: string) =>
  /packages\/(core|platform)\/(dist|src)/.test(url)
    ? "criteo-auth"
    : /\/effect\/|@effect\+platform@|@effect\/platform\//.test(url)
    ? "effect + @effect/platform"
    : /undici/.test(url)
    ? "undici"
    : url.startsWith("node:") || url === ""
    ? "node internals / GC"
    : "other"

/** Adds the profile's self time (idle and `(program)` left out) to `into`, and returns it. */
export const addSelfTime = (profile: Profile, into: SelfTime = emptySelfTime()): SelfTime => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  profile.samples.forEach((id, i) => {
    const { functionName, lineNumber, url } = byId.get(id)!.callFrame
    if (functionName === "(idle)" || functionName === "(program)" || functionName === "(root)") return
    const delta = profile.timeDeltas[i] ?? 0
    const where = url.replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, "").replace(/^.*\/packages\//, "")
    const key = `${functionName || "(anonymous)"} ${where}:${lineNumber + 1}`
    into.functions.set(key, (into.functions.get(key) ?? 0) + delta)
    const name = group(url)
    into.groups.set(name, (into.groups.get(name) ?? 0) + delta)
  })
  return into
}

export const total = (times: Map<string, number>): number => [...times.values()].reduce((sum, value) => sum + value, 0)
