import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { newestFirstPage, PageCursor } from '../common/page-cursor';
import { Database, insertRow, sql, TxBody } from '../persistence/database';
import { isUniqueViolation } from '../persistence/data-source';
import { claimDueStatement, freshOutbox } from '../persistence/outbox';
import { AlertNotificationEntity, IncidentEntity, IncidentKind } from './incident.entity';

/** One target a notification goes to. */
export interface AlertTarget {
  channel: 'email' | 'webhook';
  target: string;
}

/** A condition that holds now (EscalationService.evaluate): open an incident for it unless one is open. */
export interface IncidentCondition {
  offerId: string;
  kind: IncidentKind;
  subject: string;
  summary: string;
  details: Record<string, unknown>;
}

/** The unique key of an open incident. */
export function openKeyOf(c: Pick<IncidentCondition, 'offerId' | 'kind' | 'subject'>): string {
  return `${c.offerId}|${c.kind}|${c.subject}`.slice(0, 200);
}

/**
 * Incidents and their notification outbox. Opening inserts the incident and one notification per
 * target in one transaction, guarded by the unique open key (a second opener — another replica, a
 * retried pass — inserts nothing); resolving is a conditional update (state open → resolved) that
 * inserts the `resolved` notifications in the same transaction, so each event is notified exactly once.
 */
@Injectable()
export class IncidentsRepository {
  readonly repo: Repository<IncidentEntity>;
  readonly notifications: Repository<AlertNotificationEntity>;

  constructor(
    @InjectDataSource() ds: DataSource,
    private readonly db: Database,
  ) {
    this.repo = ds.getRepository(IncidentEntity);
    this.notifications = ds.getRepository(AlertNotificationEntity);
  }

  /** Open incidents, oldest first. */
  listOpen(): Promise<IncidentEntity[]> {
    return this.repo.find({ where: { state: 'open' }, order: { openedAt: 'ASC' } });
  }

  /** Incidents of `offerIds` (all offers when undefined), newest first, at most `limit`. */
  list(opts: { offerIds?: string[]; state?: 'open' | 'resolved'; kind?: IncidentKind; before?: PageCursor; limit: number }): Promise<IncidentEntity[]> {
    if (opts.offerIds && !opts.offerIds.length) return Promise.resolve([]);
    const q = this.repo.createQueryBuilder('i');
    if (opts.offerIds) q.andWhere('i.offerId IN (:...offerIds)', { offerIds: opts.offerIds });
    if (opts.state) q.andWhere('i.state = :state', { state: opts.state });
    if (opts.kind) q.andWhere('i.kind = :kind', { kind: opts.kind });
    return newestFirstPage(q, 'i.openedAt', 'i.id', opts.before, opts.limit);
  }

  /** Open incidents counted by offer and kind (metrics). */
  async countOpen(): Promise<Array<{ offerId: string; kind: string; n: number }>> {
    const rows = await this.repo
      .createQueryBuilder('i')
      .select('i.offerId', 'offerId')
      .addSelect('i.kind', 'kind')
      .addSelect('COUNT(*)', 'n')
      .where('i.state = :s', { s: 'open' })
      .groupBy('i.offerId')
      .addGroupBy('i.kind')
      .getRawMany<{ offerId: string; kind: string; n: string | number }>();
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  /**
   * Opens an incident for `c` with a notification per target, unless one is open for the same key.
   * @returns the new incident, or null when one was already open.
   */
  async open(c: IncidentCondition, targets: AlertTarget[], now: number): Promise<IncidentEntity | null> {
    const incident: IncidentEntity = {
      id: randomUUID(),
      offerId: c.offerId,
      kind: c.kind,
      subject: c.subject.slice(0, 100),
      openKey: openKeyOf(c),
      state: 'open',
      summary: c.summary.slice(0, 500),
      details: c.details,
      openedAt: now,
      resolvedAt: null,
      updatedAt: now,
    };
    try {
      await this.db.atomic(function* (): TxBody<void> {
        yield insertRow('incident', incident as unknown as Record<string, unknown>);
        for (const t of targets) yield insertRow('alert_notification', notification(incident, 'opened', t, now) as unknown as Record<string, unknown>);
      });
      return incident;
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  /**
   * Resolves an open incident and queues its `resolved` notifications, once.
   * @returns false when it was not open any more (another pass resolved it).
   */
  async resolve(incident: IncidentEntity, targets: AlertTarget[], now: number): Promise<boolean> {
    return this.db.atomic(function* (): TxBody<boolean> {
      const r = yield sql(`UPDATE "incident" SET "state" = 'resolved', "openKey" = NULL, "resolvedAt" = ?, "updatedAt" = ? WHERE "id" = ? AND "state" = 'open'`, [now, now, incident.id]);
      if (r.affected !== 1) return false;
      for (const t of targets) yield insertRow('alert_notification', notification(incident, 'resolved', t, now) as unknown as Record<string, unknown>);
      return true;
    });
  }

  /**
   * Claims due notifications for `owner` for `leaseMs` (one replica at a time; a crashed holder's claim
   * lapses), counting the attempt. PostgreSQL: SKIP LOCKED.
   */
  async claimDue(owner: string, now: number, leaseMs: number, limit: number): Promise<AlertNotificationEntity[]> {
    const postgres = this.db.postgres;
    const ids = await this.db.atomic(function* (): TxBody<string[]> {
      const r = yield claimDueStatement('alert_notification', owner, now, leaseMs, limit, postgres);
      return r.rows.map((row) => String(row.id));
    });
    if (!ids.length) return [];
    return this.notifications.find({ where: { id: In(ids) }, order: { createdAt: 'ASC' } });
  }

  /** held → sent. */
  async sent(id: string, owner: string, now: number): Promise<boolean> {
    const r = await this.notifications.update({ id, lockedBy: owner, state: 'pending' }, { state: 'sent', sentAt: now, lockedBy: null, lockedUntil: null, lastError: null, updatedAt: now });
    return r.affected === 1;
  }

  /** held → pending at `nextAttemptAt` (retry), or → failed when `giveUp`. */
  async notSent(id: string, owner: string, error: { code: string; message: string }, nextAttemptAt: number | null, now: number): Promise<boolean> {
    const r = await this.notifications.update(
      { id, lockedBy: owner, state: 'pending' },
      { ...(nextAttemptAt === null ? { state: 'failed' as const } : { nextAttemptAt }), lastError: { ...error, at: now }, lockedBy: null, lockedUntil: null, updatedAt: now },
    );
    return r.affected === 1;
  }

  findById(id: string): Promise<IncidentEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** Notifications of an incident (dashboard, tests). */
  notificationsOf(incidentId: string): Promise<AlertNotificationEntity[]> {
    return this.notifications.find({ where: { incidentId }, order: { createdAt: 'ASC' } });
  }
}

function notification(incident: IncidentEntity, event: 'opened' | 'resolved', t: AlertTarget, now: number): AlertNotificationEntity {
  return {
    id: randomUUID(),
    incidentId: incident.id,
    offerId: incident.offerId,
    event,
    channel: t.channel,
    target: t.target.slice(0, 300),
    state: 'pending',
    ...freshOutbox(now),
    sentAt: null,
    createdAt: now,
    updatedAt: now,
  };
}
