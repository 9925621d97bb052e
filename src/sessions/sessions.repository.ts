import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, LessThanOrEqual, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EndReason, SessionEntity, SessionState } from './session.entity';

/**
 * Persistence of sessions. State changes are conditional updates (`WHERE state IN (...)`), so an
 * expiry pass, an early end and a failing provisioning step racing each other (in one process or
 * several) make exactly one transition.
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

  async deleteById(id: string): Promise<void> {
    await this.repo.delete({ id });
  }

  /** Applies `patch` if the session is in one of `from`; false otherwise. */
  async transition(id: string, from: SessionState[], patch: Partial<SessionEntity>, now: number): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ ...patch, updatedAt: now } as QueryDeepPartialEntity<SessionEntity>)
      .where('id = :id', { id })
      .andWhere('state IN (:...from)', { from })
      .execute();
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

  /** ending -> ended (teardown complete); frees the session's slot. */
  markEnded(id: string, now: number): Promise<boolean> {
    return this.transition(id, ['ending'], { state: 'ended', endedAt: now, slot: null }, now);
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

  listByOffer(offerId: string, states?: SessionState[]): Promise<SessionEntity[]> {
    return this.repo.find({ where: { offerId, ...(states ? { state: In(states) } : {}) }, order: { requestedAt: 'DESC' }, take: 500 });
  }

  listByStates(states: SessionState[]): Promise<SessionEntity[]> {
    return this.repo.find({ where: { state: In(states) } });
  }
}
