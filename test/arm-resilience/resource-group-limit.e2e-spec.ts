/**
 * Property 5: a publisher subscription at its resource group limit (Azure: 980; here 4, one of them
 * the publisher's own) stops the pool at the limit with a clear ResourceGroupQuotaExceeded in
 * GET /capacity, backs off instead of hammering ARM, keeps serving sessions from what is ready, and
 * uses room that frees up later.
 */
import { armClients, capacity, CLOUDTRY, customer, emulatedGroups, faultsApplied, instances, publishOffer, useLocalServiceWith } from './helpers';

describe('resource group limit of the publisher subscription', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.1, limits: { resourceGroupsPerSubscription: 4 } });
  beforeAll(async () => {
    // The publisher's own group counts against the limit too.
    await armClients(local.azure, local.publisher).rm.resourceGroups.createOrUpdate('publisher-own', { location: 'westeurope' });
  });

  const cloudTry = () => emulatedGroups(local.azure, local.publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));

  it('stops at the limit with ResourceGroupQuotaExceeded, backs off, serves sessions, and refills when room frees up', async () => {
    await publishOffer(local.svc, local.publisher, 'big-pool', [{ name: 'westeurope', hot: 5, cold: 0 }]);
    // The publish preflight's scratch resource group (its validation) counts against the limit until ARM
    // has deleted it: the pool starts once it is gone (no reconcile pass runs meanwhile).
    for (let i = 0; i < 200 && emulatedGroups(local.azure, local.publisher.subscriptionId).some((g) => g.name.startsWith('CloudTryValidate_')); i++) await new Promise((r) => setTimeout(r, 50));
    local.azure.emulator.setFaults([{ operation: 'resourceGroups.createOrUpdate', latencyMs: 0 }]); // counts the pool's calls only (after the publish preflight)

    const atLimit = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'big-pool', 'westeurope');
      return c.hotReady === 3 && c.consecutiveFailures >= 2 && c.deploying + c.failed + c.deleting === 0 ? c : null;
    });
    expect(atLimit.lastFailure!.code).toBe('ResourceGroupQuotaExceeded');
    expect(atLimit.lastFailure!.message).toMatch(/would exceed the quota of '4'/);
    expect(atLimit.backoffUntil).not.toBeNull();
    expect(cloudTry()).toHaveLength(3);
    expect(emulatedGroups(local.azure, local.publisher.subscriptionId)).toHaveLength(4);

    // Backing off: no new attempts while the clock stands still, however many passes run.
    const calls = faultsApplied(local.azure)['resourceGroups.createOrUpdate'];
    expect(calls).toBe(5);
    for (let n = 0; n < 10; n++) await local.svc.reconcile.reconcileOnce();
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(calls);

    // Nothing is broken: a customer gets one of the ready instances at once.
    const s = await local.svc.http.post('/api/v1/offers/big-pool/sessions').send({ customer }).expect(201);
    expect(s.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    await local.svc.http.get('/health').expect(200);

    // The session ends: its group is deleted, which frees room for one more instance after the backoff.
    await local.svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await local.svc.until(async () => (await local.svc.http.get(`/api/v1/sessions/${s.body.id}`)).body.state === 'ended' && cloudTry().length === 2);
    const c = await capacity(local.svc, 'big-pool', 'westeurope');
    local.svc.clock.advance(Date.parse(c.backoffUntil!) - local.svc.clock.now() + 1);
    const refilled = await local.svc.until(async () => {
      const row = await capacity(local.svc, 'big-pool', 'westeurope');
      return row.hotReady === 3 && row.deploying + row.failed + row.deleting === 0 ? row : null;
    });
    expect(refilled.lastFailure!.code).toBe('ResourceGroupQuotaExceeded');
    expect(refilled.consecutiveFailures).toBeGreaterThan(atLimit.consecutiveFailures); // still at the limit: still backing off
    expect(cloudTry()).toHaveLength(3);
    expect((await instances(local.svc, 'big-pool')).filter((i) => i.state !== 'deleted')).toHaveLength(3);
  });
});
