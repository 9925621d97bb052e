/**
 * Exponential backoff for failed deployments of a pool region: 5 s, 10 s, 20 s ... capped at 10 min.
 * `failures` = consecutive failures so far (>= 1). Result in ms.
 */
export function deploymentBackoffMs(failures: number, baseMs = 5_000, capMs = 600_000): number {
  if (failures <= 0) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 20));
}

/**
 * Longest pause (clock time, ms) between two reads of a pool instance's running deployment. Shorter than
 * a failed step's pause (STEP_RETRY_MS, 15 s): that is how a queued request tells the two apart
 * (PoolInstanceRepository.listPausedDeployments).
 */
export const DEPLOYMENT_POLL_MAX_MS = 10_000;

/**
 * Pause before the next read of a running deployment of an instance no customer waits for (a hot or
 * warm pool refill), in ms of clock time: a quarter of the deployment's age (`ageMs`, since it was
 * submitted: pool_instance.submittedAt), capped at DEPLOYMENT_POLL_MAX_MS. A young deployment is read
 * every pass, one of minutes every 10 s: a 5-minute deployment costs about 40 reads instead of 300.
 * With POOL_READS_PER_PASS (arm-test-drive.type.ts) this keeps a pool within ARM's read limit (bucket
 * 250, 25 reads/s per subscription and principal; Azure docs "Understand how Azure Resource Manager
 * throttles requests", as in emulator/src/arm/throttle.ts). An instance is ready at most a quarter of
 * its deployment time (and at most 10 s) after ARM finished it. An instance a customer waits for (cold,
 * or claimed warm) is read every pass instead (issue 14: cold overhead), and so is any running
 * deployment of an offer with a queued request.
 */
export function deploymentPollPauseMs(ageMs: number): number {
  return Math.min(DEPLOYMENT_POLL_MAX_MS, Math.max(0, Math.floor(ageMs / 4)));
}
