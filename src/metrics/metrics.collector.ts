import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Caller } from '../auth/caller';
import { CapacityService } from '../capacity/capacity.service';
import { LeadsRepository } from '../leads/leads.repository';
import { SessionsRepository } from '../sessions/sessions.repository';
import { IncidentsRepository } from '../escalation/incidents.repository';
import { Metrics } from './metrics';

/** Ended and failed sessions stay in testdrive_sessions this long after they end (ms): 24 hours. */
export const ENDED_SESSIONS_WINDOW_MS = 24 * 3_600_000;

/**
 * Fills the gauges of Metrics from the database right before a scrape (so every replica reports the
 * fleet's numbers: pools, slots, licences, sessions, leads, incidents), and, on the leader, observes the
 * sessions that became ready or ended since its last pass (time-to-ready and expiry-lag histograms:
 * each session is observed once per fleet, by the replica leading at the time).
 */
@Injectable()
export class MetricsCollector {
  /** readyAt / endedAt (epoch ms) up to which sessions were observed; null until the first leader pass. */
  private observedUpTo: number | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly capacity: CapacityService,
    private readonly sessions: SessionsRepository,
    private readonly leads: LeadsRepository,
    private readonly incidents: IncidentsRepository,
    private readonly clock: Clock,
  ) {}

  /** Resets and sets every database gauge; the scrape that follows reads them. */
  async refresh(): Promise<void> {
    const m = this.metrics;
    const now = this.clock.now();
    const offers = await this.capacity.readableOffers(Caller.system);
    const rows = await this.capacity.rows(offers);
    const [sessionCounts, leadCounts, open] = await Promise.all([this.sessions.countsByState(now - ENDED_SESSIONS_WINDOW_MS), this.leads.counts(), this.incidents.countOpen()]);
    for (const g of [m.poolInstances, m.hotTarget, m.hotForecastStarts, m.coldLimit, m.coldInUse, m.backoffSeconds, m.consecutiveFailures, m.sessionSlots, m.licenses, m.sessions, m.offerDegraded, m.leads, m.leadPendingAge, m.incidentsOpen]) g.reset();
    for (const r of rows) {
      const offer = r.offerId;
      if (r.type === 'azure-resource-manager' && r.region) {
        const region = r.region;
        m.hotTarget.set({ offer, region }, r.hotTarget);
        const forecast = r.forecast as { expectedStarts?: number } | null | undefined;
        if (forecast && typeof forecast.expectedStarts === 'number') m.hotForecastStarts.set({ offer, region }, forecast.expectedStarts);
        m.coldLimit.set({ offer, region }, Number(r.coldLimit ?? 0));
        m.coldInUse.set({ offer, region }, Number(r.coldInUse ?? 0));
        m.consecutiveFailures.set({ offer, region }, Number(r.consecutiveFailures ?? 0));
        const until = typeof r.backoffUntil === 'string' ? Date.parse(r.backoffUntil) : NaN;
        m.backoffSeconds.set({ offer, region }, Number.isFinite(until) ? Math.max(0, (until - now) / 1000) : 0);
        const byKind = (r.instances as Array<{ kind: string; state: string; count: number }> | undefined) ?? [];
        for (const kind of ['hot', 'warm', 'cold']) for (const state of ['pending', 'deploying', 'parking', 'ready', 'starting', 'assigned', 'failed', 'deleting']) m.poolInstances.set({ offer, region, kind, state }, 0);
        for (const i of byKind) m.poolInstances.set({ offer, region, kind: i.kind, state: i.state }, i.count);
      }
      if (typeof r.inUse === 'number' && typeof r.maxConcurrent === 'number') {
        m.sessionSlots.set({ offer, type: r.type, state: 'in_use' }, r.inUse);
        m.sessionSlots.set({ offer, type: r.type, state: 'limit' }, r.maxConcurrent);
      }
      const lic = r.licenses as { consumed?: number; free?: number } | null | undefined;
      if (lic && typeof lic === 'object') {
        m.licenses.set({ offer, state: 'used' }, Number(lic.consumed ?? 0));
        m.licenses.set({ offer, state: 'free' }, Number(lic.free ?? 0));
      }
    }
    for (const o of offers) {
      m.offerDegraded.set({ offer: o.id }, o.health?.status === 'degraded' ? 1 : 0);
      const l = leadCounts.get(o.id);
      m.leads.set({ offer: o.id, state: 'pending' }, l?.pending ?? 0);
      m.leads.set({ offer: o.id, state: 'failed' }, l?.failed ?? 0);
      m.leadPendingAge.set({ offer: o.id }, l?.oldestPendingAt !== undefined ? Math.max(0, (now - l.oldestPendingAt) / 1000) : 0);
    }
    for (const c of sessionCounts) m.sessions.set({ offer: c.offerId, type: c.type, state: c.state }, c.n);
    for (const i of open) m.incidentsOpen.set({ offer: i.offerId, kind: i.kind }, i.n);
  }

  /**
   * Leader pass: observes time-to-ready (readyAt - requestedAt, by type and kind) of sessions that became
   * ready, and expiry lag (endedAt - expiresAt) of sessions that ended by expiry, since the last pass.
   * The first pass of a process starts at `now` (sessions before it were observed by the previous leader).
   */
  async observeSessions(now = this.clock.now()): Promise<void> {
    if (this.observedUpTo === null) {
      this.observedUpTo = now;
      return;
    }
    const after = this.observedUpTo;
    const ready = await this.sessions.readyBetween(after, now);
    const ended = await this.sessions.endedBetween(after, now);
    for (const s of ready) this.metrics.timeToReady.observe({ type: s.type, kind: s.instanceKind ?? 'none' }, Math.max(0, (s.readyAt! - s.requestedAt) / 1000));
    for (const s of ended) if (s.endReason === 'expired' && s.expiresAt !== null) this.metrics.expiryLag.observe({ type: s.type }, Math.max(0, (s.endedAt! - s.expiresAt) / 1000));
    this.observedUpTo = now;
  }
}
