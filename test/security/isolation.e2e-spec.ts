import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { Role } from '../../src/auth/roles';
import { AuthedHttp, useLocalService } from '../support/harness';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/** Issue 3: a publisher sees and changes only its own offers; roles see what they should; every change is audited. */
describe('publisher isolation, role views and the audit trail', () => {
  const local = useLocalService();
  let alice: AuthedHttp; // publisher A
  let bob: AuthedHttp; // publisher B, another tenant
  let market: AuthedHttp;
  let ops: AuthedHttp;
  let sessionId: string;

  beforeAll(async () => {
    alice = await local.svc.as({ roles: [Role.Publisher] });
    bob = await local.svc.as({ roles: [Role.Publisher], newTenant: true });
    market = await local.svc.as('marketplace');
    ops = await local.svc.as('operator');
    const p = await local.azure.emulator.createPublisher({});
    const offer = {
      alias: 'Alice web',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 1, cold: 1 }], accessInformation: '<p>{{siteUrl}} {{userName}} {{password}}</p>' },
      deployment: { subscriptionId: p.subscriptionId, tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret },
    };
    await alice.put('/api/v1/offers/alice-web').send(offer).expect(201);
    await alice.put('/api/v1/offers/alice-web/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201);
    await alice.post('/api/v1/offers/alice-web/publish').expect(200);
    await local.svc.until(async () => {
      const c = await ops.get('/api/v1/capacity?offerId=alice-web');
      return c.body.value?.[0]?.hotReady === 1;
    });
    const s = await market.post('/api/v1/offers/alice-web/sessions').send({ customer, region: 'westeurope' }).expect(201);
    sessionId = s.body.id;
    expect(s.body.state).toBe('ready');
    expect(s.body.outputs.password).toBeTruthy();
  });

  it("another publisher gets 404 for the offer, its package, its sessions and its capacity, as if it did not exist", async () => {
    const notFound = (r: { status: number; body: { error: { code: string } } }, code = 'OfferNotFound') => {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe(code);
    };
    notFound(await bob.get('/api/v1/offers/alice-web'));
    notFound(await bob.get('/api/v1/offers/alice-web/package'));
    notFound(await bob.put('/api/v1/offers/alice-web/package').set('content-type', 'application/zip').send(Buffer.from('PK')));
    notFound(await bob.post('/api/v1/offers/alice-web/publish'));
    notFound(await bob.post('/api/v1/offers/alice-web/unpublish'));
    notFound(await bob.delete('/api/v1/offers/alice-web'));
    notFound(await bob.put('/api/v1/offers/alice-web').send({ alias: 'mine now', testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 0, cold: 1 }] }, deployment: { subscriptionId: '00000000-0000-4000-8000-000000000001', tenantId: '00000000-0000-4000-8000-000000000002', clientId: '00000000-0000-4000-8000-000000000003', clientSecret: 'x' } }));
    notFound(await bob.get('/api/v1/offers/alice-web/sessions'));
    notFound(await bob.get(`/api/v1/sessions/${sessionId}`), 'SessionNotFound');
    notFound(await bob.get('/api/v1/capacity?offerId=alice-web'));
    expect((await bob.get('/api/v1/capacity').expect(200)).body.value).toEqual([]);
    expect((await bob.get('/api/v1/offers').expect(200)).body.value).toEqual([]);
    // Nothing changed for Alice.
    const mine = await alice.get('/api/v1/offers/alice-web').expect(200);
    expect(mine.body).toMatchObject({ alias: 'Alice web', state: 'published' });
  });

  it("the owner reads its offer's sessions and capacity without access information", async () => {
    const list = await alice.get('/api/v1/offers/alice-web/sessions').expect(200);
    expect(list.body.value.map((s: { id: string }) => s.id)).toContain(sessionId);
    const one = await alice.get(`/api/v1/sessions/${sessionId}`).expect(200);
    expect(one.body).toMatchObject({ id: sessionId, outputs: null, accessInformation: null });
    expect((await alice.get('/api/v1/capacity').expect(200)).body.value.map((r: { offerId: string }) => r.offerId)).toEqual(['alice-web']);
    await alice.delete(`/api/v1/sessions/${sessionId}`).expect(403);
  });

  it('the marketplace gets access information; the operator reads everything without secrets', async () => {
    const m = await market.get(`/api/v1/sessions/${sessionId}`).expect(200);
    expect(m.body.outputs.password).toBeTruthy();
    // Output values are HTML-escaped in the access information (a generated password may hold '&').
    expect(m.body.accessInformation).toContain(m.body.outputs.password.replace(/&/g, '&amp;'));
    const o = await ops.get(`/api/v1/sessions/${sessionId}`).expect(200);
    expect(o.body).toMatchObject({ outputs: null, accessInformation: null });
    const offers = await ops.get('/api/v1/offers').expect(200);
    expect(offers.body.value.map((x: { id: string }) => x.id)).toEqual(['alice-web']);
    expect(offers.body.value[0].deployment).toMatchObject({ clientSecretSet: true });
    expect(offers.body.value[0].deployment.clientSecret).toBeUndefined();
    await ops.get('/api/v1/offers/alice-web/package').expect(200);
    await ops.get('/api/v1/offers/alice-web/sessions').expect(200);
    // ... but changes nothing except ending sessions and unpublishing.
    await ops.post('/api/v1/offers/alice-web/publish').expect(403);
    await ops.delete('/api/v1/offers/alice-web').expect(403);
  });

  it('the operator ends any session and unpublishes any offer; the audit trail names who did what', async () => {
    await ops.delete(`/api/v1/sessions/${sessionId}`).expect(202);
    await ops.post('/api/v1/offers/alice-web/unpublish').expect(200);
    // A session that expires is ended by the system.
    await alice.post('/api/v1/offers/alice-web/publish').expect(200);
    await local.svc.until(async () => (await ops.get('/api/v1/capacity?offerId=alice-web')).body.value?.[0]?.hotReady === 1);
    const s2 = await market.post('/api/v1/offers/alice-web/sessions').send({ customer }).expect(201);
    local.svc.clock.advance(3600_000 + 1000);
    await local.svc.until(async () => (await market.get(`/api/v1/sessions/${s2.body.id}`)).body.state !== 'ready');

    await alice.get('/api/v1/audit').expect(403);
    await market.get('/api/v1/audit').expect(403);
    const audit = await ops.get('/api/v1/audit?offerId=alice-web&limit=100').expect(200);
    const events = (audit.body.value as Array<{ action: string; actor: { type: string; clientId: string | null; tenantId: string | null }; target: { id: string } }>).reverse();
    const who = (c: AuthedHttp) => ({ type: 'client', clientId: c.client.clientId, tenantId: c.client.tenantId });
    const expected: Array<[string, object]> = [
      ['offer.created', who(alice)],
      ['package.uploaded', who(alice)],
      ['offer.published', who(alice)],
      ['session.started', who(market)],
      ['session.ended', who(ops)],
      ['offer.unpublished', who(ops)],
      ['offer.published', who(alice)],
      ['session.started', who(market)],
      ['session.expired', { type: 'system', clientId: null }],
    ];
    expect(events.map((e) => e.action)).toEqual(expected.map(([a]) => a));
    expected.forEach(([, actor], i) => expect(events[i].actor).toMatchObject(actor));
    expect(events[3].target.id).toBe(sessionId);
    expect(JSON.stringify(audit.body)).not.toMatch(/clientSecret"\s*:\s*"/);
    const bad = await ops.get('/api/v1/audit?limit=100000');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]).toMatchObject({ target: 'limit' });
    expect((await ops.get('/api/v1/audit?nope=1')).status).toBe(400);
    expect((await ops.get('/api/v1/audit?limit=2').expect(200)).body.value).toHaveLength(2);
  });
});
