import { createHmac, timingSafeEqual } from 'node:crypto';
import { CallbacksService } from '../../src/callbacks/callbacks.service';
import { describeEachDb } from '../support/postgres';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

type Hook = { body: { id: string; type: string; session: { id: string } }; headers: Record<string, string> };

/** The receiver's check: `t=<s>,v1=<hex>[,v1=<hex>]`; which of `secrets` signed it (each v1 verified on its own). */
function signers(hook: Hook, secrets: Record<string, string>): string[] {
  const parts = hook.headers['x-testdrive-signature'].split(',');
  expect(parts[0]).toMatch(/^t=\d+$/);
  const t = parts[0].slice(2);
  const macs = parts.slice(1).map((p) => {
    expect(p).toMatch(/^v1=[0-9a-f]{64}$/);
    return Buffer.from(p.slice(3), 'hex');
  });
  const body = JSON.stringify(hook.body);
  return macs.map((mac) => {
    const who = Object.entries(secrets).find(([, s]) => timingSafeEqual(createHmac('sha256', s).update(`${t}.${body}`).digest(), mac));
    return who ? who[0] : 'unknown';
  });
}

/**
 * Marketplace callbacks keep their signing secret: a PUT that changes the URL or the events keeps it
 * (it issued a new one each time, so the receiver could no longer verify anything until it was updated);
 * POST /notifications/rotate-secret issues a new one and signs with both for the overlap asked for
 * (whole hours, Stripe's scheme: one v1 per secret), then with the new one only.
 */
describeEachDb('marketplace callback secret on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db });

  it('keeps the secret across PUTs, rotates on request with an overlap, and survives concurrent first registrations', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'secret-arm', [{ name: 'westeurope', hot: 2, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'secret-arm', 'westeurope')).hotReady === 2);
    const market = await svc.as({ roles: ['TestDrive.Marketplace'] });
    const rx = local.azure.emulator.receivers.create();
    const callbacks = svc.app.get(CallbacksService);
    const flush = async () => {
      await callbacks.collect(svc.clock.now());
      await callbacks.deliverDue();
    };
    let seen = 0;
    const delivered = () => {
      const all = (local.azure.emulator.receivers.get(rx.id)?.received ?? []) as unknown as Hook[];
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    };
    const start = async () => (await market.post('/api/v1/offers/secret-arm/sessions').send({ customer, region: 'westeurope' }).expect(201)).body.id as string;
    const end = async (id: string) => {
      await market.delete(`/api/v1/sessions/${id}`).expect(202);
      await svc.until(async () => {
        await svc.reconcile.reconcileOnce();
        return (await market.get(`/api/v1/sessions/${id}`)).body.state === 'ended';
      });
    };

    // Nothing to rotate before a registration.
    expect((await market.post('/api/v1/notifications/rotate-secret').send({}).expect(404)).body.error.code).toBe('NotificationsNotFound');

    const first = await market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready'] }).expect(201);
    const s1 = first.body.secret as string;
    expect(s1.length).toBeGreaterThanOrEqual(32);
    const a = await start();
    await flush();
    expect(delivered().map((h) => [h.body.type, signers(h, { s1 })])).toEqual([['session.ready', ['s1']]]);

    // A second PUT (more events): 200, no new secret, and deliveries are still signed with the first.
    const second = await market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready', 'session.ended'] }).expect(200);
    expect(second.body.secret).toBeUndefined();
    expect(second.body.events).toEqual(['session.ready', 'session.ended']);
    await end(a);
    await flush();
    expect(delivered().map((h) => [h.body.type, signers(h, { s1 })])).toEqual([['session.ended', ['s1']]]);

    // Bad bodies name the field and the rule, and change nothing.
    for (const body of [{ previousSecretHours: 1.5 }, { previousSecretHours: 73 }, { previousSecretHours: -1 }, { other: 1 }]) {
      const bad = await market.post('/api/v1/notifications/rotate-secret').send(body).expect(400);
      expect(bad.body.error.details.map((d: { target: string }) => d.target)).toEqual([Object.keys(body)[0]]);
    }

    // Rotation: a new secret, the old one signs too for the overlap (one v1 each, the new one first).
    const rotated = await market.post('/api/v1/notifications/rotate-secret').send({ previousSecretHours: 1 }).expect(200);
    const s2 = rotated.body.secret as string;
    expect(s2).not.toBe(s1);
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBe(svc.clock.now() + 3_600_000);
    const shown = (await market.get('/api/v1/notifications').expect(200)).body;
    expect(shown.secret).toBeUndefined();
    expect(shown.previousSecretExpiresAt).toBe(rotated.body.previousSecretExpiresAt);
    const b = await start();
    await flush();
    expect(delivered().map((h) => [h.body.type, signers(h, { s1, s2 })])).toEqual([['session.ready', ['s2', 's1']]]);

    // After the overlap (the session's hour is over too: it ends by itself): the new secret only.
    svc.clock.advance(3_600_000 + 1);
    await svc.until(async () => {
      await svc.reconcile.reconcileOnce();
      return (await market.get(`/api/v1/sessions/${b}`)).body.state === 'ended';
    });
    await flush();
    const late = delivered();
    expect(late.length).toBeGreaterThan(0);
    for (const h of late) expect(signers(h, { s1, s2 })).toEqual(['s2']);
    expect((await market.get('/api/v1/notifications').expect(200)).body.previousSecretExpiresAt).toBeNull();

    // Without an overlap (0 hours) the old secret stops at once.
    const third = await market.post('/api/v1/notifications/rotate-secret').send({ previousSecretHours: 0 }).expect(200);
    expect(third.body.previousSecretExpiresAt).toBeNull();

    // Two first registrations at once (the client had none): one 201 with the secret, one 200 without; never a 500.
    await market.delete('/api/v1/notifications').expect(204);
    const both = await Promise.all([0, 1].map(() => market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready'] })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 201]);
    expect(both.filter((r) => r.body.secret).length).toBe(1);

    // Operators see who registered, changed, rotated and removed, without a secret or the URL (it may carry a key).
    const ops = await svc.as({ roles: ['TestDrive.Operator'] });
    const trail = (await ops.get('/api/v1/audit?limit=500').expect(200)).body.value as Array<{ action: string; actor: { clientId: string }; target: { type: string }; details: unknown }>;
    const mine = trail.filter((e) => e.target.type === 'notifications').map((e) => e.action).reverse();
    expect(mine.slice(0, 5)).toEqual(['notifications.registered', 'notifications.updated', 'notifications.secret-rotated', 'notifications.secret-rotated', 'notifications.removed']);
    expect(mine.slice(5).sort()).toEqual(['notifications.registered', 'notifications.updated']); // the two PUTs at once, in either order
    const text = JSON.stringify(trail);
    for (const secret of [s1, s2, third.body.secret as string]) expect(text).not.toContain(secret);
    expect(text).not.toContain(rx.url);
  });
});
