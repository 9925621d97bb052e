import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/** Repository root (where package.json, config/ and data/ live), also when running from dist/. */
export const PROJECT_ROOT = findProjectRoot(__dirname);

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'config', 'regions.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

const defaults = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'config', 'defaults.json'), 'utf8')) as {
  port: number;
  emulatorPort: number;
  emulatorDeploymentSeconds: number;
  testDriveHourSeconds: number;
  reconcileIntervalMs: number;
  azure: { authorityHost: string; resourceManagerEndpoint: string; resourceManagerAudience: string };
};

const port = (name: string) =>
  z.coerce
    .number({ message: `${name} must be a TCP port number` })
    .int(`${name} must be a whole number`)
    .min(0, `${name} must be between 0 and 65535`)
    .max(65535, `${name} must be between 0 and 65535`);

const httpsUrl = (name: string) =>
  z
    .string()
    .url(`${name} must be an absolute URL`)
    .refine((u) => u.startsWith('https://'), `${name} must use https (the Azure SDKs refuse bearer tokens over http)`);

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A comma-separated list of GUIDs (tenants or client ids) trusted for a role; `*` (when `allowStar`)
 * means every tenant, which startup refuses against real Azure.
 */
function trustList(name: string, allowStar: boolean) {
  return z
    .string()
    .optional()
    .refine(
      (v) => v === undefined || v.trim() === '' || (allowStar && v.trim() === '*') || v.split(',').every((t) => GUID_RE.test(t.trim())),
      `${name} must be a comma-separated list of GUIDs${allowStar ? ' (or * for every tenant, refused against real Azure)' : ''}`,
    );
}

/** Parsed trust list: undefined = not set, 'any' = every tenant, else lower-case GUIDs. */
function parseTrustList(v: string | undefined): string[] | 'any' | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  if (v.trim() === '*') return 'any';
  return v.split(',').map((t) => t.trim().toLowerCase());
}

/**
 * The service's settings, read from environment variables and validated at start (zod).
 * A bad value stops the start with a message naming the variable and the rule.
 */
