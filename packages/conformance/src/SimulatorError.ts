/**
 * The typed failures of the simulator launcher. Each is a `Schema.TaggedError` whose `_tag` is its class
 * name. None holds a secret: admin calls carry no credentials, and request details are summarised.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@criteo-auth/conformance/SimulatorError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * No runtime can run the simulator: no container runtime answered and no Java 11+ was found (for
 * `runtime: "auto"`), or the runtime that was asked for is missing.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorUnavailableError extends Schema.TaggedError<SimulatorUnavailableError>(
  "@criteo-auth/conformance/SimulatorUnavailableError"
)("SimulatorUnavailableError", {
  /** The runtime that was asked for. */
  runtime: Schema.Literal("auto", "container", "process"),
  /** Why each runtime that was tried is unusable. */
  reasons: Schema.Array(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    const wanted = this.runtime === "container"
      ? "Install and start Docker (or another container runtime testcontainers supports)"
      : this.runtime === "process"
      ? "Install Java 11 or later (java on the PATH, or JAVA_HOME)"
      : "Install and start Docker, or install Java 11 or later (java on the PATH, or JAVA_HOME)"
    return `The Criteo simulator cannot run (runtime "${this.runtime}"): ${this.reasons.join("; ")}. ${wanted}.`
  }
}

/**
 * A runtime was found but the simulator did not become healthy: the JVM exited, the container failed to
 * start, or the health check did not answer in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorStartError extends Schema.TaggedError<SimulatorStartError>(
  "@criteo-auth/conformance/SimulatorStartError"
)("SimulatorStartError", {
  runtime: Schema.Literal("container", "process"),
  /** What went wrong. */
  reason: Schema.String,
  /** The last lines the simulator printed, when there are some. */
  output: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `The Criteo simulator (${this.runtime}) failed to start: ${this.reason}${
      this.output === undefined || this.output.length === 0 ? "" : `\n${this.output}`
    }`
  }
}

/**
 * A call to the WireMock admin API failed or timed out.
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulatorAdminError extends Schema.TaggedError<SimulatorAdminError>(
  "@criteo-auth/conformance/SimulatorAdminError"
)("SimulatorAdminError", {
  /** The admin operation, e.g. `"expireTokens"`. */
  operation: Schema.String,
  /** The HTTP status WireMock answered with, when it answered. */
  status: Schema.optional(Schema.Number),
  /** A short description of the failure. */
  detail: Schema.String
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  /**
   * @since 0.1.0
   */
  get message(): string {
    return `Simulator admin operation ${this.operation} failed${
      this.status === undefined ? "" : ` (HTTP ${this.status})`
    }: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type SimulatorError = SimulatorUnavailableError | SimulatorStartError | SimulatorAdminError

/**
 * @since 0.1.0
 * @category guards
 */
export const isSimulatorError = (u: unknown): u is SimulatorError => Predicate.hasProperty(u, TypeId)
