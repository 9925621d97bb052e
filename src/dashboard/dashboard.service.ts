import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { Caller } from '../auth/caller';
import { Role } from '../auth/roles';
import { AuditService } from '../audit/audit.service';
import type { AuditEventView } from '../audit/audit.dto';
import { CapacityService } from '../capacity/capacity.service';
import type { CapacityRowView } from '../capacity/capacity.dto';
import { IncidentsRepository } from '../escalation/incidents.repository';
import { incidentView, IncidentView } from '../escalation/incidents.controller';
import { OfferEntity } from '../offers/offer.entity';
import { OffersService } from '../offers/offers.service';
import { LIVE_SESSION_STATES } from '../sessions/session.entity';
import { SessionsRepository } from '../sessions/sessions.repository';
import type { DashboardSession } from './session-cookie';

/** Health colour of a dashboard row: green (all well), amber (working on it), red (needs a human). */
export type Health = 'ok' | 'warn' | 'bad';

/** One row of the fleet overview: an offer (ARM: one of its regions). */
export interface FleetRow extends CapacityRowView {
  health: Health;
  /** Why the row is amber or red (short, for people). */
  reason: string;
  /** Seconds of backoff left (0: none). */
  backoffSeconds: number;
}

/** A point of the offer page's chart: one hour of the last 24. */
export interface HourStats {
  /** Start of the hour, ISO 8601 UTC. */
  hour: string;
  hot: number;
  cold: number;
  /** Started, neither hot nor cold (Dynamics 365, Logic app, Power BI). */
  other: number;
  refused: number;
  /** Mean time to ready of the sessions requested in that hour, seconds (null: none ready). */
  meanSecondsToReady: number | null;
}

/**
 * What the dashboard shows, read from the same services as the API (capacity, offers, sessions,
 * incidents, audit), for one signed-in user: operators see every offer, publishers the offers of their
 * own tenant (issue 11). Never a secret: offers go through the API's own view (toView).
 */
@Injectable()
export class DashboardService {
  constructor(
    private readonly capacity: CapacityService,
    private readonly offers: OffersService,
    private readonly sessions: SessionsRepository,
    private readonly incidents: IncidentsRepository,
    private readonly audit: AuditService,
    private readonly clock: Clock,
  ) {}

  /** Whether the user is an operator (sees every offer and the audit log). */
  isOperator(s: DashboardSession): boolean {
    return s.honouredRoles.includes(Role.Operator);
  }

  /** Offers the user may see: all (operator) or those owned by the user's tenant (publisher). */
  async visibleOffers(s: DashboardSession): Promise<OfferEntity[]> {
    const all = await this.capacity.readableOffers(Caller.system);
    if (this.isOperator(s)) return all;
    if (!s.honouredRoles.includes(Role.Publisher)) return [];
    return all.filter((o) => o.ownerTenantId === s.tid);
  }

  /** The fleet overview: capacity rows with a health colour, and the open incidents of those offers. */
  async fleet(s: DashboardSession): Promise<{ rows: FleetRow[]; incidents: IncidentView[]; at: string }> {
    const offers = await this.visibleOffers(s);
    const rows = await this.capacity.rows(offers);
    const open = await this.incidents.list({ offerIds: offers.map((o) => o.id), state: 'open', limit: 200 });
    const now = this.clock.now();
    const health = new Map(offers.map((o) => [o.id, o.health?.status]));
    return {
      rows: rows.map((r) => this.fleetRow(r, health.get(r.offerId), open.map(incidentView), now)),
      incidents: open.map(incidentView),
      at: new Date(now).toISOString(),
    };
  }

  private fleetRow(r: CapacityRowView, offerHealth: string | undefined, open: IncidentView[], now: number): FleetRow {
    const until = typeof r.backoffUntil === 'string' ? Date.parse(r.backoffUntil) : NaN;
    const backoffSeconds = Number.isFinite(until) ? Math.max(0, Math.round((until - now) / 1000)) : 0;
    const mine = open.filter((i) => i.offerId === r.offerId && (!i.subject || i.subject === r.region));
    let health: Health = 'ok';
    let reason = '';
    if (mine.length) [health, reason] = ['bad', mine[0].summary];
    else if (offerHealth === 'degraded') [health, reason] = ['bad', 'The offer is degraded: see its health check.'];
    else if (backoffSeconds > 0) [health, reason] = ['warn', `Backing off ${backoffSeconds} s after failed deployments.`];
    else if (r.failed > 0) [health, reason] = ['warn', `${r.failed} failed.`];
    else if (r.offerState === 'published' && r.hotTarget > 0 && r.hotReady < r.hotTarget) [health, reason] = ['warn', `${r.hotReady} of ${r.hotTarget} hot instances ready.`];
    return { ...r, health, reason, backoffSeconds };
  }

