/**
 * `node --import tsx bench/profile/summary.ts FILE.cpuprofile [N]`: the N functions with the most self
 * time, and the share of self time in criteo-auth's own code (core/platform dist), Effect, undici and
 * the rest. (`node --cpu-prof` may write two profiles, the second of tsx's loader thread: take the
 * larger.)
 */
import * as Fs from "node:fs"
import { addSelfTime, type Profile, total } from "./cpuProfile.js"

const [file, top = "25"] = process.argv.slice(2)
const { functions, groups } = addSelfTime(JSON.parse(Fs.readFileSync(file!, "utf8")) as Profile)
const all = total(groups)
const pct = (value: number) => `${((value / all) * 100).toFixed(1)} %`
for (const [group, time] of [...groups].sort((a, b) => b[1] - a[1])) process.stdout.write(`${group}: ${pct(time)}\n`)
process.stdout.write("\n")
for (const [key, time] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  process.stdout.write(`${pct(time).padStart(7)}  ${key}\n`)
}
