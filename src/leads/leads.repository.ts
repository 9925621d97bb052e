import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { Database, insertRow, insertRowFrom, sql, Statement, TxBody } from '../persistence/database';
import { LeadEntity, LeadError, LeadState } from './lead.entity';
import { newestFirstPage, PageCursor } from '../common/page-cursor';

/**
 * The lead outbox. Delivery claims are one conditional UPDATE … RETURNING (PostgreSQL: candidates picked
 * FOR UPDATE SKIP LOCKED): a lead is held by one replica at a time until `lockedUntil`; every outcome is
 * written only by the holder (`lockedBy`), so a replica that lost its claim (it was too slow, or was
 * killed) cannot overwrite what the next holder did.
 */
@Injectable()
export class LeadsRepository {
  readonly repo: Repository<LeadEntity>;

  constructor(
    @InjectDataSource() ds: DataSource,
    private readonly db: Database,
  ) {
    this.repo = ds.getRepository(LeadEntity);
  }

  /** INSERT of a new lead inside a transaction (the session's: SessionCommit / Database.atomic). */
  *insertTx(row: LeadEntity): TxBody<void> {
    yield this.insertStatement(row);
  }

  /** The INSERT of a new lead, to send with others (`together`); `afterClaim`: PostgreSQL's form for afterClaim() (only when a row was claimed). */
  insertStatement(row: LeadEntity, afterClaim = false): Statement {
    if (afterClaim) return insertRowFrom('lead', row as unknown as Record<string, unknown>);
    return insertRow('lead', row as unknown as Record<string, unknown>);
  }

  async insert(row: LeadEntity): Promise<void> {
    await this.repo.insert(row);
  }

  /**
   * Claims up to `limit` pending leads of `offerIds` due at `now` for `owner` until `now + leaseMs`
   * (one statement). Returns them with `attempts` already counting this attempt.
   */
  async claimDue(offerIds: string[], owner: string, now: number, leaseMs: number, limit: number): Promise<LeadEntity[]> {
    if (!offerIds.length) return [];
    const marks = offerIds.map(() => '?').join(', ');
    const skip = this.db.postgres ? ' FOR UPDATE SKIP LOCKED' : '';
    const rows = await this.db.atomic(function* (): TxBody<Record<string, unknown>[]> {
      const r = (yield sql(
        `UPDATE "lead" SET "lockedBy" = ?, "lockedUntil" = ?, "attempts" = "attempts" + 1, "updatedAt" = ?
          WHERE "id" IN (SELECT "id" FROM "lead"
                          WHERE "state" = 'pending' AND "nextAttemptAt" <= ? AND ("lockedUntil" IS NULL OR "lockedUntil" <= ?) AND "offerId" IN (${marks})
                          ORDER BY "nextAttemptAt" ASC LIMIT ${Math.max(1, Math.floor(limit))}${skip})
            AND "state" = 'pending' AND ("lockedUntil" IS NULL OR "lockedUntil" <= ?)
          RETURNING *`,
        [owner, now + leaseMs, now, now, now, ...offerIds, now],
      ));
      return r.rows;
    });
    return rows.map(fromRow);
  }

  /** held -> delivered. False when `owner` no longer holds it. */
  async delivered(id: string, owner: string, now: number): Promise<boolean> {
    const r = await this.repo.update({ id, lockedBy: owner, state: 'pending' }, { state: 'delivered', deliveredAt: now, lockedBy: null, lockedUntil: null, lastError: null, updatedAt: now });
    return r.affected === 1;
  }

  /** held -> pending again at `nextAttemptAt`, with the error. */
  async retryLater(id: string, owner: string, nextAttemptAt: number, error: LeadError, now: number): Promise<boolean> {
    const r = await this.repo.update({ id, lockedBy: owner, state: 'pending' }, { nextAttemptAt, lastError: error, lockedBy: null, lockedUntil: null, updatedAt: now });
    return r.affected === 1;
  }

  /** held -> failed, with the reason. */
  async failed(id: string, owner: string, error: LeadError, now: number): Promise<boolean> {
    const r = await this.repo.update({ id, lockedBy: owner, state: 'pending' }, { state: 'failed', lastError: error, lockedBy: null, lockedUntil: null, updatedAt: now } as never);
    return r.affected === 1;
  }

  /** A delivered or failed lead (or a pending one) goes back to the queue, due now (manual redelivery). */
  async requeue(id: string, now: number): Promise<boolean> {
    const r = await this.repo.update({ id, state: In(['delivered', 'failed', 'pending'] as LeadState[]) }, { state: 'pending', nextAttemptAt: now, lockedBy: null, lockedUntil: null, updatedAt: now });
    return r.affected === 1;
  }

  /** Pending leads of an offer become due now (a destination was just configured or changed). */
  async dueNow(offerId: string, now: number): Promise<void> {
    await this.repo.update({ offerId, state: 'pending' }, { nextAttemptAt: now, updatedAt: now });
  }

  findById(id: string): Promise<LeadEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * An offer's leads, newest first (createdAt DESC, id DESC), at most `limit`; `before` pages back
   * (PageCursor: a page ending inside a millisecond shared by several leads continues with the rest of it).
   */
  list(offerId: string, opts: { state?: LeadState; limit: number; before?: PageCursor }): Promise<LeadEntity[]> {
    const q = this.repo.createQueryBuilder('l').where('l.offerId = :offerId', { offerId });
    if (opts.state) q.andWhere('l.state = :state', { state: opts.state });
    return newestFirstPage(q, 'l.createdAt', 'l.id', opts.before, opts.limit);
  }

  /** Pending and failed customer leads per offer (GET /capacity, metrics, the lead_delivery_failing incident); test leads are not counted. */
  async counts(): Promise<Map<string, { pending: number; failed: number; oldestPendingAt?: number }>> {
    const rows = await this.repo
      .createQueryBuilder('l')
      .select('l.offerId', 'offerId')
      .addSelect('l.state', 'state')
      .addSelect('COUNT(*)', 'n')
      .addSelect('MIN(l.createdAt)', 'oldest')
      .where('l.state IN (:...s)', { s: ['pending', 'failed'] })
      // Test leads check the destination (their result is the offer's leads.lastTestLead and the publish
      // warning); a failed one is no customer's lead lost, so it raises no incident and no leadsFailed.
      .andWhere("l.kind = 'lead'")
      .groupBy('l.offerId')
      .addGroupBy('l.state')
      .getRawMany<{ offerId: string; state: LeadState; n: string | number; oldest: string | number | null }>();
    const out = new Map<string, { pending: number; failed: number; oldestPendingAt?: number }>();
    for (const r of rows) {
      const c: { pending: number; failed: number; oldestPendingAt?: number } = out.get(r.offerId) ?? { pending: 0, failed: 0 };
      if (r.state === 'pending') {
        c.pending = Number(r.n);
        if (r.oldest !== null) c.oldestPendingAt = Number(r.oldest);
      }
      if (r.state === 'failed') c.failed = Number(r.n);
      out.set(r.offerId, c);
    }
    return out;
  }
}

/** A raw row (RETURNING *) as an entity: JSON columns parsed, BIGINTs as numbers. */
function fromRow(r: Record<string, unknown>): LeadEntity {
  const json = <T>(v: unknown): T | null => (v === null || v === undefined ? null : typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    ...(r as unknown as LeadEntity),
    contact: json(r.contact),
    lastError: json(r.lastError),
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.nextAttemptAt),
    lockedUntil: num(r.lockedUntil),
    deliveredAt: num(r.deliveredAt),
    createdAt: Number(r.createdAt),
    updatedAt: Number(r.updatedAt),
  };
}
