import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Between, DataSource, In, IsNull, LessThanOrEqual, MoreThanOrEqual, Not, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { isUniqueViolation } from '../persistence/data-source';
import { insertRow, insertRowFrom, Statement, transitionRow, TxBody } from '../persistence/database';
import { DEPROVISIONING_UNACKNOWLEDGED, EndReason, SessionEntity, SessionState } from './session.entity';
import { newestFirstPage, PageCursor } from '../common/page-cursor';

/**
 * Persistence of sessions. State changes are conditional updates (`WHERE state IN (...)`), so an
 * expiry pass, an early end and a failing provisioning step racing each other (in one process or
 * several) make exactly one transition. Concurrency slots of the types without a pool (Dynamics 365,
 * Logic app) are claimed in one place, claimSessionSlot().
 */
@Injectable()
export class SessionsRepository {
  readonly repo: Repository<SessionEntity>;

  constructor(@InjectDataSource() ds: DataSource) {
    this.repo = ds.getRepository(SessionEntity);
  }

  findById(id: string): Promise<SessionEntity | null> {
    return this.repo.findOneBy({ id });
  }

  findByIdempotencyKey(offerId: string, key: string): Promise<SessionEntity | null> {
    return this.repo.findOneBy({ offerId, idempotencyKey: key });
  }

  async insert(row: SessionEntity): Promise<void> {
    await this.repo.insert(row as QueryDeepPartialEntity<SessionEntity>);
  }

  /** INSERT of a new session inside a transaction (Database.atomic). */
  *insertTx(row: SessionEntity): TxBody<void> {
    yield this.insertStatement(row);
  }

  /**
   * The INSERT of a new session, to send with others (`together`). With `fromClaim`, PostgreSQL's form for
   * afterClaim(): written only when a row was claimed, these columns (session column → claimed column) from it.
   */
  insertStatement(row: SessionEntity, fromClaim?: Record<string, string>): Statement {
    if (fromClaim) return insertRowFrom('session', row as unknown as Record<string, unknown>, fromClaim);
    return insertRow('session', row as unknown as Record<string, unknown>);
  }

  /** The session a client started with `idempotencyKey` on `offerId` (takeover of a start whose owner died). */
  findByClientKey(offerId: string, clientTenantId: string | null, clientId: string | null, idempotencyKey: string): Promise<SessionEntity | null> {
    return this.repo.findOneBy({ offerId, clientTenantId: clientTenantId ?? IsNull(), clientId: clientId ?? IsNull(), idempotencyKey });
  }

  async deleteById(id: string): Promise<void> {
    await this.repo.delete({ id });
  }

  /** Applies `patch` if the session is in one of `from`; false otherwise. */
  async transition(id: string, from: SessionState[], patch: Partial<SessionEntity>, now: number): Promise<boolean> {
    return transitionRow(this.repo, id, from, patch, now);
  }

  /**
   * THE place where a session concurrency slot is claimed. Sets the lowest free slot in 0..limit-1
   * (and `extra`) on `session` of offer `offerId` while it is `provisioning` (or `queued`: it then becomes
   * `provisioning` in the same update, issue 12), and returns it; null when every slot below `limit` is
   * taken or the session is no longer in that state.
   * Concurrent claims never share a slot: the UNIQUE (offerId, slot) index refuses the second one, and
   * the loser tries the next free slot (slots are re-read up to three rounds while claims collide).
   */
  async claimSessionSlot(session: Pick<SessionEntity, 'id' | 'state'>, offerId: string, limit: number, now: number, extra: Partial<SessionEntity> = {}): Promise<number | null> {
    // A queued session (issue 12) leaves the queue in the same UPDATE that gives it its slot: served once.
    const from: SessionState[] = session.state === 'queued' ? ['queued'] : ['provisioning'];
    const patch: Partial<SessionEntity> = session.state === 'queued' ? { ...extra, state: 'provisioning' } : extra;
    for (let round = 0; round < 3; round++) {
      const rows = await this.repo.find({ where: { offerId, slot: Not(IsNull()) }, select: { id: true, slot: true } });
      const taken = new Set(rows.map((r) => r.slot));
      let contended = false;
      for (let slot = 0; slot < limit; slot++) {
        if (taken.has(slot)) continue;
        try {
          return (await this.transition(session.id, from, { ...patch, slot }, now)) ? slot : null;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          contended = true;
        }
      }
      if (!contended) return null;
    }
    return null;
  }

