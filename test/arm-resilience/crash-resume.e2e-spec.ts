/**
 * Property 4: the service can stop at any moment and a new process on the same database converges.
 * Service A is stopped while deployments run, a resource group deletion is left undone, a session is
 * due to expire during the outage and one instance is left as if A died between its ARM calls and its
 * database write. Service B, started on A's database, finishes everything: instances ready, the
 * expired session ended on its first pass, the deletion completed, and every CloudTry_ resource group
 * belongs to exactly one live instance (no duplicates, no leftovers).
 */
import { ManualClock } from '../../src/common/clock';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import type { LocalAzure, TestService } from '../support/harness';
import { authedRequest, startService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { capacity, CLOUDTRY, customer, emulatedGroups, groupInstanceProblems, instances, publishOffer, Publisher, startLocalAzureWith } from './helpers';

const HOUR = 3600_000;

describeEachDb('crash and resume on %s', (db) => {
  let azure: LocalAzure;
  let publisher: Publisher;
  let a: TestService | undefined;
  let b: TestService | undefined;

  beforeAll(async () => {
    azure = await startLocalAzureWith({ deploymentSeconds: 0.2 });
    publisher = await azure.emulator.createPublisher({});
  });
  afterAll(async () => {
    azure?.emulator.setFaults([]);
    await b?.close();
    await a?.close();
    await azure?.stop();
  });

  it('service B on A\'s database converges: deployments finish, the expired session ends on the first pass, deletions complete, no duplicate groups', async () => {
    a = await startService(azure, { db });
    await publishOffer(a, publisher, 'resume', [{ name: 'westeurope', hot: 2, cold: 1 }], { durationHours: 1 });
    await a.until(async () => (await capacity(a!, 'resume', 'westeurope')).hotReady === 2);

    // S1: ready, will expire while the service is down.
    const s1 = await a.http.post('/api/v1/offers/resume/sessions').send({ customer }).expect(201);
    expect(s1.body.state).toBe('ready');
    const s1Expires = Date.parse(s1.body.expiresAt);
    a.clock.advance(5 * 60_000); // whatever becomes ready from now on expires after S1
    // S0: ended early, but its resource group deletion cannot be submitted before A stops.
    azure.emulator.setFaults([{ operation: 'resourceGroups.delete', status: 409, errorCode: 'ScopeLocked', failureRate: 1 }]); // a lock, removed later
    const s0 = await a.http.post('/api/v1/offers/resume/sessions').send({ customer: { ...customer, email: 's0@example.com' } }).expect(201);
    await a.http.delete(`/api/v1/sessions/${s0.body.id}`).expect(202);
    await a.reconcile.reconcileOnce();
    const s0Instance = (await instances(a, 'resume')).find((i) => i.sessionId === s0.body.id)!;
    expect(s0Instance.state).toBe('deleting');

    // Slow deployments from here on: A stops while they run.
    azure.emulator.settings.deploymentSeconds = 1;
    const s2Client = a.http.token;
    const s2 = await a.http.post('/api/v1/offers/resume/sessions').send({ customer: { ...customer, email: 's2@example.com' } }).expect(201);
    expect(s2.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    await publishOffer(a, publisher, 'resume-b', [{ name: 'eastus', hot: 3, cold: 0 }]);
    await a.reconcile.reconcileOnce();
    const deploying = (await instances(a, 'resume-b')).filter((i) => i.state === 'deploying');
    expect(deploying).toHaveLength(3);

    // Stop A in the middle of a pass (no waiting for the deployments).
    const inFlight = a.reconcile.reconcileOnce().catch(() => undefined);
    await a.stop(); // its database goes on with B (dropped in afterAll)
    await inFlight;
    azure.emulator.setFaults([]);
    azure.emulator.settings.deploymentSeconds = 0.2; // what A left running keeps its own timing

    // While down, S1's hour runs out (S2, ready or not, has time left), and B starts on the same database.
    expect(s1Expires - Date.parse(s1.body.readyAt)).toBe(HOUR);
    b = await startService(azure, { databaseUrl: a.databaseUrl, clock: new ManualClock(s1Expires + 60_000) });
    // As if A had died between its ARM calls and its database write: the row still says pending.
    const repo = b.app.get(PoolInstanceRepository);
    await repo.repo.update({ id: deploying[0].id }, { state: 'pending' });

    // First pass of B: the expired session is ended (teardown started).
    await b.reconcile.reconcileOnce();
    const s1After = await b.http.get(`/api/v1/sessions/${s1.body.id}`).expect(200);
    expect(['ending', 'ended']).toContain(s1After.body.state);
    expect(s1After.body.endReason).toBe('expired');

    // B converges.
    const diagnose = async () =>
      JSON.stringify({
        instances: (await instances(b!)).map((i) => [i.offerId, i.kind, i.state, i.sessionId?.slice(0, 8), i.failure?.code, i.nextActionAt && i.nextActionAt - b!.clock.now()]),
        sessions: await Promise.all([s0, s1, s2].map(async (s) => (await b!.http.get(`/api/v1/sessions/${s.body.id}`)).body.state)),
        groups: emulatedGroups(azure, publisher.subscriptionId).map((g) => [g.name.slice(0, 14), g.provisioningState, g.deployments.map((d) => d.provisioningState)]),
      });
    await b.until(
      async () => {
        const [x, y] = await Promise.all([capacity(b!, 'resume', 'westeurope'), capacity(b!, 'resume-b', 'eastus')]);
        const sessions = await Promise.all([s0, s1, s2].map((s) => b!.http.get(`/api/v1/sessions/${s.body.id}`)));
        return (
          y.hotReady === 3 &&
          x.hotReady === 2 &&
          x.deleting === 0 &&
          sessions[0].body.state === 'ended' &&
          sessions[1].body.state === 'ended' &&
          sessions[2].body.state === 'ready'
        );
      },
      30_000,
      { tickMs: 1_000 }, // A's deployments are an hour old on B's clock: read every 15 s of clock time (deploymentPollPauseMs)
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${await diagnose()}`);
    });
    expect((await repo.findById(s0Instance.id))!.state).toBe('deleted');
    expect(emulatedGroups(azure, publisher.subscriptionId).some((g) => g.name === s0Instance.resourceGroupName)).toBe(false);
    // Only the marketplace client that started a session gets its access information (issue 8): A's client, now served by B.
    const s2Ready = await authedRequest(b.app.getHttpServer(), s2Client).get(`/api/v1/sessions/${s2.body.id}`).expect(200);
    expect(s2Ready.body.accessInformation).toMatch(/admin\d{5}/);

    // Every CloudTry_ group belongs to exactly one live instance; every live instance has its group.
    expect(await groupInstanceProblems(b, azure, publisher.subscriptionId, 'resume')).toEqual([]);
    expect(await groupInstanceProblems(b, azure, publisher.subscriptionId, 'resume-b')).toEqual([]);
    const groups = emulatedGroups(azure, publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));
    const live = (await instances(b)).filter((i) => i.state !== 'deleted');
    expect(groups.map((g) => g.name).sort()).toEqual(live.map((i) => i.resourceGroupName).sort());
    // The instance that was re-submitted still has one deployment (same name: no second copy).
    const again = groups.find((g) => g.name === deploying[0].resourceGroupName)!;
    expect(again.deployments).toHaveLength(1);
    expect(again.deployments[0].provisioningState).toBe('Succeeded');
  });
});
