const OFFSET = 0xcbf29ce484222325n
const PRIME = 0x100000001b3n
const MASK = 0xffffffffffffffffn

/**
 * 64-bit FNV-1a over the UTF-16 code units of a string, as 16 hex digits. Not cryptographic: it only
 * has to tell tokens apart in logs without revealing anything usable (a token is hundreds of
 * characters of entropy; 48 bits of its hash give nothing back).
 *
 * @internal
 */
export const fnv1a64 = (input: string): string => {
  let hash = OFFSET
  for (let i = 0; i < input.length; i++) {
    hash ^= BigInt(input.charCodeAt(i))
    hash = (hash * PRIME) & MASK
  }
  return hash.toString(16).padStart(16, "0")
}
