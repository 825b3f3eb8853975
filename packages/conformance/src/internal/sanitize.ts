/**
 * Text that came from an adapter (its output, its error names and messages, its announced name) is
 * hostile until proven otherwise: these make it safe for the places it is rendered.
 */

/**
 * For a terminal: C0 and C1 control characters (escape sequences start with ESC or CSI), DEL and the
 * bidirectional overrides are shown as `\uXXXX` instead of being interpreted; a tab becomes a space.
 * Newlines are controls too: the result is one line.
 */
export const forTerminal = (text: string): string =>
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, (char) =>
    char === "\t" ? " " : `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)

/**
 * For XML 1.0: the characters its `Char` production excludes (controls but tab, newline and carriage
 * return; lone surrogates; U+FFFE and U+FFFF) become U+FFFD, so the document stays well-formed.
 */
export const forXml = (text: string): string =>
  text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")

/**
 * How deeply `text` (JSON) nests objects and arrays, counted without parsing it: brackets inside strings
 * are skipped. Stops counting at `limit + 1`.
 */
export const jsonDepth = (text: string, limit: number): number => {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      depth++
      if (depth > max) max = depth
      if (max > limit) return max
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return max
}
