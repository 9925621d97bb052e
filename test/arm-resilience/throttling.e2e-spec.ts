/**
 * Property 3: throttling and transient ARM errors are absorbed (the SDK honours Retry-After, then our
 * own attempts with backoff), while a persistent authorization error fails fast, shows its code in
 * GET /capacity and is not retried in a hot loop.
 */
import { useLocalService } from '../support/harness';
import { Metrics } from '../../src/metrics/metrics';
import { STEP_RETRY_MS } from '../../modules/azure-resource-manager/provisioning/arm-instance.driver';
import { capacity, CLOUDTRY, emulatedGroups, faultsApplied, instances, publishOffer, startLocalAzureWith, useLocalServiceWith } from './helpers';

describe('throttling and transient ARM errors', () => {
  const local = useLocalService({ start: () => startLocalAzureWith({ deploymentSeconds: 0.1 }) });

  const live = async (offerId: string) => (await instances(local.svc, offerId)).filter((i) => i.state !== 'deleted');

  it('429 and 503 with Retry-After on resource group and deployment PUTs: instances still become ready, nothing counts as failed', async () => {
    const publisher = await local.azure.emulator.createPublisher({});
    const started = Date.now();
    // Faults after the publish (its preflight validates in a scratch resource group): they hit the pool.
    await publishOffer(local.svc, publisher, 'throttled', [{ name: 'westeurope', hot: 2, cold: 0 }]);
    local.azure.emulator.setFaults([
      { operation: 'resourceGroups.createOrUpdate', status: 429, retryAfterSeconds: 1, count: 2 },
      { operation: 'deployments.createOrUpdate', status: 503, retryAfterSeconds: 1, count: 2 },
    ]);
    const c = await local.svc.until(async () => {
      const row = await capacity(local.svc, 'throttled', 'westeurope');
      return row.hotReady === 2 ? row : null;
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After was honoured, not ignored
    expect(faultsApplied(local.azure)).toEqual({ 'resourceGroups.createOrUpdate': 2, 'deployments.createOrUpdate': 2 });
    expect(c).toMatchObject({ failed: 0, consecutiveFailures: 0, lastFailure: null, backoffUntil: null });
    for (const i of await live('throttled')) expect(i).toMatchObject({ state: 'ready', attempts: 1, failure: null });
    expect(emulatedGroups(local.azure, publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name))).toHaveLength(2);
  });

  it('more 503s than the SDK retries: the submit is retried by the pool after a backoff (clock time), then succeeds', async () => {
    const publisher = await local.azure.emulator.createPublisher({});
    // 1 call + 3 SDK retries fail (Retry-After: 0), then two more on our second attempt, then success.
    await publishOffer(local.svc, publisher, 'unavailable', [{ name: 'eastus', hot: 1, cold: 0 }]);
    local.azure.emulator.setFaults([{ operation: 'resourceGroups.createOrUpdate', status: 503, retryAfterSeconds: 0, count: 6 }]);
    const waiting = await local.svc.until(async () => {
      const [i] = await live('unavailable');
      return i && i.attempts === 1 && i.state === 'pending' ? i : null;
    });
    expect(waiting.failure).toMatchObject({ code: 'ServiceUnavailable' });
    expect(waiting.nextActionAt).toBeGreaterThan(local.svc.clock.now());
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(4);
    // Until the clock reaches nextActionAt the pool does not call ARM again.
    for (let n = 0; n < 5; n++) await local.svc.reconcile.reconcileOnce();
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(4);
    const row = await capacity(local.svc, 'unavailable', 'eastus');
    expect(row).toMatchObject({ deploying: 1, failed: 0 });

    local.svc.clock.advance(waiting.nextActionAt! - local.svc.clock.now());
    // The deployment now counts its age from before the jump: it is read every few seconds of clock time.
    await local.svc.until(async () => (await capacity(local.svc, 'unavailable', 'eastus')).hotReady === 1, undefined, { tickMs: 1_000 });
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(6);
    const [ready] = await live('unavailable');
    expect(ready).toMatchObject({ state: 'ready', attempts: 2, failure: null });
    expect((await capacity(local.svc, 'unavailable', 'eastus')).consecutiveFailures).toBe(0);
  });

  it('a persistent 403 AuthorizationFailed fails the instance at once, shows in capacity, and is retried only after the backoff', async () => {
    const publisher = await local.azure.emulator.createPublisher({});
    await publishOffer(local.svc, publisher, 'forbidden', [{ name: 'westus', hot: 2, cold: 0 }]);
    local.azure.emulator.setFaults([{ operation: 'resourceGroups.createOrUpdate', status: 403, errorCode: 'AuthorizationFailed', failureRate: 1 }]);
    const first = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'forbidden', 'westus');
      return c.consecutiveFailures === 2 && c.deleting + c.failed + c.deploying === 0 ? c : null;
    });
    expect(first.lastFailure).toMatchObject({ code: 'AuthorizationFailed' });
    expect(first.lastFailure!.message).toContain('resourceGroups.createOrUpdate');
    expect(first.hotReady).toBe(0);
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(2); // one call per instance: 403 is not retried
    const failedRows = (await instances(local.svc, 'forbidden')).filter((i) => i.failure?.code === 'AuthorizationFailed');
    expect(failedRows.map((i) => i.attempts)).toEqual([1, 1]);

    // No hot loop: many passes later (real time passes too), still two calls.
    for (let n = 0; n < 20; n++) await local.svc.reconcile.reconcileOnce();
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(2);

    // After the backoff: one more round, and the next backoff is longer.
    local.svc.clock.advance(Date.parse(first.backoffUntil!) - local.svc.clock.now() + 1);
    const second = await local.svc.until(async () => {
      const c = await capacity(local.svc, 'forbidden', 'westus');
      return c.consecutiveFailures === 4 && c.deleting + c.failed + c.deploying === 0 ? c : null;
    });
    expect(faultsApplied(local.azure)['resourceGroups.createOrUpdate']).toBe(4);
    expect(Date.parse(second.backoffUntil!) - local.svc.clock.now()).toBeGreaterThan(Date.parse(first.backoffUntil!) - Date.parse(first.lastFailure!.at));
    expect(emulatedGroups(local.azure, publisher.subscriptionId)).toHaveLength(0);
  });

  it('a client secret the tenant no longer accepts (token endpoint 401 invalid_client) surfaces in capacity, without a hot loop', async () => {
    const publisher = await local.azure.emulator.createPublisher({});
    // Published while the tenant still accepts the secret (the publish preflight, issue 13, asks for a token
    // with a credential of its own); the pools' credential asks for its first token only when the pool
    // deploys, by then the tenant refuses it.
    await publishOffer(local.svc, publisher, 'expired-secret', [{ name: 'northeurope', hot: 1, cold: 0 }]);
    local.azure.emulator.setFaults([{ operation: 'token', status: 401, errorCode: 'invalid_client', failureRate: 1 }]);
    const c = await local.svc.until(async () => {
      const row = await capacity(local.svc, 'expired-secret', 'northeurope');
      return row.consecutiveFailures >= 1 ? row : null;
    });
    expect(c.lastFailure!.code).toBe('AuthenticationFailed');
    expect(c.lastFailure!.message).toMatch(/client secret.*invalid_client/s);
    expect((await instances(local.svc, 'expired-secret'))[0]).toMatchObject({ attempts: 1 }); // not retried as if transient
    // Even cleaning up needs a token: the delete step is paced too, not tried on every pass.
    for (let n = 0; n < 3; n++) await local.svc.reconcile.reconcileOnce();
    const calls = faultsApplied(local.azure).token;
    for (let n = 0; n < 10; n++) await local.svc.reconcile.reconcileOnce();
    expect(faultsApplied(local.azure).token).toBe(calls);
    expect(calls).toBeLessThanOrEqual(3);
    local.azure.emulator.setFaults([]);
    local.svc.clock.advance(Math.max(Date.parse(c.backoffUntil!) - local.svc.clock.now(), STEP_RETRY_MS) + 1);
    await local.svc.until(async () => (await capacity(local.svc, 'expired-secret', 'northeurope')).hotReady === 1);
  });
});

