/**
 * @since 0.1.0
 */
export * as CriteoSimulator from "./CriteoSimulator.js"

/**
 * @since 0.1.0
 */
export * as Fault from "./Fault.js"

/**
 * @since 0.1.0
 */
export * as Journal from "./Journal.js"

/**
 * @since 0.1.0
 */
export * as SimulatorError from "./SimulatorError.js"
