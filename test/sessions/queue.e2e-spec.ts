import { describeEachDb } from '../support/postgres';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

type View = { id: string; state: string; queuePosition: number | null; estimatedReadyAt: string | null; instanceKind: string | null; endReason: string | null; failure: { code: string } | null };

/**
 * Issue 12, the queue: with "whenFull": "queue" a start that finds nothing free waits (202, queued,
 * position and estimate) and is served first in, first out by the reconcile loop when capacity frees;
 * without it the 409 NoCapacity carries Retry-After; queued requests can be cancelled, time out after
 * QUEUE_MAX_WAIT_MINUTES, and the queue has a length limit.
 */
describeEachDb('start queue on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db, env: { QUEUE_MAX_LENGTH: '3' } });

  it('queues, serves in order as capacity frees, cancels, times out, and refuses beyond the length limit', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'queued-arm', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'queued-arm', 'westeurope')).hotReady === 1);
    const market = await svc.as('marketplace');
    const start = (extra: Record<string, unknown> = {}, key?: string) => {
      const r = market.post('/api/v1/offers/queued-arm/sessions');
      return (key ? r.set('Idempotency-Key', key) : r).send({ customer, region: 'westeurope', ...extra });
    };
    const get = async (id: string) => (await market.get(`/api/v1/sessions/${id}`).expect(200)).body as View;

    const hot = await start().expect(201);
    expect(hot.body).toMatchObject({ state: 'ready', instanceKind: 'hot', queuePosition: null, estimatedReadyAt: null });

    // Refused: 409 with Retry-After, the estimate of the wait (the hot session's hour + a deployment).
    const refused = await start().expect(409);
    expect(refused.body.error.code).toBe('NoCapacity');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(3590);
    expect(retryAfter).toBeLessThanOrEqual(3600);

    // Queued: 202, positions 1 and 2, estimates in order; a retry with the key gets the same session.
    const q1 = await start({ whenFull: 'queue' }, 'q1').expect(202);
    expect(q1.body).toMatchObject({ state: 'queued', queuePosition: 1 });
    expect(Date.parse(q1.body.estimatedReadyAt)).toBeGreaterThan(svc.clock.now());
    svc.clock.advance(1);
    const q2 = await start({ whenFull: 'queue' }).expect(202);
    expect(q2.body.queuePosition).toBe(2);
    expect(Date.parse(q2.body.estimatedReadyAt)).toBeGreaterThan(Date.parse(q1.body.estimatedReadyAt));
    const replay = await start({ whenFull: 'queue' }, 'q1').expect(200);
    expect(replay.body.id).toBe(q1.body.id);
    svc.clock.advance(1);
    const q3 = await start({ whenFull: 'queue' }).expect(202);
    expect(q3.body.queuePosition).toBe(3);
    // The limit (QUEUE_MAX_LENGTH=3): 409 QueueFull.
    const full = await start({ whenFull: 'queue' }).expect(409);
    expect(full.body.error.code).toBe('QueueFull');

    // Passes while nothing frees serve nothing.
    await svc.reconcile.reconcileOnce();
    expect((await get(q1.body.id)).state).toBe('queued');

    // The hot session ends: its instance goes, a new hot instance is deployed and q1 gets it on its own.
    await market.delete(`/api/v1/sessions/${hot.body.id}`).expect(202);
    const served = await svc.until(async () => {
      const v = await get(q1.body.id);
      return v.state === 'ready' ? v : null;
    });
    expect(served).toMatchObject({ instanceKind: 'hot', queuePosition: null });
    expect((await get(q2.body.id)).queuePosition).toBe(1);
    expect((await get(q3.body.id)).queuePosition).toBe(2);

    // Cancel q2 (DELETE while queued): ended at once; q3 moves up.
    const cancelled = await market.delete(`/api/v1/sessions/${q2.body.id}`).expect(202);
    expect(cancelled.body).toMatchObject({ state: 'ended', endReason: 'ended' });
    expect((await get(q3.body.id)).queuePosition).toBe(1);

    // q3 waits longer than QUEUE_MAX_WAIT_MINUTES (60): it ends expired with QueueTimeout.
    svc.clock.advance(61 * 60_000);
    await svc.reconcile.reconcileOnce();
    const timedOut = await get(q3.body.id);
    expect(timedOut).toMatchObject({ state: 'ended', endReason: 'expired', failure: { code: 'QueueTimeout' } });
  });
});
