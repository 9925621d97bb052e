import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, Not, Repository } from 'typeorm';
import { SessionEntity } from './session.entity';

/**
 * Time from the start of provisioning to ready before an offer has history (ms), by type and instance
 * kind: ARM hot is at once; ARM warm 5 min (Partner Center: 3-10 minutes to start the VMs), cold 15 min
 * (a typical template deployment); Dynamics 365 and Logic app 5 min; Power BI at once.
 */
export const DEFAULT_READY_MS: Record<string, number> = {
  'azure-resource-manager|hot': 0,
  'azure-resource-manager|warm': 5 * 60_000,
  'azure-resource-manager|cold': 15 * 60_000,
  'dynamics-365|': 5 * 60_000,
  'logic-app|': 5 * 60_000,
  'power-bi|': 0,
};
/** How many recent sessions the median is taken over. */
export const ESTIMATE_HISTORY = 20;

/** The median of `xs` (undefined when empty). */
export function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Honest estimates (issue 12): how long provisioning takes for an offer, region and instance kind — the
 * median of the last ESTIMATE_HISTORY sessions that became ready (ready minus the start of provisioning:
 * servedAt for requests that waited in the queue, else requestedAt), or DEFAULT_READY_MS before there
 * is history — and when capacity frees (live sessions' expiry), for queue estimates and Retry-After.
 */
@Injectable()
export class Estimates {
  private readonly repo: Repository<SessionEntity>;

  constructor(@InjectDataSource() ds: DataSource) {
    this.repo = ds.getRepository(SessionEntity);
  }

  /** Typical provisioning time (ms) of `type`/`kind` sessions of an offer (in `region` when given). */
  async readyMs(offerId: string, type: string, kind: string | null, region?: string | null): Promise<number> {
    const rows = await this.repo.find({
      where: { offerId, instanceKind: kind ?? IsNull(), readyAt: Not(IsNull()), ...(region ? { region } : {}) },
      select: { requestedAt: true, servedAt: true, readyAt: true },
      order: { readyAt: 'DESC' },
      take: ESTIMATE_HISTORY,
    });
    const m = median(rows.map((r) => r.readyAt! - (r.servedAt ?? r.requestedAt)));
    return Math.max(0, Math.round(m ?? DEFAULT_READY_MS[`${type}|${kind ?? ''}`] ?? 5 * 60_000));
  }

  /**
   * When capacity of an offer (in `region`, when given) frees next, soonest first: the expiry of its
   * ready sessions, and for sessions still provisioning their estimated ready time plus their duration
   * (`hourMs`: one test drive hour). `now` floors every time. Epoch ms.
   */
  async freeTimes(offerId: string, now: number, hourMs: number, region?: string | null): Promise<number[]> {
    const live = await this.repo.find({
      where: { offerId, state: In(['ready', 'provisioning']), ...(region ? { region } : {}) },
      select: { state: true, expiresAt: true, requestedAt: true, servedAt: true, durationHours: true, type: true, instanceKind: true, region: true },
    });
    const typical = new Map<string, Promise<number>>();
    const out: number[] = [];
    for (const s of live) {
      if (s.state === 'ready' && s.expiresAt !== null) out.push(Math.max(now, s.expiresAt));
      if (s.state === 'provisioning') {
        const key = `${s.type}|${s.instanceKind ?? ''}|${s.region ?? ''}`;
        if (!typical.has(key)) typical.set(key, this.readyMs(offerId, s.type, s.instanceKind, s.region));
        out.push(Math.max(now, (s.servedAt ?? s.requestedAt) + (await typical.get(key)!)) + s.durationHours * hourMs);
      }
    }
    return out.sort((a, b) => a - b);
  }
}
