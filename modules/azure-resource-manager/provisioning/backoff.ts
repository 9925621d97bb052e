/**
 * Exponential backoff for failed deployments of a pool region: 5 s, 10 s, 20 s ... capped at 10 min.
 * `failures` = consecutive failures so far (>= 1). Result in ms.
 */
export function deploymentBackoffMs(failures: number, baseMs = 5_000, capMs = 600_000): number {
  if (failures <= 0) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 20));
}
