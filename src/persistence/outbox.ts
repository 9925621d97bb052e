import { sql, type Statement } from './database';

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

/** Backoff before retry `attempts` (1-based) of an outbound message: 1 minute doubling to 1 hour, ±20 % jitter (ms). */
export function outboxBackoffMs(attempts: number, random = Math.random): number {
  return Math.round(Math.min(3_600_000, 60_000 * 2 ** Math.max(0, attempts - 1)) * (0.8 + random() * 0.4));
}
