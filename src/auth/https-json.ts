/**
 * Moved to src/remote/http.ts (issue 9: one HTTP client on undici). This alias stays while
 * scripts/replica-chaos.ts (in progress elsewhere) still imports it from here.
 */
export { httpsJson, MAX_AUTHORITY_RESPONSE_BYTES } from '../remote/http';
export type { HttpsJsonOptions } from '../remote/http';
