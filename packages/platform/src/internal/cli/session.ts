import * as AccessToken from "@criteo-auth/core/AccessToken"
import * as CriteoAuth from "@criteo-auth/core/CriteoAuth"
import * as Grant from "@criteo-auth/core/Grant"
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import type * as TokenStore from "@criteo-auth/core/TokenStore"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Path from "@effect/platform/Path"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as CriteoConfig from "../../CriteoConfig.js"
import * as CriteoFileStore from "../../CriteoFileStore.js"
import type * as CriteoLayer from "../../CriteoLayer.js"
import * as CriteoNode from "../../CriteoNode.js"
import * as Layers from "../layers.js"
import { describeFileError, ExitCode, UserError } from "./failure.js"
import { Printer } from "./output.js"
import * as Progress from "./progress.js"
import * as Settings from "./settings.js"

/**
 * What happened to a refresh token Criteo rotated during the run.
 *
 * @internal
 */
export interface Rotation {
  readonly fingerprint: string
  readonly savedTo: Option.Option<string>
  readonly failure: Option.Option<string>
}

/**
 * The client of one run: its options, its layer (refresh-token rotation written back to the refresh
 * token file), and the check of that rotation once the work is done.
 *
 * @internal
 */
export interface Session {
  readonly options: CriteoConfig.Options
  readonly layer: Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError>
  /** Fails if a rotated refresh token could not be saved; warns if it was not saved at all. */
  readonly checkRotation: Effect.Effect<Option.Option<Rotation>, UserError>
}

