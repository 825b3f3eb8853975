/**
 * The Promise example of the README: an application without Effect calls the Criteo API through
 * `CriteoPromise`, configured from the CRITEO_* environment variables. `pnpm check` type-checks this file
 * and test/Example.test.ts runs it, compiled, against a fake Criteo (the process must exit by itself).
 */
import * as CriteoPromise from "@criteo-auth/platform/CriteoPromise"

// CRITEO_CLIENT_ID, CRITEO_CLIENT_SECRET, ... from the environment, as CriteoNode.layerConfig() reads them:
// a missing or malformed variable rejects with a ConfigError that names it.
const criteo = await CriteoPromise.fromConfig()
try {
  // GET https://api.criteo.com/2026-07/advertisers/me with the bearer token; a 401 renews it and replays once,
  // 5xx and 429 are retried within bounds.
  const response = await criteo.get("/advertisers/me")
  const advertisers = (await response.json()) as { readonly data: ReadonlyArray<{ readonly id: string }> }
  console.log(`Connected as advertiser ${advertisers.data[0]?.id} (HTTP ${response.status})`)
} catch (error) {
  // The same typed errors as CriteoHttpClient, by tag; none holds a token or a secret.
  if (!CriteoPromise.isCallError(error)) throw error
  switch (error._tag) {
    case "InvalidClientError":
      console.error(`Check CRITEO_CLIENT_ID and CRITEO_CLIENT_SECRET: ${error.message}`)
      break
    case "ForbiddenError":
      console.error(`Consent revoked or permission missing: ${error.message}`)
      break
    default:
      console.error(`${error._tag}: ${error.message}`)
  }
} finally {
  // Stops the background refresh and closes the connections, so that the process exits.
  await criteo.close()
}
