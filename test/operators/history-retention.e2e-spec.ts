import { randomUUID } from 'node:crypto';
import { CallbacksService } from '../../src/callbacks/callbacks.service';
import { IncidentsRepository } from '../../src/escalation/incidents.repository';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import { describeEachDb } from '../support/postgres';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

const DAY = 86_400_000;

/**
 * HISTORY_RETENTION_DAYS (default 30): the finished history of the delivery machinery is removed by the
 * leader (callback events and alert notifications sent or given up) and by the ARM type (instances whose
 * resource group was deleted), hourly; what is pending or recent stays, and so do sessions, leads and
 * incidents (defect: these tables only grew: every session left a deleted instance row and its events forever).
 */
describeEachDb('history retention on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db });

  it('removes sent and given-up messages and deleted instances older than the retention, and nothing else', async () => {
    const svc = local.svc;
    expect(svc.config.historyRetentionMs).toBe(30 * DAY);
    await publishOffer(svc, local.publisher, 'history-arm', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'history-arm', 'westeurope')).hotReady === 1);
    const market = await svc.as({ roles: ['TestDrive.Marketplace'] });
    const rx = local.azure.emulator.receivers.create();
    await market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready', 'session.ended'] }).expect(201);
    const callbacks = svc.app.get(CallbacksService);
    const flush = async () => {
      await callbacks.collect(svc.clock.now());
      await callbacks.deliverDue();
    };

    // A session that ends: its instance is deleted, its two events sent.
    const started = (await market.post('/api/v1/offers/history-arm/sessions').send({ customer, region: 'westeurope' }).expect(201)).body.id as string;
    await flush();
    await market.delete(`/api/v1/sessions/${started}`).expect(202);
    await svc.until(async () => {
      await svc.reconcile.reconcileOnce();
      return (await market.get(`/api/v1/sessions/${started}`)).body.state === 'ended';
    });
    await flush();
    const pool = svc.app.get(PoolInstanceRepository);
    const deleted = await pool.repo.findOneByOrFail({ sessionId: started });
    expect(deleted.state).toBe('deleted');
    const sent = await callbacks.events.findBy({ sessionId: started });
    expect(sent.map((e) => e.state).sort()).toEqual(['sent', 'sent']);

    // Alert notifications: one sent and one given up long ago, one still pending (from as long ago), one sent today.
    const incidents = svc.app.get(IncidentsRepository);
    const t0 = svc.clock.now();
    const note = (state: 'pending' | 'sent' | 'failed', at: number, target: string) => ({
      id: randomUUID(), incidentId: randomUUID(), offerId: 'history-arm', event: 'opened' as const, channel: 'email' as const, target,
      state, attempts: 1, nextAttemptAt: at, lockedBy: null, lockedUntil: null, lastError: null, sentAt: state === 'sent' ? at : null, createdAt: at, updatedAt: at,
    });
    const oldSent = note('sent', t0 - DAY, 'a@example.com');
    const oldFailed = note('failed', t0 - DAY, 'b@example.com');
    const oldPending = note('pending', t0 + 40 * DAY, 'c@example.com'); // not due yet: never removed
    await incidents.notifications.insert([oldSent, oldFailed, oldPending]);

    await svc.until(async () => (await capacity(svc, 'history-arm', 'westeurope')).hotReady === 1); // the replacement
    const live = (await pool.repo.findBy({ offerId: 'history-arm' })).filter((i) => i.state !== 'deleted').map((i) => i.id);
    expect(live.length).toBeGreaterThan(0);

    // 30 days on: nothing is old enough yet (the session's history is exactly 30 days old, the others 31).
    svc.clock.advance(30 * DAY - 1_000);
    await flush(); // the leader's callback scan runs before the purge in each tick
    const first = await svc.reconcile.purgeHistory();
    expect(first).toEqual({ callbackEvents: 0, alertNotifications: 2 });
    svc.clock.advance(2 * DAY);
    const fresh = note('sent', svc.clock.now(), 'd@example.com');
    await incidents.notifications.insert([fresh]);
    await flush();
    expect(await svc.reconcile.purgeHistory()).toEqual({ callbackEvents: 2, alertNotifications: 0 });
    expect((await incidents.notifications.find()).map((n) => n.target).sort()).toEqual(['c@example.com', 'd@example.com']);
    expect(await callbacks.events.countBy({ sessionId: started })).toBe(0);

    // The ARM type removes the deleted instance on its next pass; the session stays, ended.
    await svc.reconcile.reconcileOnce();
    expect(await pool.repo.findOneBy({ id: deleted.id })).toBeNull();
    expect((await market.get(`/api/v1/sessions/${started}`).expect(200)).body).toMatchObject({ state: 'ended', region: 'westeurope', instanceKind: 'hot' });
    // The live pool is untouched: its other instances are all still there.
    expect(await pool.repo.countBy(live.map((id) => ({ id })))).toBe(live.length);

    // Nothing queues the removed events again.
    await flush();
    expect(await callbacks.events.countBy({ sessionId: started })).toBe(0);
  });

  it('never removes an event the next callback scan could queue again (the scan has not run for longer than the retention)', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'stale-cursor', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'stale-cursor', 'westeurope')).hotReady === 1);
    const market = await svc.as({ roles: ['TestDrive.Marketplace'] });
    const rx = local.azure.emulator.receivers.create();
    await market.put('/api/v1/notifications').send({ url: rx.url, events: ['session.ready'] }).expect(201);
    const callbacks = svc.app.get(CallbacksService);
    const id = (await market.post('/api/v1/offers/stale-cursor/sessions').send({ customer, region: 'westeurope' }).expect(201)).body.id as string;
    await callbacks.collect(svc.clock.now());
    await callbacks.deliverDue();
    expect((await callbacks.events.findBy({ sessionId: id })).map((e) => e.state)).toEqual(['sent']);
    // The scan's cursor stays where it was (its pass failed for 31 days, say); the purge leaves what the scan would see again.
    svc.clock.advance(31 * DAY);
    expect((await svc.reconcile.purgeHistory()).callbackEvents).toBe(0);
    await callbacks.collect(svc.clock.now());
    expect(await callbacks.events.countBy({ sessionId: id })).toBe(1);
    // Once the scan has moved on, it goes.
    svc.clock.advance(DAY);
    await callbacks.collect(svc.clock.now());
    expect((await svc.reconcile.purgeHistory()).callbackEvents).toBeGreaterThanOrEqual(1);
    await callbacks.collect(svc.clock.now());
    expect(await callbacks.events.countBy({ sessionId: id })).toBe(0);
  });
});
