import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startEmulator, type EmulatorOptions } from '../../emulator/src';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { emulatedRuntime } from '../../src/embedded/embedded-azure';
import { createApp } from '../../src/bootstrap';
import { ManualClock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { AzuriteHandle, startAzurite } from '../../src/embedded/azurite';
import { ReconcileService } from '../../src/scheduling/reconcile.service';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import { createTempDatabase } from './postgres';
import { ALL_ROLES, ROLE_BY_NAME } from '../../src/auth/roles';
import { createEmulatorClient, EmulatorClient, requestAccessToken } from '../../src/auth/emulator-tokens';

/** supertest on the service, every request carrying `Authorization: Bearer <token>`, and who it is. */
export type AuthedHttp = ReturnType<typeof request> & { token: string; client: EmulatorClient; roles: string[] };

/** Who to call as: a role short name ('marketplace' | 'publisher' | 'operator'), or roles and a tenant. */
export type CallerSpec = keyof typeof ROLE_BY_NAME | { roles: readonly string[] /* Role names, or any string to test refusals */; tenantId?: string; newTenant?: boolean };

/** Wraps supertest so each request sets `Authorization: Bearer <token>` (a later .set() overrides it). */
export function authedRequest(server: Parameters<typeof request>[0], token: string): ReturnType<typeof request> {
  const base = request(server) as unknown as Record<string, (url: string) => request.Test>;
  const out: Record<string, unknown> = {};
  for (const [k, fn] of Object.entries(base)) {
    out[k] = typeof fn === 'function' ? (url: string) => fn(url).set('Authorization', `Bearer ${token}`) : fn;
  }
  return out as unknown as ReturnType<typeof request>;
}

/**
 * A new client holding `spec`'s roles in the emulator (service tenant unless `tenantId` / `newTenant`),
 * with an access token for the service's API (AUTH_AUDIENCE of `config`).
 */
export async function clientFor(emulator: { url: string; caCertPem: string }, config: AppConfig, spec: CallerSpec): Promise<{ client: EmulatorClient; token: string; roles: string[] }> {
  const s = typeof spec === 'string' ? { roles: [ROLE_BY_NAME[spec]] } : spec;
  const client = await createEmulatorClient(emulator.url, emulator.caCertPem, { roles: s.roles, tenantId: s.tenantId, newTenant: s.newTenant });
  const token = await requestAccessToken(emulator.url, emulator.caCertPem, client, config.auth.audience);
  return { client, token, roles: [...s.roles] };
}

export type Db = 'sqlite' | 'postgres';

/** Shared local Azure for a test file: the emulator and Azurite, real HTTPS / HTTP, random ports. */
export interface LocalAzure {
  emulator: Awaited<ReturnType<typeof startEmulator>>;
  azurite: AzuriteHandle;
  runtime: AzureRuntime;
  dir: string;
  stop(): Promise<void>;
}

/** What else startLocalAzure may be told. */
export interface LocalAzureOptions {
  /** Also Azurite's table service (lead destinations). */
  table?: boolean;
  /** The emulator's other options (limits, throttling, persist...). */
  emulator?: Partial<Omit<EmulatorOptions, 'dataDir' | 'port'>>;
  /** Start of the temp folder's name (default `td-e2e-`). */
  tmpPrefix?: string;
  /** Called with the emulator's data dir before it starts and once it has started (e.g. to share its CA). */
  emulatorDataDir?: { before(dataDir: string): void; after(dataDir: string): void };
}

/** Starts the emulator (deployments take `deploymentSeconds`) and Azurite for one test file. */
export async function startLocalAzure(deploymentSeconds = 0.2, opts: LocalAzureOptions = {}): Promise<LocalAzure> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.tmpPrefix ?? 'td-e2e-'));
  const dataDir = path.join(dir, 'emulator');
  opts.emulatorDataDir?.before(dataDir);
  const emulator = await startEmulator({ port: 0, dataDir, deploymentSeconds, persist: false, ...opts.emulator });
  opts.emulatorDataDir?.after(dataDir);
  // A failed Azurite start must not leave the emulator's server open (jest would never exit).
  const azurite = await startAzurite({ location: path.join(dir, 'azurite'), port: 0, ...(opts.table ? { table: { port: 0 } } : {}) }).catch(async (err: unknown) => {
    await emulator.close();
    throw err;
  });
  const identity = await emulator.createClient({});
  const runtime = emulatedRuntime(emulator, azurite.connectionString, identity);
  return {
    emulator,
    azurite,
    runtime,
    dir,
    stop: async () => {
      await azurite.stop();
      await emulator.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One service instance under test, with its own database and a manual clock. */
export interface TestService {
  app: INestApplication;
  /** Authenticated as a client holding all three app roles (owns the offers it creates). */
  http: AuthedHttp;
  /** No Authorization header. */
  anonymous: ReturnType<typeof request>;
  /**
   * Authenticated as a client with `spec`'s roles: a role name gives the same client each time
   * (per service), an object a new client each time (e.g. a second publisher: `{roles: [Role.Publisher]}`).
   */
  as(spec: CallerSpec): Promise<AuthedHttp>;
  clock: ManualClock;
  config: AppConfig;
  reconcile: ReconcileService;
  databaseUrl: string;
  /**
   * Runs reconcile passes (real time passes for the emulator) until `done()` is truthy. The clock stands
   * still unless `tickMs` is given: then each pass that did not reach `done()` moves the clock on by
   * `tickMs` (for work paused in clock time, e.g. a pool deployment older than the clock's last jump,
   * read every few seconds: deploymentPollPauseMs).
   */
  until<T>(done: () => Promise<T | undefined | null | false>, timeoutMs?: number, opts?: { tickMs?: number }): Promise<T>;
  /** Stops the service and keeps its database (another service may go on with it; close() drops it later). */
  stop(): Promise<void>;
  /** Stops the service (if still running) and drops the database it created. */
  close(): Promise<void>;
}

/**
 * Starts the service against `azure` on a fresh database: SQLite file in a temp dir, or a new
 * PostgreSQL database (dropped on close). `databaseUrl` lets a second process share the database.
 */
export async function startService(
  azure: LocalAzure,
  opts: { db?: Db; databaseUrl?: string; env?: Record<string, string>; clock?: ManualClock; /** Captures the service's (pino) logs. */ logStream?: NodeJS.WritableStream } = {},
): Promise<TestService> {
  let databaseUrl = opts.databaseUrl;
  let drop: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    if (opts.db === 'postgres') {
      const tmp = await createTempDatabase();
      databaseUrl = tmp.url;
      drop = tmp.drop;
    } else {
      databaseUrl = `sqlite:${path.join(fs.mkdtempSync(path.join(azure.dir, 'db-')), 'testdrive.sqlite')}`;
    }
  }
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    DATA_DIR: azure.dir,
    RECONCILE_INTERVAL_MS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TESTDRIVE_HOUR_SECONDS: '3600',
    RATE_LIMIT_PER_MINUTE: '0',
    ...opts.env,
  });
  const clock = opts.clock ?? new ManualClock(Date.now());
  const app = await createApp({ config, azure: azure.runtime, clock, logStream: opts.logStream });
  await app.init();
  const reconcile = app.get(ReconcileService);
  const server = app.getHttpServer();
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= app.close());
  const wrap = (c: { client: EmulatorClient; token: string; roles: string[] }): AuthedHttp => Object.assign(authedRequest(server, c.token), c);
  const all = wrap(await clientFor(azure.emulator, config, { roles: ALL_ROLES }));
  const byName = new Map<string, Promise<AuthedHttp>>();
  const svc: TestService = {
    app,
    http: all,
    anonymous: request(server),
    as: (spec) => {
      if (typeof spec !== 'string') return clientFor(azure.emulator, config, spec).then(wrap);
      if (!byName.has(spec)) byName.set(spec, clientFor(azure.emulator, config, spec).then(wrap));
      return byName.get(spec)!;
    },
    clock,
    config,
    reconcile,
    databaseUrl,
    until: async (done, timeoutMs = 20_000, untilOpts = {}) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await reconcile.reconcileOnce();
        const v = await done();
        if (v) return v;
        if (Date.now() > deadline) {
          // The usual cause: ARM work paused in clock time while the clock stands still.
          const next = await app.get(PoolInstanceRepository, { strict: false }).nextStepAt().catch(() => null);
          const hint = next !== null && next > clock.now() ? ` (the next ARM instance step is due in ${next - clock.now()} ms of clock time, which stands still: pass { tickMs } or advance the clock)` : '';
          throw new Error(`condition not reached in time${hint}`);
        }
        if (untilOpts.tickMs) clock.advance(untilOpts.tickMs);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop,
    close: async () => {
      await stop();
      await drop?.();
    },
  };
  return svc;
}

/** Local Azure and one service against it, for the tests of a describe block (read them in tests and hooks). */
export interface LocalService {
  readonly azure: LocalAzure;
  readonly svc: TestService;
}

/**
 * The hooks of a describe block whose tests share one service against local Azure: beforeAll starts
 * local Azure (`start`, default startLocalAzure(0.2)) and the service (`service` options); afterAll
 * clears the emulator's faults, closes the service and stops local Azure. beforeAll hooks the block
 * declares after this call run once both are started (jest runs hooks in the order they are declared).
 */
export function useLocalService(opts: { start?: () => Promise<LocalAzure>; service?: Parameters<typeof startService>[1] } = {}): LocalService {
  let azure: LocalAzure | undefined;
  let svc: TestService | undefined;
  beforeAll(async () => {
    azure = await (opts.start ?? (() => startLocalAzure(0.2)))();
    svc = await startService(azure, opts.service);
  });
  afterAll(async () => {
    azure?.emulator.setFaults([]);
    await svc?.close();
    await azure?.stop();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useLocalService: not started (read it inside a test or a hook)');
    return v;
  };
  return {
    get azure() {
      return started(azure);
    },
    get svc() {
      return started(svc);
    },
  };
}
