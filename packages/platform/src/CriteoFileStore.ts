/**
 * A `TokenStore` on the local disk: one encrypted file per account key, so that tokens and rotated
 * refresh tokens outlive the process (the CLI's cache, a cron job, several processes of one machine).
 *
 * - Where: `$XDG_CACHE_HOME/criteo-auth`, else `~/.cache/criteo-auth` (or `directory`); the directory is
 *   made `0700`, each file `0600`. File names are a hash of the key: a listing shows no account names.
 * - Atomic: every write goes to a temporary file that is renamed over the entry; a compare-and-set holds
 *   a short exclusive-create lock file (`.lock`, taken over once older than `lockTtl`) around read-compare-
 *   write, so processes never interleave. Leases are `.lease` files with their expiry inside.
 * - Encrypted: AES-256-GCM (node:crypto), a random 96-bit IV per write, the account key as additional
 *   data (a file copied to another key's name does not decrypt). The AES key is derived with HKDF-SHA-256
 *   from a secret the application gives (`secret`, high-entropy: e.g. 32 random bytes, or the client
 *   secret as the CLI does) and `context` (e.g. the client id), so a file is useless without them.
 * - Tolerant: a file that is corrupt, foreign, written with another secret or client, or readable by
 *   others (mode other than 0600, another owner) is ignored with a warning naming the file and the
 *   reason, never a token; it is replaced at the next write.
 * - Rate limits shared: a 429 with a wait that one process met (`recordRateLimit`) is kept in a
 *   `.ratelimit` file beside the entry (the instant only), so the next process, or the next CLI run,
 *   waits too instead of asking the token endpoint again (`rateLimitedUntil`).
 *
 * @since 0.2.0
 */
import * as TokenStore from "@criteo-auth/core/TokenStore"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Os from "node:os"

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The directory of the files. Default `$XDG_CACHE_HOME/criteo-auth`, else `~/.cache/criteo-auth`. */
  readonly directory?: string | undefined
  /**
   * The secret the AES-256 key is derived from (HKDF-SHA-256). Use a high-entropy value (32 random
   * bytes, base64), not a password. Another secret cannot read the files (they are then ignored).
   */
  readonly secret: Redacted.Redacted<string>
  /** Mixed into the key derivation, e.g. the client id: files of another context do not decrypt. */
  readonly context?: string | undefined
  /** How long a `.lock` file may live before another writer takes it over (its holder died). Default 10 s. */
  readonly lockTtl?: Duration.DurationInput | undefined
  /** How long a write waits for the lock of a key before failing. Default 5 s. */
  readonly lockTimeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.2.0
 * @category constants
 */
export const defaults = {
  lockTtl: Duration.seconds(10),
  lockTimeout: Duration.seconds(5)
} as const

/**
 * The default directory: `$XDG_CACHE_HOME/criteo-auth`, else `~/.cache/criteo-auth`.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultDirectory: Effect.Effect<string, never, Path.Path> = Effect.gen(function*() {
  const path = yield* Path.Path
  const xdg = yield* Config.string("XDG_CACHE_HOME").pipe(Config.option, Effect.orElseSucceed(() => Option.none()))
  const base = Option.isSome(xdg) && path.isAbsolute(xdg.value) ? xdg.value : path.join(Os.homedir(), ".cache")
  return path.join(base, "criteo-auth")
})

/**
 * The secret the CLI encrypts its cache with: derived from the client secret (HKDF-SHA-256, with the
 * client id as context), so the cache is useless to whoever lacks the secret, and rotating the secret
 * simply abandons the old files.
 *
 * @since 0.2.0
 * @category constructors
 */
export const secretFromClientSecret = (clientSecret: Redacted.Redacted<string>): Redacted.Redacted<string> =>
  Redacted.make(
    Buffer.from(
      Crypto.hkdfSync("sha256", Redacted.value(clientSecret), "criteo-auth/cli-cache", "client-secret", 32)
    ).toString("base64")
  )

