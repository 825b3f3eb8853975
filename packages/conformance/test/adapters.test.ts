/**
 * The runner against adapters that do not do their part: never ready, crashing, silent, malformed,
 * sending requests before their first command. Each is reported (an ERROR, or the case's failure when
 * hanging is what it checks), quickly, and the adapter's processes are gone afterwards.
 */
import {
  Adapter,
  Catalogue,
  ConformanceCase,
  CriteoSimulator,
  Protocol,
  Report,
  Runner
} from "@criteo-auth/conformance"
import { assert, layer } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { conformanceLayer } from "./utils.js"

interface ProbeOptions {
  readonly hangIsFailure?: boolean
  /** The ready and call timeouts: short where a timeout is what the test looks for, generous elsewhere. */
  readonly timeout?: Duration.DurationInput
}

const probe = (options: ProbeOptions = {}) =>
  ConformanceCase.make({
    id: "probe.one-call",
    title: "one call",
    group: "token request",
    grade: "FAIL",
    requirements: [{ source: "test", text: "one call succeeds" }],
    setup: "the fixtures",
    expectation: "the call succeeds",
    hangIsFailure: options.hangIsFailure,
    run: (ctx) => Effect.asVoid(ctx.call("call", { timeout: options.timeout ?? "1 second" })),
    check: (evidence) => {
      const answer = evidence.answers.get("call")?.[0]
      return [
        ConformanceCase.check(
          "the call succeeds",
          answer?.status === 200,
          answer === undefined
            ? "no answer"
            : answer.hung
            ? "hung"
            : answer.crashed
            ? "crashed"
            : `${answer.status ?? answer.error}`
        )
      ]
    }
  })

/** A shell adapter: `ready`, then `answer` for each command. */
const shell = (script: string) => `bash -c ${JSON.stringify(script)}`
const ready = `echo '{"type":"ready","name":"test"}'`

/**
 * An adapter script (in a file: `shell` would let the runner's shell expand its variables): `readyLine`,
 * then each command answered at once with `fields` and its id.
 */
const answering = (readyLine: string, fields: string) => {
  const file = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "adapter-")), "adapter.sh")
  Fs.writeFileSync(
    file,
    `echo '${readyLine}'\n` +
      `while read -r line; do\n` +
      `  id=$(printf '%s' "$line" | sed -n 's/.*"id":"\\([^"]*\\)".*/\\1/p')\n` +
      `  [ -n "$id" ] && printf '{"id":"%s","type":"result",%s}\\n' "$id" '${fields}'\n` +
      `done\n`
  )
  return `bash ${file}`
}

const reportOf = (run: Report.AdapterRun): Report.RunReport => ({
  tool: "criteo-conformance",
  version: "test",
  protocol: Protocol.version,
  startedAt: "2026-11-30T00:00:00.000Z",
  durationMillis: run.durationMillis,
  simulator: { runtime: "process", baseUrl: "http://127.0.0.1:1", startupMillis: 0 },
  runs: [run]
})

const runOne = (command: string, options: ProbeOptions = {}) =>
  Effect.gen(function*() {
    const sim = yield* CriteoSimulator.CriteoSimulator
    const start = yield* Clock.currentTimeMillis
    const run = yield* Runner.run(sim, {
      adapter: { label: "test", command },
      cases: [probe(options)],
      readyTimeout: options.timeout ?? "1 second"
    })
    const elapsed = (yield* Clock.currentTimeMillis) - start
    return { result: run.results[0], elapsed }
  })

const processesMatching = (marker: string) =>
  Fs.readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false
    try {
      return Fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)
    } catch {
      return false
    }
  })

