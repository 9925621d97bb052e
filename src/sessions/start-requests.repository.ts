import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { isUniqueViolation } from '../persistence/data-source';
import { CLAIMED, sql, Statement, TxBody } from '../persistence/database';
import { StartRefusal, StartRequestEntity } from './start-request.entity';

/**
 * Idempotency-Key records of session starts (start_request). Every change is conditional on the state
 * read, so two requests with one key (in one process or several) never both act as the owner.
 */
@Injectable()
export class StartRequestsRepository {
  readonly repo: Repository<StartRequestEntity>;

  constructor(@InjectDataSource() ds: DataSource) {
    this.repo = ds.getRepository(StartRequestEntity);
  }

  find(offerId: string, clientKey: string, idempotencyKey: string): Promise<StartRequestEntity | null> {
    return this.repo.findOneBy({ offerId, clientKey, idempotencyKey });
  }

  /**
   * Records a new start under way. Returns the row, or null when the key is already recorded (the
   * UNIQUE (offerId, clientKey, idempotencyKey) index decides between concurrent requests).
   */
  async begin(offerId: string, clientKey: string, idempotencyKey: string, requestHash: string, now: number): Promise<StartRequestEntity | null> {
    const row: StartRequestEntity = { id: randomUUID(), offerId, clientKey, idempotencyKey, requestHash, state: 'started', sessionId: null, refusal: null, createdAt: now, updatedAt: now };
    try {
      await this.repo.insert(row);
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  /**
   * Takes over a start whose owner stopped answering (still `started`, last touched at `seenUpdatedAt`).
   * True for exactly one of several concurrent callers.
   */
  async takeOver(row: StartRequestEntity, now: number): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update(StartRequestEntity)
      .set({ updatedAt: now })
      .where('id = :id AND state = :s AND "updatedAt" = :u', { id: row.id, s: 'started', u: row.updatedAt })
      .execute();
    return r.affected === 1;
  }

  /** started -> completed with the session, inside a claim transaction (SessionCommit). */
  *completeTx(id: string, sessionId: string, now: number): TxBody<void> {
    yield this.completeStatement(id, sessionId, now);
  }

  /** completeTx's UPDATE, to send with others (`together`); `afterClaim`: PostgreSQL's form for afterClaim() (only when a row was claimed). */
  completeStatement(id: string, sessionId: string, now: number, afterClaim = false): Statement {
    const claimed = afterClaim ? ` AND EXISTS (SELECT 1 FROM "${CLAIMED}")` : '';
    return sql(`UPDATE "start_request" SET "state" = 'completed', "sessionId" = ?, "updatedAt" = ? WHERE "id" = ? AND "state" = 'started'${claimed}`, [sessionId, now, id]);
  }

  /** started -> completed with the session (types that do not claim atomically). */
  async complete(id: string, sessionId: string, now: number): Promise<void> {
    await this.repo.update({ id, state: 'started' }, { state: 'completed', sessionId, updatedAt: now });
  }

  /** started -> refused: a retry with the same key and body gets this answer again. */
  async refuse(id: string, refusal: StartRefusal, now: number): Promise<void> {
    await this.repo.update({ id, state: 'started' }, { state: 'refused', refusal, updatedAt: now });
  }

  /** Deletes completed and refused records last touched before `cutoff` (epoch ms); a key older than that starts anew. */
  async purgeSettledBefore(cutoff: number): Promise<void> {
    await this.repo.createQueryBuilder().delete().from(StartRequestEntity).where('state IN (:...s) AND "updatedAt" < :cutoff', { s: ['completed', 'refused'], cutoff }).execute();
  }

  /** Forgets a start that failed for a passing reason (dependency unavailable): a retry tries again. */
  async forget(id: string): Promise<void> {
    await this.repo.delete({ id, state: 'started' });
  }
}
