/**
 * The one check of the URLs credentials are sent to: the token URL (client secret, code, refresh
 * token in the body) and the API base URL (the bearer token in every request). Core's layers
 * (`TokenEndpoint`, `CriteoAuth`, `CriteoHttpClient`) run it when they are built, and platform's
 * configuration runs the same check, so the rules and their messages live here only:
 *
 * - an absolute `https:` URL, or `http:` to the local machine (127.0.0.0/8, `::1`, `localhost`), or
 *   `http:` anywhere with the explicit opt-in `allowInsecureHttp`; no other scheme (`ftp:`, `file:`,
 *   `javascript:`, ...);
 * - no user info (`user:password@`): it is never used, and the password would show in spans and
 *   messages;
 * - no query and no fragment: paths are appended to the base URL, so a query or fragment on it would
 *   misroute every call (and the token URL shows in spans).
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"

/** The parts of a WHATWG `URL` this module reads (the global is not in core's ES2022 lib). */
interface ParsedUrl {
  readonly href: string
  readonly protocol: string
  readonly username: string
  readonly password: string
  readonly host: string
  readonly hostname: string
  readonly pathname: string
  readonly search: string
  readonly hash: string
}

interface UrlConstructor {
  new(input: string): ParsedUrl
  readonly canParse: (input: string) => boolean
}

const Url = (globalThis as unknown as { readonly URL: UrlConstructor }).URL

/**
 * Why a URL is refused. `url` is always the displayable form (see `display`).
 *
 * @since 0.2.0
 * @category models
 */
export type Problem =
  | { readonly _tag: "Malformed" }
  | { readonly _tag: "UnsupportedScheme"; readonly scheme: string; readonly url: string }
  | { readonly _tag: "Insecure"; readonly url: string; readonly host: string }
  | { readonly _tag: "UserInfo"; readonly url: string }
  | { readonly _tag: "QueryOrFragment"; readonly url: string }

/**
 * @since 0.2.0
 * @category models
 */
export interface CheckOptions {
  /** Allow plain `http:` to any host, not only the local machine. Default `false`. */
  readonly allowInsecureHttp?: boolean | undefined
}

/**
 * Whether `hostname` (as `URL` spells it: lower case, IPv6 in brackets) names the local machine:
 * `localhost`, an IPv4 address in 127.0.0.0/8, `::1`, or the IPv4-mapped form of a 127.x address.
 * The URL parser has already normalised the other IPv4 spellings (`127.1`, `0x7f.0.0.1`) to dotted
 * decimal, so a check of the canonical form is exact.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname
  if (host === "localhost") return true
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true
  if (host === "[::1]") return true
  // IPv4-mapped IPv6 as the URL parser writes it: [::ffff:7f00:1] for ::ffff:127.0.0.1.
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
}

const displayParsed = (url: ParsedUrl): string => `${url.protocol}//${url.host}${url.pathname}`

/**
 * A URL safe to show in a message or a span: scheme, host, port and path, without user info, query
 * or fragment (they may carry credentials). `"<not a URL>"` when it does not parse.
 *
 * @since 0.2.0
 * @category formatting
 */
export const display = (input: string): string => Url.canParse(input) ? displayParsed(new Url(input)) : "<not a URL>"

/**
 * Checks a URL credentials will be sent to (see the module's rules) and returns it, normalised by the
 * URL parser, or the first problem found.
 *
 * @since 0.2.0
 * @category validation
 */
export const check = (input: string, options: CheckOptions = {}): Either.Either<string, Problem> => {
  if (!Url.canParse(input)) return Either.left({ _tag: "Malformed" })
  const url = new Url(input)
  const shown = displayParsed(url)
  if (url.protocol !== "https:") {
    if (url.protocol !== "http:") {
      return Either.left({ _tag: "UnsupportedScheme", scheme: url.protocol.slice(0, -1), url: shown })
    }
    if (options.allowInsecureHttp !== true && !isLoopbackHost(url.hostname)) {
      return Either.left({ _tag: "Insecure", url: shown, host: url.hostname })
    }
  }
  if (url.username !== "" || url.password !== "") return Either.left({ _tag: "UserInfo", url: shown })
  // `search`/`hash` are empty for a lone "?" or "#": test the input as well
  if (url.search !== "" || url.hash !== "" || /[?#]/.test(input)) {
    return Either.left({ _tag: "QueryOrFragment", url: shown })
  }
  return Either.right(url.href)
}

/**
 * The sentence for a problem. `subject` names the setting (`tokenUrl`, `CRITEO_API_URL`, ...);
 * `optIn` says how to allow plain http (`allowInsecureHttp`, `CRITEO_ALLOW_INSECURE_HTTP=true`).
 *
 * @since 0.2.0
 * @category formatting
 */
export const describe = (problem: Problem, subject: string, optIn = "allowInsecureHttp"): string => {
  switch (problem._tag) {
    case "Malformed":
      return `${subject} is not an absolute URL: expected an https URL`
    case "UnsupportedScheme":
      return `${subject} uses the unsupported scheme "${problem.scheme}": use https`
    case "Insecure":
      return `Refusing to send credentials over plain http to ${problem.host} (${subject} ${problem.url}): use ` +
        `https, a loopback address, or set ${optIn}`
    case "UserInfo":
      return `${subject} (${problem.url}) carries user info (user:password@): it is never sent; remove it`
    case "QueryOrFragment":
      return `${subject} (${problem.url}) has a query or a fragment: give the URL without ? or #`
  }
}
