/**
 * Resumable state of one Logic app session, kept in session.progress (JSON; never a secret, never a
 * callback URL: those carry a `sig` and are obtained again for every call). Written with
 * compare-and-set (LogicAppSessionDriver.save), so two writers never lose each other's step.
 */
export interface LogicCallProgress {
  /**
   * `post`: POST the Request trigger's callback URL when due (nextAt); `follow`: a run (runId) is in
   * progress and is followed until it ends; `done`: the call succeeded; `failed`: it did not (see
   * lastError); `cancelled`: provisioning was still running when the session ended (run cancelled).
   */
  step: 'post' | 'follow' | 'done' | 'failed' | 'cancelled';
  /** The run of the current attempt (`x-ms-workflow-run-id`). */
  runId?: string;
  /** POSTs started so far (first try + retries); at most LOGIC_APP_MAX_ATTEMPTS. */
  attempts: number;
  /** Clock ms the timeout counts from: provisioning's first POST; deprovisioning's current attempt. */
  startedAt?: number;
  /** Clock ms a POST was started and has no recorded result yet (in flight here, or lost in a crash). */
  postedAt?: number;
  /** Clock ms before which the next POST is not made (backoff, Retry-After). */
  nextAt?: number;
  /** Last problem (code, customer-readable message; never a URL or secret). */
  lastError?: { code: string; message: string };
}

/** session.progress of a Logic app session. */
export interface LogicAppProgress {
  provision: LogicCallProgress;
  /** Present once the session is ending. `gaveUp`: every attempt failed; the session was ended anyway. */
  deprovision?: LogicCallProgress & { gaveUp?: boolean };
}

/** Backoff after a failed attempt: 2 s, 4 s, 8 s ... capped at 60 s (`attempts` = attempts made so far, >= 1). Result in ms. */
export function retryBackoffMs(attempts: number): number {
  return Math.min(60_000, 2000 * 2 ** Math.min(Math.max(attempts - 1, 0), 10));
}
