import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { AuditService } from '../../src/audit/audit.service';
import { AZURE_MAX_SOCKETS_PER_HOST } from '../../src/azure/azure-runtime';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import { LeadsService } from '../../src/leads/leads.service';
import { AsyncResource } from 'node:async_hooks';
import { ChangeWatch } from '../../src/scheduling/change-watch';
import { describeEachDb } from '../support/postgres';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

/**
 * Issue 14, defects found by measuring hot starts at load:
 *  1. the request re-read the session it had just written and recorded its audit event in a transaction of its own;
 *  2. the resource group tag after each claim opened a connection (TLS handshake) per call in a burst;
 *  3. every reconcile pass looked up the session of every assigned instance;
 *  4. the tag after a claim read the instance again, and a start on an offer without a lead destination ran a delivery pass;
 *  5. once the offer's first region ran out of hot instances, every start there asked the pool again whether any was
 *     ready (a query built by TypeORM, 5 % of the service's CPU at 20 concurrent starts) before trying the next region;
 *  6. the capacity view, which the leader's escalation pass reads every 15 s, loaded every live instance of the offer
 *     (with 1,250 assigned sessions idle, bursts of about 5 MB of garbage and the collections they cost);
 *  7. every request went through a global Nest interceptor (the change mark for the reconcile loop): two
 *     AsyncResource.bind (on Node 20 each defines two deprecation wrappers) and an rxjs chain per request;
 *  8. the reconcile tick refilled a pool one instance at a time: per missing instance a SELECT of every slot of
 *     the pool and an INSERT (at 100 hot starts/s on PostgreSQL, about 200 statements in a burst at each tick,
 *     which the hot starts of that moment queued behind).
 */
