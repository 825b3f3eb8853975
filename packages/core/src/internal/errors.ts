import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as CriteoAuthError from "../CriteoAuthError.js"

const describeCause = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  const parts: Array<string> = []
  const message = (cause as { message?: unknown }).message
  if (typeof message === "string" && message.length > 0) parts.push(message)
  const code = (cause as { code?: unknown }).code ?? (cause as { cause?: { code?: unknown } }).cause?.code
  if (typeof code === "string" && !parts.some((part) => part.includes(code))) parts.push(code)
  return parts.length > 0 ? parts.join(": ") : undefined
}

/**
 * What went wrong on the wire, from a platform error: its description and its cause's message and code
 * (`ECONNREFUSED`), at most 300 characters; never the request (it holds secrets).
 */
export const describeTransport = (error: HttpClientError.HttpClientError): string => {
  const detail = [error.description, describeCause(error.cause)].filter((part) => part !== undefined).join(": ")
  return (detail.length > 0 ? detail : error.reason).slice(0, 300)
}

/**
 * Turns a platform error into a `TransportError` that keeps a short description and drops the rest:
 * a platform `RequestError` holds the request, whose body holds the client secret (token endpoint)
 * or whose headers hold the bearer token (API).
 */
export const transportError = (
  endpoint: "token" | "api",
  error: HttpClientError.HttpClientError
): CriteoAuthError.TransportError => {
  return new CriteoAuthError.TransportError({
    endpoint,
    reason: error._tag === "ResponseError" ? "Decode" : "Transport",
    detail: describeTransport(error)
  })
}
