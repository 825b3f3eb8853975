/**
 * `CriteoAuth` and `CriteoHttpClient` on Node.js, over undici (`NodeHttpClient.layerUndici`'s client
 * on a dispatcher of this module). The dispatcher belongs to the layer: it is closed with the layer's
 * scope.
 *
 * The dispatcher bounds each API attempt itself (undici's `headersTimeout` and `bodyTimeout`, from
 * `apiTimeout`), so no Effect timer is armed per request; token requests keep `TokenEndpoint`'s
 * timeout. It honours `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (and their lower-case spellings),
 * read when the layer is built: undici's `EnvHttpProxyAgent`, tunnelling `https:` through the proxy
 * with `CONNECT`, so the proxy sees host names, never a token or a secret. With none of them set it is
 * a plain undici `Agent`. Redirects are not followed (undici's default).
 *
 * For another dispatcher (a `ProxyAgent` with credentials, a custom CA, a `MockAgent`), provide it as
 * `NodeHttpClient.Dispatcher` to `layerWithoutDispatcher`; it gets the same per-attempt bounds.
 *
 * @since 0.1.0
 */
import * as TokenEndpoint from "@criteo-auth/core/TokenEndpoint"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { EventEmitter } from "node:events"
import * as CriteoConfig from "./CriteoConfig.js"
import type * as CriteoLayer from "./CriteoLayer.js"
import * as internal from "./internal/layers.js"

/**
 * What the dispatcher needs to know: the API attempt timeout, and the token URL (whose requests keep
 * their own timeout, `TokenEndpoint`'s).
 *
 * @since 0.2.0
 * @category models
 */
export interface DispatcherOptions {
  /** The bound of one API attempt, up to the headers and between body chunks. Default 60 s. */
  readonly apiTimeout?: Duration.DurationInput | undefined
  /** The token endpoint. Default Criteo's. */
  readonly tokenUrl?: string | undefined
}

/** The first of the variables that is set and not empty (lower case first, as curl reads them). */
const variable = (...names: ReadonlyArray<string>): string | undefined =>
  names.map((name) => process.env[name]).find((value) => value !== undefined && value !== "")

const proxySettings = () => {
  const httpProxy = variable("http_proxy", "HTTP_PROXY")
  const httpsProxy = variable("https_proxy", "HTTPS_PROXY") ?? httpProxy
  return {
    ...(httpProxy === undefined ? {} : { httpProxy }),
    ...(httpsProxy === undefined ? {} : { httpsProxy }),
    noProxy: variable("no_proxy", "NO_PROXY") ?? ""
  }
}

/**
 * Whether the environment names a proxy: `HTTPS_PROXY` or `HTTP_PROXY` (either case) set and not
 * empty.
 *
 * @since 0.2.0
 * @category proxies
 */
export const proxyFromEnvironment = (): boolean => {
  const settings = proxySettings()
  return settings.httpProxy !== undefined || settings.httpsProxy !== undefined
}

/**
 * The dispatcher `withApiTimeouts` returns: every request goes to `inner`, an API request with the
 * bounds added. A class of its own rather than `Dispatcher.compose`, whose `Proxy` and handler
 * adapters (wrapped, then unwrapped by the dispatcher below) cost several microseconds per request.
 *
 * `inner`'s events (`connect`, `disconnect`, `connectionError`, `drain`) are re-emitted here, as the
 * `Proxy` of `compose` showed them: `makeDispatcher`'s `inner` is reachable through this object alone.
 * One forwarder per event on `inner`, only while someone listens here: wrapping a shared dispatcher
 * again and again leaves nothing on it.
 */
