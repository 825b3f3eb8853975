import * as Redaction from "@criteo-auth/core/Redaction"
import type * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"

/**
 * Everything the tool prints goes through here, with the known secrets scrubbed out.
 *
 * @internal
 */
export interface Printer {
  /** Prints a line on stdout, known secrets replaced by `<redacted>`. */
  readonly out: (text: string) => Effect.Effect<void>
  /** Prints a line on stderr, known secrets replaced by `<redacted>`. */
  readonly err: (text: string) => Effect.Effect<void>
  /** Prints a line on stdout as it is: only for the access token the user asked for. */
  readonly reveal: (text: string) => Effect.Effect<void>
  /** Adds a value to scrub from all later output. */
  readonly hide: (value: string) => Effect.Effect<void>
  /** The text with the known secrets replaced by `<redacted>` (for what is written to files). */
  readonly scrub: (text: string) => string
}

/** @internal */
export const Printer = Context.GenericTag<Printer>("@criteo-auth/platform/CriteoCli/Printer")

/** @internal */
export interface Scrubber {
  readonly scrub: (text: string) => string
  readonly add: (value: string) => void
}

/** @internal */
export const makeScrubber = (): Scrubber => {
  const secrets: Array<string> = []
  return {
    // core's scrubber: every spelling of each secret (form, percent, JSON escapes, base64), not only the raw one
    scrub: (text) => Redaction.scrub(text, secrets),
    add: (value) => {
      if (value.length >= 4 && !secrets.includes(value)) secrets.push(value)
    }
  }
}

/**
 * The printer over `console`: the console of the process, captured before the parser's own console
 * (see `help.ts`) is installed.
 *
 * @internal
 */
export const makePrinter = (scrubber: Scrubber, console: Console.Console): Printer => ({
  out: (text) => Effect.sync(() => console.unsafe.log(scrubber.scrub(text))),
  err: (text) => Effect.sync(() => console.unsafe.error(scrubber.scrub(text))),
  reveal: (text) => Effect.sync(() => console.unsafe.log(text)),
  hide: (value) => Effect.sync(() => scrubber.add(value)),
  scrub: (text) => scrubber.scrub(text)
})

/**
 * Logs go to stderr (stdout is for results). Log lines carry client ids and token fingerprints, never
 * secrets; they are scrubbed all the same.
 *
 * @internal
 */
export const loggerLayer = (scrubber: Scrubber, console: Console.Console) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.map(Logger.logfmtLogger, (line) => console.unsafe.error(scrubber.scrub(line)))
  )
