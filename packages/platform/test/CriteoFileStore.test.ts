import * as AccessToken from "@criteo-auth/core/AccessToken"
import type * as TokenStore from "@criteo-auth/core/TokenStore"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as CriteoFileStore from "../src/CriteoFileStore.js"

const Node = Layer.merge(NodeFileSystem.layer, NodePath.layer)

const secret = Redacted.make("Jr3p0mQ2f4YkqRaS1c5tW7uX9zB0dE2gH4jK6mN8pQ=")
const accessValue = "eyJ-access-token-value-SECRET"
const refreshValue = "rt-refresh-token-value-SECRET"

const tempDir = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "criteo-file-store-"))

const token = (value = accessValue) =>
  new AccessToken.AccessToken({
    value: Redacted.make(value),
    tokenType: "Bearer",
    expiresIn: Duration.seconds(900),
    issuedAt: DateTime.unsafeMake(1_700_000_000_000),
    expiresAt: DateTime.unsafeMake(1_700_000_900_000),
    refreshToken: Redacted.make(refreshValue)
  })

const write = (value = accessValue): TokenStore.Write => ({
  accessToken: token(value),
  refreshToken: Redacted.make(refreshValue)
})

/** The store, with its warnings collected. */
const open = (directory: string, options: Partial<CriteoFileStore.Options> = {}) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const store = yield* CriteoFileStore.make({ directory, secret, context: "client-a", ...options }).pipe(
      Effect.provide(Node),
      Effect.provide(Logger.replace(Logger.defaultLogger, logger))
    )
    const withWarnings = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    return { store, warnings, withWarnings }
  })

const filesIn = (directory: string) => Fs.readdirSync(directory).filter((name) => name.endsWith(".json"))

