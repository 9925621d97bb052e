/**
 * Resumable provisioning state of one Dynamics 365 session, kept in session.progress (JSON). Written
 * with compare-and-set (DynamicsSessionDriver.save), so two writers never lose each other's step.
 * The password is only ever here encrypted (DataProtector), and removed once the session is torn down.
 */
export interface DynamicsProgress {
  /** Next forward step: prepare -> createUser -> assignLicense -> waitSync -> assignRole -> activate. */
  step: 'prepare' | 'createUser' | 'assignLicense' | 'waitSync' | 'assignRole' | 'activate';
  /** `td-<12 hex of the session id>@<tenantName>`. */
  upn?: string;
  /** DataProtector token of the generated password. */
  passwordEnc?: string;
  /** Entra object id of the user. */
  userId?: string;
  /** skuId of the license assigned. */
  skuId?: string;
  /** The license is assigned (counted as held by the offer while the session is live). */
  licenseAssigned?: boolean;
  /** Removal of the license has started (no longer counted as held). */
  licenseRemoving?: boolean;
  /** When the wait for the user to appear in the environment began (clock ms). */
  syncStartedAt?: number;
  /** Polls of the environment so far (backoff 1 s, 2 s, 4 s ... 60 s). */
  syncPolls?: number;
  /** The user's id in the environment (CE systemuserid, F&O UserID, BC userSecurityId) and CE business unit. */
  envUserId?: string;
  envBusinessUnitId?: string;
  roleAssigned?: boolean;
  /** Consecutive failed attempts of the current step (transient errors). */
  attempts: number;
  /** Clock ms before which the current forward step is not tried again. */
  nextAt?: number;
  /** Teardown phase (in reverse): role -> license -> user -> done. */
  teardown?: 'role' | 'license' | 'user' | 'done';
  teardownAttempts?: number;
  teardownNextAt?: number;
  /** Everything made was removed. */
  torndown?: boolean;
  /** Last error of a step (code and message; never a secret). */
  lastError?: { step: string; code: string; message: string };
}

/** Backoff of sync polls: 1 s, 2 s, 4 s ... capped at 60 s (`polls` = polls done so far). Result in ms. */
export function syncBackoffMs(polls: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.min(Math.max(polls, 0), 10));
}

/** Backoff after a transient error of a step: 2 s, 4 s ... capped at 5 min. Result in ms. */
export function errorBackoffMs(attempts: number): number {
  return Math.min(300_000, 2000 * 2 ** Math.min(Math.max(attempts - 1, 0), 10));
}
