import { Injectable } from '@nestjs/common';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { performance } from 'node:perf_hooks';

/**
 * ARM's write limit per subscription and principal: a token bucket of 200 writes refilled at 10 per
 * second (Azure docs "Understand how Azure Resource Manager throttles requests", token bucket algorithm;
 * the emulator's DEFAULT_ARM_LIMITS). PUT, PATCH and POST are writes; DELETE has a bucket of its own.
 */
export const ARM_WRITE_BUCKET = 200;
export const ARM_WRITES_PER_SECOND = 10;
/** Header ARM answers each write with: the writes left in the caller's bucket. */
export const REMAINING_WRITES_HEADER = 'x-ms-ratelimit-remaining-subscription-writes';
/** ARM writes of one pool instance's submit: the resource group PUT and the deployment PUT. */
export const WRITES_PER_SUBMIT = 2;
/** Writes pool refills leave in the bucket for calls a customer waits for (cold submits, warm starts, session tags). */
export const WRITE_RESERVE = 20;

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'POST']);

interface Bucket {
  /** Writes left (may be below 0: writes sent since ARM last told us). */
  tokens: number;
  /** When `tokens` was right, ms of `now()`. */
  at: number;
  /** The bucket's size: ARM_WRITE_BUCKET, or more once ARM said more writes were left. */
  size: number;
}

/**
 * This process's estimate of the ARM writes left per subscription, so pool refills submit no faster
 * than ARM accepts (a publish of hundreds of hot instances otherwise meets hundreds of 429s, and the
 * reconcile pass sits in the SDK's Retry-After waits).
 *
 * The estimate starts full (ARM_WRITE_BUCKET), refills at ARM_WRITES_PER_SECOND in real time (ARM's
 * bucket refills in real time, not the service clock's) up to the bucket's size, goes down by one per
 * write sent, and is set to what ARM last said (REMAINING_WRITES_HEADER on each write's answer; an answer of 429 means 0), so
 * writes of other processes and other tools on the subscription are accounted for as soon as ARM
 * answers one of ours. Keyed by subscription (ARM also keys by principal: one principal per offer's
 * subscription is the usual case; with several, the estimate is the most recently answered one's).
 */
@Injectable()
export class ArmWriteBudget {
  private readonly buckets = new Map<string, Bucket>();
  /** Writes sent and not yet answered, per subscription (lower case). */
  private readonly inflight = new Map<string, number>();

  /** Monotonic ms: ARM refills in real time (tests replace it). */
  now: () => number = () => performance.now();

  /** Writes left in `subscriptionId`'s bucket now (estimate; may be negative). */
  available(subscriptionId: string): number {
    const b = this.buckets.get(subscriptionId.toLowerCase());
    if (!b) return ARM_WRITE_BUCKET;
    const t = this.now();
    return Math.min(b.size, b.tokens + ((t - b.at) / 1000) * ARM_WRITES_PER_SECOND);
  }

  /** A write is being sent. */
  spend(subscriptionId: string, n = 1): void {
    this.set(subscriptionId, this.available(subscriptionId) - n);
  }

  /**
   * ARM said `remaining` writes are left (its header; 0 on a 429). ARM's word wins over the documented
   * bucket: more than ARM_WRITE_BUCKET left means a larger bucket (e.g. the emulator with its throttling off).
   */
  observe(subscriptionId: string, remaining: number): void {
    if (Number.isFinite(remaining) && remaining >= 0) this.set(subscriptionId, remaining);
  }

  /**
   * How many pool instance submits `subscriptionId` can take now without eating into WRITE_RESERVE
   * (each WRITES_PER_SUBMIT writes). The writes themselves are counted as they are sent (policy()).
   */
  submitsAllowed(subscriptionId: string): number {
    return Math.max(0, Math.floor((this.available(subscriptionId) - WRITE_RESERVE) / WRITES_PER_SUBMIT));
  }

  /** The SDK pipeline policy (perRetry: each attempt is a write) that feeds this budget for one subscription's client. */
  policy(subscriptionId: string): PipelinePolicy {
    return {
      name: 'testDriveArmWriteBudget',
      sendRequest: async (request, next) => {
        if (!WRITE_METHODS.has(request.method.toUpperCase())) return next(request);
        const key = subscriptionId.toLowerCase();
        this.spend(subscriptionId);
        this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
        let remaining: number | undefined;
        try {
          const res = await next(request);
          const h = res.headers.get(REMAINING_WRITES_HEADER);
          remaining = res.status === 429 ? 0 : h !== undefined ? Number(h) : undefined;
          return res;
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 429) remaining = 0;
          throw err;
        } finally {
          const others = (this.inflight.get(key) ?? 1) - 1;
          if (others) this.inflight.set(key, others);
          else this.inflight.delete(key);
          // Writes still in flight may be missing from ARM's count: they stay counted as spent.
          if (remaining !== undefined) this.observe(subscriptionId, Math.max(0, remaining - others));
        }
      },
    };
  }

  private set(subscriptionId: string, tokens: number): void {
    const key = subscriptionId.toLowerCase();
    const size = Math.max(this.buckets.get(key)?.size ?? ARM_WRITE_BUCKET, tokens);
    this.buckets.set(key, { tokens, at: this.now(), size });
  }
}
