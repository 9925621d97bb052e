jest.setTimeout(180_000);
import { meetsEntraComplexity } from '../../modules/dynamics-365/password';
import { useLocalService } from '../support/harness';
import { customer, drive, envView, markedUsers, offerBody, publisherGraph, publisherWithEnvironment, sessionState } from './helpers';

describe('Dynamics 365 Customer Engagement test drive (acceptance, through Graph + dynamics-web-api against the emulator)', () => {
  const local = useLocalService();

  it('3 licenses, maxConcurrent 5: publish warns; 3 ready holding the role; 4th NoCapacity; ending frees slot and license; expiry removes every user', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson', 'Sales Manager'] });
    const put = await local.svc.http.put('/api/v1/offers/crm-trial').send(offerBody(publisher, env));
    expect(put.status).toBe(201);
    expect(JSON.stringify(put.body)).not.toContain(publisher.clientSecret);
    expect(put.body.testDrive).toMatchObject({ product: 'customer-engagement', maxConcurrent: 5, instanceWebApiUrl: env.instanceWebApiUrl });

    const pub = await local.svc.http.post('/api/v1/offers/crm-trial/publish').expect(200);
    expect(pub.body.state).toBe('published');
    expect(pub.body.warnings).toEqual([expect.objectContaining({ code: 'FewerLicensesThanConcurrent', target: 'testDrive.maxConcurrent' })]);
    expect(pub.body.health).toMatchObject({ status: 'healthy', problems: [], licenses: { sku: 'DYN365_ENTERPRISE_PLAN1', total: 3, consumed: 0, free: 3 } });
    expect((await local.svc.http.get('/api/v1/offers/crm-trial').expect(200)).body.health.status).toBe('healthy');

    const starts: Array<{ id: string; state: string }> = [];
    for (let i = 0; i < 3; i++) starts.push((await local.svc.http.post('/api/v1/offers/crm-trial/sessions').send({ customer }).expect(201)).body);
    expect(starts.every((s) => s.state === 'provisioning')).toBe(true);
    const fourth = await local.svc.http.post('/api/v1/offers/crm-trial/sessions').send({ customer }).expect(409);
    expect(fourth.body.error.code).toBe('NoCapacity');

    const ready = await drive(local.svc, async () => {
      const all = await Promise.all(starts.map((s) => sessionState(local.svc, s.id)));
      return all.every((s) => s.state === 'ready') ? all : null;
    });
    for (const s of ready) {
      expect(s.outputs).toMatchObject({ instanceUrl: env.instanceUrl, userName: expect.stringMatching(new RegExp(`^td-[0-9a-f]{12}@${publisher.tenantName.replace(/\./g, '\\.')}$`)) });
      expect(meetsEntraComplexity(s.outputs!.password)).toBe(true);
      expect(s.outputs!.password).toHaveLength(16);
      expect(s.accessInformation).toContain(s.outputs!.password);
    }
    let view = envView(local.azure, env.name);
    expect(view.licenses).toMatchObject({ total: 3, inUse: 3 });
    const upns = ready.map((s) => s.outputs!.userName).sort();
    expect(view.users.filter((u) => u.licensed && u.inEnvironment && u.roles.includes('Salesperson')).map((u) => u.upn).sort()).toEqual(upns);

    // The secret never reaches the database in clear; the list view has no credentials.
    const list = await local.svc.http.get('/api/v1/offers/crm-trial/sessions');
    if (list.status === 200) expect(JSON.stringify(list.body)).not.toContain(ready[0].outputs!.password);

    const cap = (await local.svc.http.get('/api/v1/capacity?offerId=crm-trial').expect(200)).body.value[0];
    expect(cap).toMatchObject({ type: 'dynamics-365', region: null, limit: 3, inUse: 3, maxConcurrent: 5, licenses: { total: 3, consumed: 3, free: 0, heldByOffer: 3 }, health: { status: 'healthy' } });
    expect((await local.svc.http.post('/api/v1/offers/crm-trial/sessions').send({ customer }).expect(409)).body.error.code).toBe('NoCapacity');

    // Ending one frees its slot and its license at once.
    await local.svc.http.delete(`/api/v1/sessions/${starts[0].id}`).expect(202);
    await drive(local.svc, async () => (await sessionState(local.svc, starts[0].id)).state === 'ended');
    view = envView(local.azure, env.name);
    expect(view.licenses.inUse).toBe(2);
    expect(view.users.map((u) => u.upn)).not.toContain(ready[0].outputs!.userName);
    const again = await local.svc.http.post('/api/v1/offers/crm-trial/sessions').send({ customer }).expect(201);
    await drive(local.svc, async () => (await sessionState(local.svc, again.body.id)).state === 'ready');

    // The duration is over: every session ends by itself, and no test drive user is left.
    local.svc.clock.advance(2 * 3600 * 1000 + 1000);
    const ids = [starts[1].id, starts[2].id, again.body.id];
    await drive(local.svc, async () => {
      const all = await Promise.all(ids.map((id) => sessionState(local.svc, id)));
      return all.every((s) => s.state === 'ended' && s.endReason === 'expired');
    });
    view = envView(local.azure, env.name);
    expect(view.licenses.inUse).toBe(0);
    expect(view.users).toEqual([]);
    expect(view.roleAssignments).toEqual([]);
    expect(await markedUsers(await publisherGraph(local.azure, publisher))).toEqual([]);
    // GET /capacity reads licenses through the short cache (DYNAMICS_LICENSE_CACHE_MS): it catches up within seconds.
    const after = await local.svc.until(async () => {
      const row = (await local.svc.http.get('/api/v1/capacity?offerId=crm-trial').expect(200)).body.value[0];
      return row.licenses?.consumed === 0 ? row : null;
    });
    expect(after).toMatchObject({ inUse: 0, limit: 3, licenses: { consumed: 0, free: 3, heldByOffer: 0 } });
  });
});
