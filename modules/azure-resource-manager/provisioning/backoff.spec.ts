import { deploymentBackoffMs } from './backoff';

describe('deployment backoff', () => {
  it('doubles from 5 s and caps at 10 minutes', () => {
    expect([1, 2, 3, 4].map((n) => deploymentBackoffMs(n))).toEqual([5000, 10000, 20000, 40000]);
    expect(deploymentBackoffMs(50)).toBe(600_000);
    expect(deploymentBackoffMs(0)).toBe(0);
  });
});