const EnvSchema = z.object({
  PORT: port('PORT').default(defaults.port),
  HOST: z.string().default('127.0.0.1'),
  // Unset: DATA_DIR/testdrive.sqlite, beside the embedded emulator's state (loadConfig).
  DATABASE_URL: z
    .string()
    .optional()
    .refine(
      (u) => u === undefined || /^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(u),
      'DATABASE_URL must be sqlite:<file path> (or sqlite::memory:) or postgres://user@host:port/db',
    ),
  DATA_DIR: z.string().default('data'),
  EMULATOR_PORT: port('EMULATOR_PORT').default(defaults.emulatorPort),
  /** Issue 11: the embedded emulator's SMTP sink (escalation e-mails land at /_emulator/mail); 0 = any free port. */
  EMULATOR_SMTP_PORT: port('EMULATOR_SMTP_PORT').default(2525),
  EMULATOR_DEPLOYMENT_SECONDS: z.coerce
    .number({ message: 'EMULATOR_DEPLOYMENT_SECONDS must be a number of seconds' })
    .min(0, 'EMULATOR_DEPLOYMENT_SECONDS must be >= 0')
    .max(7200, 'EMULATOR_DEPLOYMENT_SECONDS must be <= 7200')
    .default(defaults.emulatorDeploymentSeconds),
  /** Issue 12: how long the embedded emulator takes to start (and deallocate) a virtual machine of a warm instance. */
  EMULATOR_VM_START_SECONDS: z.coerce
    .number({ message: 'EMULATOR_VM_START_SECONDS must be a number of seconds' })
    .min(0, 'EMULATOR_VM_START_SECONDS must be >= 0')
    .max(3600, 'EMULATOR_VM_START_SECONDS must be <= 3600')
    .default(10),
  AZURITE_BLOB_PORT: port('AZURITE_BLOB_PORT').default(10000),
  AZURITE_TABLE_PORT: port('AZURITE_TABLE_PORT').default(10002),
  TESTDRIVE_HOUR_SECONDS: z.coerce
    .number({ message: 'TESTDRIVE_HOUR_SECONDS must be a number of seconds' })
    .positive('TESTDRIVE_HOUR_SECONDS must be > 0 (3600 in production; shorter only for demos and tests)')
    .max(86400, 'TESTDRIVE_HOUR_SECONDS must be <= 86400')
    .default(defaults.testDriveHourSeconds),
  RECONCILE_INTERVAL_MS: z.coerce
    .number({ message: 'RECONCILE_INTERVAL_MS must be a number of milliseconds' })
    .int('RECONCILE_INTERVAL_MS must be a whole number of milliseconds')
    .min(0, 'RECONCILE_INTERVAL_MS must be >= 0 (0 disables the background loop; tests drive it)')
    .default(defaults.reconcileIntervalMs),
  RECONCILE_BACKSTOP_MS: z.coerce
    .number({ message: 'RECONCILE_BACKSTOP_MS must be a number of milliseconds' })
    .int('RECONCILE_BACKSTOP_MS must be a whole number of milliseconds')
    .min(1, 'RECONCILE_BACKSTOP_MS must be >= 1')
    .max(3_600_000, 'RECONCILE_BACKSTOP_MS must be <= 3600000 (one hour)')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Real Azure: set these. When KEY_VAULT_URL is unset the embedded emulator is used. */
  AZURE_AUTHORITY_HOST: httpsUrl('AZURE_AUTHORITY_HOST').default(defaults.azure.authorityHost),
  AZURE_RESOURCE_MANAGER_ENDPOINT: httpsUrl('AZURE_RESOURCE_MANAGER_ENDPOINT').default(defaults.azure.resourceManagerEndpoint),
  AZURE_RESOURCE_MANAGER_AUDIENCE: z.string().default(defaults.azure.resourceManagerAudience),
  KEY_VAULT_URL: httpsUrl('KEY_VAULT_URL').optional(),
  AZURE_TENANT_ID: z.string().uuid('AZURE_TENANT_ID must be a GUID').optional(),
  AZURE_CLIENT_ID: z.string().uuid('AZURE_CLIENT_ID must be a GUID').optional(),
  AZURE_CLIENT_SECRET: z.string().min(1).optional(),
  AZURE_STORAGE_CONNECTION_STRING: z.string().optional(),
  /** Extra CA certificate (PEM file) trusted for Azure endpoints, e.g. a private cloud or the emulator. */
  AZURE_CA_CERT_PATH: z.string().optional(),
  /**
   * Several replicas sharing one local emulator (`npm run emulator`; docs/operations.md, "Running several
   * replicas"): every Azure client goes to this URL with emulated trust. CA, service identity and blob
   * storage come from AZURE_CA_CERT_PATH / AZURE_TENANT_ID... when set, else from what the emulator wrote
   * (src/embedded/shared-emulator.ts).
   */
  AZURE_EMULATOR_URL: httpsUrl('AZURE_EMULATOR_URL').optional(),
  /** API authentication (Entra ID access tokens): see docs/security.md. */
  AUTH_AUDIENCE: z
    .string()
    .regex(/^[a-z][a-z0-9+.-]*:\S{1,190}$/i, 'AUTH_AUDIENCE must be the application ID URI of the service, e.g. api://test-drive-orchestrator')
    .default('api://test-drive-orchestrator'),
  AUTH_CLIENT_ID: z.string().uuid('AUTH_CLIENT_ID must be the GUID of the service app registration (accepted as token audience too)').optional(),
  AUTH_AUTHORITY_HOST: httpsUrl('AUTH_AUTHORITY_HOST').optional(),
  AUTH_TENANT_ID: z
    .string()
    .regex(/^(organizations|common|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/, 'AUTH_TENANT_ID must be organizations, common or a tenant GUID')
    .default('organizations'),
  AUTH_ALLOWED_TENANTS: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.trim() === '' || v.split(',').every((t) => /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(t.trim())), 'AUTH_ALLOWED_TENANTS must be a comma-separated list of tenant GUIDs'),
  /** Issue 12: how long a queued start request waits for capacity before it ends (minutes). */
  QUEUE_MAX_WAIT_MINUTES: z.coerce.number({ message: 'QUEUE_MAX_WAIT_MINUTES must be a number of minutes' }).int('QUEUE_MAX_WAIT_MINUTES must be a whole number of minutes').min(1, 'QUEUE_MAX_WAIT_MINUTES must be 1-1440').max(1440, 'QUEUE_MAX_WAIT_MINUTES must be 1-1440').default(60),
  /** Issue 12: most queued requests per offer; beyond it 409 QueueFull. */
  QUEUE_MAX_LENGTH: z.coerce.number({ message: 'QUEUE_MAX_LENGTH must be a number' }).int('QUEUE_MAX_LENGTH must be a whole number').min(1, 'QUEUE_MAX_LENGTH must be 1-10000').max(10000, 'QUEUE_MAX_LENGTH must be 1-10000').default(100),
  /**
   * Days a finished record of the delivery machinery is kept: sent or failed marketplace callback events and
   * alert notifications (after their last attempt), and deleted ARM instances (after their resource group was
   * deleted). Sessions, leads, incidents and the audit trail are not removed.
   */
  HISTORY_RETENTION_DAYS: z.coerce.number({ message: 'HISTORY_RETENTION_DAYS must be a number of days' }).int('HISTORY_RETENTION_DAYS must be a whole number of days').min(1, 'HISTORY_RETENTION_DAYS must be 1-3650').max(3650, 'HISTORY_RETENTION_DAYS must be 1-3650').default(30),
  /** Issue 11: a separate listener for GET /metrics without auth (private network); unset = only /metrics behind the Operator role. */
  METRICS_PORT: z.coerce.number({ message: 'METRICS_PORT must be a port number' }).int('METRICS_PORT must be a whole number').min(1, 'METRICS_PORT must be 1-65535').max(65535, 'METRICS_PORT must be 1-65535').optional(),
  /** Issue 11: SMTP server of escalation e-mails (smtp://user:pass@host:587 or smtps://…); the embedded default uses the emulator's mail sink. */
  SMTP_URL: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^smtps?:\/\/[^\s]+$/.test(v), 'SMTP_URL must be an smtp:// or smtps:// URL'),
  /** Issue 11: From address of escalation e-mails. */
  ALERT_FROM: z.string().max(200, 'ALERT_FROM must be at most 200 characters').default('Test drive orchestrator <alerts@testdrive.invalid>'),
  /** Issue 11: dashboard sign-in (Entra ID web app registration: client id, secret, and the key of the session cookie). */
  DASHBOARD_CLIENT_ID: z.string().uuid('DASHBOARD_CLIENT_ID must be the GUID of the dashboard app registration').optional(),
  DASHBOARD_CLIENT_SECRET: z.string().min(1).optional(),
  DASHBOARD_SESSION_SECRET: z.string().min(32, 'DASHBOARD_SESSION_SECRET must be at least 32 characters').optional(),
  /** Issue 11: the dashboard's public base URL (redirect URI = <it>/auth/callback); default http://localhost:<PORT>. */
  DASHBOARD_PUBLIC_URL: z.string().url('DASHBOARD_PUBLIC_URL must be a URL').optional(),
  /** Lead source of a start that names none (issue 10). */
  LEADS_DEFAULT_SOURCE: z.enum(['AzureMarketplace', 'AppSource', 'AzurePortal'], { message: 'LEADS_DEFAULT_SOURCE must be AzureMarketplace, AppSource or AzurePortal' }).default('AzureMarketplace'),
  /** Trust per role (issue 8): see trustList() and docs/security.md. */
  AUTH_OPERATOR_TENANTS: trustList('AUTH_OPERATOR_TENANTS', true),
  AUTH_OPERATOR_CLIENT_IDS: trustList('AUTH_OPERATOR_CLIENT_IDS', false),
  AUTH_MARKETPLACE_TENANTS: trustList('AUTH_MARKETPLACE_TENANTS', true),
  AUTH_MARKETPLACE_CLIENT_IDS: trustList('AUTH_MARKETPLACE_CLIENT_IDS', false),
  AUTH_CLOCK_SKEW_SECONDS: z.coerce
    .number({ message: 'AUTH_CLOCK_SKEW_SECONDS must be a number of seconds' })
    .int('AUTH_CLOCK_SKEW_SECONDS must be a whole number of seconds')
    .min(0, 'AUTH_CLOCK_SKEW_SECONDS must be >= 0')
    .max(300, 'AUTH_CLOCK_SKEW_SECONDS must be <= 300')
    .default(60),
  RATE_LIMIT_PER_MINUTE: z.coerce
    .number({ message: 'RATE_LIMIT_PER_MINUTE must be a number of requests' })
    .int('RATE_LIMIT_PER_MINUTE must be a whole number')
    .min(0, 'RATE_LIMIT_PER_MINUTE must be >= 0 (0 turns rate limiting off)')
    .default(600),
  WORKERS: z.coerce
    .number({ message: 'WORKERS must be a number of processes' })
    .int('WORKERS must be a whole number')
    .min(1, 'WORKERS must be >= 1')
    .max(256, 'WORKERS must be <= 256')
    .optional(),
  DATABASE_PREPARED_STATEMENTS: z
    .enum(['true', 'false'], { message: 'DATABASE_PREPARED_STATEMENTS must be true or false (false behind a PgBouncer in transaction mode without max_prepared_statements)' })
    .default('true'),
});

