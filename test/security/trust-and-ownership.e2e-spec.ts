import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { Role } from '../../src/auth/roles';
import { ConfigError, loadConfig } from '../../src/config/app-config';
import { AuthedHttp, startService, useLocalService } from '../support/harness';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * Issue 8, holes 2 and 3: app roles are honoured per tenant / client (Operator and Marketplace only from
 * trusted ones), and a session belongs to the marketplace client that started it (reads, ends, replays).
 */
describe('trust per role and session ownership', () => {
  const local = useLocalService();
  let alice: AuthedHttp; // publisher
  let market: AuthedHttp; // marketplace client 1 (home tenant)
  let market2: AuthedHttp; // marketplace client 2 (home tenant)
  let ops: AuthedHttp;
  let sessionId: string;

  beforeAll(async () => {
    alice = await local.svc.as({ roles: [Role.Publisher] });
    market = await local.svc.as({ roles: [Role.Marketplace] });
    market2 = await local.svc.as({ roles: [Role.Marketplace] });
    ops = await local.svc.as('operator');
    const p = await local.azure.emulator.createPublisher({});
    await alice
      .put('/api/v1/offers/trusted-web')
      .send({
        alias: 'Trusted web',
        testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 2, cold: 0 }], accessInformation: '<p>{{siteUrl}} {{userName}} {{password}}</p>' },
        deployment: { subscriptionId: p.subscriptionId, tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret },
      })
      .expect(201);
    await alice.put('/api/v1/offers/trusted-web/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201);
    await alice.post('/api/v1/offers/trusted-web/publish').expect(200);
    await local.svc.until(async () => (await ops.get('/api/v1/capacity?offerId=trusted-web')).body.value?.[0]?.hotReady === 2);
    const s = await market.post('/api/v1/offers/trusted-web/sessions').set('Idempotency-Key', 'k-1').send({ customer, region: 'westeurope' }).expect(201);
    sessionId = s.body.id;
  });

  it('an Operator from a foreign tenant reads nothing and unpublishes nothing', async () => {
    const foreignOps = await local.svc.as({ roles: [Role.Operator], newTenant: true });
    for (const url of ['/api/v1/offers', '/api/v1/offers/trusted-web', '/api/v1/audit', '/api/v1/capacity', `/api/v1/sessions/${sessionId}`]) {
      const r = await foreignOps.get(url);
      expect({ url, status: r.status }).toEqual({ url, status: 403 });
      expect(r.body.error.message).toMatch(/not honoured from tenant/);
    }
    expect((await foreignOps.post('/api/v1/offers/trusted-web/unpublish')).status).toBe(403);
    expect((await ops.get('/api/v1/offers/trusted-web').expect(200)).body.state).toBe('published');
  });

  it('a Marketplace client from a foreign tenant reads no session and starts none', async () => {
    const foreignMarket = await local.svc.as({ roles: [Role.Marketplace], newTenant: true });
    const r = await foreignMarket.get(`/api/v1/sessions/${sessionId}`);
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toMatch(/password/i);
    expect((await foreignMarket.post('/api/v1/offers/trusted-web/sessions').send({ customer })).status).toBe(403);
    expect((await foreignMarket.delete(`/api/v1/sessions/${sessionId}`)).status).toBe(403);
  });

  it('a session belongs to the marketplace client that started it', async () => {
    const own = await market.get(`/api/v1/sessions/${sessionId}`).expect(200);
    expect(own.body.outputs.password).toBeTruthy();
    // Another marketplace client of the same tenant: the session does not exist for it.
    const other = await market2.get(`/api/v1/sessions/${sessionId}`);
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.body)).not.toContain(own.body.outputs.password);
    expect((await market2.delete(`/api/v1/sessions/${sessionId}`)).status).toBe(404);
    // The publisher reads it without access information; the operator too.
    const pub = await alice.get(`/api/v1/sessions/${sessionId}`).expect(200);
    expect(pub.body.outputs).toBeNull();
    expect(pub.body.accessInformation).toBeNull();
    expect((await ops.get(`/api/v1/sessions/${sessionId}`).expect(200)).body.outputs).toBeNull();
  });

  it('idempotency keys are scoped per client: the same key and body from another client is a new start', async () => {
    const replay = await market.post('/api/v1/offers/trusted-web/sessions').set('Idempotency-Key', 'k-1').send({ customer, region: 'westeurope' }).expect(200);
    expect(replay.body.id).toBe(sessionId);
    const other = await market2.post('/api/v1/offers/trusted-web/sessions').set('Idempotency-Key', 'k-1').send({ customer, region: 'westeurope' });
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(sessionId);
    expect(JSON.stringify(other.body)).not.toContain((await market.get(`/api/v1/sessions/${sessionId}`)).body.outputs.password);
  });

  it('configured tenants and client ids widen or narrow the trust', async () => {
    const foreignOps = await local.svc.as({ roles: [Role.Operator], newTenant: true });
    const narrow = await startService(local.azure, {
      env: { AUTH_OPERATOR_TENANTS: foreignOps.client.tenantId, AUTH_MARKETPLACE_CLIENT_IDS: market.client.clientId },
      databaseUrl: local.svc.databaseUrl,
    });
    try {
      const { authedRequest } = await import('../support/harness');
      const http = (t: string) => authedRequest(narrow.app.getHttpServer(), t);
      await http(foreignOps.token).get('/api/v1/offers').expect(200);
      expect((await http(ops.token).get('/api/v1/offers')).status).toBe(403); // home tenant no longer listed
      await http(market.token).get(`/api/v1/sessions/${sessionId}`).expect(200);
      expect((await http(market2.token).get(`/api/v1/sessions/${sessionId}`)).status).toBe(403);
    } finally {
      await narrow.close();
    }
  });

  it('startup against real Azure refuses to trust every tenant for Operator or Marketplace', () => {
    const real = {
      KEY_VAULT_URL: 'https://vault.example.vault.azure.net',
      AZURE_TENANT_ID: '6f1d3c2a-8b4e-4d5f-9a6b-1c2d3e4f5a6b',
      AZURE_CLIENT_ID: '7a2e4d3b-9c5f-4e6a-8b7c-2d3e4f5a6b7c',
      AZURE_CLIENT_SECRET: 's',
      AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
    };
    expect(() => loadConfig({ ...real, AUTH_OPERATOR_TENANTS: '*' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...real, AUTH_MARKETPLACE_TENANTS: '*' })).toThrow(/AUTH_MARKETPLACE_TENANTS/);
    expect(() => loadConfig({ ...real })).not.toThrow();
    expect(() => loadConfig({ AUTH_OPERATOR_TENANTS: 'not-a-guid' })).toThrow(/AUTH_OPERATOR_TENANTS/);
  });
});
