import { createHmac, timingSafeEqual } from 'node:crypto';
import { CallbacksService } from '../../src/callbacks/callbacks.service';
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
    // The type's reason, then the estimate (the reason was lost: "Api Error Estimated wait: ...").
    expect(refused.body.error.message).toMatch(/^No test drive instance is available for offer 'queued-arm' \(requested region westeurope\): .+ Estimated wait: about 60 minute\(s\); or send "whenFull": "queue" to wait in line\.$/);
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

  it('marketplace callbacks: a queued request reports its position, then session.ready signed when it is served, once', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'callback-arm', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'callback-arm', 'westeurope')).hotReady === 1);
    const market = await svc.as({ roles: ['TestDrive.Marketplace'] });
    const rx = local.azure.emulator.receivers.create();
    const bad = await market.put('/api/v1/notifications').send({ url: 'http://example.com/x', events: ['session.nope'] }).expect(400);
    expect(bad.body.error.details.map((d: { target: string }) => d.target)).toEqual(expect.arrayContaining(['url', 'events[0]']));
    const reg = await market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready', 'session.ended', 'session.queued.position'] }).expect(201);
    const secret = reg.body.secret as string;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect((await market.get('/api/v1/notifications').expect(200)).body.secret).toBeUndefined();

    const hot = await market.post('/api/v1/offers/callback-arm/sessions').send({ customer, region: 'westeurope' }).expect(201);
    const waiting = await market.post('/api/v1/offers/callback-arm/sessions').send({ customer, region: 'westeurope', whenFull: 'queue' }).expect(202);
    const callbacks = svc.app.get(CallbacksService);
    const flush = async () => {
      await callbacks.collect(svc.clock.now());
      await callbacks.deliverDue();
    };
    await flush();
    await market.delete(`/api/v1/sessions/${hot.body.id}`).expect(202);
    await svc.until(async () => (await market.get(`/api/v1/sessions/${waiting.body.id}`)).body.state === 'ready');
    svc.clock.advance(1);
    await svc.reconcile.reconcileOnce();
    await flush();
    await flush(); // a second pass queues nothing new
    type Hook = { body: { id: string; type: string; session: { id: string; queuePosition?: number } }; headers: Record<string, string> };
    const got = (local.azure.emulator.receivers.get(rx.id)?.received ?? []) as unknown as Hook[];
    const seen = got.map((h) => `${h.body.type}:${h.body.session.id === hot.body.id ? 'hot' : 'queued'}`);
    expect(seen.sort()).toEqual(['session.ended:hot', 'session.queued.position:queued', 'session.ready:hot', 'session.ready:queued'].sort());
    expect(got.find((h) => h.body.type === 'session.queued.position')!.body.session.queuePosition).toBe(1);
    for (const h of got) {
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(h.headers['x-testdrive-signature'])!;
      const want = createHmac('sha256', secret).update(`${m[1]}.${JSON.stringify(h.body)}`).digest();
      expect(timingSafeEqual(want, Buffer.from(m[2], 'hex'))).toBe(true);
      expect(h.headers['idempotency-key']).toBe(h.body.id);
    }
    expect(new Set(got.map((h) => h.body.id)).size).toBe(got.length);
  });
});

