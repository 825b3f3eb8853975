/**
 * Scrubbing secrets out of text a server sent back or a program is about to print. A secret reaches
 * the wire in more spellings than its raw value: form-encoded in a token request body, percent-encoded
 * in a URL, escaped inside a JSON string, base64-encoded in an HTTP Basic `Authorization` header. A
 * careless server echoes any of them, so `scrub` replaces every one.
 *
 * The CLI and core's errors use this one scrubber.
 *
 * @since 0.2.0
 */
import * as Encoding from "effect/Encoding"
import * as Redacted from "effect/Redacted"

/**
 * What replaces a secret in scrubbed text.
 *
 * @since 0.2.0
 * @category constants
 */
export const placeholder = "<redacted>"

const hexLower = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())

/** `application/x-www-form-urlencoded`, as a URLSearchParams body writes a value (space as `+`). */
const formEncode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+")

/** A JSON string's content with every non-ASCII character written `\uXXXX` (as Python's json.dumps does). */
const jsonAsciiEscape = (value: string) =>
  JSON.stringify(value).slice(1, -1).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

/**
 * Every spelling of `value` that may appear on the wire or in a server's echo of it: the raw value,
 * percent-encoded (`encodeURIComponent`, and with lower-case hex digits), form-encoded (space as `+`),
 * the content of a JSON string (with `\/` and with `\uXXXX` escapes too), and base64 (standard and
 * URL-safe). Longest first, so that scrubbing one never leaves part of another.
 *
 * @since 0.2.0
 * @category encodings
 */
export const encodings = (value: string): ReadonlyArray<string> => {
  if (value.length === 0) return []
  const json = JSON.stringify(value).slice(1, -1)
  const candidates = [
    value,
    encodeURIComponent(value),
    hexLower(encodeURIComponent(value)),
    formEncode(value),
    hexLower(formEncode(value)),
    json,
    json.replace(/\//g, "\\/"),
    jsonAsciiEscape(value),
    Encoding.encodeBase64(value),
    Encoding.encodeBase64Url(value)
  ]
  return [...new Set(candidates)].sort((a, b) => b.length - a.length)
}

/**
 * The credentials of an HTTP Basic `Authorization` header for a client id and secret, as RFC 6749
 * §2.3.1 builds them (each form-encoded, joined by `:`, base64) and as most clients do (raw, joined,
 * base64). Scrub these too when the client secret may have been sent that way.
 *
 * @since 0.2.0
 * @category encodings
 */
export const basicCredentials = (
  clientId: string,
  clientSecret: Redacted.Redacted<string>
): ReadonlyArray<Redacted.Redacted<string>> => {
  const secret = Redacted.value(clientSecret)
  const spellings = new Set([
    Encoding.encodeBase64(`${clientId}:${secret}`),
    Encoding.encodeBase64(`${formEncode(clientId)}:${formEncode(secret)}`)
  ])
  return [...spellings].map((spelling) => Redacted.make(spelling))
}

/**
 * Replaces every spelling (see `encodings`) of each secret in `text` with `<redacted>`. Empty secrets
 * are ignored. Secrets may be plain strings (for values already unwrapped, such as the CLI's token).
 *
 * @since 0.2.0
 * @category scrubbing
 */
export const scrub = (
  text: string,
  secrets: Iterable<Redacted.Redacted<string> | string>
): string => {
  const spellings: Array<string> = []
  for (const secret of secrets) {
    for (const spelling of encodings(Redacted.isRedacted(secret) ? Redacted.value(secret) : secret)) {
      spellings.push(spelling)
    }
  }
  spellings.sort((a, b) => b.length - a.length)
  let result = text
  for (const spelling of spellings) {
    if (result.includes(spelling)) result = result.split(spelling).join(placeholder)
  }
  return result
}

/**
 * Text from a server made safe to put in an error message: secrets scrubbed (every spelling),
 * control characters (CR, LF, NUL, terminal escapes, ...) written as `\uXXXX`, cut to `maxLength`
 * characters (after scrubbing, so no secret is half cut and left readable). Bound `text` before calling
 * this if it may be huge: the work is linear in its length.
 *
 * @since 0.2.0
 * @category scrubbing
 */
export const sanitize = (
  text: string,
  secrets: Iterable<Redacted.Redacted<string> | string>,
  maxLength = 500
): string => {
  const printable = scrub(text, secrets).replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )
  return printable.length > maxLength ? `${printable.slice(0, maxLength)}…` : printable
}