describeEachDb('hot path and due work on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db });

  /** Publishes `offerId` with `hot` hot instances in `region`, waits until all are ready, then lets passes settle. */
  async function settledHotPool(offerId: string, region: string, hot: number): Promise<void> {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, offerId, [{ name: region, hot, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, offerId, region)).hotReady === hot, 60_000);
    for (let i = 0; i < 3; i++) await svc.reconcile.reconcileOnce();
  }

  it('a hot start writes session, lead, audit event and claim in one transaction and re-reads nothing; a burst reuses connections', async () => {
    const svc = local.svc;
    await settledHotPool('hot-path', 'westeurope', 24);
    const sessions = svc.app.get(SessionsRepository);
    const audit = svc.app.get(AuditService);
    const reread = jest.spyOn(sessions, 'findById');
    const separateAudit = jest.spyOn(audit, 'record');
    const pool = svc.app.get(PoolInstanceRepository);
    const readAgain = jest.spyOn(pool, 'findByIds');
    const leadPass = jest.spyOn(svc.app.get(LeadsService), 'deliverSoon');
    const before = local.azure.emulator.tlsHandshakes();
    try {
      const starts = await Promise.all(Array.from({ length: 24 }, (_, i) => svc.http.post('/api/v1/offers/hot-path/sessions').send({ customer: { ...customer, email: `burst${i}@example.com` } })));
      expect(starts.map((r) => `${r.status} ${r.body.state} ${r.body.instanceKind}`)).toEqual(Array(24).fill('201 ready hot'));
      expect(reread).not.toHaveBeenCalled();
      expect(separateAudit).not.toHaveBeenCalled();
      // One audit event per start, written with it.
      const events = await audit.list({ offerId: 'hot-path', action: 'session.started', limit: 100 });
      expect(events).toHaveLength(24);
      // The tags after the claims land (batched, off the request path) ...
      await svc.until(async () => (await pool.listLive('hot-path')).filter((i) => i.state === 'assigned' && i.sessionTaggedAt !== null).length === 24, 30_000);
      // ... with what the claims returned: no instance is read again to tag it.
      expect(readAgain).not.toHaveBeenCalled();
      // The offer has no lead destination: its leads wait for one, no delivery pass runs for them.
      expect(leadPass).not.toHaveBeenCalled();
      // ... over a bounded number of connections: not one handshake per call.
      expect(local.azure.emulator.tlsHandshakes() - before).toBeLessThanOrEqual(AZURE_MAX_SOCKETS_PER_HOST);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('a reconcile pass with many assigned instances and nothing due reads no session per instance; an ended session still frees its instance', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'due-work', [{ name: 'northeurope', hot: 12, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'due-work', 'northeurope')).hotReady === 12, 60_000);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await svc.http.post('/api/v1/offers/due-work/sessions').send({ customer: { ...customer, email: `due${i}@example.com` } }).expect(201)).body.id as string);
    // The replacements deploy and settle; then passes have nothing to do.
    for (let i = 0; i < 5; i++) await svc.reconcile.reconcileOnce();
    const sessions = svc.app.get(SessionsRepository);
    const lookups = jest.spyOn(sessions, 'findById');
    try {
      for (let i = 0; i < 5; i++) await svc.reconcile.reconcileOnce();
      expect(lookups).not.toHaveBeenCalled();
    } finally {
      lookups.mockRestore();
    }
    // An ended session's instance is still deleted (endSession, then the due 'deleting' steps).
    await svc.http.delete(`/api/v1/sessions/${ids[0]}`).expect(202);
    const ended = await svc.until(async () => {
      const r = await svc.http.get(`/api/v1/sessions/${ids[0]}`).expect(200);
      return r.body.state === 'ended' ? r.body : null;
    }, 30_000);
    expect(ended.endReason).toBe('ended');
  });

  it('a reconcile pass refills a pool in one transaction: the slots read once, the missing instances inserted in one statement', async () => {
    const svc = local.svc;
    await settledHotPool('refill', 'westeurope', 12);
    const pool = svc.app.get(PoolInstanceRepository);
    // Three instances leave the pool at once (as after their sessions ended): their slots are free.
    const gone = (await pool.listLive('refill')).slice(0, 3);
    for (const inst of gone) {
      expect(await pool.transition(inst.id, ['ready'], { state: 'deleting' }, svc.clock.now())).toBe(true);
      expect(await pool.markDeleted(inst.id, svc.clock.now())).toBe(true);
    }
    const inserts = jest.spyOn(pool.repo, 'insert');
    const slotReads = jest.spyOn(pool.repo, 'find');
    const reserved = jest.spyOn(pool, 'reserveMany');
    try {
      await svc.reconcile.reconcileOnce();
      expect(inserts).not.toHaveBeenCalled();
      expect(slotReads.mock.calls.filter(([opts]) => JSON.stringify(opts?.select ?? {}) === '{"slot":true}')).toHaveLength(0);
      expect(reserved).toHaveBeenCalledTimes(1);
      expect(reserved.mock.calls[0][1]).toBe(3);
      const created = await reserved.mock.results[0].value;
      expect(created.map((i: { slot: number | null }) => i.slot).sort()).toEqual(gone.map((i) => i.slot).sort());
    } finally {
      jest.restoreAllMocks();
    }
    await svc.until(async () => (await capacity(svc, 'refill', 'westeurope')).hotReady === 12, 60_000);
  });

  it('a start whose first region has no hot instance left claims in the next region without asking the pool again', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'drained', [
      { name: 'westeurope', hot: 2, cold: 0 },
      { name: 'northeurope', hot: 3, cold: 0 },
    ]);
    await svc.until(async () => (await capacity(svc, 'drained', 'westeurope')).hotReady === 2 && (await capacity(svc, 'drained', 'northeurope')).hotReady === 3, 60_000);
    const start = (i: number) => svc.http.post('/api/v1/offers/drained/sessions').send({ customer: { ...customer, email: `drained${i}@example.com` } });
    // The offer's order: the first region first, while it has hot instances.
    for (let i = 0; i < 2; i++) expect((await start(i)).body).toMatchObject({ state: 'ready', instanceKind: 'hot', region: 'westeurope' });
    const asked = jest.spyOn(svc.app.get(PoolInstanceRepository), 'anyReady');
    try {
      for (let i = 2; i < 5; i++) expect((await start(i)).body).toMatchObject({ state: 'ready', instanceKind: 'hot', region: 'northeurope' });
      expect(asked).not.toHaveBeenCalled();
      // Nothing left anywhere: 409, and only PostgreSQL (where a claim skips rows other claims hold) asks once whether that is so.
      const full = await start(5);
      expect(full.status).toBe(409);
      expect(full.body.error.code).toBe('NoCapacity');
      expect(asked).toHaveBeenCalledTimes(db === 'postgres' ? 1 : 0);
    } finally {
      asked.mockRestore();
    }
  });

  it('concurrent cold starts of one region each reserve a slot in one transaction, none retried, none tries a hot claim first', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'cold-burst', [{ name: 'westeurope', hot: 0, cold: 10 }]);
    const pool = svc.app.get(PoolInstanceRepository);
    const reservations = jest.spyOn(pool, 'reserveTx');
    const hotClaims = jest.spyOn(pool, 'claimHotStatement');
    const asked = jest.spyOn(pool, 'anyReady');
    try {
      const starts = await Promise.all(Array.from({ length: 5 }, (_, i) => svc.http.post('/api/v1/offers/cold-burst/sessions').send({ customer: { ...customer, email: `cold${i}@example.com` } })));
      expect(starts.map((r) => `${r.status} ${r.body.instanceKind}`)).toEqual(Array(5).fill('201 cold'));
      expect(reservations).toHaveBeenCalledTimes(5);
      // The offer keeps no hot instance: its starts do not try to claim one.
      expect(hotClaims).not.toHaveBeenCalled();
      expect(asked).not.toHaveBeenCalled();
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('a request runs through no interceptor (no AsyncResource.bind); a request that may write still marks a change for the reconcile loop', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'marked', [{ name: 'westeurope', hot: 1, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'marked', 'westeurope')).hotReady === 1, 60_000);
    const bind = jest.spyOn(AsyncResource, 'bind');
    const mark = jest.spyOn(svc.app.get(ChangeWatch), 'mark');
    try {
      await svc.http.get('/health/live').expect(200);
      await svc.http.get('/api/v1/offers/marked').expect(200);
      expect(mark).not.toHaveBeenCalled();
      const s = await svc.http.post('/api/v1/offers/marked/sessions').send({ customer }).expect(201);
      expect(mark).toHaveBeenCalledTimes(1);
      // A refused write may have written nothing, but it is marked too (the reconcile loop decides what changed).
      await svc.http.post('/api/v1/offers/marked/sessions').send({ customer: { email: 'not an e-mail' } }).expect(400);
      expect(mark).toHaveBeenCalledTimes(2);
      await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
      expect(mark).toHaveBeenCalledTimes(3);
      expect(bind).not.toHaveBeenCalled();
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('the capacity view counts instances in the database, loading none, and counts what the instances say', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'counted', [
      { name: 'westeurope', hot: 3, cold: 2 },
      { name: 'northeurope', hot: 2, cold: 1 },
    ]);
    await svc.until(async () => (await capacity(svc, 'counted', 'westeurope')).hotReady === 3 && (await capacity(svc, 'counted', 'northeurope')).hotReady === 2, 60_000);
    const start = (i: number, region?: string) => svc.http.post('/api/v1/offers/counted/sessions').send({ customer: { ...customer, email: `counted${i}@example.com` }, ...(region ? { region } : {}) });
    // Hot instances claimed in both regions, cold ones deploying for sessions, one session ended (its instance deleting).
    const hot = [];
    for (let i = 0; i < 4; i++) hot.push((await start(i)).body as { id: string });
    for (let i = 4; i < 8; i++) expect([201, 202]).toContain((await start(i)).status);
    await svc.http.delete(`/api/v1/sessions/${hot[0].id}`).expect(202);
    const pool = svc.app.get(PoolInstanceRepository);
    const readRows = async () => [await capacity(svc, 'counted', 'westeurope'), await capacity(svc, 'counted', 'northeurope')];
    const loaded = jest.spyOn(pool, 'listLive');
    const found = jest.spyOn(pool.repo, 'find');
    try {
      await readRows();
      expect(loaded).not.toHaveBeenCalled();
      expect(found).not.toHaveBeenCalled();
    } finally {
      jest.restoreAllMocks();
    }
    // The same numbers as counting the instances one by one, read while nothing moved (cold deployments and the
    // teardown run in the background: read again until two capacity reads around the instances agree).
    let rows = await readRows();
    let live = await pool.listLive('counted');
    for (let attempt = 0; attempt < 50; attempt++) {
      const after = await readRows();
      if (JSON.stringify(after) === JSON.stringify(rows)) break;
      await new Promise((r) => setTimeout(r, 100));
      rows = await readRows();
      live = await pool.listLive('counted');
    }
    for (const row of rows) {
      const inRegion = live.filter((i) => i.region === row.region);
      const n = (pred: (i: (typeof live)[number]) => boolean) => inRegion.filter(pred).length;
      expect(row).toMatchObject({
        hotReady: n((i) => i.kind === 'hot' && i.state === 'ready'),
        deploying: n((i) => ['pending', 'deploying', 'parking', 'starting'].includes(i.state)),
        assigned: n((i) => i.state === 'assigned' || (i.kind === 'cold' && !!i.sessionId && i.state !== 'deleting')),
        deleting: n((i) => i.state === 'deleting'),
        coldInUse: n((i) => i.kind === 'cold'),
      });
      const byKindState = new Map<string, number>();
      for (const i of inRegion) byKindState.set(`${i.kind}|${i.state}`, (byKindState.get(`${i.kind}|${i.state}`) ?? 0) + 1);
      expect(Object.fromEntries((row as unknown as { instances: Array<{ kind: string; state: string; count: number }> }).instances.map((x) => [`${x.kind}|${x.state}`, x.count]))).toEqual(Object.fromEntries(byKindState));
    }
    expect(rows.reduce((a, r) => a + r.assigned, 0)).toBeGreaterThanOrEqual(3);
  });
});