export type Env = z.infer<typeof EnvSchema>;

/** A setting failed validation; `problems` name each variable and its rule. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Database choice parsed from DATABASE_URL. */
export type DatabaseSettings =
  | { kind: 'sqlite'; file: string }
  | {
      kind: 'postgres';
      url: string;
      /**
       * DATABASE_PREPARED_STATEMENTS (default true): the hot start's statement goes as a named prepared
       * statement (Database.once). False for a pooler that cannot keep them per client connection (PgBouncer in
       * transaction mode without max_prepared_statements).
       */
      preparedStatements?: boolean;
    };

/** Typed, validated settings of the service. All durations carry their unit in the name. */
export interface AppConfig {
  /**
   * WORKERS: API processes (Node cluster sharing PORT), each a full replica on the same database; the
   * reconcile loop still runs once per fleet (the lease). Default: available cores with PostgreSQL and a
   * shared Azure, else 1 (issue 14).
   */
  workers: number;
  port: number;
  host: string;
  database: DatabaseSettings;
  dataDir: string;
  emulatorPort: number;
  /** SMTP sink port of the embedded emulator (issue 11). */
  emulatorSmtpPort: number;
  emulatorDeploymentSeconds: number;
  /** Embedded emulator: seconds a VM start / deallocation takes (warm instances, issue 12). */
  emulatorVmStartSeconds: number;
  azuriteBlobPort: number;
  /** Table port of the embedded Azurite (lead destinations of type azure-table, issue 10). */
  azuriteTablePort: number;
  /** Length of one test drive hour in seconds (3600 in production). */
  testDriveHourSeconds: number;
  /** Period of the background reconcile loop in ms; 0 = off (tests call reconcile themselves). */
  reconcileIntervalMs: number;
  /**
   * The longest a reconcile task (and the lead delivery loop) waits with nothing changed and nothing due
   * (ms, wall clock; RECONCILE_BACKSTOP_MS, default backstopMsFor(reconcileIntervalMs)).
   */
  reconcileBackstopMs: number;
  logLevel: Env['LOG_LEVEL'];
  /** 'emulator' = start the bundled emulator and Azurite (embedded default); 'azure' = real endpoints. */
  azureMode: 'emulator' | 'azure' | 'shared-emulator';
  azure: {
    authorityHost: string;
    resourceManagerEndpoint: string;
    resourceManagerAudience: string;
    keyVaultUrl?: string;
    tenantId?: string;
    clientId?: string;
    clientSecret?: string;
    storageConnectionString?: string;
    caCertPath?: string;
    /** AZURE_EMULATOR_URL (azureMode 'shared-emulator'): the emulator every replica shares. */
    emulatorUrl?: string;
  };
  /** Who may call the API: Entra ID access tokens (src/auth, docs/security.md). */
  auth: {
    /** Application ID URI of the service: the token audience (AUTH_AUDIENCE). */
    audience: string;
    /** Service app's client id, also accepted as audience (Entra v2 tokens carry it), when set. */
    clientId?: string;
    /** Authority host (AUTH_AUTHORITY_HOST); unset = login.microsoftonline.com, or the emulator in the embedded default. */
    authorityHost?: string;
    /** organizations / common (multi-tenant: issuer checked against the token's own tid) or one tenant GUID. */
    tenantId: string;
    /** When set, only tokens of these tenants are accepted (lower-case GUIDs). */
    allowedTenants?: string[];
    /** Tolerance for exp / nbf, seconds. */
    clockSkewSeconds: number;
    /**
     * Where the Operator and Marketplace app roles are honoured (issue 8: app roles are assigned by each
     * tenant's own admins, so a role from a tenant we do not know means nothing). Tenants: undefined =
     * the service's own tenant (its identity's tenant: AZURE_TENANT_ID, or the emulator's service
     * tenant); 'any' = every tenant (embedded/emulated only). Client ids: undefined = any client of
     * those tenants. The Publisher role stays multi-tenant (publishers are isolated by tenant + client).
     */
    operatorTenants?: string[] | 'any';
    operatorClientIds?: string[];
    marketplaceTenants?: string[] | 'any';
    marketplaceClientIds?: string[];
  };
  /** Requests per minute per client (tenant + client id; IP when unauthenticated); 0 = unlimited. */
  rateLimitPerMinute: number;
  /** Lead management (issue 10). */
  leads: { defaultSource: 'AzureMarketplace' | 'AppSource' | 'AzurePortal' };
  /** Issue 12: the start queue (whenFull=queue): longest wait (ms) and length per offer. */
  queue: { maxWaitMs: number; maxLength: number };
  /** HISTORY_RETENTION_DAYS in ms: finished callback events, alert notifications and deleted ARM instances are removed this long after (clock time). */
  historyRetentionMs: number;
  /** Issue 11: separate unauthenticated metrics listener port (undefined: none). */
  metricsPort?: number;
  /** Issue 11: escalation e-mail (smtpUrl undefined: e-mails are not sent and stay pending). */
  alerts: { smtpUrl?: string; from: string };
  /**
   * Issue 11: dashboard sign-in. Without clientId/clientSecret the dashboard answers 503 (the embedded
   * default registers one with the emulator). sessionSecret: key of the session cookie (random per
   * process when unset: sign-ins do not survive a restart and are not shared by replicas).
   */
  dashboard: { clientId?: string; clientSecret?: string; sessionSecret?: string; publicUrl?: string };
}

