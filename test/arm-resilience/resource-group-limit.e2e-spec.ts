/**
 * Property 5: a publisher subscription at its resource group limit (Azure: 980; here 4, one of them
 * the publisher's own) stops the pool at the limit with a clear ResourceGroupQuotaExceeded in
 * GET /capacity, backs off instead of hammering ARM, keeps serving sessions from what is ready, and
 * uses room that frees up later.
 */
import type { LocalAzure, TestService } from '../support/harness';
import { startService } from '../support/harness';
import { armClients, capacity, CLOUDTRY, customer, emulatedGroups, faultsApplied, instances, publishOffer, Publisher, startLocalAzureWith } from './helpers';

describe('resource group limit of the publisher subscription', () => {
  let azure: LocalAzure;
  let svc: TestService;
  let publisher: Publisher;

  beforeAll(async () => {
    azure = await startLocalAzureWith({ deploymentSeconds: 0.1, limits: { resourceGroupsPerSubscription: 4 } });
    svc = await startService(azure);
    publisher = await azure.emulator.createPublisher({});
    // The publisher's own group counts against the limit too.
    await armClients(azure, publisher).rm.resourceGroups.createOrUpdate('publisher-own', { location: 'westeurope' });
  });
  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  const cloudTry = () => emulatedGroups(azure, publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));

  it('stops at the limit with ResourceGroupQuotaExceeded, backs off, serves sessions, and refills when room frees up', async () => {
    azure.emulator.setFaults([{ operation: 'resourceGroups.createOrUpdate', latencyMs: 0 }]); // counts calls only
    await publishOffer(svc, publisher, 'big-pool', [{ name: 'westeurope', hot: 5, cold: 0 }]);

    const atLimit = await svc.until(async () => {
      const c = await capacity(svc, 'big-pool', 'westeurope');
      return c.hotReady === 3 && c.consecutiveFailures >= 2 && c.deploying + c.failed + c.deleting === 0 ? c : null;
    });
    expect(atLimit.lastFailure!.code).toBe('ResourceGroupQuotaExceeded');
    expect(atLimit.lastFailure!.message).toMatch(/would exceed the quota of '4'/);
    expect(atLimit.backoffUntil).not.toBeNull();
    expect(cloudTry()).toHaveLength(3);
    expect(emulatedGroups(azure, publisher.subscriptionId)).toHaveLength(4);

    // Backing off: no new attempts while the clock stands still, however many passes run.
    const calls = faultsApplied(azure)['resourceGroups.createOrUpdate'];
    expect(calls).toBe(5);
    for (let n = 0; n < 10; n++) await svc.reconcile.reconcileOnce();
    expect(faultsApplied(azure)['resourceGroups.createOrUpdate']).toBe(calls);

    // Nothing is broken: a customer gets one of the ready instances at once.
    const s = await svc.http.post('/api/v1/offers/big-pool/sessions').send({ customer }).expect(201);
    expect(s.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    await svc.http.get('/health').expect(200);

    // The session ends: its group is deleted, which frees room for one more instance after the backoff.
    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await svc.until(async () => (await svc.http.get(`/api/v1/sessions/${s.body.id}`)).body.state === 'ended' && cloudTry().length === 2);
    const c = await capacity(svc, 'big-pool', 'westeurope');
    svc.clock.advance(Date.parse(c.backoffUntil!) - svc.clock.now() + 1);
    const refilled = await svc.until(async () => {
      const row = await capacity(svc, 'big-pool', 'westeurope');
      return row.hotReady === 3 && row.deploying + row.failed + row.deleting === 0 ? row : null;
    });
    expect(refilled.lastFailure!.code).toBe('ResourceGroupQuotaExceeded');
    expect(refilled.consecutiveFailures).toBeGreaterThan(atLimit.consecutiveFailures); // still at the limit: still backing off
    expect(cloudTry()).toHaveLength(3);
    expect((await instances(svc, 'big-pool')).filter((i) => i.state !== 'deleted')).toHaveLength(3);
  });
});
