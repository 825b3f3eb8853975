/**
 * @since 0.1.0
 */
export * as CriteoConfig from "./CriteoConfig.js"

/**
 * @since 0.1.0
 */
export * as CriteoFetch from "./CriteoFetch.js"

/**
 * @since 0.1.0
 */
export * as CriteoLayer from "./CriteoLayer.js"

/**
 * @since 0.1.0
 */
export * as CriteoNode from "./CriteoNode.js"

/**
 * @since 0.2.0
 */
export * as CriteoFileStore from "./CriteoFileStore.js"

/**
 * @since 0.2.0
 */
export * as CriteoPromise from "./CriteoPromise.js"

// CriteoRedisStore is not exported from the root, so that importing the layers never loads `ioredis` (an
// optional peer dependency): import it from "@criteo-auth/platform/CriteoRedisStore".