layer(conformanceLayer, { excludeTestServices: true, timeout: Duration.minutes(2) })(
  "adapters that misbehave",
  (it) => {
    it.scoped("a shell adapter's output is kept with the secret redacted; printing the secret fails the case", () =>
      Effect.gen(function*() {
        const { result } = yield* runOne(
          shell(
            `echo "starting with $CRITEO_CLIENT_SECRET" >&2; ${ready}; echo 'plain output'; ` +
              `while read line; do curl -s -o /dev/null -X POST "$CRITEO_TOKEN_URL" --data-urlencode grant_type=client_credentials ` +
              `--data-urlencode "client_id=$CRITEO_CLIENT_ID" --data-urlencode "client_secret=$CRITEO_CLIENT_SECRET"; ` +
              `echo '{"id":"1","type":"result","status":200}'; done`
          ),
          { timeout: "20 seconds" }
        )
        // The case's own check passes; the leak check, which runs on every case, finds the secret on stderr.
        assert.strictEqual(result.verdict, "FAIL", result.error)
        assert.deepStrictEqual(result.checks.map((c) => [c.name, c.passed]), [
          ["the call succeeds", true],
          ["no secret, code or token in the client's output or errors", false]
        ])
        assert.include(result.checks[1].detail, "the client secret in stderr line")
        // stdout and stderr are two pipes: their lines interleave in any order
        assert.deepStrictEqual(result.output.map((l) => `${l.stream}: ${l.text}`).sort(), [
          "stderr: starting with <redacted: client_secret>",
          "stdout: plain output"
        ])
        assert.strictEqual(result.journal.filter((j) => j.endpoint === "token").length, 1)
        assert.isTrue(result.journal[0].details.some((d) => d.includes("client_secret=<redacted>")))
      }))

    it.scoped("never ready: an ERROR after the ready timeout", () =>
      Effect.gen(function*() {
        const { elapsed, result } = yield* runOne("sleep 17.3")
        assert.strictEqual(result.verdict, "ERROR")
        assert.match(result.error!, /NotReady: no \{"type":"ready"\} line within 1s/)
        assert.isBelow(elapsed, 6000)
        assert.deepStrictEqual(processesMatching("17.3"), [])
      }))

    it.scoped("a command that does not exist: an ERROR with its stderr", () =>
      Effect.gen(function*() {
        const { result } = yield* runOne("/nonexistent/adapter --flag")
        assert.strictEqual(result.verdict, "ERROR")
        assert.match(result.error!, /Exited|NotReady/)
      }))

    it.scoped("exits after ready: an ERROR, or the case's failure where a crash is what it looks for", () =>
      Effect.gen(function*() {
        const plain = yield* runOne(shell(`${ready}; exit 3`))
        assert.strictEqual(plain.result.verdict, "ERROR")
        assert.match(plain.result.error!, /Exited: the adapter exited \(code 3\)/)
        const crash = yield* runOne(shell(`${ready}; read line; exit 3`), { hangIsFailure: true })
        assert.strictEqual(crash.result.verdict, "FAIL")
        assert.strictEqual(crash.result.checks[0].detail, "crashed")
      }))

    it.scoped("silent: the command times out, the adapter is killed at once", () =>
      Effect.gen(function*() {
        const plain = yield* runOne(shell(`${ready}; exec sleep 19.7`))
        assert.strictEqual(plain.result.verdict, "ERROR")
        assert.match(plain.result.error!, /Timeout: no answer to command 1 within 1s/)
        assert.isBelow(plain.elapsed, 5000)
        const hung = yield* runOne(shell(`${ready}; exec sleep 19.7`), { hangIsFailure: true })
        assert.strictEqual(hung.result.verdict, "FAIL")
        assert.strictEqual(hung.result.checks[0].detail, "hung")
        assert.deepStrictEqual(processesMatching("19.7"), [])
      }))

    it.scoped("a malformed answer is a protocol ERROR", () =>
      Effect.gen(function*() {
        const { result } = yield* runOne(
          shell(`${ready}; read line; echo '{"type":"result","id":"1","status":"ok"}'; exec sleep 18.1`)
        )
        assert.strictEqual(result.verdict, "ERROR")
        assert.match(result.error!, /Protocol: malformed protocol message/)
        const unknown = yield* runOne(
          shell(`${ready}; read line; echo '{"type":"result","id":"42","status":200}'; exec sleep 18.1`)
        )
        assert.strictEqual(unknown.result.verdict, "ERROR")
        assert.match(unknown.result.error!, /unknown or already answered command "42"/)
        assert.deepStrictEqual(processesMatching("18.1"), [])
      }))

    it.scoped("a protocol line nested too deeply is a protocol ERROR (was: the reader died, reported as NotReady)", () =>
      Effect.gen(function*() {
        const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`
        const readyLine = yield* runOne(
          shell(`echo '{"type":"ready","name":"deep","extra":${nested(20_000)}}'; exec sleep 16.9`)
        )
        assert.strictEqual(readyLine.result.verdict, "ERROR")
        assert.match(readyLine.result.error!, /Protocol: malformed protocol message .*nested deeper than 64 levels/)
        const answer = yield* runOne(
          shell(
            `${ready}; read line; echo '{"id":"1","type":"result","status":200,"body":${
              nested(20_000)
            }}'; exec sleep 16.9`
          )
        )
        assert.strictEqual(answer.result.verdict, "ERROR")
        assert.match(answer.result.error!, /Protocol: malformed protocol message .*nested deeper than 64 levels/)
        assert.deepStrictEqual(processesMatching("16.9"), [])
      }))

    it.scoped("lines are bounded: an endless line on stdout is a protocol ERROR, on stderr it is cut", () =>
      Effect.gen(function*() {
        // A line that never ends: the runner holds at most Adapter.maxLineLength of it, and stops the adapter.
        const stdout = yield* runOne(
          shell(`${ready}; read line; tr '\\0' a < /dev/zero; exec sleep 15.3`),
          { timeout: "20 seconds" }
        )
        assert.strictEqual(stdout.result.verdict, "ERROR")
        assert.match(stdout.result.error!, /Protocol: a line longer than 1048576 characters on stdout/)
        assert.deepStrictEqual(processesMatching("15.3"), [])
        // On stderr: the adapter session keeps the first 16 KiB of the line (the report, 2,000 characters).
        const session = yield* Adapter.start({
          command: shell(
            `${ready}; head -c 8388608 /dev/zero | tr '\\0' b >&2; echo >&2; read line; ` +
              `echo '{"id":"1","type":"result","status":200}'; exec sleep 15.3`
          ),
          env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" }
        })
        const outcome = yield* session.call({ method: "GET", path: "/advertisers/me" }, "20 seconds")
        assert.strictEqual(outcome.status, 200)
        const long = (yield* session.output).find((line) => line.stream === "stderr" && line.text.startsWith("bbb"))!
        assert.match(long.text, /^b{16384}… \(8372224 more characters\)$/)
      }))

    it.scoped(
      "a client that never obtains a token is BLOCKED where the case's point needs one, not PASS",
      () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.CriteoSimulator
          // Answers every call with an error without ever asking for a token (as a client crashing on its
          // token response, or refused for its client authentication, reaches no further).
          const run = yield* Runner.run(sim, {
            adapter: {
              label: "gives-up",
              command: answering(`{"type":"ready","name":"gives-up"}`, `"error":"CrashedOnTokenResponse"`)
            },
            cases: Catalogue.cases.filter((c) => ["response.missing-token-type", "redirect.api"].includes(c.id))
          })
          assert.deepStrictEqual(run.results.map((r) => [r.id, r.verdict, r.blockedBy]), [
            ["response.missing-token-type", "BLOCKED", "a token request of the client is answered 200"],
            ["redirect.api", "BLOCKED", "the client calls the API"]
          ])
          assert.strictEqual(Report.headline(run).conformance, "does-not-conform")
          assert.deepStrictEqual(Report.byFirstFailure(run).map((g) => g.ids.length), [1, 1])
        }),
      { timeout: 60_000 }
    )

    it.scoped(
      "an adapter claiming capabilities gets N/A for the rest; a version-1 adapter claims everything",
      () =>
        Effect.gen(function*() {
          const sim = yield* CriteoSimulator.CriteoSimulator
          const cases = Catalogue.cases.filter((c) => ["authorization-code.exchange", "timeout.api"].includes(c.id))
          const readyWith = (extra: string) =>
            answering(`{"type":"ready","name":"cc-only"${extra}}`, `"error":"Unsupported"`)
          const v2 = yield* Runner.run(sim, {
            adapter: {
              label: "v2",
              command: readyWith(
                `,"protocol":2,"capabilities":{"grants":["client_credentials"],"configurableTimeouts":false}`
              )
            },
            cases
          })
          assert.deepStrictEqual(v2.results.map((r) => [r.id, r.verdict, r.notTested]), [
            ["timeout.api", "N/A", ["configurable timeouts"]],
            ["authorization-code.exchange", "N/A", ["the authorization_code grant"]]
          ])
          assert.strictEqual(v2.protocol, 2)
          assert.deepStrictEqual(v2.capabilities?.grants, ["client_credentials"])
          assert.isFalse(Report.failed({ ...reportOf(v2) }))
          assert.strictEqual(
            Report.headline(v2).text,
            "Conforms; not tested: 2 cases (needing configurable timeouts, the authorization_code grant)"
          )
          // The same adapter of protocol version 1 (no capabilities): the cases are run (and fail to reach
          // their point).
          const v1 = yield* Runner.run(sim, { adapter: { label: "v1", command: readyWith(`,"protocol":1`) }, cases })
          assert.deepStrictEqual(v1.results.map((r) => r.verdict), ["BLOCKED", "BLOCKED"])
          assert.deepStrictEqual(v1.capabilities, Protocol.allCapabilities)
        }),
      { timeout: 60_000 }
    )

    it.scoped("a request before the first command is an ERROR (adapters are started ahead of their case)", () =>
      Effect.gen(function*() {
        const { result } = yield* runOne(
          shell(
            `curl -s -o /dev/null -X POST "$CRITEO_TOKEN_URL" --data-urlencode grant_type=client_credentials; ${ready}; ` +
              `while read line; do echo '{"id":"1","type":"result","status":200}'; done`
          ),
          { timeout: "20 seconds" }
        )
        assert.strictEqual(result.verdict, "ERROR")
        assert.match(result.error!, /before its first command/)
      }))
  }
)
