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
    return Either.right({ host: "127.0.0.1", port: chosen, path: defaultPath, redirectUri: undefined })
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
  return Either.right({ host, port: Number(url.value.port), path: url.value.pathname, redirectUri: redirectUri.value })
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

/**
 * Starts the listener. Other paths and methods are answered 404/405 and do not count; requests after
 * the first on the redirect path are answered 409. Closing the scope answers a waiting browser (the
 * command was interrupted) and closes the server.
 *
 * @internal
 */
export const listen = (target: Target): Effect.Effect<Listener, UserError, Scope.Scope> =>
  Effect.gen(function*() {
    const arrived = yield* Deferred.make<string>()
    const answered = yield* Deferred.make<Page>()
    const where = `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`
    const server = yield* NodeHttpServer.make(() => createServer(), { host: target.host, port: target.port }).pipe(
      Effect.mapError((error) => {
        const cause = error.cause as { code?: unknown } | undefined
        const code = typeof cause?.code === "string" ? cause.code : "unknown error"
        return new UserError({
          code: ExitCode.Configuration,
          sentence: `Cannot listen on ${where} for the redirect (${
            code === "EADDRINUSE" ? "the port is in use" : code
          })`
        })
      })
    )
    const port = server.address._tag === "TcpAddress" ? server.address.port : target.port
    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
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
    // runs before the server closes: a browser still waiting gets a page, so the close is not held up
    yield* Effect.addFinalizer(() => Deferred.succeed(answered, abandoned))
    return {
      redirectUri: target.redirectUri ??
        `http://${target.host.includes(":") ? `[${target.host}]` : target.host}:${port}${target.path}`,
      arrived: Deferred.await(arrived),
      answer: (page) => Effect.asVoid(Deferred.succeed(answered, page))
    }
  })
