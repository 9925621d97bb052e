import { z } from 'zod';

/** Settings of the Dynamics 365 type, read from environment variables when the module starts. */
export interface DynamicsSettings {
  /** How long (clock seconds) to wait for a licensed user to appear in the Dynamics 365 environment before the session fails. */
  syncTimeoutSeconds: number;
  /** Period (clock seconds) of the health check of published offers (the publish preflight run again). */
  healthIntervalSeconds: number;
  /** Period (clock seconds) of the sweep that removes leftover test drive users. */
  sweepIntervalSeconds: number;
  /** How long (real ms) one read of the tenant's licenses (GET /subscribedSkus) is reused for slot claims. */
  licenseCacheMs: number;
  /** Microsoft Graph endpoint (no trailing "/"); unset = https://graph.microsoft.com, or the emulator's /graph. */
  graphEndpoint?: string;
}

/** Thrown when a DYNAMICS_* variable is invalid; names each variable and its rule. */
export class DynamicsSettingsError extends Error {
  constructor(problems: string[]) {
    super(`Invalid Dynamics 365 settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DynamicsSettingsError';
  }
}

const seconds = (name: string, def: number, min: number) =>
  z.coerce
    .number({ message: `${name} must be a number of seconds` })
    .int(`${name} must be a whole number of seconds`)
    .min(min, `${name} must be >= ${min}`)
    .max(86400, `${name} must be <= 86400`)
    .default(def);

const schema = z.object({
  DYNAMICS_SYNC_TIMEOUT_SECONDS: seconds('DYNAMICS_SYNC_TIMEOUT_SECONDS', 900, 1),
  DYNAMICS_HEALTH_INTERVAL_SECONDS: seconds('DYNAMICS_HEALTH_INTERVAL_SECONDS', 300, 1),
  DYNAMICS_SWEEP_INTERVAL_SECONDS: seconds('DYNAMICS_SWEEP_INTERVAL_SECONDS', 300, 1),
  DYNAMICS_LICENSE_CACHE_MS: z.coerce
    .number({ message: 'DYNAMICS_LICENSE_CACHE_MS must be a number of milliseconds' })
    .int('DYNAMICS_LICENSE_CACHE_MS must be whole milliseconds')
    .min(0, 'DYNAMICS_LICENSE_CACHE_MS must be >= 0')
    .max(60_000, 'DYNAMICS_LICENSE_CACHE_MS must be <= 60000 (a stale license count risks refusing or failing sessions)')
    .default(3000),
  DYNAMICS_GRAPH_ENDPOINT: z
    .string()
    .url('DYNAMICS_GRAPH_ENDPOINT must be an absolute URL')
    .refine((u) => u.startsWith('https://'), 'DYNAMICS_GRAPH_ENDPOINT must use https')
    .optional(),
});

/**
 * Validates the DYNAMICS_* environment variables (defaults: sync timeout 900 s, health check every
 * 300 s, sweep every 300 s, license cache 3000 ms, Graph at https://graph.microsoft.com).
 * @throws DynamicsSettingsError naming every bad variable.
 */
export function loadDynamicsSettings(env: NodeJS.ProcessEnv = process.env): DynamicsSettings {
  const r = schema.safeParse(env);
  if (!r.success) throw new DynamicsSettingsError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`));
  const e = r.data;
  return {
    syncTimeoutSeconds: e.DYNAMICS_SYNC_TIMEOUT_SECONDS,
    healthIntervalSeconds: e.DYNAMICS_HEALTH_INTERVAL_SECONDS,
    sweepIntervalSeconds: e.DYNAMICS_SWEEP_INTERVAL_SECONDS,
    licenseCacheMs: e.DYNAMICS_LICENSE_CACHE_MS,
    ...(e.DYNAMICS_GRAPH_ENDPOINT ? { graphEndpoint: e.DYNAMICS_GRAPH_ENDPOINT.replace(/\/+$/, '') } : {}),
  };
}

/** Nest injection token of DynamicsSettings. */
export const DYNAMICS_SETTINGS = Symbol('DYNAMICS_SETTINGS');
