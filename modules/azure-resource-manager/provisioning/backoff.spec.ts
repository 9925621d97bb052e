import { deploymentBackoffMs, deploymentPollPauseMs, DEPLOYMENT_POLL_MAX_MS } from './backoff';
import { STEP_RETRY_MS } from './arm-instance.driver';

describe('deployment backoff', () => {
  it('doubles from 5 s and caps at 10 minutes', () => {
    expect([1, 2, 3, 4].map((n) => deploymentBackoffMs(n))).toEqual([5000, 10000, 20000, 40000]);
    expect(deploymentBackoffMs(50)).toBe(600_000);
    expect(deploymentBackoffMs(0)).toBe(0);
  });
});

describe('deployment poll pause (a pool refill nobody waits for)', () => {
  it('is a quarter of the deployment age, never negative, capped at 10 s: shorter than a failed step\'s pause', () => {
    expect([0, 999, 4_000, 20_000, 60_000, 3_600_000].map(deploymentPollPauseMs)).toEqual([0, 249, 1_000, 5_000, DEPLOYMENT_POLL_MAX_MS, DEPLOYMENT_POLL_MAX_MS]);
    expect(deploymentPollPauseMs(-5_000)).toBe(0);
    expect(DEPLOYMENT_POLL_MAX_MS).toBe(10_000);
    expect(DEPLOYMENT_POLL_MAX_MS).toBeLessThan(STEP_RETRY_MS); // how listPausedDeployments tells the two apart
  });

  it('reads a 5-minute deployment about 40 times, not once per 1 s pass (300)', () => {
    let reads = 0;
    for (let t = 1_000; t < 300_000; t += Math.max(1_000, deploymentPollPauseMs(t))) reads++;
    expect(reads).toBeLessThanOrEqual(45);
  });
});
