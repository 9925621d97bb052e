import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Clock, iso } from '../common/clock';
import { newestFirstPage, PageCursor } from '../common/page-cursor';
import { insertRow, insertRowFrom, Statement, TxBody } from '../persistence/database';
import { Caller } from '../auth/caller';
import { AuditAction, AuditEventEntity } from './audit-event.entity';

import type { AuditEventView } from './audit.dto';

/** An audit event as GET /api/v1/audit returns it (its schema: audit.dto.ts). */
export type { AuditEventView };

let lastMs = 0;
let seq = 0;

/**
 * A UUIDv7 (RFC 9562): 48-bit real-time milliseconds, then a 12-bit in-process sequence, then random
 * bits, so ids sort in recording order (the service clock in `at` may stand still in tests).
 */
export function uuidv7(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq > 0xfff) {
    lastMs++;
    seq = 0;
  }
  // The 62 random bits and the variant come from randomUUID(), which draws from a cached entropy pool;
  // randomBytes(16) was a getrandom() call per id (1.4 % of the service's CPU at 100 hot starts/s, issue 14).
  const t = lastMs.toString(16).padStart(12, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${seq.toString(16).padStart(3, '0')}-${randomUUID().slice(19)}`;
}

/** Largest page of GET /audit. */
export const AUDIT_MAX_LIMIT = 500;

/**
 * The audit trail: record(actor, action, target, details) after each change (offers, packages,
 * publishing, sessions; system expiry as actor "system"), list() for operators. Recording never
 * fails the change it describes: a write error is logged (error level) and swallowed.
 */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    @InjectRepository(AuditEventEntity) private readonly repo: Repository<AuditEventEntity>,
    private readonly clock: Clock,
  ) {}

  /**
   * The audit row of one action (recorded with record(), or inside a transaction with recordTx() when the
   * action's own writes are one: e.g. a hot start, issue 14).
   */
  eventRow(actor: Caller | undefined, action: AuditAction, target: { type: string; id: string; offerId?: string | null }, details?: Record<string, unknown>): AuditEventEntity {
    const system = !actor || actor.isSystem;
    return {
      id: uuidv7(),
      at: this.clock.now(),
      actorType: system ? 'system' : 'client',
      actorTenantId: system ? null : actor.tenantId,
      actorClientId: system ? null : actor.clientId,
      actorRoles: system ? null : actor.roles.join(',').slice(0, 200) || null,
      action,
      offerId: target.offerId ?? (target.type === 'offer' ? target.id : null),
      targetType: target.type,
      targetId: target.id.slice(0, 64),
      details: details ?? null,
    };
  }

  /** Inserts `row` (eventRow) as a statement of the caller's transaction: recorded exactly when the transaction commits. */
  *recordTx(row: AuditEventEntity): TxBody<void> {
    yield this.recordStatement(row);
  }

  /** recordTx's INSERT, to send with others (`together`); `afterClaim`: PostgreSQL's form for afterClaim() (only when a row was claimed). */
  recordStatement(row: AuditEventEntity, afterClaim = false): Statement {
    if (afterClaim) return insertRowFrom('audit_event', row as unknown as Record<string, unknown>);
    return insertRow('audit_event', row as unknown as Record<string, unknown>);
  }

  /**
   * Records one change. `actor` undefined = the service itself ("system").
   * @param target what changed: `{type: 'offer'|'package'|'session', id, offerId?}`
   * @param details small JSON without secrets.
   */
  async record(actor: Caller | undefined, action: AuditAction, target: { type: string; id: string; offerId?: string | null }, details?: Record<string, unknown>): Promise<void> {
    const row = this.eventRow(actor, action, target, details);
    try {
      await this.repo.insert(row as QueryDeepPartialEntity<AuditEventEntity>);
    } catch (err) {
      this.logger.error(`audit event ${action} ${target.type} '${target.id}' not recorded: ${(err as Error).message}`);
    }
  }

  /**
   * Events of `offerId` with `action` per hour from `first` (epoch ms, an hour's start) on, counted in
   * the database (the dashboard chart's refusals): `slot` 0 is the hour starting at `first`.
   */
  async countPerHour(offerId: string, action: AuditAction, first: number): Promise<Array<{ slot: number; n: number }>> {
    const rows = await this.repo
      .createQueryBuilder('a')
      .select('CAST((a.at - :first) / 3600000 AS INTEGER)', 'hourSlot')
      .addSelect('COUNT(*)', 'n')
      .where('a.offerId = :offerId AND a.action = :action AND a.at >= :first', { offerId, action, first })
      .groupBy('"hourSlot"')
      .getRawMany<{ hourSlot: string | number; n: string | number }>();
    return rows.map((r) => ({ slot: Number(r.hourSlot), n: Number(r.n) }));
  }

  /**
   * Newest first (at DESC, id DESC); `offerId`, `offerIds` (any of) and `action` filter; `limit`
   * 1..AUDIT_MAX_LIMIT; `before` pages back (PageCursor).
   */
  async list(opts: { offerId?: string; offerIds?: string[]; action?: AuditAction; before?: PageCursor; limit: number }): Promise<AuditEventView[]> {
    if (opts.offerIds && !opts.offerIds.length) return [];
    const q = this.repo.createQueryBuilder('a');
    if (opts.offerId) q.andWhere('a.offerId = :offerId', { offerId: opts.offerId });
    else if (opts.offerIds) q.andWhere('a.offerId IN (:...offerIds)', { offerIds: opts.offerIds });
    if (opts.action) q.andWhere('a.action = :action', { action: opts.action });
    const rows = await newestFirstPage(q, 'a.at', 'a.id', opts.before, opts.limit);
    return rows.map((r) => ({
      id: r.id,
      at: iso(r.at)!,
      actor: { type: r.actorType, tenantId: r.actorTenantId, clientId: r.actorClientId, roles: r.actorRoles ? r.actorRoles.split(',') : [] },
      action: r.action,
      offerId: r.offerId,
      target: { type: r.targetType, id: r.targetId },
      details: r.details,
    }));
  }
}