  /**
   * Compare-and-set of session.progress (and `patch`): applied only if the session is still in one of
   * `from` and its stored progress is what `s` holds (s.progress as read).
   * @returns false when someone else moved it (the caller re-reads).
   */
  async compareAndSetProgress(s: SessionEntity, next: unknown, from: SessionState[], now: number, patch: Partial<SessionEntity> = {}): Promise<boolean> {
    const qb = this.repo
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ ...patch, progress: next, updatedAt: now } as unknown as QueryDeepPartialEntity<SessionEntity>)
      .where('id = :id', { id: s.id })
      .andWhere('state IN (:...from)', { from });
    if (s.progress === null || s.progress === undefined) qb.andWhere('progress IS NULL');
    else qb.andWhere('progress = :old', { old: JSON.stringify(s.progress) });
    const r = await qb.execute();
    return r.affected === 1;
  }

  /**
   * provisioning -> ready: the session starts; it expires `durationHours` test drive hours later
   * (`hourMs` = one test drive hour in ms).
   */
  markReady(s: SessionEntity, outputsEnc: string | null, now: number, hourMs: number, extra: Partial<SessionEntity> = {}): Promise<boolean> {
    return this.transition(
      s.id,
      ['provisioning'],
      { ...extra, state: 'ready', outputsEnc, readyAt: now, expiresAt: now + s.durationHours * hourMs },
      now,
    );
  }

  /** provisioning|ready -> ending with a reason. */
  beginEnding(id: string, reason: EndReason, now: number): Promise<boolean> {
    return this.transition(id, ['provisioning', 'ready'], { state: 'ending', endReason: reason }, now);
  }

  /**
   * ending -> ended (teardown complete); frees the session's slot. A session ending because it failed
   * (endReason `failed`, beginFailing) becomes `failed` instead, its failure kept.
   */
  async markEnded(id: string, now: number): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update()
      .set({ state: () => `CASE WHEN "endReason" = 'failed' THEN 'failed' ELSE 'ended' END`, endedAt: now, slot: null, updatedAt: now })
      .where('id = :id', { id })
      .andWhere("state = 'ending'")
      .execute();
    return r.affected === 1;
  }

  /**
   * provisioning|ready -> ending because the session failed after it started (endReason `failed`,
   * `failure` kept for the customer): its type tears down what it holds as for any ending session, and
   * markEnded leaves it `failed`. The slot is kept until then (a licence is freed by the teardown).
   */
  beginFailing(id: string, failure: { code: string; message: string }, now: number): Promise<boolean> {
    return this.transition(id, ['provisioning', 'ready'], { state: 'ending', endReason: 'failed', failure }, now);
  }

  /**
   * provisioning|ready|ending -> failed with a reason the customer can read; frees the slot.
   * Teardown of what was made still happens (the type's reconcile loop sees a failed session).
   */
  markFailed(id: string, failure: { code: string; message: string }, now: number): Promise<boolean> {
    return this.transition(id, ['provisioning', 'ready', 'ending'], { state: 'failed', failure, endReason: 'failed', endedAt: now, slot: null }, now);
  }

  /** Ready sessions whose time is up (expiresAt <= now), oldest first. */
  listExpired(now: number, limit = 200): Promise<SessionEntity[]> {
    return this.repo.find({ where: { state: 'ready', expiresAt: LessThanOrEqual(now) }, order: { expiresAt: 'ASC' }, take: limit });
  }

  /** The earliest `expiresAt` of a ready session (epoch ms), or null when none is ready. Index IX_session_state_expires. */
  async nextExpiryAt(): Promise<number | null> {
    const r = await this.repo.createQueryBuilder('s').select('MIN(s.expiresAt)', 'at').where("s.state = 'ready'").getRawOne<{ at: string | number | null }>();
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }

  /**
   * One page of an offer's sessions (GET /offers/{offerId}/sessions): newest first (requestedAt DESC, id
   * DESC), at most `limit`, optionally in one `state`; `before` pages back (PageCursor: a page ending
   * inside a millisecond shared by several sessions continues with the rest of it).
   */
  page(offerId: string, opts: { state?: SessionState; limit: number; before?: PageCursor }): Promise<SessionEntity[]> {
    const q = this.repo.createQueryBuilder('s').where('s.offerId = :offerId', { offerId });
    if (opts.state) q.andWhere('s.state = :state', { state: opts.state });
    return newestFirstPage(q, 's.requestedAt', 's.id', opts.before, opts.limit);
  }

  /** How many of an offer's sessions are in one of `states` (counted in the database, however many), requested at or after `requestedSince` (epoch ms) when given. */
  countInStates(offerId: string, states: readonly SessionState[], requestedSince?: number): Promise<number> {
    return this.repo.count({ where: { offerId, state: In(states), ...(requestedSince !== undefined ? { requestedAt: MoreThanOrEqual(requestedSince) } : {}) } });
  }

  /**
   * An offer's sessions in each of `states` and how many of them hold a slot, counted in the database
   * however many there are (one GROUP BY; states without sessions are 0).
   */
  async countByState(offerId: string, states: readonly SessionState[]): Promise<{ byState: Record<SessionState, number>; holdingSlot: number }> {
    const rows = await this.repo
      .createQueryBuilder('s')
      .select('s.state', 'sessionState')
      .addSelect('COUNT(*)', 'n')
      .addSelect('SUM(CASE WHEN s.slot IS NULL THEN 0 ELSE 1 END)', 'holding')
      .where('s.offerId = :offerId AND s.state IN (:...states)', { offerId, states })
      .groupBy('s.state')
      .getRawMany<{ sessionState: SessionState; n: string | number; holding: string | number | null }>();
    const byState = Object.fromEntries(states.map((st) => [st, 0])) as Record<SessionState, number>;
    let holdingSlot = 0;
    for (const r of rows) {
      byState[r.sessionState] = Number(r.n);
      holdingSlot += Number(r.holding ?? 0);
    }
    return { byState, holdingSlot };
  }

  /**
   * The sessions of `offerId` whose deprovisioning gave up for good and nobody acknowledged yet
   * (SessionEntity.deprovisioningFailedAt; the partial index IX_session_deprovisioning_open): how many, and
   * the ids of the newest `limit` (default 20) by the time they gave up.
   */
  async deprovisioningFailures(offerId: string, limit = 20): Promise<{ count: number; sessionIds: string[] }> {
    const where = { offerId, ...DEPROVISIONING_UNACKNOWLEDGED };
    const count = await this.repo.count({ where });
    if (!count) return { count, sessionIds: [] };
    const rows = await this.repo.find({ where, select: { id: true }, order: { deprovisioningFailedAt: 'DESC', id: 'DESC' }, take: limit });
    return { count, sessionIds: rows.map((r) => r.id) };
  }

  /**
   * Records that someone acknowledged the session's failed deprovisioning (what it left behind is dealt
   * with), at `now` (epoch ms). Compare-and-set: only a failure not yet acknowledged is acknowledged.
   * @returns true when this call acknowledged it; false when it was acknowledged already, or never failed.
   */
  async acknowledgeDeprovisioning(id: string, now: number): Promise<boolean> {
    const r = await this.repo.update({ id, ...DEPROVISIONING_UNACKNOWLEDGED }, { deprovisioningAcknowledgedAt: now, updatedAt: now });
    return r.affected === 1;
  }

  /** An offer's newest `limit` sessions (default 500), optionally only in `states` (the type modules' and dashboard's views). */
  listByOffer(offerId: string, states?: readonly SessionState[], limit = 500): Promise<SessionEntity[]> {
    return this.repo.find({ where: { offerId, ...(states ? { state: In(states) } : {}) }, order: { requestedAt: 'DESC' }, take: limit });
  }

  /** Id and progress of every session of an offer in `states` (no limit; for types that keep counters in progress). */
  listProgress(offerId: string, states: readonly SessionState[]): Promise<Array<Pick<SessionEntity, 'id' | 'progress'>>> {
    return this.repo.find({ where: { offerId, state: In(states) }, select: { id: true, progress: true } });
  }

  /** Slots held right now by an offer's sessions (SessionEntity.slot not null). */
  async heldSlots(offerId: string): Promise<number[]> {
    const rows = await this.repo.find({ where: { offerId, slot: Not(IsNull()) }, select: { id: true, slot: true } });
    return rows.map((r) => r.slot!);
  }

  listByStates(states: SessionState[]): Promise<SessionEntity[]> {
    return this.repo.find({ where: { state: In(states) } });
  }

  /**
   * Sessions counted by offer, type and state: every live one (provisioning, ready, ending) and those
   * that ended or failed at or after `endedSince` (epoch ms). Two indexed group-bys (state; endedAt).
   */
  async countsByState(endedSince: number): Promise<Array<{ offerId: string; type: string; state: SessionState; n: number }>> {
    const group = (where: string, params: Record<string, unknown>) =>
      this.repo
        .createQueryBuilder('s')
        .select('s.offerId', 'offerId')
        .addSelect('s.type', 'type')
        .addSelect('s.state', 'state')
        .addSelect('COUNT(*)', 'n')
        .where(where, params)
        .groupBy('s.offerId')
        .addGroupBy('s.type')
        .addGroupBy('s.state')
        .getRawMany<{ offerId: string; type: string; state: SessionState; n: string | number }>();
    const rows = [
      ...(await group('s.state IN (:...live)', { live: ['queued', 'provisioning', 'ready', 'ending'] })),
      ...(await group('s.endedAt >= :since', { since: endedSince })),
    ];
    return rows.map((r) => ({ ...r, n: Number(r.n) }));
  }

  /** Queued start requests per offer (issue 12; GET /capacity). */
  async queuedByOffer(): Promise<Map<string, number>> {
    const rows = await this.repo.createQueryBuilder('s').select('s.offerId', 'offerId').addSelect('COUNT(*)', 'n').where('s.state = :q', { q: 'queued' }).groupBy('s.offerId').getRawMany<{ offerId: string; n: string | number }>();
    return new Map(rows.map((r) => [r.offerId, Number(r.n)]));
  }

  /**
   * An offer's starts per hour from `first` (epoch ms, an hour's start) on, counted in the database (the
   * dashboard chart, however busy the offer): per hour `slot` (0 = the hour starting at `first`) and
   * instance kind (null for types without one), the sessions requested, how many became ready and the
   * sum of their times to ready (ms).
   */
  async startsPerHour(offerId: string, first: number): Promise<Array<{ slot: number; kind: string | null; n: number; ready: number; readyMs: number }>> {
    const rows = await this.repo
      .createQueryBuilder('s')
      .select('CAST((s.requestedAt - :first) / 3600000 AS INTEGER)', 'hourSlot')
      .addSelect('s.instanceKind', 'kind')
      .addSelect('COUNT(*)', 'n')
      .addSelect('COUNT(s.readyAt)', 'ready')
      .addSelect('COALESCE(SUM(s.readyAt - s.requestedAt), 0)', 'readyMs')
      .where('s.offerId = :offerId AND s.requestedAt >= :first', { offerId, first })
      .groupBy('"hourSlot"')
      .addGroupBy('s.instanceKind')
      .getRawMany<{ hourSlot: string | number; kind: string | null; n: string | number; ready: string | number; readyMs: string | number }>();
    return rows.map((r) => ({ slot: Number(r.hourSlot), kind: r.kind, n: Number(r.n), ready: Number(r.ready), readyMs: Number(r.readyMs) }));
  }

  /** An offer's sessions that failed, requested at or after `since` (epoch ms), newest first, at most `limit` (dashboard). */
  failedSince(offerId: string, since: number, limit = 20): Promise<SessionEntity[]> {
    return this.repo.find({ where: { offerId, state: 'failed', requestedAt: MoreThanOrEqual(since) }, order: { requestedAt: 'DESC' }, take: limit });
  }

  /** Sessions that became ready in (after, upTo] (epoch ms), oldest first, at most `limit` (metrics observer). */
  readyBetween(after: number, upTo: number, limit = 5000): Promise<Array<Pick<SessionEntity, 'id' | 'type' | 'instanceKind' | 'requestedAt' | 'readyAt'>>> {
    return this.changedBetween('readyAt', ['id', 'type', 'instanceKind', 'requestedAt', 'readyAt'], after, upTo, limit);
  }

  /** Sessions that ended in (after, upTo] (epoch ms), oldest first, at most `limit` (metrics observer). */
  endedBetween(after: number, upTo: number, limit = 5000): Promise<Array<Pick<SessionEntity, 'id' | 'type' | 'endReason' | 'expiresAt' | 'endedAt'>>> {
    return this.changedBetween('endedAt', ['id', 'type', 'endReason', 'expiresAt', 'endedAt'], after, upTo, limit);
  }

  /** Sessions whose `at` column lies in (after, upTo], oldest first, only the `fields` read. */
  private changedBetween(at: 'readyAt' | 'endedAt', fields: Array<keyof SessionEntity>, after: number, upTo: number, limit: number): Promise<SessionEntity[]> {
    return this.repo.find({ where: { [at]: Between(after + 1, upTo) }, select: fields, order: { [at]: 'ASC' }, take: limit });
  }
}
