/**
 * The loopback listener of `criteo-auth consent --listen`: an HTTP server on this machine (on
 * `@effect/platform`'s `HttpServer`, Node's underneath) that receives the consent page's redirect,
 * hands its URL to the command, and answers the browser with a page saying what happened: never a
 * code, a token or a secret, and nothing echoed unescaped.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import { ExitCode, UserError } from "./failure.js"

/**
 * Where to listen, and the redirect URI that reaches it.
 *
 * @internal
 */
export interface Target {
  /** The address to bind: `127.0.0.1` or `::1`. */
  readonly host: string
  /**
   * Bind `::1` as well, on the same port (a `localhost` redirect URI): a browser may resolve `localhost`
   * to `::1` first. Skipped where the machine has no IPv6 loopback.
   */
  readonly alsoIpv6: boolean
  /** 0: a free port, chosen by the system. */
  readonly port: number
  /** The path of the redirect; other paths are answered 404. */
  readonly path: string
  /** The redirect URI as given (`--redirect-uri`); else built from the address and the port bound. */
  readonly redirectUri: string | undefined
}

/** @internal */
export const defaultPath = "/callback"

const loopbackHosts: Record<string, string> = { "127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "[::1]": "::1" }

/**
 * The `Host` headers the listener answers to: its loopback names with the port it bound. Any other
 * (`evil.example:PORT`, a page whose name was rebound to 127.0.0.1; none at all) is refused.
 *
 * @internal
 */
export const acceptedHosts = (port: number): ReadonlySet<string> =>
  new Set(Object.keys(loopbackHosts).map((name) => `${name}:${port}`))

/**
 * The listener's target from `--redirect-uri` (a loopback http URI with its port) or `--port` (default:
 * a free port, and the redirect URI `http://127.0.0.1:PORT/callback`). A sentence when it cannot be.
 *
 * @internal
 */
export const target = (redirectUri: Option.Option<string>, port: Option.Option<number>): Either.Either<
  Target,
  string
> => {
  if (Option.isNone(redirectUri)) {
    const chosen = Option.getOrElse(port, () => 0)
    if (!Number.isInteger(chosen) || chosen < 0 || chosen > 65535) {
      return Either.left("--port N: a port number, 0 to 65535 (0: a free port)")
    }
    return Either.right({ host: "127.0.0.1", alsoIpv6: false, port: chosen, path: defaultPath, redirectUri: undefined })
  }
  if (Option.isSome(port)) {
    return Either.left("--port and --redirect-uri cannot be used together: the redirect URI names the port")
  }
  const loopback = "--listen needs a loopback redirect URI with its port (http://127.0.0.1:PORT/..., " +
    "http://localhost:PORT/... or http://[::1]:PORT/...), registered for the app"
  const url = Option.liftThrowable(() => new URL(redirectUri.value))()
  if (Option.isNone(url) || url.value.protocol !== "http:" || url.value.port === "") return Either.left(loopback)
  const host = loopbackHosts[url.value.hostname]
  if (host === undefined || url.value.username !== "" || url.value.password !== "") return Either.left(loopback)
  return Either.right({
    host,
    alsoIpv6: url.value.hostname === "localhost",
    port: Number(url.value.port),
    path: url.value.pathname,
    redirectUri: redirectUri.value
  })
}

/**
 * What the browser is answered.
 *
 * @internal
 */
export interface Page {
  readonly status: number
  readonly title: string
  readonly text: string
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/**
 * The page as HTML: no script, no style, no external resource, not cached, no referrer; the connection
 * closed after it (the command ends: a kept-alive connection must not hold the server open).
 *
 * @internal
 */
export const render = (page: Page): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escapeHtml(page.title) +
      "</title></head>\n<body><h1>" + escapeHtml(page.title) + "</h1>\n<p>" + escapeHtml(page.text) +
      "</p></body></html>\n",
    {
      status: page.status,
      contentType: "text/html; charset=utf-8",
      headers: {
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'",
        "x-content-type-options": "nosniff",
        "connection": "close"
      }
    }
  )

/** The page of a command that ended without answering (interrupted, or failed unexpectedly). */
const abandoned: Page = {
  status: 500,
  title: "criteo-auth stopped",
  text: "criteo-auth stopped before it could finish connecting the account: see the terminal."
}

/**
 * How long the browser's request waits for the command's answer at most (the code exchange is bounded
 * by its own timeouts well below this; this only guarantees the listener always closes).
 *
 * @internal
 */
export const answerTimeout = Duration.minutes(5)

/**
 * A listening server, for the lifetime of the scope.
 *
 * @internal
 */
export interface Listener {
  /** The redirect URI that reaches the listener. */
  readonly redirectUri: string
  /** The first request on the redirect path: its path and query (the code and the state). */
  readonly arrived: Effect.Effect<string>
  /** Answers the browser waiting on that request. */
  readonly answer: (page: Page) => Effect.Effect<void>
}

/** The answer to a request for another host: no detail (the asking page is not to learn anything). */
const misdirected: Page = { status: 421, title: "Misdirected request", text: "Not for this host." }

/** The server's error code when it cannot listen (`EADDRINUSE`, ...). */
const errorCode = (error: { readonly cause?: unknown }): string => {
  const cause = error.cause as { code?: unknown } | undefined
  return typeof cause?.code === "string" ? cause.code : "unknown error"
}

/** The machine has no IPv6 loopback: `::1` cannot be bound, and no browser can reach it there either. */
const noIpv6 = new Set(["EADDRNOTAVAIL", "EAFNOSUPPORT"])

const bind = (host: string, port: number) =>
  NodeHttpServer.make(() => createServer(), { host, port }).pipe(
    Effect.mapError((error) => {
      const code = errorCode(error)
      return {
        code,
        error: new UserError({
          code: ExitCode.Configuration,
          sentence: `Cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port} for the redirect (${
            code === "EADDRINUSE" ? "the port is in use" : code
          })`
        })
      }
    })
  )

/**
 * Starts the listener. Requests whose `Host` is not one of its loopback names with its port (a page
 * of another site whose name was rebound to this machine, DNS rebinding) are answered 421 without
 * detail and do not count; nor do other paths and methods (404/405); requests after the first on the
 * redirect path are answered 409. For a `localhost` redirect URI, the port is bound on `127.0.0.1` and
 * `::1` (unless the machine has no IPv6 loopback). Closing the scope answers a waiting browser (the
 * command was interrupted) and closes the server.
 *
 * @internal
 */
export const listen = (target: Target): Effect.Effect<Listener, UserError, Scope.Scope> =>
  Effect.gen(function*() {
    const arrived = yield* Deferred.make<string>()
    const answered = yield* Deferred.make<Page>()
    const server = yield* Effect.mapError(bind(target.host, target.port), ({ error }) => error)
    const port = server.address._tag === "TcpAddress" ? server.address.port : target.port
    const ipv6 = target.alsoIpv6
      ? yield* bind("::1", port).pipe(
        Effect.map(Option.some),
        Effect.catchIf(({ code }) => noIpv6.has(code), () => Effect.succeedNone),
        Effect.mapError(({ error }) => error)
      )
      : Option.none()
    const hosts = acceptedHosts(port)
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (!hosts.has((request.headers["host"] ?? "").toLowerCase())) return render(misdirected)
      const path = request.url.split("?")[0]
      if (path !== target.path) {
        return render({ status: 404, title: "Not found", text: "This is criteo-auth's consent listener." })
      }
      if (request.method !== "GET") {
        return render({ status: 405, title: "Method not allowed", text: "The consent redirect is a GET." })
      }
      if (!(yield* Deferred.succeed(arrived, request.url))) {
        return render({
          status: 409,
          title: "Already received",
          text: "criteo-auth has already received a redirect: see the terminal."
        })
      }
      const page = yield* Deferred.await(answered).pipe(Effect.timeoutOption(answerTimeout))
      return render(Option.getOrElse(page, () => abandoned))
    })
    yield* server.serve(app)
    if (Option.isSome(ipv6)) yield* ipv6.value.serve(app)
    // runs before the server closes: a browser still waiting gets a page, so the close is not held up
    yield* Effect.addFinalizer(() => Deferred.succeed(answered, abandoned))
    return {
      redirectUri: target.redirectUri ??
        `http://${target.host.includes(":") ? `[${target.host}]` : target.host}:${port}${target.path}`,
      arrived: Deferred.await(arrived),
      answer: (page) => Effect.asVoid(Deferred.succeed(answered, page))
    }
  })
