import * as Either from "effect/Either"

/**
 * Whether `hostname` (as `URL` spells it: lower case, IPv6 in brackets) names the local machine:
 * `localhost`, an IPv4 address in 127.0.0.0/8, `::1`, or the IPv4-mapped form of a 127.x address.
 * The URL parser has already normalised the other IPv4 spellings (`127.1`, `0x7f.0.0.1`) to dotted
 * decimal, so a prefix check on the canonical form is exact.
 *
 * @internal
 */
export const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname
  if (host === "localhost") return true
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return true
  if (host === "[::1]") return true
  // IPv4-mapped IPv6 as the URL parser writes it: [::ffff:7f00:1] for ::ffff:127.0.0.1.
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
}

/**
 * A URL safe to show in a message: scheme, host, port and path, without user info, query or
 * fragment (they may carry credentials).
 *
 * @internal
 */
export const display = (url: URL): string => `${url.protocol}//${url.host}${url.pathname}`

/** @internal */
export type Problem =
  | { readonly _tag: "Malformed" }
  | { readonly _tag: "UnsupportedScheme"; readonly scheme: string; readonly url: string }
  | { readonly _tag: "Insecure"; readonly url: string; readonly host: string }

/**
 * Parses a URL that credentials or bearer tokens will be sent to: it must be absolute and `https:`,
 * or `http:` to a loopback host, or `http:` anywhere when `allowInsecureHttp` is set.
 *
 * @internal
 */
export const checkCredentialUrl = (input: string, allowInsecureHttp: boolean): Either.Either<URL, Problem> => {
  if (!URL.canParse(input)) return Either.left({ _tag: "Malformed" })
  const url = new URL(input)
  if (url.protocol === "https:") return Either.right(url)
  if (url.protocol !== "http:") {
    return Either.left({ _tag: "UnsupportedScheme", scheme: url.protocol.slice(0, -1), url: display(url) })
  }
  if (allowInsecureHttp || isLoopbackHost(url.hostname)) return Either.right(url)
  return Either.left({ _tag: "Insecure", url: display(url), host: url.hostname })
}