describe("CriteoFileStore", () => {
  it.effect("entries survive the store: a second store on the directory reads what the first wrote", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const { store } = yield* open(directory)
      const written = yield* store.compareAndSet("acme", undefined, write())
      assert.strictEqual(written._tag, "Written")
      const { store: again } = yield* open(directory)
      const entry = Option.getOrThrow(yield* again.get("acme"))
      assert.strictEqual(entry.version, 1)
      assert.strictEqual(Redacted.value(entry.accessToken!.value), accessValue)
      assert.strictEqual(Redacted.value(entry.refreshToken!), refreshValue)
      assert.strictEqual(DateTime.toEpochMillis(entry.accessToken!.expiresAt), 1_700_000_900_000)
      assert.isTrue(Option.isNone(yield* again.get("other")))
    }))

  it.effect("files are 0600 in a 0700 directory, named by a hash, tokens never in clear", () =>
    Effect.gen(function*() {
      const directory = Path.join(tempDir(), "nested", "criteo-auth")
      const { store } = yield* open(directory)
      yield* store.compareAndSet("acme-advertiser-42", undefined, write())
      assert.strictEqual(Fs.statSync(directory).mode & 0o777, 0o700)
      const [file] = filesIn(directory)
      assert.notInclude(file, "acme")
      assert.strictEqual(Fs.statSync(Path.join(directory, file)).mode & 0o777, 0o600)
      const text = Fs.readFileSync(Path.join(directory, file), "utf8")
      assert.notInclude(text, accessValue)
      assert.notInclude(text, refreshValue)
      assert.notInclude(text, "acme")
      assert.strictEqual(JSON.parse(text).alg, "A256GCM")
      // no temporary file or lock left behind
      assert.deepStrictEqual(Fs.readdirSync(directory), [file])
    }))

  it.effect("a looser existing directory is tightened to 0700, with a warning", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      Fs.chmodSync(directory, 0o755)
      const { warnings } = yield* open(directory)
      assert.strictEqual(Fs.statSync(directory).mode & 0o777, 0o700)
      assert.isTrue(warnings.some((w) => w.includes("0700")))
    }))

  it.effect("compare-and-set: a stale version is a Conflict that answers the current entry", () =>
    Effect.gen(function*() {
      const { store } = yield* open(tempDir())
      yield* store.compareAndSet("k", undefined, write("one"))
      yield* store.compareAndSet("k", 1, write("two"))
      const late = yield* store.compareAndSet("k", 1, write("late"))
      assert.strictEqual(late._tag, "Conflict")
      if (late._tag === "Conflict") assert.strictEqual(Option.getOrThrow(late.current).version, 2)
      const created = yield* store.compareAndSet("k", undefined, write("again"))
      assert.strictEqual(created._tag, "Conflict")
      assert.strictEqual(Redacted.value(Option.getOrThrow(yield* store.get("k")).accessToken!.value), "two")
    }))

  it.effect("invalidate by fingerprint keeps the refresh token; another fingerprint changes nothing", () =>
    Effect.gen(function*() {
      const { store } = yield* open(tempDir())
      yield* store.compareAndSet("k", undefined, write())
      assert.isFalse(yield* store.invalidate("k", token("other").fingerprint))
      assert.isTrue(yield* store.invalidate("k", token().fingerprint))
      const entry = Option.getOrThrow(yield* store.get("k"))
      assert.isUndefined(entry.accessToken)
      assert.strictEqual(Redacted.value(entry.refreshToken!), refreshValue)
      assert.strictEqual(entry.version, 2)
      yield* store.remove("k")
      assert.isTrue(Option.isNone(yield* store.get("k")))
    }))

  describe("files it cannot trust are ignored with a warning, never a crash, never a secret", () => {
    const setUp = Effect.gen(function*() {
      const directory = tempDir()
      const { store } = yield* open(directory)
      yield* store.compareAndSet("k", undefined, write())
      const [file] = filesIn(directory)
      return { directory, file: Path.join(directory, file) }
    })
    const noSecretIn = (warnings: ReadonlyArray<string>) => {
      for (const warning of warnings) {
        assert.notInclude(warning, accessValue)
        assert.notInclude(warning, refreshValue)
        assert.notInclude(warning, Redacted.value(secret))
      }
    }

    it.effect("a corrupt file", () =>
      Effect.gen(function*() {
        const { directory, file } = yield* setUp
        Fs.writeFileSync(file, "{ not json", { mode: 0o600 })
        const { store, warnings, withWarnings } = yield* open(directory)
        assert.isTrue(Option.isNone(yield* withWarnings(store.get("k"))))
        assert.isTrue(warnings.some((w) => w.includes("corrupt or foreign")), warnings.join("\n"))
        // and the next write replaces it
        const rewritten = yield* withWarnings(store.compareAndSet("k", undefined, write()))
        assert.strictEqual(rewritten._tag, "Written")
        noSecretIn(warnings)
      }))

    it.effect("a file of another client (another context) or written with another secret", () =>
      Effect.gen(function*() {
        const { directory } = yield* setUp
        const other = yield* open(directory, { context: "client-b" })
        assert.isTrue(Option.isNone(yield* other.withWarnings(other.store.get("k"))))
        assert.isTrue(other.warnings.some((w) => w.includes("does not decrypt")), other.warnings.join("\n"))
        const wrongSecret = yield* open(directory, { secret: Redacted.make("another secret entirely") })
        assert.isTrue(Option.isNone(yield* wrongSecret.withWarnings(wrongSecret.store.get("k"))))
        assert.isTrue(wrongSecret.warnings.some((w) => w.includes("does not decrypt")))
        noSecretIn([...other.warnings, ...wrongSecret.warnings])
      }))

    it.effect("a file copied over another key's name does not decrypt (the key is bound to the file)", () =>
      Effect.gen(function*() {
        const directory = tempDir()
        const { store, warnings, withWarnings } = yield* open(directory)
        yield* store.compareAndSet("a", undefined, write())
        const [fileA] = filesIn(directory)
        yield* store.compareAndSet("b", undefined, write("b-token"))
        const fileB = filesIn(directory).find((name) => name !== fileA)!
        Fs.copyFileSync(Path.join(directory, fileA), Path.join(directory, fileB))
        assert.isTrue(Option.isNone(yield* withWarnings(store.get("b"))))
        assert.isTrue(warnings.some((w) => w.includes("does not decrypt")))
      }))

    it.effect("a file others can read (0644)", () =>
      Effect.gen(function*() {
        const { directory, file } = yield* setUp
        Fs.chmodSync(file, 0o644)
        const { store, warnings, withWarnings } = yield* open(directory)
        assert.isTrue(Option.isNone(yield* withWarnings(store.get("k"))))
        assert.isTrue(warnings.some((w) => w.includes("permissions are 644")), warnings.join("\n"))
        noSecretIn(warnings)
      }))

    it.effect("a foreign JSON file, and a directory where the file should be", () =>
      Effect.gen(function*() {
        const { directory, file } = yield* setUp
        Fs.writeFileSync(file, JSON.stringify({ access_token: "x" }), { mode: 0o600 })
        const { store, warnings, withWarnings } = yield* open(directory)
        assert.isTrue(Option.isNone(yield* withWarnings(store.get("k"))))
        Fs.rmSync(file)
        Fs.mkdirSync(file)
        assert.isTrue(Option.isNone(yield* withWarnings(store.get("k"))))
        assert.isTrue(warnings.some((w) => w.includes("not a regular file")))
        assert.strictEqual(warnings.length, 2)
      }))
  })

  it.effect("leases: one holder; a second waits; an expired lease (on the Clock) is taken over", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const a = (yield* open(directory)).store
      const b = (yield* open(directory)).store
      const first = Option.getOrThrow(yield* a.acquireLease("k", "30 seconds"))
      assert.isTrue(Option.isNone(yield* b.acquireLease("k", "30 seconds")))
      yield* TestClock.adjust("31 seconds")
      const second = Option.getOrThrow(yield* b.acquireLease("k", "30 seconds"))
      // the first holder's late release does not release the second's lease
      yield* a.releaseLease(first)
      assert.isTrue(Option.isNone(yield* a.acquireLease("k", "30 seconds")))
      yield* b.releaseLease(second)
      assert.isTrue(Option.isSome(yield* a.acquireLease("k", "30 seconds")))
    }))

  it.effect("rate limits: the later instant is kept, seen by another store (process), forgotten once passed", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const a = (yield* open(directory)).store
      const b = (yield* open(directory)).store
      assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!("k")))
      yield* a.recordRateLimit!("k", 30_000)
      yield* a.recordRateLimit!("k", 10_000)
      assert.deepStrictEqual(yield* b.rateLimitedUntil!("k"), Option.some(30_000))
      assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!("other")))
      // the file holds the instant only, 0600 like the others
      const [limit] = Fs.readdirSync(directory).filter((name) => name.endsWith(".ratelimit"))
      assert.strictEqual(Fs.statSync(Path.join(directory, limit)).mode & 0o777, 0o600)
      assert.deepStrictEqual(JSON.parse(Fs.readFileSync(Path.join(directory, limit), "utf8")), { untilMillis: 30_000 })
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!("k")))
      // a later limit replaces the passed one; remove forgets it
      yield* b.recordRateLimit!("k", 40_000)
      assert.deepStrictEqual(yield* a.rateLimitedUntil!("k"), Option.some(40_000))
      yield* a.remove("k")
      assert.isTrue(Option.isNone(yield* b.rateLimitedUntil!("k")))
    }))

  it.effect("rate limits: a corrupt rate-limit file is ignored with a warning, and replaced", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const { store, warnings, withWarnings } = yield* open(directory)
      yield* store.recordRateLimit!("k", 30_000)
      const [limit] = Fs.readdirSync(directory).filter((name) => name.endsWith(".ratelimit"))
      Fs.writeFileSync(Path.join(directory, limit), "{ not json", { mode: 0o600 })
      assert.isTrue(Option.isNone(yield* withWarnings(store.rateLimitedUntil!("k"))))
      assert.isTrue(warnings.some((w) => w.includes("rate-limit file")), warnings.join("\n"))
      yield* withWarnings(store.recordRateLimit!("k", 20_000))
      assert.deepStrictEqual(yield* store.rateLimitedUntil!("k"), Option.some(20_000))
    }))

  it.effect("a lock file left by a dead writer is taken over once older than the lock TTL", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const { store, warnings, withWarnings } = yield* open(directory)
      yield* store.compareAndSet("k", undefined, write())
      const [file] = filesIn(directory)
      const lock = Path.join(directory, `${file}.lock`)
      Fs.writeFileSync(lock, "12345", { mode: 0o600 })
      const old = new Date(Date.now() - 60_000)
      Fs.utimesSync(lock, old, old)
      const result = yield* withWarnings(store.compareAndSet("k", 1, write("two")))
      assert.strictEqual(result._tag, "Written")
      assert.isTrue(warnings.some((w) => w.includes("stale lock")))
    }))

  it.live("a live lock file makes a write wait, and fail with TokenStoreError after the lock timeout", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const { store } = yield* open(directory, { lockTimeout: "200 millis" })
      yield* store.compareAndSet("k", undefined, write())
      const [file] = filesIn(directory)
      Fs.writeFileSync(Path.join(directory, `${file}.lock`), "12345", { mode: 0o600 })
      const error = yield* Effect.flip(store.compareAndSet("k", 1, write("two")))
      assert.strictEqual(error._tag, "TokenStoreError")
      assert.strictEqual(error.operation, "compareAndSet")
    }))

  it.live("compare-and-set from two stores (two processes) at once: no write is lost", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const stores = [(yield* open(directory)).store, (yield* open(directory)).store]
      /** Increments the version once, re-reading after each conflict. */
      const bump = (store: TokenStore.Service) =>
        Effect.gen(function*() {
          while (true) {
            const current = yield* store.get("k")
            const result = yield* store.compareAndSet("k", Option.getOrUndefined(current)?.version, write())
            if (result._tag === "Written") return
          }
        })
      yield* Effect.all(Array.from({ length: 20 }, (_, i) => bump(stores[i % 2])), { concurrency: "unbounded" })
      assert.strictEqual(Option.getOrThrow(yield* stores[0].get("k")).version, 20)
    }))

  it.live("awaitChange wakes on another store's write", () =>
    Effect.gen(function*() {
      const directory = tempDir()
      const a = (yield* open(directory)).store
      const b = (yield* open(directory)).store
      yield* a.compareAndSet("k", undefined, write())
      const waiter = yield* Effect.fork(a.awaitChange("k", 1, "5 seconds"))
      yield* Effect.sleep("20 millis")
      yield* b.compareAndSet("k", 1, write("two"))
      const seen = yield* Fiber.join(waiter)
      assert.strictEqual(Option.getOrThrow(seen).version, 2)
    }))

  it.effect("the default directory: $XDG_CACHE_HOME/criteo-auth, else ~/.cache/criteo-auth", () =>
    Effect.gen(function*() {
      const xdg = yield* CriteoFileStore.defaultDirectory.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["XDG_CACHE_HOME", "/tmp/xdg"]])))
      )
      assert.strictEqual(xdg, "/tmp/xdg/criteo-auth")
      const home = yield* CriteoFileStore.defaultDirectory.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
      )
      assert.strictEqual(home, Path.join(Os.homedir(), ".cache", "criteo-auth"))
    }).pipe(Effect.provide(NodePath.layer)))

  it("secretFromClientSecret: deterministic, and says nothing of the client secret", () => {
    const a = CriteoFileStore.secretFromClientSecret(Redacted.make("demo-secret"))
    const b = CriteoFileStore.secretFromClientSecret(Redacted.make("demo-secret"))
    const c = CriteoFileStore.secretFromClientSecret(Redacted.make("other-secret"))
    assert.strictEqual(Redacted.value(a), Redacted.value(b))
    assert.notStrictEqual(Redacted.value(a), Redacted.value(c))
    assert.notInclude(Redacted.value(a), "demo-secret")
  })
})
