/**
 * Property 2: failed deployments are retried with backoff and the pool recovers. While every
 * deployment fails, hot instances end `failed`, GET /capacity says so (failed, consecutiveFailures,
 * lastFailure, backoffUntil), their resource groups are deleted, and the region starts nothing new
 * until the clock passes backoffUntil; once ARM works again the pool refills. A cold session whose
 * deployment fails ends `failed` with a readable reason, and its capacity comes back.
 */
import { describeEachDb } from '../support/postgres';
import { capacity, CLOUDTRY, customer, emulatedGroups, faultsApplied, instances, publishOffer, useLocalServiceWith } from './helpers';

/** Rules that fire without failing: they only count calls (latencyMs 0, no status). */
const COUNTERS = [
  { operation: 'resourceGroups.createOrUpdate', latencyMs: 0 },
  { operation: 'deployments.createOrUpdate', latencyMs: 0 },
];

describeEachDb('deployment failures on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.15 }, { db });

  const groups = () => emulatedGroups(local.azure, local.publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));

  it('hot instances fail, the region backs off without deploying, failed groups are deleted, and the pool refills once ARM recovers', async () => {
    // Faults after the publish (its preflight validates in a scratch resource group): they count the pool's calls.
    await publishOffer(local.svc, local.publisher, 'flaky', [{ name: 'westeurope', hot: 2, cold: 0 }]);
    local.azure.emulator.setFaults([{ operation: 'deployments.execute', failureRate: 1, errorCode: 'SkuNotAvailable' }, ...COUNTERS]);

    // The deployments fail: capacity shows failed instances first...
    const failing = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'flaky', 'westeurope');
      return c.failed > 0 ? c : null;
    });
    expect(failing.hotReady).toBe(0);
    // ...then the region's failure count, the reason and the backoff.
    const backingOff = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'flaky', 'westeurope');
      return c.consecutiveFailures >= 2 && c.failed === 0 ? c : null;
    });
    expect(backingOff.lastFailure).toMatchObject({ code: 'DeploymentFailed' });
    expect(backingOff.lastFailure!.message).toContain('SkuNotAvailable');
    expect(backingOff.backoffUntil).not.toBeNull();
    expect(Date.parse(backingOff.backoffUntil!)).toBeGreaterThan(local.svc.clock.now());
    const failedRows = (await instances(local.svc, 'flaky')).filter((i) => i.failure);
    expect(failedRows.length).toBeGreaterThanOrEqual(2);
    expect(failedRows[0].failure).toMatchObject({ code: 'DeploymentFailed' });

    // The failed instances' resource groups are deleted.
    await local.svc.until(async () => groups().length === 0 && (await capacity(local.svc, 'flaky', 'westeurope')).deleting === 0);
    const applied = faultsApplied(local.azure);
    expect(applied['resourceGroups.createOrUpdate']).toBe(2);
    expect(applied['deployments.execute']).toBe(2);

    // Backing off: passes go by (real time too) but nothing new is deployed.
    for (let i = 0; i < 10; i++) {
      await local.svc.reconcile.reconcileOnce();
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(2);
    expect(faultsApplied(local.azure)['deployments.createOrUpdate']).toBe(2);
    expect(groups()).toHaveLength(0);
    expect((await instances(local.svc, 'flaky')).filter((i) => i.state !== 'deleted')).toHaveLength(0);

    // Past the backoff, with ARM still failing: one more round, a longer backoff.
    const firstBackoff = Date.parse(backingOff.backoffUntil!) - local.svc.clock.now();
    local.svc.clock.advance(firstBackoff + 1);
    const second = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'flaky', 'westeurope');
      return c.consecutiveFailures >= 4 && c.deleting === 0 && c.deploying === 0 && c.failed === 0 && groups().length === 0 ? c : null;
    });
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(4);
    expect(Date.parse(second.backoffUntil!) - local.svc.clock.now()).toBeGreaterThan(firstBackoff);

    // ARM recovers; once the clock passes the backoff the pool refills and the failure count clears.
    local.azure.emulator.setFaults([]);
    await local.svc.reconcile.reconcileOnce();
    expect((await instances(local.svc, 'flaky')).filter((i) => i.state !== 'deleted')).toHaveLength(0);
    local.svc.clock.advance(Date.parse(second.backoffUntil!) - local.svc.clock.now() + 1);
    const healthy = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'flaky', 'westeurope');
      return c.hotReady === 2 ? c : null;
    });
    expect(healthy).toMatchObject({ consecutiveFailures: 0, backoffUntil: null, failed: 0 });
    expect(healthy.lastFailure?.code).toBe('DeploymentFailed'); // kept for the operator
    expect(groups()).toHaveLength(2);
  });

  it('a cold session whose deployment fails ends failed with the reason; its slot and resource group are released', async () => {
    await publishOffer(local.svc, local.publisher, 'cold-only', [{ name: 'northeurope', hot: 0, cold: 1 }]);
    local.azure.emulator.setFaults([{ operation: 'deployments.execute', failureRate: 1, errorCode: 'QuotaExceeded' }]);
    const s = await local.svc.http.post('/api/v1/offers/cold-only/sessions').send({ customer }).expect(201);
    expect(s.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    // The only cold slot is taken while it deploys.
    const busy = await local.svc.http.post('/api/v1/offers/cold-only/sessions').send({ customer: { ...customer, email: 'x@example.com' } });
    expect(busy.status).toBe(409);

    const failed = await local.svc.until(async () => {
      const r = await local.svc.http.get(`/api/v1/sessions/${s.body.id}`).expect(200);
      return r.body.state === 'failed' ? r.body : null;
    });
    expect(failed.failure.code).toBe('DeploymentFailed');
    expect(failed.failure.message).toMatch(/^The test drive could not be deployed: .*QuotaExceeded/);
    expect(failed.endReason).toBe('failed');
    expect(failed.accessInformation).toBeNull();

    // Its resource group is deleted and the cold slot is free again.
    await local.svc.until(async () => {
      const c = await capacity(local.svc, 'cold-only', 'northeurope');
      return c.coldInUse === 0 && !emulatedGroups(local.azure, local.publisher.subscriptionId).some((g) => g.tags['testdrive-offer'] === 'cold-only');
    });
    // A cold failure is the customer's, not the region's: no region backoff.
    expect((await capacity(local.svc, 'cold-only', 'northeurope')).backoffUntil).toBeNull();
    local.azure.emulator.setFaults([]);
    const again = await local.svc.http.post('/api/v1/offers/cold-only/sessions').send({ customer }).expect(201);
    const ready = await local.svc.until(async () => {
      const r = await local.svc.http.get(`/api/v1/sessions/${again.body.id}`).expect(200);
      return r.body.state === 'ready' ? r.body : null;
    });
    expect(ready.accessInformation).toMatch(/admin\d{5}/);
  });
});
