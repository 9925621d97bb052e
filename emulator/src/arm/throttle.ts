/** Token-bucket size and refill rate (tokens per second). */
export interface BucketLimit {
  bucket: number;
  perSecond: number;
}

/** ARM request categories that are throttled separately. */
export type ArmCategory = 'reads' | 'writes' | 'deletes';

/**
 * ARM's per-(subscription, principal) limits: reads 250 bucket / 25 per s, writes 200 / 10 per s,
 * deletes 200 / 10 per s (Azure docs "Understand how Azure Resource Manager throttles requests",
 * token bucket algorithm, 2024).
 */
export const DEFAULT_ARM_LIMITS: Record<ArmCategory, BucketLimit> = {
  reads: { bucket: 250, perSecond: 25 },
  writes: { bucket: 200, perSecond: 10 },
  deletes: { bucket: 200, perSecond: 10 },
};

interface Bucket {
  tokens: number;
  lastMs: number;
}

/** Result of taking one token: remaining tokens (floor) or, when empty, seconds until one is back. */
export type TakeResult = { ok: true; remaining: number } | { ok: false; remaining: 0; retryAfterSeconds: number };

/** Token buckets keyed by (subscription, principal object id, category). In memory only. */
export class ArmThrottle {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: Record<ArmCategory, BucketLimit> = DEFAULT_ARM_LIMITS) {}

  /** Takes one token for the request; refills continuously at perSecond up to bucket. */
  take(subscriptionId: string, principalId: string, category: ArmCategory, nowMs = Date.now()): TakeResult {
    const limit = this.limits[category];
    const k = `${subscriptionId.toLowerCase()}|${principalId}|${category}`;
    let b = this.buckets.get(k);
    if (!b) {
      b = { tokens: limit.bucket, lastMs: nowMs };
      this.buckets.set(k, b);
    }
    b.tokens = Math.min(limit.bucket, b.tokens + ((nowMs - b.lastMs) / 1000) * limit.perSecond);
    b.lastMs = nowMs;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens) };
    }
    const seconds = Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond));
    return { ok: false, remaining: 0, retryAfterSeconds: seconds };
  }
}