class ApiTimeouts extends Undici.Dispatcher {
  readonly #inner: Undici.Dispatcher
  readonly #timeout: number
  readonly #tokenOrigin: string
  readonly #tokenPath: string
  readonly #forwarders = new Map<string | symbol, (...args: Array<unknown>) => void>()
  constructor(inner: Undici.Dispatcher, timeout: number, tokenOrigin: string, tokenPath: string) {
    super()
    this.#inner = inner
    this.#timeout = timeout
    this.#tokenOrigin = tokenOrigin
    this.#tokenPath = tokenPath
    this.#forward()
  }
  /** Attaches a forwarder to `inner` on an event's first listener here, detaches it after the last. */
  #forward() {
    // undici's types name the dispatcher events only; these are EventEmitter's own
    const self = this as EventEmitter
    const source = this.#inner as EventEmitter
    self.on("newListener", (event: string | symbol) => {
      if (event === "newListener" || event === "removeListener" || this.#forwarders.has(event)) return
      const forward = (...args: Array<unknown>) => self.emit(event, ...args)
      this.#forwarders.set(event, forward)
      source.on(event, forward)
    })
    self.on("removeListener", (event: string | symbol) => {
      const forward = this.#forwarders.get(event)
      if (forward === undefined || self.listenerCount(event) > 0) return
      this.#forwarders.delete(event)
      source.off(event, forward)
    })
  }
  /** All of them, forwarders detached as each event loses its last listener; the two above are put back. */
  override removeAllListeners(event?: string | symbol): this {
    if (event !== undefined) return super.removeAllListeners(event)
    super.removeAllListeners()
    this.#forward()
    return this
  }
  /** As `inner` says (undici's agents and pools have them), as through `compose`'s `Proxy`. */
  get closed(): boolean | undefined {
    return (this.#inner as { readonly closed?: boolean }).closed
  }
  get destroyed(): boolean | undefined {
    return (this.#inner as { readonly destroyed?: boolean }).destroyed
  }
  override dispatch(opts: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    return this.#inner.dispatch(
      opts.path === this.#tokenPath && String(opts.origin) === this.#tokenOrigin
        ? opts
        : { ...opts, headersTimeout: this.#timeout, bodyTimeout: this.#timeout },
      handler
    )
  }
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    return callback === undefined ? this.#inner.close() : this.#inner.close(callback)
  }
  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(first?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    if (typeof first === "function") return this.#inner.destroy(first)
    if (callback !== undefined) return this.#inner.destroy(first ?? null, callback)
    return first === undefined ? this.#inner.destroy() : this.#inner.destroy(first)
  }
}

/**
 * Wraps a dispatcher so that API requests are bounded by `apiTimeout` (undici's `headersTimeout` and
 * `bodyTimeout`, which `NodeHttpClient` otherwise sets to an hour and to none). Requests to the token
 * URL pass unchanged. The result shares the dispatcher's connections; closing it closes the dispatcher.
 * Its events (`connect`, `disconnect`, `connectionError`, `drain`) and its `closed` and `destroyed` are the
 * dispatcher's.
 *
 * @since 0.2.0
 * @category dispatchers
 */
export const withApiTimeouts = (
  dispatcher: Undici.Dispatcher,
  options: DispatcherOptions = {}
): Undici.Dispatcher => {
  const timeout = Duration.toMillis(Duration.decode(options.apiTimeout ?? CriteoConfig.defaultApiTimeout))
  const token = new URL(options.tokenUrl ?? TokenEndpoint.defaultTokenUrl)
  // the token request's path whole (as NodeHttpClient sends it): a path that merely starts with it (a gateway's
  // `/criteo-api/...` under a token URL `/criteo`) is an API request
  return new ApiTimeouts(dispatcher, timeout, token.origin, token.pathname + token.search + token.hash)
}

/**
 * The dispatcher of `layer`: an `EnvHttpProxyAgent` when the environment names a proxy, an `Agent`
 * otherwise, with the per-attempt bounds of `withApiTimeouts`; destroyed with the scope. The
 * command-line tool uses it too.
 *
 * @since 0.2.0
 * @category dispatchers
 */
export const makeDispatcher = (options: DispatcherOptions = {}): Effect.Effect<Undici.Dispatcher, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      withApiTimeouts(
        proxyFromEnvironment() ? new Undici.EnvHttpProxyAgent(proxySettings()) : new Undici.Agent(),
        options
      )
    ),
    (dispatcher) => Effect.promise(() => dispatcher.destroy())
  )

/**
 * `makeDispatcher` as `NodeHttpClient.Dispatcher`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDispatcher = (options: DispatcherOptions = {}): Layer.Layer<NodeHttpClient.Dispatcher> =>
  Layer.scoped(NodeHttpClient.Dispatcher, makeDispatcher(options))

const onDispatcher = (options: CriteoConfig.Options) =>
  internal.services(options, "transport").pipe(Layer.provide(NodeHttpClient.layerUndiciWithoutDispatcher))

const onOwnDispatcher = (options: CriteoConfig.Options) =>
  onDispatcher(options).pipe(Layer.provide(layerDispatcher(options)))

/** The application's dispatcher, wrapped (not owned: it is not closed with the layer). */
const onGivenDispatcher = (options: CriteoConfig.Options) =>
  onDispatcher(options).pipe(
    Layer.provide(
      Layer.effect(
        NodeHttpClient.Dispatcher,
        Effect.map(NodeHttpClient.Dispatcher, (dispatcher) => withApiTimeouts(dispatcher, options))
      )
    )
  )

/**
 * From explicit options.
 *
 * @example
 * ```ts
 * import { CriteoAuth, Grant } from "@criteo-auth/core"
 * import { CriteoNode } from "@criteo-auth/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const CriteoLive = CriteoNode.layer({
 *   grant: Grant.clientCredentials({ clientId: "my-client-id", clientSecret: Redacted.make("my-client-secret") }),
 *   apiVersion: "2026-07"
 * })
 *
 * export const token = Effect.flatMap(CriteoAuth.CriteoAuth, (auth) => auth.token).pipe(Effect.provide(CriteoLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options: CriteoConfig.Options
) => Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError> = internal.fromOptions(onOwnDispatcher)

/**
 * From configuration: by default the `CRITEO_*` environment variables (see `CriteoConfig.config`).
 *
 * @example
 * ```ts
 * import { CriteoHttpClient } from "@criteo-auth/core"
 * import { CriteoNode } from "@criteo-auth/platform"
 * import { Effect } from "effect"
 *
 * // CRITEO_CLIENT_ID, CRITEO_CLIENT_SECRET, ... from the environment: a missing or malformed one is a
 * // ConfigError naming the variable.
 * export const program = Effect.flatMap(CriteoHttpClient.CriteoHttpClient, (client) =>
 *   client.get("/advertisers/me")).pipe(Effect.provide(CriteoNode.layerConfig()))
 *
 * // NodeRuntime.runMain(program)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: (
  config?: Config.Config.Wrap<CriteoConfig.Options>
) => Layer.Layer<CriteoLayer.Services, ConfigError.ConfigError> = internal.fromConfig(onOwnDispatcher)

/**
 * From explicit options, on the `NodeHttpClient.Dispatcher` the application provides (any undici
 * dispatcher: a `ProxyAgent`, an `Agent` with a custom CA, a `MockAgent`). The application owns it:
 * it is not closed with this layer.
 *
 * ```ts
 * const dispatcher = Layer.succeed(NodeHttpClient.Dispatcher, new Undici.ProxyAgent("http://proxy:3128"))
 * const live = CriteoNode.layerWithoutDispatcher(options).pipe(Layer.provide(dispatcher))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWithoutDispatcher: (
  options: CriteoConfig.Options
) => Layer.Layer<CriteoLayer.Services, CriteoConfig.UrlError, NodeHttpClient.Dispatcher> = internal.fromOptions(
  onGivenDispatcher
)