/** Entra ID's public-cloud authority host (the default of AUTH_AUTHORITY_HOST outside the embedded default). */
export const DEFAULT_AUTH_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * Default RECONCILE_BACKSTOP_MS: the longest a scheduled task waits when nothing changed and nothing is
 * due (ms, wall clock): 10 ticks, at most 30 s (10 s with the default 1 s tick), at least one tick.
 * Catches writes the change check does not see (issue 14).
 */
export function backstopMsFor(reconcileIntervalMs: number): number {
  return Math.max(reconcileIntervalMs, Math.min(30_000, 10 * reconcileIntervalMs));
}

/**
 * Validates an environment (default: process.env) into an AppConfig.
 * @throws ConfigError naming every bad variable and its rule.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(env[String(i.path[0])])})`));
  }
  const e = parsed.data;
  const dataDir = path.resolve(PROJECT_ROOT, e.DATA_DIR);
  let database: DatabaseSettings;
  // DATA_DIR holds the embedded emulator's state (its Key Vault keys included): a database elsewhere would
  // outlive it, and its encrypted outputs and secret versions would point at keys that no longer exist.
  const databaseUrl = e.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'testdrive.sqlite')}`;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    database = { kind: 'sqlite', file: file === ':memory:' ? ':memory:' : path.resolve(PROJECT_ROOT, file) };
  } else {
    database = { kind: 'postgres', url: databaseUrl, preparedStatements: e.DATABASE_PREPARED_STATEMENTS === 'true' };
  }
  if (e.KEY_VAULT_URL && e.AZURE_EMULATOR_URL) {
    throw new ConfigError(['AZURE_EMULATOR_URL: cannot be combined with KEY_VAULT_URL (real Azure); set one of them']);
  }
  const azureMode = e.KEY_VAULT_URL ? 'azure' : e.AZURE_EMULATOR_URL ? 'shared-emulator' : 'emulator';
  if (azureMode === 'azure') {
    const missing = ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_STORAGE_CONNECTION_STRING'].filter(
      (k) => !(e as Record<string, unknown>)[k],
    );
    if (missing.length) {
      throw new ConfigError(missing.map((k) => `${k}: required when KEY_VAULT_URL is set (real Azure mode)`));
    }
    // Real Azure: Operator and Marketplace are never honoured from every tenant (issue 8).
    const everyTenant = (['AUTH_OPERATOR_TENANTS', 'AUTH_MARKETPLACE_TENANTS'] as const).filter((k) => e[k]?.trim() === '*');
    if (everyTenant.length) {
      throw new ConfigError(everyTenant.map((k) => `${k}: '*' (every tenant) is refused against real Azure: list the tenant GUIDs whose ${k.includes('OPERATOR') ? 'operators' : 'marketplace clients'} you trust`));
    }
  }
  // Issue 14: API workers (Node cluster, one port). More than one needs a database and an Azure that
  // several processes share: PostgreSQL, and real Azure or a shared emulator.
  const multiWorkerReady = database.kind === 'postgres' && azureMode !== 'emulator';
  if ((e.WORKERS ?? 1) > 1 && !multiWorkerReady) {
    throw new ConfigError([
      `WORKERS: ${e.WORKERS} workers need PostgreSQL (DATABASE_URL=postgres://...) and a shared Azure (AZURE_EMULATOR_URL or KEY_VAULT_URL); ` +
        'SQLite has one writer and the embedded emulator lives in one process: leave WORKERS unset (1) there',
    ]);
  }
  return {
    workers: e.WORKERS ?? (multiWorkerReady ? os.availableParallelism() : 1),
    port: e.PORT,
    host: e.HOST,
    database,
    dataDir,
    emulatorPort: e.EMULATOR_PORT,
    emulatorSmtpPort: e.EMULATOR_SMTP_PORT,
    emulatorDeploymentSeconds: e.EMULATOR_DEPLOYMENT_SECONDS,
    emulatorVmStartSeconds: e.EMULATOR_VM_START_SECONDS,
    azuriteBlobPort: e.AZURITE_BLOB_PORT,
    azuriteTablePort: e.AZURITE_TABLE_PORT,
    testDriveHourSeconds: e.TESTDRIVE_HOUR_SECONDS,
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    reconcileBackstopMs: e.RECONCILE_BACKSTOP_MS ?? backstopMsFor(e.RECONCILE_INTERVAL_MS),
    logLevel: e.LOG_LEVEL,
    azureMode,
    azure: {
      authorityHost: e.AZURE_AUTHORITY_HOST,
      resourceManagerEndpoint: e.AZURE_RESOURCE_MANAGER_ENDPOINT,
      resourceManagerAudience: e.AZURE_RESOURCE_MANAGER_AUDIENCE,
      keyVaultUrl: e.KEY_VAULT_URL,
      tenantId: e.AZURE_TENANT_ID,
      clientId: e.AZURE_CLIENT_ID,
      clientSecret: e.AZURE_CLIENT_SECRET,
      storageConnectionString: e.AZURE_STORAGE_CONNECTION_STRING,
      caCertPath: e.AZURE_CA_CERT_PATH,
      emulatorUrl: e.AZURE_EMULATOR_URL,
    },
    auth: {
      audience: e.AUTH_AUDIENCE.replace(/\/+$/, ''),
      clientId: e.AUTH_CLIENT_ID?.toLowerCase(),
      authorityHost: e.AUTH_AUTHORITY_HOST?.replace(/\/+$/, ''),
      tenantId: e.AUTH_TENANT_ID.toLowerCase(),
      allowedTenants: e.AUTH_ALLOWED_TENANTS?.trim() ? e.AUTH_ALLOWED_TENANTS.split(',').map((t) => t.trim().toLowerCase()) : undefined,
      clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
      operatorTenants: parseTrustList(e.AUTH_OPERATOR_TENANTS),
      operatorClientIds: parseTrustList(e.AUTH_OPERATOR_CLIENT_IDS) as string[] | undefined,
      marketplaceTenants: parseTrustList(e.AUTH_MARKETPLACE_TENANTS),
      marketplaceClientIds: parseTrustList(e.AUTH_MARKETPLACE_CLIENT_IDS) as string[] | undefined,
    },
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    leads: { defaultSource: e.LEADS_DEFAULT_SOURCE },
    queue: { maxWaitMs: e.QUEUE_MAX_WAIT_MINUTES * 60_000, maxLength: e.QUEUE_MAX_LENGTH },
    historyRetentionMs: e.HISTORY_RETENTION_DAYS * 86_400_000,
    metricsPort: e.METRICS_PORT,
    alerts: { smtpUrl: e.SMTP_URL, from: e.ALERT_FROM },
    dashboard: { clientId: e.DASHBOARD_CLIENT_ID, clientSecret: e.DASHBOARD_CLIENT_SECRET, sessionSecret: e.DASHBOARD_SESSION_SECRET, publicUrl: e.DASHBOARD_PUBLIC_URL?.replace(/\/+$/, '') },
  };
}

/** Nest injection token of AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');
