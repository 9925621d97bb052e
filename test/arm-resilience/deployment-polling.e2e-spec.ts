/**
 * Reads of running deployments stay within ARM's read limit (bucket 250, 25 reads/s per subscription
 * and principal): a pool refill that nobody waits for is read after a pause growing with its age (a
 * quarter of it, at most 10 s of clock time), not on every reconcile pass; an instance a customer waits
 * for (cold), or any deployment of an offer with a queued request, is still read every pass. Found on
 * `npm start`: 73 deployment GETs for 4 deployments of 20 s.
 */
import { DEPLOYMENT_POLL_MAX_MS } from '../../modules/azure-resource-manager/provisioning/backoff';
import { STEP_RETRY_MS } from '../../modules/azure-resource-manager/provisioning/arm-instance.driver';
import { POOL_READS_PER_PASS } from '../../modules/azure-resource-manager/arm-test-drive.type';
import { describeEachDb } from '../support/postgres';
import type { TestService } from '../support/harness';
import { capacity, customer, instances, publishOffer, sleep, useLocalServiceWith } from './helpers';

/** `testdrive_remote_requests_total` of ARM calls by operation (e.g. `GET resourcegroups`, `DELETE resourcegroups`): the service's own count. */
async function armCalls(local: ReturnType<typeof useLocalServiceWith>, operation: string): Promise<number> {
  const text = (await (await local.svc.as('operator')).get('/metrics').expect(200)).text;
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('testdrive_remote_requests_total{') && line.includes('service="arm"') && line.includes(`operation="${operation}"`)) n += Number(line.split(' ').pop());
  }
  return n;
}

/** The deployment GETs. */
const deploymentReads = (local: ReturnType<typeof useLocalServiceWith>) => armCalls(local, 'GET resourcegroups/deployments');

/** `n` reconcile passes, the clock moved on `tickMs` before each (as the 1 s tick would). */
async function passes(svc: TestService, n: number, tickMs = 1_000): Promise<void> {
  for (let k = 0; k < n; k++) {
    svc.clock.advance(tickMs);
    await svc.reconcile.reconcileOnce();
  }
}

describeEachDb('polling of running deployments on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.1 }, { db });
  const DEPLOYMENT_SECONDS = 10; // real time: 60 passes take well under that, even on a busy CI machine

  it('a hot refill is read about 17 times in 60 s of clock time (not 60), and is ready within 10 s of clock time after ARM finished it', async () => {
    const svc = local.svc;
    local.azure.emulator.settings.deploymentSeconds = DEPLOYMENT_SECONDS; // the pool's deployments run DEPLOYMENT_SECONDS (real time)
    await publishOffer(svc, local.publisher, 'polled', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await instances(svc, 'polled')).some((i) => i.state === 'deploying'));
    const submitted = Date.now();

    const before = await deploymentReads(local);
    await passes(svc, 60);
    expect(Date.now() - submitted).toBeLessThan(DEPLOYMENT_SECONDS * 1000); // still running in the emulator throughout
    const reads = (await deploymentReads(local)) - before;
    expect(reads).toBeGreaterThanOrEqual(5);
    expect(reads).toBeLessThanOrEqual(22); // read on every 1 s pass: 60
    const [waiting] = (await instances(svc, 'polled')).filter((i) => i.state === 'deploying');
    expect(waiting.nextActionAt).toBeGreaterThan(svc.clock.now());
    expect(waiting.nextActionAt! - svc.clock.now()).toBeLessThanOrEqual(DEPLOYMENT_POLL_MAX_MS);

    // ARM finishes the deployment; the pool notices within one pause.
    await sleep(DEPLOYMENT_SECONDS * 1000 - (Date.now() - submitted) + 200);
    let waited = 0;
    while ((await capacity(svc, 'polled', 'westeurope')).hotReady === 0) {
      expect(waited).toBeLessThanOrEqual(DEPLOYMENT_POLL_MAX_MS);
      await passes(svc, 1);
      waited += 1_000;
    }
    local.azure.emulator.settings.deploymentSeconds = 0.1;
  });

  it('the age counts from the submit: a deployment submitted a minute after its instance was made (throttled writes) is read every pass at first', async () => {
    const svc = local.svc;
    local.azure.emulator.settings.deploymentSeconds = 3600;
    await publishOffer(svc, local.publisher, 'late-submit', [{ name: 'westus', hot: 1, cold: 0 }]);
    // The first submit fails (1 call + 3 SDK retries): the instance waits, pending, for a minute of clock time.
    local.azure.emulator.setFaults([{ operation: 'resourceGroups.createOrUpdate', status: 503, retryAfterSeconds: 0, count: 4 }]);
    const [pending] = await svc.until(async () => {
      const rows = (await instances(svc, 'late-submit')).filter((i) => i.state === 'pending' && i.attempts === 1);
      return rows.length ? rows : null;
    });
    svc.clock.advance(60_000);
    await svc.until(async () => (await instances(svc, 'late-submit')).some((i) => i.id === pending.id && i.state === 'deploying'));
    const before = await deploymentReads(local);
    await passes(svc, 4);
    expect((await deploymentReads(local)) - before).toBe(4); // from the instance's creation: 60 s old, one read in 10 s
    local.azure.emulator.setFaults([]);
    local.azure.emulator.settings.deploymentSeconds = 0.1;
  });

  it('while a request of the offer is queued, its running deployments are read on every pass again', async () => {
    const svc = local.svc;
    local.azure.emulator.settings.deploymentSeconds = 3600;
    await publishOffer(svc, local.publisher, 'queued-for', [{ name: 'centralus', hot: 1, cold: 0 }]);
    await svc.until(async () => (await instances(svc, 'queued-for')).some((i) => i.state === 'deploying'));
    svc.clock.advance(60_000); // a minute into the deployment: read every 10 s
    await svc.reconcile.reconcileOnce();
    const [paused] = await instances(svc, 'queued-for');
    expect(paused.nextActionAt! - svc.clock.now()).toBe(DEPLOYMENT_POLL_MAX_MS);

    await svc.http.post('/api/v1/offers/queued-for/sessions').send({ region: 'centralus', customer, whenFull: 'queue' }).expect(202);
    const before = await deploymentReads(local);
    await passes(svc, 4);
    expect((await deploymentReads(local)) - before).toBe(4);

    // A failed read still waits out its own pause (STEP_RETRY_MS), queue or not: the instance is not stepped again.
    local.azure.emulator.setFaults([{ operation: 'deployments.get', status: 403, errorCode: 'AuthorizationFailed', failureRate: 1 }]);
    await passes(svc, 1);
    const [failedRead] = await instances(svc, 'queued-for');
    expect(failedRead.nextActionAt! - svc.clock.now()).toBe(STEP_RETRY_MS);
    await passes(svc, 10);
    const [after] = await instances(svc, 'queued-for');
    expect(after).toMatchObject({ state: 'deploying', updatedAt: failedRead.updatedAt, nextActionAt: failedRead.nextActionAt });
    local.azure.emulator.setFaults([]);
    local.azure.emulator.settings.deploymentSeconds = 0.1;
  });

  it('a cold instance (a customer waits) is read on every pass, whatever its age', async () => {
    const svc = local.svc;
    local.azure.emulator.settings.deploymentSeconds = 3600;
    await publishOffer(svc, local.publisher, 'waited-for', [{ name: 'northeurope', hot: 0, cold: 1 }]);
    await svc.http.post('/api/v1/offers/waited-for/sessions').send({ region: 'northeurope', customer }).expect(201);
    await svc.until(async () => (await instances(svc, 'waited-for')).some((i) => i.kind === 'cold' && i.state === 'deploying'));
    for (let s = 0; s < 30; s++) {
      await passes(svc, 1);
      const [cold] = (await instances(svc, 'waited-for')).filter((i) => i.kind === 'cold');
      expect(cold).toMatchObject({ state: 'deploying', nextActionAt: null });
    }
    local.azure.emulator.settings.deploymentSeconds = 0.1;
  });
});

