/**
 * @since 0.1.0
 */
export * as Adapter from "./Adapter.js"

/**
 * @since 0.1.0
 */
export * as BuiltinAdapters from "./BuiltinAdapters.js"

/**
 * @since 0.1.0
 */
export * as Catalogue from "./Catalogue.js"

/**
 * @since 0.1.0
 */
export * as ConformanceCase from "./ConformanceCase.js"

/**
 * @since 0.1.0
 */
export * as ConformanceCli from "./ConformanceCli.js"

/**
 * @since 0.1.0
 */
export * as CriteoSimulator from "./CriteoSimulator.js"

/**
 * @since 0.1.0
 */
export * as ExpectedFailures from "./ExpectedFailures.js"

/**
 * @since 0.1.0
 */
export * as Fault from "./Fault.js"

/**
 * @since 0.1.0
 */
export * as HtmlReport from "./HtmlReport.js"

/**
 * @since 0.1.0
 */
export * as JUnitReport from "./JUnitReport.js"

/**
 * @since 0.1.0
 */
export * as Journal from "./Journal.js"

/**
 * @since 0.1.0
 */
export * as Protocol from "./Protocol.js"

/**
 * @since 0.1.0
 */
export * as Report from "./Report.js"

/**
 * @since 0.1.0
 */
export * as Runner from "./Runner.js"

/**
 * @since 0.1.0
 */
export * as Scorecard from "./Scorecard.js"

/**
 * @since 0.1.0
 */
export * as SimulatorError from "./SimulatorError.js"

/**
 * @since 0.2.0
 */
export * as SimulatorConsents from "./SimulatorConsents.js"
