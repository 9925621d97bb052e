import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { emulatorResourceGroups } from '../support/emulator-client';
import { describeEachDb } from '../support/postgres';
import { armOfferBody } from '../../src/embedded/sample-offer';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };

type Capacity = { value: Array<{ offerId: string; region: string; hotTarget: number; hotReady: number; deploying: number; assigned: number; failed: number; limit: number }> };

describeEachDb('ARM test drive, whole life, on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let publisher: { tenantId: string; subscriptionId: string; clientId: string; clientSecret: string };

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    publisher = await azure.emulator.createPublisher({});
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  const capacity = async (region: string) => {
    const r = await svc.http.get('/api/v1/capacity').expect(200);
    return (r.body as Capacity).value.find((row) => row.offerId === 'contoso-web' && row.region === region)!;
  };
  const rgs = () => emulatorResourceGroups(azure.emulator.url, azure.emulator.caCertPem, publisher.subscriptionId);

  it('configures, publishes, serves hot then cold, refuses beyond the limit, ends, refills and expires', async () => {
    // The sample offer's regions: westeurope hot 2 / cold 1, eastus hot 1 / cold 0.
    const put = await svc.http
      .put('/api/v1/offers/contoso-web')
      .send(armOfferBody('Contoso web', publisher, { durationHours: 2, description: 'Contoso on a web app', accessInformation: '<p>Open {{siteUrl}} and sign in as {{userName}} / {{password}}</p>' }));
    expect(put.status).toBe(201);
    expect(JSON.stringify(put.body)).not.toContain(publisher.clientSecret);
    expect(put.body.deployment.clientSecretSet).toBe(true);

    const pkg = await svc.http.put('/api/v1/offers/contoso-web/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] }));
    expect(pkg.status).toBe(201);
    await svc.http.post('/api/v1/offers/contoso-web/publish').expect(200);

    // Hot instances are deployed in both regions.
    await svc.until(async () => (await capacity('westeurope')).hotReady === 2 && (await capacity('eastus')).hotReady === 1);
    const groups = await rgs();
    expect(groups.filter((g) => /^CloudTry_[0-9a-f]{32}$/.test(g.name))).toHaveLength(3);
    expect(groups.every((g) => g.tags['testdrive-offer'] === 'contoso-web')).toBe(true);

    // 1st and 2nd: hot, ready at once with rendered access information.
    const s1 = await svc.http.post('/api/v1/offers/contoso-web/sessions').send({ customer, region: 'westeurope' }).expect(201);
    expect(s1.body).toMatchObject({ state: 'ready', instanceKind: 'hot', region: 'westeurope' });
    expect(s1.body.accessInformation).toMatch(/^<p>Open https:\/\/\S+ and sign in as admin\d{5} \/ (?:&amp;|[^\s&]){10}<\/p>$/);
    expect(Date.parse(s1.body.expiresAt) - Date.parse(s1.body.readyAt)).toBe(2 * 3600 * 1000);
    const s2 = await svc.http.post('/api/v1/offers/contoso-web/sessions').send({ customer, region: 'westeurope' }).expect(201);
    expect(s2.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });

    // 3rd: cold, deploys, becomes ready.
    const s3 = await svc.http.post('/api/v1/offers/contoso-web/sessions').send({ customer, region: 'westeurope' }).expect(201);
    expect(s3.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    const ready3 = await svc.until(async () => {
      const r = await svc.http.get(`/api/v1/sessions/${s3.body.id}`).expect(200);
      return r.body.state === 'ready' ? r.body : null;
    });
    expect(ready3.accessInformation).toContain('admin');

    // 4th in that region: refused.
    const s4 = await svc.http.post('/api/v1/offers/contoso-web/sessions').send({ customer, region: 'westeurope' }).expect(409);
    expect(s4.body.error.code).toBe('NoCapacity');

    // Ending s1 deletes its resource group; a new hot instance is deployed.
    const rg1 = (await rgs()).find((g) => g.tags['testdrive-session'] === s1.body.id);
    expect(rg1).toBeDefined();
    const ended = await svc.http.delete(`/api/v1/sessions/${s1.body.id}`).expect(202);
    expect(['ending', 'ended']).toContain(ended.body.state);
    await svc.until(async () => (await svc.http.get(`/api/v1/sessions/${s1.body.id}`)).body.state === 'ended');
    expect((await rgs()).some((g) => g.name === rg1!.name)).toBe(false);
    await svc.until(async () => (await capacity('westeurope')).hotReady === 1);

    // Time passes: s2 and s3 end by themselves after 2 hours.
    svc.clock.advance(2 * 3600 * 1000 + 1000);
    await svc.until(async () => {
      const [a, b] = await Promise.all([s2, s3].map((s) => svc.http.get(`/api/v1/sessions/${s.body.id}`)));
      return a.body.state === 'ended' && b.body.state === 'ended' && a.body.endReason === 'expired';
    });
    const after = await rgs();
    expect(after.some((g) => g.tags['testdrive-session'])).toBe(false);
    await svc.until(async () => (await capacity('westeurope')).hotReady === 2);
    const c = await capacity('westeurope');
    expect(c).toMatchObject({ hotTarget: 2, assigned: 0, limit: 3 });
  });

  it('an Idempotency-Key returns the same session on retry', async () => {
    const a = await svc.http.post('/api/v1/offers/contoso-web/sessions').set('Idempotency-Key', 'k-1').send({ customer }).expect(201);
    const b = await svc.http.post('/api/v1/offers/contoso-web/sessions').set('Idempotency-Key', 'k-1').send({ customer }).expect(200);
    expect(b.body.id).toBe(a.body.id);
    const c = await svc.http.post('/api/v1/offers/contoso-web/sessions').set('Idempotency-Key', 'k-1').send({ customer: { ...customer, firstName: 'Bob' } });
    expect(c.status).toBe(422);
    await svc.http.delete(`/api/v1/sessions/${a.body.id}`).expect(202);
  });

  it('unpublishing removes unassigned instances and refuses new sessions', async () => {
    await svc.http.post('/api/v1/offers/contoso-web/unpublish').expect(200);
    const r = await svc.http.post('/api/v1/offers/contoso-web/sessions').send({ customer }).expect(409);
    expect(r.body.error.code).toBe('OfferNotPublished');
    // DELETE /offers asks the type what it still holds (ARM deleteBlockers: instances not deleted yet): 409 until the pool is gone.
    const refused = new Set<string>();
    await svc.until(async () => {
      const d = await svc.http.delete('/api/v1/offers/contoso-web');
      if (d.status === 409) refused.add(d.body.error.code);
      else expect(d.status).toBe(204);
      return d.status === 204;
    });
    expect([...refused].every((c) => c === 'OfferHasInstances' || c === 'OfferHasSessions')).toBe(true);
    expect(await rgs()).toEqual([]);
  });
});
