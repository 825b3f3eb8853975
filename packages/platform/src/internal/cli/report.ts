import * as CriteoAuthError from "@criteo-auth/core/CriteoAuthError"
import * as CriteoHttpClient from "@criteo-auth/core/CriteoHttpClient"
import * as ValidationError from "@effect/cli/ValidationError"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as Cause from "effect/Cause"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as CriteoConfig from "../../CriteoConfig.js"
import { ExitCode, stripPeriod, UserError } from "./failure.js"
import type { Printer } from "./output.js"
import * as Settings from "./settings.js"

interface Issue {
  readonly kind: "missing" | "invalid"
  readonly name: string
  readonly message: string
}

const issuesOf = (error: ConfigError.ConfigError): ReadonlyArray<Issue> =>
  ConfigError.reduceWithContext<undefined, ReadonlyArray<Issue>>(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }],
    missingDataCase: (_, path, message) => [{ kind: "missing", name: path.join("."), message }],
    sourceUnavailableCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }],
    unsupportedCase: (_, path, message) => [{ kind: "invalid", name: path.join("."), message }]
  })

const variableWithFlag = (name: string) => {
  const flag = Settings.flagOf(name)
  return flag === undefined ? name : `${name} (or ${flag})`
}

/**
 * A `ConfigError` as one sentence naming every variable at fault, with the flag that sets it.
 *
 * @internal
 */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const seen = new Set<string>()
  const parts: Array<string> = []
  for (const issue of issuesOf(error)) {
    const key = `${issue.kind}:${issue.name}`
    if (seen.has(key)) continue
    seen.add(key)
    // Effect replaces the messages about a redacted value with "<redacted>": there is nothing to add then.
    const hidden = issue.message === "<redacted>"
    if (issue.kind === "missing") {
      const detail = hidden || issue.message.startsWith("Expected ") ? "" : `: ${stripPeriod(issue.message)}`
      parts.push(`${variableWithFlag(issue.name)} is not set${detail}`)
    } else {
      const detail = hidden ? " (the value is secret and not shown: is it empty?)" : `: ${stripPeriod(issue.message)}`
      parts.push(`${variableWithFlag(issue.name)} is invalid${detail}`)
    }
  }
  return `Invalid configuration: ${parts.join("; ")}`
}

/**
 * The exit code and the sentence of an expected failure.
 *
 * @internal
 */
export const describe = (error: unknown): readonly [ExitCode, string] => {
  if (error instanceof UserError) return [error.code, error.sentence]
  if (ConfigError.isConfigError(error)) return [ExitCode.Configuration, describeConfigError(error)]
  if (CriteoConfig.isUrlError(error)) return [ExitCode.Configuration, error.message]
  if (CriteoAuthError.isCriteoAuthError(error)) {
    switch (error._tag) {
      case "InvalidClientError":
        return [ExitCode.InvalidCredentials, error.message]
      case "InvalidGrantError":
        return [ExitCode.GrantRefused, error.message]
      case "ForbiddenError":
        return [ExitCode.Forbidden, error.message]
      case "UnauthorizedError":
        return [ExitCode.Unauthorized, error.message]
      case "RateLimitedError":
        return [ExitCode.RateLimited, error.message]
      case "TokenEndpointUnavailableError":
        return [ExitCode.Unavailable, error.message]
      case "TransportError":
        return [ExitCode.Network, error.message]
      case "TokenRequestRejectedError":
      case "MalformedTokenResponseError":
        return [ExitCode.TokenRequestRejected, error.message]
    }
  }
  if (HttpClientError.isHttpClientError(error)) {
    const target = `${error.request.method} ${error.request.url}`
    return error._tag === "RequestError"
      ? [
        ExitCode.Network,
        `Could not reach the Criteo API (${target}): ${CriteoHttpClient.describeTransportFailure(error)}`
      ]
      : [
        ExitCode.Network,
        `Could not read the answer of the Criteo API (${target}): ${CriteoHttpClient.describeTransportFailure(error)}`
      ]
  }
  return [ExitCode.Unexpected, `Unexpected error: ${String(error)}`]
}

/**
 * Prints what went wrong as one sentence on stderr and returns the exit code; `summary` (the attempts
 * and the time they took) is added when the progress display was shown.
 *
 * @internal
 */
export const report = (
  printer: Printer,
  cause: Cause.Cause<unknown>,
  summary: string | undefined
): Effect.Effect<ExitCode> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.succeed(ExitCode.Interrupted)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    // @effect/cli has already printed what was wrong with the command line, with the usage.
    if (ValidationError.isValidationError(failure.value)) return Effect.succeed(ExitCode.Usage)
    const [code, sentence] = describe(failure.value)
    const after = summary === undefined ? "" : ` (${summary})`
    return Effect.as(printer.err(`criteo-auth: ${stripPeriod(sentence)}${after}.`), code)
  }
  return Effect.as(
    printer.err(`criteo-auth: unexpected error (please report it): ${Cause.pretty(cause)}`),
    ExitCode.Unexpected
  )
}
