/**
 * Issue 8, hole 10: replicas share one separately started emulator through one setting,
 * AZURE_EMULATOR_URL. The emulator is started as `npm run emulator` does (emulator, Azurite, and the
 * shared service identity written to replica.env beside its CA); each replica gets only
 * AZURE_EMULATOR_URL and DATA_DIR. Before, a replica pointed at an external emulator ran with
 * `emulated: false` and its first Key Vault call failed (500, challenge resource mismatch).
 *
 * Replica 1 stores an offer with a client secret (a Key Vault write) and its package (blob storage);
 * replica 2 publishes it and deploys its hot instance, which needs the secret from the same vault and
 * the package from the same storage.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INestApplication } from '@nestjs/common';
import { startEmulator } from '../../emulator/src';
import { createApp } from '../../src/bootstrap';
import { ConfigError, loadConfig } from '../../src/config/app-config';
import { AzuriteHandle, startAzurite } from '../../src/embedded/azurite';
import { prepareSharedEmulator, sharedEmulatorRuntime } from '../../src/embedded/shared-emulator';
import { ReconcileService } from '../../src/scheduling/reconcile.service';
import { ALL_ROLES } from '../../src/auth/roles';
import { authedRequest, clientFor } from '../support/harness';
import { zipDirectory } from '../../src/common/zip-directory';
import { SAMPLE } from '../arm-resilience/helpers';

describe('replicas sharing one emulator through AZURE_EMULATOR_URL', () => {
  let dir: string;
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  let azurite: AzuriteHandle;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-shared-'));
    emulator = await startEmulator({ port: 0, dataDir: path.join(dir, 'emulator'), deploymentSeconds: 0.2, persist: true });
    azurite = await startAzurite({ location: path.join(dir, 'emulator', 'azurite'), port: 0 });
  });
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await azurite?.stop();
    await emulator?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the emulator CLI keeps one service identity across restarts and writes what a replica needs', async () => {
    const first = await prepareSharedEmulator(emulator, path.join(dir, 'emulator'), azurite.connectionString);
    const again = await prepareSharedEmulator(emulator, path.join(dir, 'emulator'), azurite.connectionString);
    expect(first.reused).toBe(false);
    expect(again.reused).toBe(true);
    expect(again.env.AZURE_CLIENT_ID).toBe(first.env.AZURE_CLIENT_ID);
    expect(again.env).toMatchObject({ AZURE_EMULATOR_URL: emulator.url, AZURE_TENANT_ID: emulator.serviceTenantId, AZURE_CA_CERT_PATH: emulator.caCertPath });
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
  });

  it('a replica without the CA or the identity refuses to start, naming the variables', () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    const config = loadConfig({ AZURE_EMULATOR_URL: emulator.url, DATA_DIR: empty, DATABASE_URL: 'sqlite::memory:' });
    expect(config.azureMode).toBe('shared-emulator');
    expect(() => sharedEmulatorRuntime(config)).toThrow(ConfigError);
    expect(() => sharedEmulatorRuntime(config)).toThrow(/AZURE_CA_CERT_PATH/);
    fs.copyFileSync(emulator.caCertPath, path.join(empty, 'ca.crt'));
    const noIdentity = loadConfig({ AZURE_EMULATOR_URL: emulator.url, AZURE_CA_CERT_PATH: path.join(empty, 'ca.crt'), DATABASE_URL: 'sqlite::memory:' });
    expect(() => sharedEmulatorRuntime(noIdentity)).toThrow(/AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET/);
    expect(() => loadConfig({ AZURE_EMULATOR_URL: emulator.url, KEY_VAULT_URL: emulator.url })).toThrow(/AZURE_EMULATOR_URL: cannot be combined with KEY_VAULT_URL/);
  });

  it('two replicas given only AZURE_EMULATOR_URL: one stores a client secret in Key Vault, the other uses it to deploy', async () => {
    const databaseUrl = `sqlite:${path.join(dir, 'shared.sqlite')}`;
    let caller: Awaited<ReturnType<typeof clientFor>> | undefined; // one publisher (owner of the offer) calling both replicas
    const replica = async () => {
      const config = loadConfig({
        AZURE_EMULATOR_URL: emulator.url,
        DATA_DIR: dir,
        DATABASE_URL: databaseUrl,
        RECONCILE_INTERVAL_MS: '0',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        RATE_LIMIT_PER_MINUTE: '0',
      });
      const runtime = sharedEmulatorRuntime(config);
      expect(runtime.endpoints).toMatchObject({ emulated: true, keyVaultUrl: emulator.url, authorityHost: emulator.url, resourceManagerEndpoint: emulator.url });
      const app = await createApp({ config, azure: runtime });
      await app.init();
      apps.push(app);
      caller ??= await clientFor(emulator, config, { roles: ALL_ROLES });
      return { app, http: authedRequest(app.getHttpServer(), caller.token), identity: runtime.serviceIdentity.clientId };
    };
    const r1 = await replica();
    const r2 = await replica();
    expect(r2.identity).toBe(r1.identity);

    const publisher = await emulator.createPublisher({});
    const put = await r1.http.put('/api/v1/offers/shared').send({
      alias: 'Shared',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 1, cold: 0 }], accessInformation: '<p>{{siteUrl}}</p>' },
      deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecret: publisher.clientSecret },
    });
    expect(put.status).toBe(201);
    expect(put.body.deployment.clientSecretSet).toBe(true);
    const zip = await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] });
    await r1.http.put('/api/v1/offers/shared/package').set('content-type', 'application/zip').send(zip).expect(201);

    await r2.http.post('/api/v1/offers/shared/publish').expect(200);
    const reconcile = r2.app.get(ReconcileService);
    const deadline = Date.now() + 30_000;
    let row: { hotReady?: number; consecutiveFailures?: number; lastFailure?: unknown } = {};
    while (Date.now() < deadline) {
      await reconcile.reconcileOnce();
      row = (await r2.http.get('/api/v1/capacity?offerId=shared').expect(200)).body.value[0];
      if (row.hotReady === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toMatchObject({ hotReady: 1, consecutiveFailures: 0 });
  });
});
