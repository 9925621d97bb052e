import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startEmulator } from '../../emulator/src';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { createApp } from '../../src/bootstrap';
import { ManualClock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { AzuriteHandle, startAzurite } from '../../src/embedded/azurite';
import { ReconcileService } from '../../src/scheduling/reconcile.service';
import { createTempDatabase } from './postgres';

export type Db = 'sqlite' | 'postgres';

/** Shared local Azure for a test file: the emulator and Azurite, real HTTPS / HTTP, random ports. */
export interface LocalAzure {
  emulator: Awaited<ReturnType<typeof startEmulator>>;
  azurite: AzuriteHandle;
  runtime: AzureRuntime;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the emulator (deployments take `deploymentSeconds`) and Azurite for one test file. */
export async function startLocalAzure(deploymentSeconds = 0.2): Promise<LocalAzure> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-e2e-'));
  const emulator = await startEmulator({ port: 0, dataDir: path.join(dir, 'emulator'), deploymentSeconds, persist: false });
  const azurite = await startAzurite({ location: path.join(dir, 'azurite'), port: 0 });
  const identity = await emulator.createClient({});
  const runtime = new AzureRuntime(
    {
      authorityHost: emulator.url,
      resourceManagerEndpoint: emulator.url,
      resourceManagerAudience: 'https://management.azure.com',
      keyVaultUrl: emulator.url,
      storageConnectionString: azurite.connectionString,
      extraCaPem: emulator.caCertPem,
      emulated: true,
    },
    identity,
  );
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
  http: ReturnType<typeof request>;
  clock: ManualClock;
  config: AppConfig;
  reconcile: ReconcileService;
  databaseUrl: string;
  /** Runs reconcile passes (real time passes for the emulator) until `done()` is truthy. */
  until<T>(done: () => Promise<T | undefined | null | false>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/**
 * Starts the service against `azure` on a fresh database: SQLite file in a temp dir, or a new
 * PostgreSQL database (dropped on close). `databaseUrl` lets a second process share the database.
 */
export async function startService(azure: LocalAzure, opts: { db?: Db; databaseUrl?: string; env?: Record<string, string>; clock?: ManualClock } = {}): Promise<TestService> {
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
    ...opts.env,
  });
  const clock = opts.clock ?? new ManualClock(Date.now());
  const app = await createApp({ config, azure: azure.runtime, clock });
  await app.init();
  const reconcile = app.get(ReconcileService);
  const svc: TestService = {
    app,
    http: request(app.getHttpServer()),
    clock,
    config,
    reconcile,
    databaseUrl,
    until: async (done, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await reconcile.reconcileOnce();
        const v = await done();
        if (v) return v as never;
        if (Date.now() > deadline) throw new Error('condition not reached in time');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      await app.close();
      await drop?.();
    },
  };
  return svc;
}
