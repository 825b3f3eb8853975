/**
 * @since 0.1.0
 */
export * as AccessToken from "./AccessToken.js"

/**
 * @since 0.1.0
 */
export * as CriteoAuth from "./CriteoAuth.js"

/**
 * @since 0.1.0
 */
export * as CriteoAuthError from "./CriteoAuthError.js"

/**
 * @since 0.1.0
 */
export * as CriteoAuthMetrics from "./CriteoAuthMetrics.js"

/**
 * @since 0.1.0
 */
export * as CriteoHttpClient from "./CriteoHttpClient.js"

/**
 * @since 0.2.0
 */
export * as CriteoUrl from "./CriteoUrl.js"

/**
 * @since 0.1.0
 */
export * as Grant from "./Grant.js"

/**
 * @since 0.2.0
 */
export * as Redaction from "./Redaction.js"

/**
 * @since 0.1.0
 */
export * as TokenEndpoint from "./TokenEndpoint.js"

/**
 * @since 0.2.0
 */
export * as TokenStore from "./TokenStore.js"

/**
 * @since 0.2.0
 */
export * as CriteoConsent from "./CriteoConsent.js"

/**
 * @since 0.2.0
 */
export * as CriteoAccounts from "./CriteoAccounts.js"