const FileFormat = Schema.parseJson(Schema.Struct({
  format: Schema.Literal("criteo-auth/token-store"),
  v: Schema.Literal(1),
  alg: Schema.Literal("A256GCM"),
  iv: Schema.String,
  tag: Schema.String,
  data: Schema.String
}))

const LeaseFile = Schema.parseJson(Schema.Struct({ id: Schema.String, expiresAtMillis: Schema.Number }))

const RateLimitFile = Schema.parseJson(Schema.Struct({ untilMillis: Schema.Number }))

/**
 * Builds the store. Needs a `FileSystem` and a `Path` (`layer` provides Node's).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<TokenStore.Service, TokenStore.TokenStoreError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const directory = options.directory ?? (yield* defaultDirectory)
    const lockTtlMillis = Duration.toMillis(options.lockTtl ?? defaults.lockTtl)
    const lockTimeout = Duration.decode(options.lockTimeout ?? defaults.lockTimeout)
    const aesKey = Buffer.from(
      Crypto.hkdfSync(
        "sha256",
        Redacted.value(options.secret),
        "criteo-auth/token-store/v1",
        options.context ?? "",
        32
      )
    )
    const uid = typeof process.getuid === "function" ? process.getuid() : undefined

    const storeError = (operation: string, key: string) => (cause: unknown) =>
      new TokenStore.TokenStoreError({
        store: "file",
        operation,
        key,
        reason: cause instanceof Error ? cause.message : String(cause)
      })

    // the directory: created 0700, tightened if it was created looser
    yield* fs.makeDirectory(directory, { recursive: true, mode: 0o700 }).pipe(
      Effect.zipRight(fs.stat(directory)),
      Effect.flatMap((info) =>
        (info.mode & 0o077) === 0 ? Effect.void : Effect.logWarning(
          `criteo-auth file store: ${directory} was readable by others (mode ${
            (info.mode & 0o777).toString(8)
          }); set to 0700`
        ).pipe(Effect.zipRight(fs.chmod(directory, 0o700)))
      ),
      Effect.mapError(storeError("open", directory))
    )

    const warned = new Set<string>()
    /** A warning per file and reason, once per process; never a token. */
    const warn = (file: string, reason: string) =>
      Effect.suspend(() => {
        const id = `${file}\u0000${reason}`
        if (warned.has(id)) return Effect.void
        warned.add(id)
        return Effect.logWarning(`criteo-auth file store: ignoring ${file}: ${reason}`)
      })

    const fileOf = (key: string) => {
      const name = Crypto.createHash("sha256").update(`criteo-auth\u0000${key}`).digest("hex").slice(0, 40)
      return path.join(directory, `${name}.json`)
    }
    const aad = (key: string) => Buffer.from(`criteo-auth/token-store/v1\u0000${key}`, "utf8")

    const encrypt = (key: string, entry: TokenStore.Entry): string => {
      const iv = Crypto.randomBytes(12)
      const cipher = Crypto.createCipheriv("aes-256-gcm", aesKey, iv)
      cipher.setAAD(aad(key))
      const data = Buffer.concat([
        cipher.update(Redacted.value(TokenStore.encodeEntry(entry)), "utf8"),
        cipher.final()
      ])
      return JSON.stringify({
        format: "criteo-auth/token-store",
        v: 1,
        alg: "A256GCM",
        iv: iv.toString("base64"),
        tag: cipher.getAuthTag().toString("base64"),
        data: data.toString("base64")
      })
    }

    /** The entry in `file`, or none (absent, or ignored with a warning). */
    const readEntry = (key: string) =>
      Effect.gen(function*() {
        const file = fileOf(key)
        const info = yield* fs.stat(file).pipe(
          Effect.map(Option.some),
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeedNone)
        )
        if (Option.isNone(info)) return Option.none<TokenStore.Entry>()
        if (info.value.type !== "File") {
          yield* warn(file, "not a regular file")
          return Option.none()
        }
        if ((info.value.mode & 0o077) !== 0) {
          yield* warn(
            file,
            `its permissions are ${(info.value.mode & 0o777).toString(8)}, expected 600 (others could read it); ` +
              "it will be replaced at the next write"
          )
          return Option.none()
        }
        if (uid !== undefined && Option.isSome(info.value.uid) && info.value.uid.value !== uid) {
          yield* warn(file, "it belongs to another user")
          return Option.none()
        }
        const text = yield* fs.readFileString(file).pipe(
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(""))
        )
        if (text === "") return Option.none()
        const decoded = Schema.decodeUnknownOption(FileFormat)(text)
        if (Option.isNone(decoded)) {
          yield* warn(file, "it is not a criteo-auth token store file (corrupt or foreign)")
          return Option.none()
        }
        const plain = Option.liftThrowable(() => {
          const decipher = Crypto.createDecipheriv("aes-256-gcm", aesKey, Buffer.from(decoded.value.iv, "base64"))
          decipher.setAAD(aad(key))
          decipher.setAuthTag(Buffer.from(decoded.value.tag, "base64"))
          return Buffer.concat([decipher.update(Buffer.from(decoded.value.data, "base64")), decipher.final()])
            .toString("utf8")
        })()
        if (Option.isNone(plain)) {
          yield* warn(file, "it does not decrypt with this secret (another client or secret, or tampered with)")
          return Option.none()
        }
        const entry = TokenStore.decodeEntry(Redacted.make(plain.value))
        if (Option.isNone(entry)) yield* warn(file, "its content is not a token store entry")
        return entry
      })

    /** Writes `text` to `file` atomically: a 0600 temporary file in the same directory, renamed over it. */
    const writeAtomic = (file: string, text: string) =>
      Effect.gen(function*() {
        const tmp = `${file}.${process.pid}.${Crypto.randomBytes(6).toString("hex")}.tmp`
        yield* fs.writeFileString(tmp, text, { flag: "wx", mode: 0o600 })
        yield* fs.rename(tmp, file).pipe(Effect.onError(() => Effect.ignore(fs.remove(tmp))))
      })

    // -------------------------------------------------------------------------
    // the per-key lock around read-compare-write
    // -------------------------------------------------------------------------

    const createLock = (lockFile: string) =>
      fs.writeFileString(lockFile, `${process.pid}`, { flag: "wx", mode: 0o600 }).pipe(
        Effect.as(true),
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () => Effect.succeed(false))
      )

    const tryLock = (lockFile: string) =>
      createLock(lockFile).pipe(
        Effect.flatMap((taken) =>
          taken ? Effect.succeed(true) : fs.stat(lockFile).pipe(
            // taken: take it over if its holder left it there longer than the TTL (it died)
            Effect.flatMap((info) => {
              const mtime = Option.getOrUndefined(info.mtime)?.getTime() ?? 0
              return Date.now() - mtime > lockTtlMillis
                ? Effect.logWarning(`criteo-auth file store: taking over the stale lock ${lockFile}`).pipe(
                  Effect.zipRight(fs.remove(lockFile, { force: true })),
                  Effect.zipRight(createLock(lockFile))
                )
                : Effect.succeed(false)
            }),
            Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => createLock(lockFile))
          )
        )
      )

    const withLock = <A, E, R>(key: string, operation: string, body: Effect.Effect<A, E, R>) => {
      const lockFile = `${fileOf(key)}.lock`
      const acquire = tryLock(lockFile).pipe(
        Effect.filterOrFail((taken) => taken, () => "busy" as const),
        Effect.retry(
          Schedule.exponential(Duration.millis(2), 1.5).pipe(
            Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(50))),
            Schedule.jittered,
            Schedule.upTo(lockTimeout)
          )
        ),
        Effect.mapError((e) =>
          storeError(operation, key)(
            e === "busy" ? `the lock ${lockFile} stayed taken for ${Duration.format(lockTimeout)}` : e
          )
        )
      )
      return Effect.acquireUseRelease(acquire, () => body, () => Effect.ignore(fs.remove(lockFile)))
    }

    // -------------------------------------------------------------------------
    // the operations
    // -------------------------------------------------------------------------

    const get = (key: string) => readEntry(key).pipe(Effect.mapError(storeError("get", key)))

    const compareAndSet = (key: string, expectedVersion: number | undefined, write: TokenStore.Write) =>
      withLock(
        key,
        "compareAndSet",
        Effect.gen(function*() {
          const current = yield* readEntry(key)
          const currentVersion = Option.getOrUndefined(current)?.version
          if (currentVersion !== expectedVersion) {
            return { _tag: "Conflict", current } satisfies TokenStore.SetResult as TokenStore.SetResult
          }
          const entry: TokenStore.Entry = { ...write, version: (expectedVersion ?? 0) + 1 }
          yield* writeAtomic(fileOf(key), encrypt(key, entry))
          return { _tag: "Written", entry } satisfies TokenStore.SetResult as TokenStore.SetResult
        }).pipe(Effect.mapError(storeError("compareAndSet", key)))
      )

    const invalidate = (key: string, fingerprint: string) =>
      withLock(
        key,
        "invalidate",
        Effect.gen(function*() {
          const current = yield* readEntry(key)
          if (Option.isNone(current) || current.value.accessToken?.fingerprint !== fingerprint) return false
          const entry: TokenStore.Entry = {
            ...current.value,
            accessToken: undefined,
            version: current.value.version + 1
          }
          yield* writeAtomic(fileOf(key), encrypt(key, entry))
          return true
        }).pipe(Effect.mapError(storeError("invalidate", key)))
      )

    const readLease = (key: string) =>
      fs.readFileString(`${fileOf(key)}.lease`).pipe(
        Effect.map((text) => Schema.decodeUnknownOption(LeaseFile)(text)),
        Effect.catchAll(() => Effect.succeedNone)
      )

    const liveLease = (key: string) =>
      Effect.zipWith(
        readLease(key),
        Clock.currentTimeMillis,
        (lease, now) => Option.filter(lease, (l) => l.expiresAtMillis > now)
      )

    const acquireLease = (key: string, ttl: Duration.DurationInput) =>
      withLock(
        key,
        "acquireLease",
        Effect.gen(function*() {
          if (Option.isSome(yield* liveLease(key))) return Option.none<TokenStore.Lease>()
          const lease: TokenStore.Lease = {
            key,
            id: `file-${process.pid}-${Crypto.randomBytes(8).toString("hex")}`,
            expiresAtMillis: (yield* Clock.currentTimeMillis) + Duration.toMillis(ttl)
          }
          yield* writeAtomic(
            `${fileOf(key)}.lease`,
            JSON.stringify({ id: lease.id, expiresAtMillis: lease.expiresAtMillis })
          )
          return Option.some(lease)
        }).pipe(Effect.mapError(storeError("acquireLease", key)))
      )

    const releaseLease = (lease: TokenStore.Lease) =>
      withLock(
        lease.key,
        "releaseLease",
        Effect.gen(function*() {
          const current = yield* readLease(lease.key)
          if (Option.isSome(current) && current.value.id === lease.id) {
            yield* fs.remove(`${fileOf(lease.key)}.lease`)
          }
        }).pipe(Effect.mapError(storeError("releaseLease", lease.key)))
      )

    /** Polls (2 ms, growing to 100 ms) until the version changes or the lease held at the start is gone. */
    const awaitChange = (key: string, version: number | undefined, timeout: Duration.DurationInput) =>
      Effect.gen(function*() {
        const leaseAtStart = yield* liveLease(key)
        const changed = Effect.gen(function*() {
          const entry = yield* readEntry(key)
          if (Option.getOrUndefined(entry)?.version !== version) return true
          if (Option.isNone(leaseAtStart)) return false
          const lease = yield* liveLease(key)
          return Option.isNone(lease) || lease.value.id !== leaseAtStart.value.id
        })
        yield* changed.pipe(
          Effect.repeat({
            schedule: Schedule.exponential(Duration.millis(2), 1.5).pipe(
              Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(100)))
            ),
            until: (done) => done
          }),
          Effect.timeoutOption(timeout)
        )
        return yield* readEntry(key)
      }).pipe(Effect.mapError(storeError("awaitChange", key)))

    const remove = (key: string) =>
      withLock(
        key,
        "remove",
        Effect.all([
          fs.remove(fileOf(key), { force: true }),
          fs.remove(`${fileOf(key)}.lease`, { force: true }),
          fs.remove(`${fileOf(key)}.ratelimit`, { force: true })
        ], { discard: true }).pipe(Effect.mapError(storeError("remove", key)))
      )

    // -------------------------------------------------------------------------
    // shared rate-limit knowledge: a `.ratelimit` file per key, the instant inside (not a secret)
    // -------------------------------------------------------------------------

    /** The recorded instant of `key`, passed or not; none if absent, unreadable or corrupt (with a warning). */
    const readRateLimit = (key: string) =>
      Effect.gen(function*() {
        const file = `${fileOf(key)}.ratelimit`
        const text = yield* fs.readFileString(file).pipe(
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.succeed(""))
        )
        if (text === "") return Option.none<number>()
        const decoded = Schema.decodeUnknownOption(RateLimitFile)(text)
        if (Option.isNone(decoded) || !Number.isFinite(decoded.value.untilMillis)) {
          yield* warn(file, "it is not a criteo-auth rate-limit file (corrupt or foreign)")
          return Option.none<number>()
        }
        return Option.some(decoded.value.untilMillis)
      })

    /** Keeps the later of the recorded instant and `untilMillis`; an instant already passed is replaced. */
    const recordRateLimit = (key: string, untilMillis: number) =>
      withLock(
        key,
        "recordRateLimit",
        Effect.gen(function*() {
          const recorded = yield* readRateLimit(key)
          if (Option.isSome(recorded) && recorded.value >= untilMillis) return
          yield* writeAtomic(`${fileOf(key)}.ratelimit`, JSON.stringify({ untilMillis: Math.ceil(untilMillis) }))
        }).pipe(Effect.mapError(storeError("recordRateLimit", key)))
      )

    const rateLimitedUntil = (key: string) =>
      Effect.zipWith(
        readRateLimit(key),
        Clock.currentTimeMillis,
        (until, now) => Option.filter(until, (instant) => instant > now)
      ).pipe(Effect.mapError(storeError("rateLimitedUntil", key)))

    return TokenStore.TokenStore.of({
      name: "file",
      get,
      compareAndSet,
      invalidate,
      acquireLease,
      releaseLease,
      awaitChange,
      remove,
      recordRateLimit,
      rateLimitedUntil
    })
  })

/**
 * The store on Node's file system.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenStore.TokenStore, TokenStore.TokenStoreError> =>
  Layer.effect(TokenStore.TokenStore, make(options)).pipe(
    Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))
  )

/**
 * The store with its secret (and directory) read from `Config`: `CRITEO_TOKEN_STORE_SECRET` (required)
 * and `CRITEO_TOKEN_STORE_DIR` (optional).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "secret" | "directory"> = {}
): Layer.Layer<TokenStore.TokenStore, TokenStore.TokenStoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      Config.all({
        secret: Config.redacted("CRITEO_TOKEN_STORE_SECRET").pipe(
          Config.withDescription("the secret the token files are encrypted with (32 random bytes, base64)")
        ),
        directory: Config.option(Config.string("CRITEO_TOKEN_STORE_DIR"))
      }),
      ({ directory, secret }) => layer({ ...options, secret, directory: Option.getOrUndefined(directory) })
    )
  )
