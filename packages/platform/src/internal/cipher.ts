import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"

/**
 * AES-256-GCM for the entries of a persistent token store. A sealed text reads
 * `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts): the key id is an HMAC of the key (it tells a
 * wrong key from a corrupt entry, and reveals nothing of the key), the IV is 12 random bytes per
 * encryption, and the additional data binds the text to its place (the Redis key), so an entry copied
 * to another account does not decrypt there.
 *
 * @internal
 */
export interface Cipher {
  /** 8 hex digits identifying the key, safe to log. */
  readonly keyId: string
  readonly seal: (plain: Redacted.Redacted<string>, place: string) => string
  readonly open: (sealed: string, place: string) => Either.Either<Redacted.Redacted<string>, OpenFailure>
}

/** @internal */
export type OpenFailure =
  | { readonly _tag: "WrongKey"; readonly keyId: string }
  | { readonly _tag: "Corrupt" }

const VERSION = "v1"
const HEX_KEY = /^[0-9a-fA-F]{64}$/
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}={0,1}$/

/**
 * Reads a 256-bit key written as 64 hex digits or as base64 / base64url (`openssl rand -base64 32`).
 * `None` for anything else: the caller reports it without echoing the value.
 *
 * @internal
 */
export const parseKey = (key: Redacted.Redacted<string>): Option.Option<Buffer> => {
  const text = Redacted.value(key).trim()
  if (HEX_KEY.test(text)) return Option.some(Buffer.from(text, "hex"))
  if (BASE64_KEY.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64")
    return bytes.length === 32 ? Option.some(bytes) : Option.none()
  }
  return Option.none()
}

/** @internal */
export const keyRequirement = "32 bytes, written as 64 hex digits or in base64 (e.g. `openssl rand -base64 32`)"

/** @internal */
export const make = (key: Buffer): Cipher => {
  const keyId = Crypto.createHmac("sha256", key).update("criteo-auth token store key id").digest("hex").slice(0, 8)
  const seal = (plain: Redacted.Redacted<string>, place: string): string => {
    const iv = Crypto.randomBytes(12)
    const cipher = Crypto.createCipheriv("aes-256-gcm", key, iv)
    cipher.setAAD(Buffer.from(place, "utf8"))
    const body = Buffer.concat([cipher.update(Redacted.value(plain), "utf8"), cipher.final()])
    const tag = cipher.getAuthTag()
    return [VERSION, keyId, iv.toString("base64url"), tag.toString("base64url"), body.toString("base64url")].join(".")
  }
  const open = (sealed: string, place: string): Either.Either<Redacted.Redacted<string>, OpenFailure> => {
    const parts = sealed.split(".")
    if (parts.length !== 5 || parts[0] !== VERSION) return Either.left({ _tag: "Corrupt" })
    if (parts[1] !== keyId) return Either.left({ _tag: "WrongKey", keyId: parts[1].slice(0, 8) })
    try {
      const decipher = Crypto.createDecipheriv("aes-256-gcm", key, Buffer.from(parts[2], "base64url"))
      decipher.setAAD(Buffer.from(place, "utf8"))
      decipher.setAuthTag(Buffer.from(parts[3], "base64url"))
      const plain = Buffer.concat([decipher.update(Buffer.from(parts[4], "base64url")), decipher.final()])
      return Either.right(Redacted.make(plain.toString("utf8")))
    } catch {
      // a bad tag (tampered, or a key whose id collides) or a malformed part: never the plain text
      return Either.left({ _tag: "Corrupt" })
    }
  }
  return { keyId, seal, open }
}
