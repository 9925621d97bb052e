/**
 * Property 6: the service deletes the resource groups it made and no longer needs, and nothing else.
 * A periodic sweep (every ORPHAN_SWEEP_INTERVAL_MS of clock time) lists each ARM offer's
 * `testdrive-offer`-tagged groups and deletes `CloudTry_` groups without a live instance: at once when
 * the instance row says deleted, after ORPHAN_GRACE_MS when there is no row at all. Groups of live
 * instances, groups not named CloudTry_, and groups tagged for offers this service does not know
 * (another installation's, or hand-made) are left alone.
 */
import { randomUUID } from 'node:crypto';

// The periodic ARM health check (issue 13) also lists resource groups; this suite counts the sweep's lists only.
process.env.ARM_HEALTH_INTERVAL_SECONDS = '86400';
import { ORPHAN_GRACE_MS, ORPHAN_SWEEP_INTERVAL_MS } from '../../modules/azure-resource-manager/arm-test-drive.type';
import { armClients, capacity, customer, emulatedGroups, faultsApplied, instances, publishOffer, useLocalServiceWith } from './helpers';

describe('orphaned resource groups', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.1 });

  const names = () => emulatedGroups(local.azure, local.publisher.subscriptionId).map((g) => g.name);
  const passes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await local.svc.reconcile.reconcileOnce();
      await new Promise((r) => setTimeout(r, 40)); // lets the emulator finish deletions (real time)
    }
  };

  it('deletes CloudTry_ groups of its offers that no live instance owns; leaves everything else alone', async () => {
    expect(ORPHAN_GRACE_MS).toBeGreaterThan(ORPHAN_SWEEP_INTERVAL_MS);
    await publishOffer(local.svc, local.publisher, 'swept', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await local.svc.until(async () => (await capacity(local.svc, 'swept', 'westeurope')).hotReady === 1);

    // A session's instance is deleted; then a late retry re-creates its group (row: deleted).
    const s = await local.svc.http.post('/api/v1/offers/swept/sessions').send({ customer }).expect(201);
    await local.svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await local.svc.until(async () => (await local.svc.http.get(`/api/v1/sessions/${s.body.id}`)).body.state === 'ended');
    const gone = (await instances(local.svc, 'swept')).find((i) => i.sessionId === s.body.id)!;
    expect(gone.state).toBe('deleted');
    await local.svc.until(async () => (await capacity(local.svc, 'swept', 'westeurope')).hotReady === 1);
    const liveGroup = (await instances(local.svc, 'swept')).find((i) => i.state === 'ready')!.resourceGroupName;

    const { rm } = armClients(local.azure, local.publisher);
    const tags = (offerId: string, instanceId: string) => ({
      'testdrive-publisher': local.publisher.tenantId,
      'testdrive-offer': offerId,
      'testdrive-revision': gone.revisionId,
      'testdrive-instance': instanceId,
    });
    await rm.resourceGroups.createOrUpdate(gone.resourceGroupName, { location: 'westeurope', tags: tags('swept', gone.id) });
    const rowless = randomUUID();
    const rowlessGroup = `CloudTry_${rowless.replace(/-/g, '')}`;
    await rm.resourceGroups.createOrUpdate(rowlessGroup, { location: 'westeurope', tags: tags('swept', rowless) });
    const foreign = randomUUID();
    const foreignGroup = `CloudTry_${foreign.replace(/-/g, '')}`;
    await rm.resourceGroups.createOrUpdate(foreignGroup, { location: 'westeurope', tags: tags('offer-we-do-not-know', foreign) });
    await rm.resourceGroups.createOrUpdate('publisher-app', { location: 'westeurope', tags: { 'testdrive-offer': 'swept' } });

    // Between sweeps nothing is listed or deleted.
    local.azure.emulator.setFaults([{ operation: 'resourceGroups.list', latencyMs: 0 }]); // counts listings
    await passes(5);
    expect(faultsApplied(local.azure)['resourceGroups.list']).toBe(0);
    expect(names()).toEqual(expect.arrayContaining([gone.resourceGroupName, rowlessGroup, foreignGroup, 'publisher-app', liveGroup]));

    // Sweep 1: the group of the deleted instance goes at once; the row-less one is only noted.
    local.svc.clock.advance(ORPHAN_SWEEP_INTERVAL_MS);
    await passes(5);
    expect(faultsApplied(local.azure)['resourceGroups.list']).toBe(1);
    expect(names()).not.toContain(gone.resourceGroupName);
    expect(names()).toContain(rowlessGroup);

    // Sweep 2: still within the grace period.
    local.svc.clock.advance(ORPHAN_SWEEP_INTERVAL_MS);
    await passes(3);
    expect(names()).toContain(rowlessGroup);

    // Past the grace period: the row-less group is deleted too.
    local.svc.clock.advance(ORPHAN_GRACE_MS - ORPHAN_SWEEP_INTERVAL_MS);
    await passes(5);
    expect(names()).not.toContain(rowlessGroup);
    expect(faultsApplied(local.azure)['resourceGroups.list']).toBe(3);

    // Untouched: the live instance's group, another installation's group, the publisher's own group.
    expect(names().sort()).toEqual([foreignGroup, liveGroup, 'publisher-app'].sort());
    expect(await capacity(local.svc, 'swept', 'westeurope')).toMatchObject({ hotReady: 1, deleting: 0 });
  });
});