  /**
   * The offer page: its view (no secrets), capacity rows, the newest LIVE_TABLE_ROWS live sessions with time
   * left and how many are live in all (`liveTotal`: the page says what it leaves out), recent failures
   * (failed sessions of the last 24 hours, regions' last failed deployment), its incidents, and hourly
   * starts / refusals / time-to-ready of the last 24 hours. Null when the user may not see it.
   */
  async offerPage(s: DashboardSession, offerId: string) {
    const offer = (await this.visibleOffers(s)).find((o) => o.id === offerId);
    if (!offer) return null;
    const now = this.clock.now();
    const first = firstChartHour(now);
    const [view, rows, starts, failed, incidents, refused] = await Promise.all([
      this.offers.view(offer),
      this.capacity.rows([offer]),
      this.sessions.startsPerHour(offer.id, first),
      this.sessions.failedSince(offer.id, now - 24 * 3_600_000),
      this.incidents.list({ offerIds: [offer.id], limit: 20 }),
      this.audit.countPerHour(offer.id, 'session.refused', first),
    ]);
    const [liveTotal, newestLive] = await Promise.all([this.sessions.countInStates(offer.id, LIVE_SESSION_STATES), this.sessions.listByOffer(offer.id, LIVE_SESSION_STATES, LIVE_TABLE_ROWS)]);
    const live = newestLive.map((x) => ({
      id: x.id,
      state: x.state,
      region: x.region,
      kind: x.instanceKind,
      requestedAt: new Date(x.requestedAt).toISOString(),
      expiresAt: x.expiresAt !== null ? new Date(x.expiresAt).toISOString() : null,
      secondsLeft: x.expiresAt !== null ? Math.max(0, Math.round((x.expiresAt - now) / 1000)) : null,
    }));
    const failures = [
      ...failed.filter((x) => x.failure).map((x) => ({ at: new Date(x.endedAt ?? x.updatedAt).toISOString(), where: x.region ?? '', code: x.failure!.code, message: x.failure!.message })),
      ...rows
        .map((r) => ({ r, f: r.lastFailure as { code: string; message: string; at: string } | null | undefined }))
        .filter((x) => !!x.f)
        .map(({ r, f }) => ({ at: f!.at, where: r.region ?? '', code: f!.code, message: f!.message })),
    ].sort((a, b) => b.at.localeCompare(a.at));
    return { offer: view, rows, live, liveTotal, failures: failures.slice(0, 20), incidents: incidents.map(incidentView), chart: hourly(now, starts, refused) };
  }

  /** The audit log for operators, newest first, filtered by offer and action. Null for others. */
  async auditLog(s: DashboardSession, filter: { offerId?: string; action?: AuditEventView['action'] }): Promise<AuditEventView[] | null> {
    if (!this.isOperator(s)) return null;
    return this.audit.list({ offerId: filter.offerId || undefined, action: filter.action, limit: 200 });
  }
}

/** Rows of the offer page's live sessions table (the newest; the page gives the total and the API that lists them all). */
export const LIVE_TABLE_ROWS = 100;

/** Start (epoch ms) of the first of the chart's 24 hours: the current hour and the 23 before it. */
export function firstChartHour(now: number): number {
  const hourMs = 3_600_000;
  return Math.floor(now / hourMs) * hourMs - 23 * hourMs;
}

/**
 * The offer page's chart: 24 HourStats from firstChartHour(now), from the database's per-hour counts
 * (SessionsRepository.startsPerHour, AuditService.countPerHour of session.refused; slots outside 0-23 are
 * ignored).
 */
export function hourly(now: number, starts: Array<{ slot: number; kind: string | null; n: number; ready: number; readyMs: number }>, refused: Array<{ slot: number; n: number }>): HourStats[] {
  const hourMs = 3_600_000;
  const first = firstChartHour(now);
  const out: HourStats[] = Array.from({ length: 24 }, (_, i) => ({ hour: new Date(first + i * hourMs).toISOString(), hot: 0, cold: 0, other: 0, refused: 0, meanSecondsToReady: null }));
  const sums = new Array<number>(24).fill(0);
  const counts = new Array<number>(24).fill(0);
  const inChart = (i: number) => Number.isInteger(i) && i >= 0 && i <= 23;
  for (const x of starts) {
    if (!inChart(x.slot)) continue;
    const h = out[x.slot];
    if (x.kind === 'hot') h.hot += x.n;
    else if (x.kind === 'cold') h.cold += x.n;
    else h.other += x.n;
    sums[x.slot] += x.readyMs / 1000;
    counts[x.slot] += x.ready;
  }
  for (const r of refused) if (inChart(r.slot)) out[r.slot].refused += r.n;
  for (let i = 0; i < 24; i++) if (counts[i]) out[i].meanSecondsToReady = Math.round((sums[i] / counts[i]) * 10) / 10;
  return out;
}
