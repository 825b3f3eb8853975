import * as Either from "effect/Either"

/**
 * The deepest nesting of arrays and objects in `text`, counted without parsing (strings skipped),
 * stopping as soon as it passes `limit`. Iterative, so a hostile nesting cannot overflow the stack.
 */
const exceedsDepth = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return false
}

/**
 * `JSON.parse` with a bound on the nesting: `TooDeep` beyond `maxDepth` levels, `NotJson` when it does
 * not parse. Never throws.
 *
 * @internal
 */
export const parse = (text: string, maxDepth: number): Either.Either<unknown, "NotJson" | "TooDeep"> => {
  if (exceedsDepth(text, maxDepth)) return Either.left("TooDeep")
  return Either.try({ try: (): unknown => JSON.parse(text), catch: () => "NotJson" as const })
}

interface Utf8Decoder {
  readonly decode: (input: Uint8Array) => string
}

// TextDecoder is in every runtime core supports (Node, browsers, Deno, Bun), but not in the ES2022 lib.
const decoder: Utf8Decoder = new (globalThis as unknown as { readonly TextDecoder: new() => Utf8Decoder })
  .TextDecoder()

/**
 * The chunks of a body as UTF-8 text (an invalid sequence becomes U+FFFD, as `response.text` does).
 *
 * @internal
 */
export const decodeUtf8 = (chunks: ReadonlyArray<Uint8Array>, size: number): string => {
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return decoder.decode(bytes)
}
