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
