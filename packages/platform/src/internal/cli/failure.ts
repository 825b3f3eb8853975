import * as Data from "effect/Data"

/**
 * The exit code of each outcome (documented on `CriteoCli.ExitCode`).
 *
 * @internal
 */
export const ExitCode = {
  Success: 0,
  Unexpected: 1,
  Usage: 2,
  Configuration: 3,
  InvalidCredentials: 4,
  GrantRefused: 5,
  Forbidden: 6,
  Unauthorized: 7,
  RateLimited: 8,
  Unavailable: 9,
  Network: 10,
  TokenRequestRejected: 11,
  ApiError: 12,
  ResponseTooLarge: 13,
  Interrupted: 130
} as const

/** @internal */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

/**
 * An expected failure of the tool itself, already phrased for the user: printed as
 * `criteo-auth: <sentence>.` and ending with `code`. The conformance CLI has the same class.
 *
 * @internal
 */
export class UserError extends Data.TaggedError("UserError")<{
  readonly code: ExitCode
  readonly sentence: string
}> {}

/**
 * A command line that parses but makes no sense (`--raw --json`, invalid `--data`), caught before any request.
 *
 * @internal
 */
export const usage = (sentence: string): UserError => new UserError({ code: ExitCode.Usage, sentence })

/** @internal */
export const describeFileError = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "reason" in error && typeof error.reason === "string") {
    switch (error.reason) {
      case "NotFound":
        return "no such file"
      case "PermissionDenied":
        return "permission denied"
      default:
        return error.reason
    }
  }
  return "unreadable"
}

/** @internal */
export const stripPeriod = (text: string) => text.replace(/\.+$/, "")
