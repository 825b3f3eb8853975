import { assert, describe, it } from "@effect/vitest"
import { ESLint } from "eslint"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../../..")
const probe = path.join(root, "packages/core/src/Probe.ts")

const lint = async (code: string) => {
  const eslint = new ESLint({ cwd: root })
  const [result] = await eslint.lintText(code, { filePath: probe })
  return result.messages.filter((message) => message.severity === 2).map((message) => message.ruleId)
}

/** core must stay runtime-free: these are lint errors in packages/core/src, not conventions. */
describe("core purity", () => {
  const banned: ReadonlyArray<[string, string]> = [
    ["Date.now", "export const now = Date.now()\n"],
    ["new Date()", "export const now = new Date()\n"],
    ["process.env", "export const id = process.env.CRITEO_CLIENT_ID\n"],
    ["setTimeout", "setTimeout(() => {}, 1)\n"],
    ["Math.random", "export const r = Math.random()\n"],
    ["node:*", "import * as Fs from \"node:fs\"\nexport const f = Fs\n"],
    ["platform-node", "import * as N from \"@effect/platform-node/NodeHttpClient\"\nexport const n = N\n"],
    ["FetchHttpClient", "import * as F from \"@effect/platform/FetchHttpClient\"\nexport const f = F\n"],
    ["undici", "import * as U from \"undici\"\nexport const u = U\n"]
  ]
  for (const [name, code] of banned) {
    it(`${name} is a lint error in core`, async () => {
      const errors = await lint(code)
      assert.isAbove(errors.length, 0, `${name} passed the lint`)
    }, 30_000)
  }

  it("Clock, Random and the abstract HttpClient are fine", async () => {
    const errors = await lint(
      [
        "import * as HttpClient from \"@effect/platform/HttpClient\"",
        "import * as Clock from \"effect/Clock\"",
        "import * as Random from \"effect/Random\"",
        "",
        "export const parts = [Clock.currentTimeMillis, Random.next, HttpClient.HttpClient] as const",
        ""
      ].join("\n")
    )
    assert.deepStrictEqual(errors, [])
  }, 30_000)
})
