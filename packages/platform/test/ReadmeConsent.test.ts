/**
 * The README's `criteo-auth consent` sessions, replayed against a fake Criteo: the prompt, the link and the
 * last line must be what the README shows (`…` stands for the parts that vary: the state, the code). The
 * test plays the person: it pastes the redirected URL, or follows the redirect to the listener.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { assert, layer, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "./utils/cli.js"
import * as FakeCriteo from "./utils/FakeCriteo.js"
import * as Ports from "./utils/ports.js"

// Each session runs the CLI as a subprocess; on a loaded machine one Node.js start takes seconds.
vi.setConfig({ testTimeout: 180_000 })

const readme = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../README.md"), "utf8")

/** The console blocks of the consent section: each a `$` line and what follows it. */
const sessions = (): ReadonlyArray<ReadonlyArray<string>> => {
  const start = readme.indexOf("### `criteo-auth consent --account NAME`")
  const section = readme.slice(start, readme.indexOf("\n### ", start + 1))
  return [...section.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1].trimEnd().split("\n"))
}

const words = (command: string) => command.replace(/^\$ /, "").split(/\s+/)

/** A README line as a pattern: `…` is what varies. */
const pattern = (line: string) =>
  new RegExp(`^${line.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\S+")}$`)

layer(Layer.merge(FakeCriteo.layer, NodeContext.layer), { excludeTestServices: true })("README consent", (it) => {
  it.effect("the README's two consent sessions are what the CLI prints", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCriteo.FakeCriteo
      const all = sessions()
      assert.strictEqual(all.length, 2)
      const [pasted, listening] = all
      // the README's listener port, replaced by a free one (tests never use fixed ports)
      const port = String(yield* Ports.freePort)
      const local = (line: string) => line.split("8765").join(port)
      const code = `code-readme-${Date.now()}`
      yield* fake.register({
        clientId: "demo",
        clientSecret: "demo-secret",
        codes: [
          { code, redirectUri: "https://app.example.com/criteo/callback" },
          { code, redirectUri: `http://127.0.0.1:${port}/criteo/callback` }
        ]
      })
      const env = {
        CRITEO_CLIENT_ID: "demo",
        CRITEO_CLIENT_SECRET: "demo-secret",
        CRITEO_TOKEN_URL: fake.tokenUrl,
        CRITEO_API_URL: fake.url,
        XDG_CACHE_HOME: fs.mkdtempSync(path.join(os.tmpdir(), "criteo-auth-readme-consent-"))
      }

      const session = (
        lines: ReadonlyArray<string>,
        answer: (link: URL, cli: Cli.Interactive) => Effect.Effect<void>
      ) =>
        Effect.scoped(Effect.gen(function*() {
          const cli = yield* Cli.start(words(local(lines[0])).slice(1), env)
          const link = yield* cli.waitFor(/^(https:\/\/consent\.criteo\.com\/request\?\S+)$/m)
          assert.match(link[1], pattern(local(lines[2])))
          yield* answer(new URL(link[1]), cli)
          const result = yield* cli.result
          assert.strictEqual(result.code, 0, result.stderr)
          const stderr = result.stderr.trimEnd().split("\n")
          assert.deepStrictEqual([stderr[0], stderr[stderr.length - 1]], [
            local(lines[1]),
            local(lines[lines.length - 1])
          ])
          assert.notInclude(result.stdout + result.stderr, code)
          assert.notInclude(result.stdout + result.stderr, "demo-secret")
        }))

      yield* session(pasted.slice(0, 3).concat(pasted.slice(4)), (link, cli) => {
        const input = `https://app.example.com/criteo/callback?code=${code}&state=${link.searchParams.get("state")}`
        assert.match(input, pattern(pasted[3]))
        return cli.write(`${input}\n`)
      })
      const last = listening.findIndex((line, i) => i > 0 && line.startsWith("$ "))
      yield* session(listening.slice(0, last), (link) =>
        Effect.promise(() =>
          fetch(`${link.searchParams.get("redirect_uri")}?code=${code}&state=${link.searchParams.get("state")}`)
            .then((response) =>
              response.text()
            )
        ).pipe(Effect.map((page) => assert.include(page, "Account connected"))))
      // and the account works
      const me = yield* Cli.run(words(listening[last]).slice(1), env)
      assert.strictEqual(me.code, 0, me.stderr)
    }))
})
