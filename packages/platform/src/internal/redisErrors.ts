/**
 * What ioredis says when `commandTimeout` runs out (ioredis 6.0, `Command#setTimeout`).
 *
 * @internal
 */
export const commandTimedOut = "Command timed out"

/**
 * Whether ioredis rejected a command because its `commandTimeout` ran out: Redis did not answer in time.
 *
 * ioredis has no class, code or property for it: it rejects with a plain `new Error("Command timed out")`.
 * So it is recognised by both, and only where the store converts an ioredis rejection: an `Error` of no
 * subclass, with exactly that message. An error reply of Redis (a `ReplyError`, whatever its text, even
 * exactly this one) or any other ioredis error (`Connection is closed.`, ...) is not a timeout.
 * test/redisErrors.test.ts checks it against the installed ioredis: a real command timeout, a real reply.
 *
 * @internal
 */
export const isCommandTimeout = (error: unknown): boolean =>
  error instanceof Error && Object.getPrototypeOf(error) === Error.prototype && error.message === commandTimedOut