describe('ARM throttling by its own token bucket', () => {
  // 4 writes in the bucket, 4 more per second: filling 6 instances (12 writes) must wait for tokens.
  const local = useLocalServiceWith({ deploymentSeconds: 0.1, limits: { throttling: { writes: { bucket: 4, perSecond: 4 } } } });

  it('a pool larger than the write bucket still fills completely, each instance deployed once', async () => {
    await publishOffer(local.svc, local.publisher, 'bucket', [{ name: 'westeurope', hot: 6, cold: 0 }]);
    const c = await local.svc.until(async () => {
      const row = await capacity(local.svc, 'bucket', 'westeurope');
      return row.hotReady === 6 ? row : null;
    }, 60_000);
    expect(c.failed).toBe(0);
    const groups = emulatedGroups(local.azure, local.publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));
    expect(groups).toHaveLength(6);
    for (const g of groups) expect(g.deployments).toHaveLength(1);
  });
});

describe('pool submits at the pace ARM accepts writes', () => {
  // ARM's documented write bucket (200, 10 per second): 120 instances are 240 writes.
  const local = useLocalServiceWith({ deploymentSeconds: 0.1 });
  const throttledWrites = async () =>
    (await local.svc.app.get(Metrics).remoteRequests.get()).values
      .filter((v) => v.labels.service === 'arm' && v.labels.outcome === 'throttled' && /^(PUT|PATCH|POST) /.test(String(v.labels.operation)))
      .reduce((n, v) => n + v.value, 0);

  it('a publish of 2 x 60 hot instances fills without a write answered 429 (ArmWriteBudget), each instance deployed once', async () => {
    await publishOffer(local.svc, local.publisher, 'big', [
      { name: 'westeurope', hot: 60, cold: 0 },
      { name: 'northeurope', hot: 60, cold: 0 },
    ]);
    await local.svc.until(async () => {
      const [a, b] = await Promise.all([capacity(local.svc, 'big', 'westeurope'), capacity(local.svc, 'big', 'northeurope')]);
      return a.hotReady === 60 && b.hotReady === 60;
    }, 90_000, { tickMs: 1_000 });
    expect(await throttledWrites()).toBe(0);
    const groups = emulatedGroups(local.azure, local.publisher.subscriptionId).filter((g) => CLOUDTRY.test(g.name));
    expect(groups).toHaveLength(120);
    for (const g of groups) expect(g.deployments).toHaveLength(1);
  });
});