const writeSecretFile = (fs: FileSystem.FileSystem, path: Path.Path, file: string, value: string) =>
  Effect.gen(function*() {
    const suffix = yield* Random.nextIntBetween(100_000, 999_999)
    const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${suffix}.tmp`)
    yield* fs.writeFileString(temporary, `${value}\n`, { mode: 0o600 }).pipe(
      Effect.zipRight(fs.rename(temporary, file)),
      Effect.tapError(() => Effect.ignore(fs.remove(temporary)))
    )
  })

/**
 * The HTTP client of the session: `CriteoNode`'s (undici, its dispatcher bounding API attempts in the
 * transport, through `HTTPS_PROXY`/`HTTP_PROXY` unless `NO_PROXY` says otherwise), observed for the
 * progress display and for the bearer tokens it sends (scrubbed from all output).
 */
const httpClient = (options: CriteoConfig.Options, tracker: Progress.Tracker, printer: Printer) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) => Progress.observe(client, tracker, printer.hide))
  ).pipe(
    Layer.provide(NodeHttpClient.layerUndiciWithoutDispatcher),
    Layer.provide(CriteoNode.layerDispatcher(options))
  )

/**
 * The token cache of a run: the file store (one encrypted file per key under the user's cache
 * directory, its key derived from the client secret), unless `--no-cache`; `account` names a consent
 * connected with `criteo-auth consent --account NAME`.
 *
 * @internal
 */
export interface Cache {
  readonly enabled: boolean
  readonly account: Option.Option<string>
}

/** @internal */
export const noCache: Cache = { enabled: false, account: Option.none() }

/** The store key of an account of a client: `<client id>/account/<name>`; the client's own tokens: its id. */
export const storeKey = (clientId: string, account: Option.Option<string>) =>
  Option.match(account, { onNone: () => clientId, onSome: (name) => `${clientId}/account/${name}` })

/**
 * Opens the file store for `grant`'s client; a store that cannot be opened is a warning, and the run
 * goes on without a cache.
 *
 * @internal
 */
export const openCache = (grant: Grant.Grant) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    return yield* CriteoFileStore.make({
      secret: CriteoFileStore.secretFromClientSecret(grant.clientSecret),
      context: grant.clientId
    }).pipe(
      Effect.map(Option.some<TokenStore.Service>),
      Effect.catchAll((error) =>
        Effect.as(
          printer.err(`criteo-auth: warning: no token cache (${error.reason}); pass --no-cache to silence this`),
          Option.none<TokenStore.Service>()
        )
      )
    )
  })

const millis = (duration: Duration.DurationInput | undefined, fallback: Duration.Duration) =>
  Duration.toMillis(duration ?? fallback)

/**
 * Reads the settings (flags over the environment) and prepares the client; `adjust` may change the
 * options first (the API version a pasted path names).
 *
 * @internal
 */
export const connect = (
  values: Settings.Values,
  adjust: (options: CriteoConfig.Options) => Effect.Effect<CriteoConfig.Options, UserError> = Effect.succeed,
  cache: Cache = noCache
) =>
  Effect.gen(function*() {
    const printer = yield* Printer
    const tracker = yield* Progress.TrackerTag
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const loaded = yield* Effect.flatMap(Settings.load(values), adjust)
    // the cache: the file store under the key of the client, or of one of its connected accounts
    const store = cache.enabled || Option.isSome(cache.account) ? yield* openCache(loaded.grant) : Option.none()
    const key = storeKey(loaded.grant.clientId, cache.account)
    if (Option.isSome(cache.account)) {
      const entry = Option.isSome(store)
        ? yield* store.value.get(key).pipe(Effect.orElseSucceed(() => Option.none()))
        : Option.none()
      const refreshToken = Option.flatMap(entry, (e) => Option.fromNullable(e.refreshToken))
      if (Option.isNone(refreshToken)) {
        return yield* new UserError({
          code: ExitCode.Configuration,
          sentence: `account "${cache.account.value}" of client ${loaded.grant.clientId} is not connected (or its ` +
            `cache file is unreadable): run criteo-auth consent --account ${cache.account.value}`
        })
      }
    }
    const options: CriteoConfig.Options = Option.match(store, {
      onNone: () => loaded,
      onSome: (tokenStore) => ({
        ...loaded,
        // an account's grant: its refresh token is the store's (which supersedes any other)
        ...(Option.isSome(cache.account)
          ? {
            grant: Grant.refreshToken({
              clientId: loaded.grant.clientId,
              clientSecret: loaded.grant.clientSecret,
              refreshToken: Redacted.make("from-the-token-store")
            })
          }
          : {}),
        tokenStore,
        storeKey: key
      })
    })
    tracker.limits = {
      tokenUrl: options.tokenUrl ?? TokenEndpoint.defaultTokenUrl,
      tokenTimeoutMillis: millis(options.timeout, TokenEndpoint.defaultTimeout),
      apiTimeoutMillis: millis(options.apiTimeout, CriteoConfig.defaultApiTimeout),
      tokenAttempts: options.retry?.maxAttempts ?? CriteoAuth.defaults.maxAttempts,
      // CriteoHttpClient makes 3 attempts by default (it exports no constant for it).
      apiAttempts: options.apiRetry?.maxAttempts ?? 3
    }
    yield* Effect.forEach(Grant.secrets(options.grant), (secret) => printer.hide(Redacted.value(secret)))
    const rotation = yield* Ref.make(Option.none<Rotation>())
    const keepsRefreshTokens = options.grant._tag !== "ClientCredentials"
    const refreshTokenFile = values.refreshToken

    const onRefreshToken = (refreshToken: Redacted.Redacted<string>, token: AccessToken.AccessToken) =>
      Effect.gen(function*() {
        yield* printer.hide(Redacted.value(refreshToken))
        yield* printer.hide(Redacted.value(token.value))
        if (!keepsRefreshTokens) return
        const fingerprint = AccessToken.fingerprint(refreshToken)
        const outcome: Rotation = yield* Option.match(refreshTokenFile, {
          onNone: () => Effect.succeed({ fingerprint, savedTo: Option.none(), failure: Option.none() }),
          onSome: (file) =>
            writeSecretFile(fs, path, file, Redacted.value(refreshToken)).pipe(
              Effect.as<Rotation>({ fingerprint, savedTo: Option.some(file), failure: Option.none() }),
              Effect.catchAll((error) =>
                Effect.succeed<Rotation>({
                  fingerprint,
                  savedTo: Option.none(),
                  failure: Option.some(`${file} (${describeFileError(error)})`)
                })
              )
            )
        })
        yield* Ref.set(rotation, Option.some(outcome))
      })

    const checkRotation = Effect.flatMap(Ref.get(rotation), (current): Effect.Effect<
      Option.Option<Rotation>,
      UserError
    > => {
      if (Option.isNone(current)) return Effect.succeed(current)
      const { failure, fingerprint, savedTo } = current.value
      if (Option.isSome(failure)) {
        return Effect.fail(
          new UserError({
            code: ExitCode.Configuration,
            sentence:
              `Criteo issued a new refresh token (${fingerprint}) but it could not be saved to ${failure.value}; ` +
              "the previous refresh token may no longer work"
          })
        )
      }
      if (Option.isNone(savedTo)) {
        return Effect.as(
          printer.err(
            `criteo-auth: warning: Criteo issued a new refresh token (${fingerprint}) that was not saved, and the ` +
              "previous one may no longer work: pass --refresh-token-file PATH to keep it."
          ),
          current
        )
      }
      return Effect.succeed(current)
    })

    return {
      options,
      layer: Layers.fromOptions((options) =>
        Layers.services(options, "transport").pipe(Layer.provide(httpClient(options, tracker, printer)))
      )({ ...options, onRefreshToken }),
      checkRotation
    } satisfies Session
  })
