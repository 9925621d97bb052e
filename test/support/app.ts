import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DynamicModule, INestApplication, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { Clock, ManualClock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { configureApp } from '../../src/bootstrap';
import type { AppOptions } from '../../src/core.module';
import { ALL_ROLES } from '../../src/auth/roles';
import { createEmulatorClient, requestAccessToken } from '../../src/auth/emulator-tokens';

/** Options of createTestApp. */
export interface TestAppOptions {
  /** The Azure endpoints and service identity (emulator + Azurite); see testAzureRuntime(). */
  azure: AzureRuntime;
  /** Environment overrides given to loadConfig (defaults: in-memory SQLite, no background loop, silent logs). */
  config?: Record<string, string>;
  /** Clock of the app (default: a ManualClock at the current time). */
  clock?: Clock;
  /**
   * Modules imported next to the full AppModule (e.g. a test-only module). With `replaceAppModule`,
   * only CoreModule plus these are loaded instead.
   */
  imports?: Array<Type<unknown> | DynamicModule>;
  replaceAppModule?: boolean;
  /**
   * Test-only convenience (default true with emulated Azure): requests without an Authorization header
   * get `Bearer <token of a client holding every app role>` added before the API guard sees them, so
   * HTTP tests that are not about authentication need no token handling. false = requests stay as sent.
   */
  defaultCaller?: boolean;
}

/** A Nest app built for tests, with what was used to build it. */
export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  clock: Clock;
  /** Token added to requests without Authorization (defaultCaller), if any. */
  defaultToken?: string;
  close(): Promise<void>;
}

/**
 * Builds and initialises the service for HTTP tests (supertest on `app.getHttpServer()`): the real
 * AppModule (or CoreModule + `imports`), the same prefix, filter, body parsers and OpenAPI as the
 * real bootstrap (src/bootstrap.ts configureApp), Nest's body parser off like createApp().
 */
export async function createTestApp(opts: TestAppOptions): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-app-'));
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    DATA_DIR: dataDir,
    RECONCILE_INTERVAL_MS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    ...opts.config,
  });
  const clock = opts.clock ?? new ManualClock(Date.now());
  const appOptions: AppOptions = { config, azure: opts.azure, clock };
  let root: DynamicModule;
  if (opts.replaceAppModule) {
    // Lazy: only what the caller lists (plus the core) is loaded.
    const { CoreModule } = await import('../../src/core.module');
    root = { module: TestRootModule, imports: [CoreModule.forRoot(appOptions), ...(opts.imports ?? [])] };
  } else {
    const { AppModule } = await import('../../src/app.module');
    root = { module: TestRootModule, imports: [AppModule.forRoot(appOptions), ...(opts.imports ?? [])] };
  }
  const app = await NestFactory.create(root, { bodyParser: false, logger: process.env.TEST_LOG_LEVEL ? ['error', 'warn', 'log'] : false });
  let defaultToken: string | undefined;
  const ep = opts.azure.endpoints;
  if ((opts.defaultCaller ?? true) && ep.emulated && ep.extraCaPem) {
    const client = await createEmulatorClient(ep.authorityHost, ep.extraCaPem, { roles: ALL_ROLES });
    const token = await requestAccessToken(ep.authorityHost, ep.extraCaPem, client, config.auth.audience);
    defaultToken = token;
    app.use((req: { headers: Record<string, unknown> }, _res: unknown, next: () => void) => {
      if (req.headers.authorization === undefined) req.headers.authorization = `Bearer ${token}`;
      next();
    });
  }
  configureApp(app, config);
  await app.init();
  return {
    app,
    config,
    clock,
    defaultToken,
    close: async () => {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Root of a test app: everything comes from its imports. */
@Module({})
class TestRootModule {}

/**
 * AzureRuntime for tests: ARM, Entra ID and Key Vault at the emulator's URL (trusting its CA), blob
 * storage at Azurite, the service identity a client in the emulator's service tenant.
 */
export function testAzureRuntime(
  emulator: { url: string; caCertPem: string },
  storageConnectionString: string,
  identity: { tenantId: string; clientId: string; clientSecret: string },
): AzureRuntime {
  return new AzureRuntime(
    {
      authorityHost: emulator.url,
      resourceManagerEndpoint: emulator.url,
      resourceManagerAudience: 'https://management.azure.com',
      keyVaultUrl: emulator.url,
      storageConnectionString,
      extraCaPem: emulator.caCertPem,
      emulated: true,
    },
    identity,
  );
}
