jest.setTimeout(60_000);
import { request } from 'node:https';
import { start, credential, control } from './helpers';
import type { EmulatorHandle, PublisherInfo } from '../../emulator/src';

/** Raw HTTPS call (for wire-level checks the SDKs never make: hostile input, encodings). */
function raw(h: EmulatorHandle, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: any; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${h.url}${path}`, { method, ca: h.caCertPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('emulator: wire-level contract', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let pub: PublisherInfo;
  let auth: Record<string, string>;

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    pub = await h.createPublisher();
    const t = await credential(h, pub).getToken('https://management.azure.com/.default');
    auth = { authorization: `Bearer ${t.token}` };
  });
  afterAll(async () => cleanup());

  it('serves OpenID metadata whose issuer carries the authority scheme, host and port', async () => {
    const r = await raw(h, 'GET', `/${pub.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(r.status).toBe(200);
    expect(r.body.issuer).toBe(`${h.url}/${pub.tenantId}/v2.0`);
    expect(r.body.token_endpoint).toBe(`${h.url}/${pub.tenantId}/oauth2/v2.0/token`);
    const keys = await raw(h, 'GET', `/${pub.tenantId}/discovery/v2.0/keys`);
    expect(keys.body.keys[0]).toMatchObject({ kty: 'RSA', use: 'sig' });
    const bad = await raw(h, 'POST', `/${pub.tenantId}/oauth2/v2.0/token`, { 'content-type': 'application/x-www-form-urlencoded' }, `grant_type=client_credentials&client_id=${pub.clientId}&client_secret=nope&scope=https%3A%2F%2Fmanagement.azure.com%2F.default`);
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    for (const k of ['error_description', 'timestamp', 'trace_id', 'correlation_id']) expect(bad.body[k]).toBeTruthy();
  });

  it('accepts a percent-encoded api-version key and requires one', async () => {
    const ok = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups?api%2Dversion=2025-04-01`, auth);
    expect(ok.status).toBe(200);
    expect(ok.headers['x-ms-ratelimit-remaining-subscription-reads']).toBeDefined();
    const missing = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups`, auth);
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe('MissingApiVersionParameter');
  });

  it('answers ARM-shaped errors to hostile input, never HTML and never a crash', async () => {
    const noAuth = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups?api-version=1`);
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.error.code).toBe('AuthenticationFailed');
    const junkToken = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups?api-version=1`, { authorization: 'Bearer a.b.c' });
    expect(junkToken.body.error.code).toBe('InvalidAuthenticationToken');
    const badJson = await raw(h, 'PUT', `/subscriptions/${pub.subscriptionId}/resourcegroups/x?api-version=1`, { ...auth, 'content-type': 'application/json' }, '{"location":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('InvalidRequestContent');
    const arrayBody = await raw(h, 'PUT', `/subscriptions/${pub.subscriptionId}/resourcegroups/x?api-version=1`, { ...auth, 'content-type': 'application/json' }, '[1,2]');
    expect(arrayBody.body.error.code).toBe('InvalidRequestContent');
    const badEscape = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups/%E0%A4%A?api-version=1`, auth);
    expect(badEscape.status).toBe(400);
    const unknown = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/nonsense?api-version=1`, auth);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('InvalidResourceType');
    const root = await raw(h, 'GET', '/whatever/else');
    expect(root.status).toBe(404);
    expect(root.body.error.code).toBeTruthy();
    const missingRes = await raw(h, 'GET', `/subscriptions/${pub.subscriptionId}/resourcegroups/none/providers/Microsoft.Web/sites/x?api-version=1`, auth);
    expect(missingRes.body.error.code).toBe('ResourceGroupNotFound');
    const kvNoToken = await raw(h, 'GET', '/secrets/x/?api-version=2025-07-01');
    expect(kvNoToken.status).toBe(401);
    expect(kvNoToken.headers['www-authenticate']).toBe(`Bearer authorization="${h.url}/${h.serviceTenantId}", resource="https://vault.azure.net"`);
    expect(kvNoToken.body.error.message).toContain('AKV10000');
    const ctl = await control(h, 'PUT', '/_emulator/faults', { rules: [{ operation: 'x', failureRate: 7 }] });
    expect(ctl.status).toBe(400);
  });

  it('exposes the operator view of a subscription and settings through the control API', async () => {
    const s = await control(h, 'PUT', '/_emulator/settings', { deploymentSeconds: 0.3 });
    expect(s.body.deploymentSeconds).toBe(0.3);
    expect(h.settings.deploymentSeconds).toBe(0.3);
    const sub = await control(h, 'GET', `/_emulator/subscriptions/${pub.subscriptionId}`);
    expect(sub.body).toMatchObject({ subscriptionId: pub.subscriptionId, tenantId: pub.tenantId, resourceGroups: [] });
    const st = await control(h, 'GET', '/_emulator/state');
    expect(st.body.serviceTenantId).toBe(h.serviceTenantId);
    const p = await control(h, 'POST', '/_emulator/publishers', { tenantName: 'fabrikam.onmicrosoft.com' });
    expect(p.status).toBe(201);
    expect(p.body).toMatchObject({ tenantName: 'fabrikam.onmicrosoft.com' });
    expect(typeof p.body.clientSecret).toBe('string');
    const c = await control(h, 'POST', '/_emulator/clients', { roles: ['Operator'] });
    expect(c.body).toMatchObject({ tenantId: h.serviceTenantId, roles: ['Operator'] });
  });
});