describeEachDb('reads of running pool deployments per pass on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 3600 }, { db });

  it('one pass reads at most POOL_READS_PER_PASS running pool deployments of a subscription; the next passes read the others first', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'many', [{ name: 'eastus2', hot: 30, cold: 0 }]);
    await svc.until(async () => (await instances(svc, 'many')).filter((i) => i.state === 'deploying').length === 30);
    svc.clock.advance(60_000); // a minute old: each read sets a pause, so every instance is read once before any twice
    const readAt = new Map<string, number>();
    for (let pass = 1; pass <= 2; pass++) {
      const before = await deploymentReads(local);
      await svc.reconcile.reconcileOnce();
      const reads = (await deploymentReads(local)) - before;
      const read = (await instances(svc, 'many')).filter((i) => i.updatedAt === svc.clock.now());
      for (const i of read) readAt.set(i.id, pass);
      expect([reads, read.length]).toEqual(pass === 1 ? [POOL_READS_PER_PASS, POOL_READS_PER_PASS] : [10, 10]);
      svc.clock.advance(1_000);
    }
    expect(readAt.size).toBe(30);
  });

  it('with the clock standing still (no pauses), the passes take the instances in turn', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'many-still', [{ name: 'westus2', hot: 30, cold: 0 }]);
    await svc.until(async () => (await instances(svc, 'many-still')).filter((i) => i.state === 'deploying').length === 30);
    local.azure.emulator.settings.deploymentSeconds = 0;
    // The 30 deployments above still run an hour; these 30 finish at once, and all are read within two passes.
    await publishOffer(svc, local.publisher, 'many-done', [{ name: 'westus3', hot: 30, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'many-done', 'westus3')).hotReady === 30, 30_000);
    local.azure.emulator.settings.deploymentSeconds = 3600;
  });
});

describeEachDb('reads of resource groups being deleted per pass on %s', (db) => {
  // Deletions take half a deployment: half an hour here, so every deleting instance is read again and again.
  const local = useLocalServiceWith({ deploymentSeconds: 3600 }, { db });

  it('an unpublish of 30 instances reads at most POOL_READS_PER_PASS resource groups a pass, and every group\'s deletion is still submitted', async () => {
    // Found measuring an unpublish of 4 x 99 hot on `npm start`: every deleting group was read on every pass,
    // 507 of 1,536 reads answered 429 and passes took 5 to 30 s.
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'going', [{ name: 'centralus', hot: 30, cold: 0 }]);
    await svc.until(async () => (await instances(svc, 'going')).filter((i) => i.state === 'deploying').length === 30);
    const deletesBefore = await armCalls(local, 'DELETE resourcegroups'); // the publish's preflight group
    await svc.http.post('/api/v1/offers/going/unpublish').expect(200);
    const perPass: number[] = [];
    for (let pass = 0; pass < 4; pass++) {
      const before = (await armCalls(local, 'GET resourcegroups')) + (await deploymentReads(local));
      await passes(svc, 1);
      perPass.push((await armCalls(local, 'GET resourcegroups')) + (await deploymentReads(local)) - before);
    }
    expect(Math.max(...perPass)).toBeLessThanOrEqual(POOL_READS_PER_PASS);
    expect((await armCalls(local, 'DELETE resourcegroups')) - deletesBefore).toBe(30);
    expect((await instances(svc, 'going')).filter((i) => i.state === 'deleting')).toHaveLength(30);
  });
});
