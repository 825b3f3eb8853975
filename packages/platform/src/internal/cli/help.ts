/**
 * What the command-line parser prints, made fit for people: `@effect/cli` prints help and parse errors
 * through the `Console` service, and this console rewrites them — the program name in every usage
 * line, no type blurbs ("A user-defined piece of text."), no colour when the output is not a terminal
 * or `NO_COLOR` is set, and parse errors as `criteo-auth: ...` with a "did you mean" for a misspelt
 * flag or command (`@effect/cli`'s own Levenshtein distance).
 */
import * as AutoCorrect from "@effect/cli/AutoCorrect"
import * as CliConfig from "@effect/cli/CliConfig"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import type * as Console from "effect/Console"

/**
 * The parser's configuration: no built-in options in the help (they are described in the root
 * command's text; `--wizard` is refused), and no type column in usage lines.
 *
 * @internal
 */
export const cliConfig = CliConfig.make({ showBuiltIns: false, showTypes: false })

/**
 * An EXAMPLES section for a command's description.
 *
 * @internal
 */
export const examples = (lines: ReadonlyArray<string>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([HelpDoc.h1("EXAMPLES"), ...lines.map((line) => HelpDoc.p(Span.code(`  $ ${line}`)))])

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

/** The paragraphs `@effect/cli` adds to every option's help, whatever its description says. */
const BLURBS = [
  /^ {2}A user-defined piece of text\.\n\n/gm,
  /^ {2}A true or false value\.\n\n/gm,
  /^ {2}A file\.\n\n/gm,
  /^ {2}An integer\.\n\n/gm,
  /^ {2}One of the following: [^\n]*\n\n/gm,
  /^ {2}This setting is optional\.\n\n/gm,
  /^ {2}This setting is optional\.\n?$/gm
]

/** @internal */
export interface Vocabulary {
  readonly program: string
  readonly commands: ReadonlyArray<string>
  readonly flags: ReadonlyArray<string>
}

const nearest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = AutoCorrect.levensteinDistance(word, candidate, CliConfig.defaultConfig)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined
}

/**
 * A parse error of `@effect/cli` as one line: `criteo-auth: unknown flag --rwa: did you mean --raw?`.
 *
 * @internal
 */
export const parseError = (text: string, vocabulary: Vocabulary): string => {
  const message = text.replace(ANSI, "").trim().split("\n").map((line) => line.trim()).filter((line) => line !== "")
    .join(" ")
  const unknown = /^Received unknown argument: '([^']*)'$/.exec(message)
  if (unknown !== null) {
    const word = unknown[1]
    if (word.startsWith("-")) {
      const guess = nearest(word, vocabulary.flags)
      return `${vocabulary.program}: unknown flag ${word}${guess === undefined ? "" : `: did you mean ${guess}?`} ` +
        `(see ${vocabulary.program} --help)`
    }
    return `${vocabulary.program}: unexpected argument ${JSON.stringify(word)} (see ${vocabulary.program} --help)`
  }
  const subcommand = /^Invalid subcommand for \S+ - use one of (.*)$/.exec(message)
  if (subcommand !== null) {
    return `${vocabulary.program}: unknown command (use one of ${subcommand[1]}; see ${vocabulary.program} --help)`
  }
  return `${vocabulary.program}: ${message}`
}

/**
 * Help text as printed: the program name in usage lines, the blurbs removed, colour only if wanted.
 *
 * @internal
 */
export const helpText = (text: string, vocabulary: Vocabulary, color: boolean): string => {
  let out = BLURBS.reduce((acc, blurb) => acc.replace(blurb, ""), text)
  out = out.replace(
    new RegExp(`^\\$ (?!${vocabulary.program}\\b)`, "gm"),
    `$ ${vocabulary.program} `
  )
  return color ? out : out.replace(ANSI, "")
}

/**
 * The console the parser prints through. `real` is the console everything else uses.
 *
 * @internal
 */
export const parserConsole = (
  real: Console.Console,
  vocabulary: Vocabulary,
  color: boolean,
  argv: ReadonlyArray<string>
): Console.Console => {
  const unknownCommand = (text: string) => {
    const line = parseError(text, vocabulary)
    // The misspelt command is the first word that is not a flag.
    const word = argv.find((arg) => !arg.startsWith("-"))
    const guess = word === undefined ? undefined : nearest(word, vocabulary.commands)
    return guess === undefined || !line.includes("unknown command")
      ? line
      : line.replace("unknown command", `unknown command ${JSON.stringify(word)}: did you mean ${guess}?`)
  }
  const log = (...args: ReadonlyArray<unknown>) => real.log(helpText(args.map(String).join(" "), vocabulary, color))
  const error = (...args: ReadonlyArray<unknown>) => real.error(unknownCommand(args.map(String).join(" ")))
  return {
    ...real,
    log,
    error,
    unsafe: {
      ...real.unsafe,
      log: (...args) => real.unsafe.log(helpText(args.map(String).join(" "), vocabulary, color)),
      error: (...args) => real.unsafe.error(unknownCommand(args.map(String).join(" ")))
    }
  }
}

/**
 * Whether colour is wanted on stdout: a terminal, and no `NO_COLOR`.
 *
 * @internal
 */
export const wantsColor = (): boolean =>
  process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === "" && process.env["TERM"] !== "dumb"
