import { z } from 'zod';

/** Settings of the Logic app type, read from environment variables when the module starts. */
export interface LogicAppSettings {
  /**
   * How long (clock seconds) one call of a Logic App may take, from its first POST to the end of its
   * run. Provisioning: across retries; the session fails (`LogicAppTimedOut`) and deprovisioning runs.
   * Deprovisioning: per attempt; a timed-out attempt is retried like a failed one.
   */
  timeoutSeconds: number;
  /** POSTs of one call (first try + retries on 408/429/5xx, network errors, lost calls) before it counts as failed. */
  maxAttempts: number;
  /** Socket timeout (real seconds) of one HTTP request to a callback URL (Azure answers a synchronous request within 120 s). */
  requestTimeoutSeconds: number;
}

/** Thrown when a LOGIC_APP_* variable is invalid; names each variable and its rule. */
export class LogicAppSettingsError extends Error {
  constructor(problems: string[]) {
    super(`Invalid Logic app settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'LogicAppSettingsError';
  }
}

const whole = (name: string, def: number, min: number, max: number, unit: string) =>
  z.coerce
    .number({ message: `${name} must be a number of ${unit}` })
    .int(`${name} must be a whole number of ${unit}`)
    .min(min, `${name} must be >= ${min}`)
    .max(max, `${name} must be <= ${max}`)
    .default(def);

const schema = z.object({
  LOGIC_APP_TIMEOUT_SECONDS: whole('LOGIC_APP_TIMEOUT_SECONDS', 600, 1, 86400, 'seconds'),
  LOGIC_APP_MAX_ATTEMPTS: whole('LOGIC_APP_MAX_ATTEMPTS', 5, 1, 20, 'attempts'),
  LOGIC_APP_REQUEST_TIMEOUT_SECONDS: whole('LOGIC_APP_REQUEST_TIMEOUT_SECONDS', 150, 1, 3600, 'seconds'),
});

/**
 * Validates the LOGIC_APP_* environment variables (defaults: timeout 600 s, 5 attempts, request
 * timeout 150 s). Empty strings count as unset.
 * @throws LogicAppSettingsError naming every bad variable.
 */
export function loadLogicAppSettings(env: NodeJS.ProcessEnv = process.env): LogicAppSettings {
  const picked: Record<string, string> = {};
  for (const k of Object.keys(schema.shape)) if (env[k] !== undefined && env[k] !== '') picked[k] = env[k]!;
  const r = schema.safeParse(picked);
  if (!r.success) throw new LogicAppSettingsError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`));
  return {
    timeoutSeconds: r.data.LOGIC_APP_TIMEOUT_SECONDS,
    maxAttempts: r.data.LOGIC_APP_MAX_ATTEMPTS,
    requestTimeoutSeconds: r.data.LOGIC_APP_REQUEST_TIMEOUT_SECONDS,
  };
}

/** Nest injection token of LogicAppSettings. */
export const LOGIC_APP_SETTINGS = Symbol('LOGIC_APP_SETTINGS');
