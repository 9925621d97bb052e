import { sql, type Database, type Statement, type StatementResult, type TxBody } from './database';

/** The delivery fields every outbox row starts with (leads, alert notifications): due now, never tried, held by nobody. */
export interface OutboxFields {
  attempts: number;
  nextAttemptAt: number;
  lastError: null;
  lockedBy: null;
  lockedUntil: null;
}

/** Fresh outbox fields for a row created at `now` (epoch ms): due at once. */
export function freshOutbox(now: number): OutboxFields {
  return { attempts: 0, nextAttemptAt: now, lastError: null, lockedBy: null, lockedUntil: null };
}

/**
 * The statement that claims up to `limit` due rows of outbox `table` (state 'pending', nextAttemptAt
 * due, not held) for `owner` until `now + leaseMs`, counting the attempt, and returns their ids
 * (`RETURNING "id"`). PostgreSQL skips rows another replica is claiming (FOR UPDATE SKIP LOCKED); SQLite
 * has one writer. Run it in Database.atomic. `table` is one of the service's own outbox tables.
 */
export function claimDueStatement(table: 'alert_notification' | 'callback_event', owner: string, now: number, leaseMs: number, limit: number, postgres: boolean): Statement {
  const skip = postgres ? ' FOR UPDATE SKIP LOCKED' : '';
  return sql(
    `UPDATE "${table}" SET "lockedBy" = ?, "lockedUntil" = ?, "attempts" = "attempts" + 1, "updatedAt" = ?
      WHERE "id" IN (SELECT "id" FROM "${table}"
                      WHERE "state" = 'pending' AND "nextAttemptAt" <= ? AND ("lockedUntil" IS NULL OR "lockedUntil" <= ?)
                      ORDER BY "nextAttemptAt" ASC LIMIT ${Math.max(1, Math.floor(limit))}${skip})
        AND "state" = 'pending' AND ("lockedUntil" IS NULL OR "lockedUntil" <= ?)
      RETURNING "id"`,
    [owner, now + leaseMs, now, now, now, now],
  );
}

/**
 * Deletes up to `limit` messages of an outbox table that are done (sent, or failed for good) and whose last
 * attempt was due before `cutoff` (epoch ms): `nextAttemptAt`, on the (state, nextAttemptAt) index. Their
 * dedupe keys go with them, which is safe once nothing can queue the same fact again (callbacks scan
 * sessions a minute back; alert notifications are queued only when an incident opens or resolves).
 */
export function purgeDoneStatement(table: 'alert_notification' | 'callback_event', cutoff: number, limit: number): Statement {
  return sql(`DELETE FROM "${table}" WHERE "id" IN (SELECT "id" FROM "${table}" WHERE "state" IN ('sent', 'failed') AND "nextAttemptAt" < ? LIMIT ${Math.max(1, Math.floor(limit))})`, [cutoff]);
}

/** How often (clock time) finished history older than HISTORY_RETENTION_DAYS is removed (the leader's purgeHistory, the ARM type's deleted instances). */
export const HISTORY_PURGE_INTERVAL_MS = 3_600_000;
/** Messages one purge statement deletes at most (a short write: other writers wait behind it on SQLite). */
export const PURGE_BATCH = 1_000;
/** Batches one purge pass runs at most (the rest waits for the next pass). */
const PURGE_BATCHES_PER_PASS = 20;

/**
 * Deletes the done messages of `table` whose last attempt was due before `cutoff` (purgeDoneStatement), in
 * batches of PURGE_BATCH, at most PURGE_BATCHES_PER_PASS of them. Idempotent; replicas racing it delete
 * each row once. @returns how many rows it deleted.
 */
export async function purgeDoneMessages(db: Database, table: 'alert_notification' | 'callback_event', cutoff: number): Promise<number> {
  let total = 0;
  for (let batch = 0; batch < PURGE_BATCHES_PER_PASS; batch++) {
    const r = await db.atomic(function* (): TxBody<StatementResult> {
      return (yield purgeDoneStatement(table, cutoff, PURGE_BATCH));
    });
    total += r.affected;
    if (r.affected < PURGE_BATCH) break;
  }
  return total;
}

/** Backoff before retry `attempts` (1-based) of an outbound message: 1 minute doubling to 1 hour, ±20 % jitter (ms). */
export function outboxBackoffMs(attempts: number, random = Math.random): number {
  return Math.round(Math.min(3_600_000, 60_000 * 2 ** Math.max(0, attempts - 1)) * (0.8 + random() * 0.4));
}
