import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { zipDirectory } from '../../src/common/zip-directory';
import { Role } from '../../src/auth/roles';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { LeadsRepository } from '../../src/leads/leads.repository';
import { sql } from '../../src/persistence/database';
import { StartRequestEntity } from '../../src/sessions/start-request.entity';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb, recordPostgresQueries } from '../support/postgres';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * Issue 8, holes 6 and 7: an Idempotency-Key never answers with a session that then vanishes (a replay of
 * a start under way waits or gets 409 RequestInProgress; a refusal is replayed), and a hot claim and
 * the session's `ready` are one transaction, with a repair rule for sessions found between the two.
 */
describeEachDb('idempotent starts and atomic claims on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let alice: AuthedHttp;
  let market: AuthedHttp;
  let pool: PoolInstanceRepository;
  let sessions: SessionsRepository;

  const hotReady = async (offerId: string) => (await svc.http.get(`/api/v1/capacity?offerId=${offerId}`)).body.value?.[0]?.hotReady as number;

  async function publish(offerId: string, hot: number, cold: number): Promise<void> {
    const p = await azure.emulator.createPublisher({});
    await alice
      .put(`/api/v1/offers/${offerId}`)
      .send({
        alias: offerId,
        testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot, cold }], accessInformation: '<p>{{siteUrl}} {{userName}} {{password}}</p>' },
        deployment: { subscriptionId: p.subscriptionId, tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret },
      })
      .expect(201);
    await alice.put(`/api/v1/offers/${offerId}/package`).set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201);
    await alice.post(`/api/v1/offers/${offerId}/publish`).expect(200);
    if (hot) await svc.until(async () => (await hotReady(offerId)) === hot);
  }

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    alice = await svc.as({ roles: [Role.Publisher] });
    market = await svc.as({ roles: [Role.Marketplace] });
    pool = svc.app.get(PoolInstanceRepository);
    sessions = svc.app.get(SessionsRepository);
    await publish('full-web', 1, 0);
    await publish('repair-web', 2, 1);
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  it('concurrent retries on a full offer never get a session id that then 404s, nor a 500', async () => {
    // Fill the only hot instance; no cold: every further start is refused.
    await market.post('/api/v1/offers/full-web/sessions').send({ customer }).expect(201);
    const answers: Array<{ status: number; code?: string; id?: string }> = [];
    for (let trial = 0; trial < 10; trial++) {
      const key = `dup-${trial}-${randomUUID()}`;
      const send = () => market.post('/api/v1/offers/full-web/sessions').set('Idempotency-Key', key).send({ customer });
      const rs = await Promise.all([send(), send(), send()]);
      for (const r of rs) answers.push({ status: r.status, code: r.body?.error?.code, id: r.body?.id });
      // The replay after the fact gets the same refusal.
      const again = await send();
      expect({ status: again.status, code: again.body.error?.code }).toEqual({ status: 409, code: 'NoCapacity' });
    }
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    for (const a of answers) {
      if (a.id) expect((await market.get(`/api/v1/sessions/${a.id}`)).status).toBe(200);
      else expect(['NoCapacity', 'RequestInProgress']).toContain(a.code);
    }
    expect(answers.some((a) => a.code === 'NoCapacity')).toBe(true);
  });

  it('a refused start is remembered: its replay is refused the same way even after capacity frees up', async () => {
    const key = `refused-${randomUUID()}`;
    const first = await market.post('/api/v1/offers/full-web/sessions').set('Idempotency-Key', key).send({ customer }).expect(409);
    expect(first.body.error.code).toBe('NoCapacity');
    const list = (await svc.http.get('/api/v1/offers/full-web/sessions').expect(200)).body.value as Array<{ id: string; state: string }>;
    for (const s of list.filter((x) => x.state === 'ready')) await svc.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
    await svc.until(async () => (await hotReady('full-web')) === 1);
    const replay = await market.post('/api/v1/offers/full-web/sessions').set('Idempotency-Key', key).send({ customer });
    expect(replay.status).toBe(409);
    expect(replay.body).toEqual(first.body);
    // A new key starts a new test drive.
    await market.post('/api/v1/offers/full-web/sessions').set('Idempotency-Key', `fresh-${randomUUID()}`).send({ customer }).expect(201);
  });

  it('a replay of a start still under way answers 409 RequestInProgress with Retry-After; a dead owner is taken over', async () => {
    const ds = svc.app.get(DataSource);
    const key = `inflight-${randomUUID()}`;
    const body = { customer, region: 'westeurope' };
    const { createHash } = await import('node:crypto');
    const now = svc.clock.now();
    await ds.getRepository(StartRequestEntity).insert({
      id: randomUUID(),
      offerId: 'repair-web',
      clientKey: `${market.client.tenantId}/${market.client.clientId}`.toLowerCase(),
      idempotencyKey: key,
      requestHash: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
      state: 'started',
      sessionId: null,
      refusal: null,
      createdAt: now,
      updatedAt: now,
    });
    const t0 = Date.now();
    const busy = await market.post('/api/v1/offers/repair-web/sessions').set('Idempotency-Key', key).send(body);
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('RequestInProgress');
    expect(busy.headers['retry-after']).toBe('1');
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The owner never comes back: a minute later (service clock) a retry takes the start over.
    svc.clock.advance(61_000);
    const taken = await market.post('/api/v1/offers/repair-web/sessions').set('Idempotency-Key', key).send(body).expect(201);
    expect(taken.body.state).toBe('ready');
    await market.post('/api/v1/offers/repair-web/sessions').set('Idempotency-Key', key).send(body).expect(200);
    await svc.http.delete(`/api/v1/sessions/${taken.body.id}`).expect(202);
  });

  it('the hot claim and the session row are one transaction: a failure writing the session leaves the instance ready', async () => {
    await svc.until(async () => (await hotReady('repair-web')) === 2);
    const spy = jest.spyOn(sessions, 'insertStatement').mockImplementation(() => {
      throw new Error('crash while writing the session');
    });
    try {
      const r = await market.post('/api/v1/offers/repair-web/sessions').send({ customer });
      expect(r.status).toBe(500);
    } finally {
      spy.mockRestore();
    }
    const live = await pool.listLive('repair-web');
    expect(live.filter((i) => i.state === 'assigned')).toEqual([]);
    expect(live.filter((i) => i.kind === 'hot' && i.state === 'ready')).toHaveLength(2);
    expect((await sessions.listByOffer('repair-web', ['provisioning'])).length).toBe(0);
  });

  it('the hot claim and the start\'s writes are all or nothing in the database: a write the database refuses leaves the instance ready', async () => {
    await svc.until(async () => (await hotReady('repair-web')) === 2);
    // The lead's INSERT fails in the database itself (no such table), after the claim was sent with it.
    const spy = jest.spyOn(svc.app.get(LeadsRepository), 'insertStatement').mockImplementation(() => sql('INSERT INTO "no_such_table" ("id") VALUES (?)', ['x']));
    try {
      const r = await market.post('/api/v1/offers/repair-web/sessions').send({ customer });
      expect(r.status).toBe(500);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    const live = await pool.listLive('repair-web');
    expect(live.filter((i) => i.state === 'assigned')).toEqual([]);
    expect(live.filter((i) => i.kind === 'hot' && i.state === 'ready')).toHaveLength(2);
    expect((await sessions.listByOffer('repair-web', ['provisioning', 'ready'])).length).toBe(0);
  });

  if (db === 'postgres') {
    it('on PostgreSQL a hot start claims and writes in ONE autocommitted statement: no BEGIN, no COMMIT (issue 14)', async () => {
      await svc.until(async () => (await hotReady('repair-web')) === 2);
      const wire = recordPostgresQueries(svc.app.get(DataSource));
      let s: { body: { id: string; state: string; instanceKind: string } };
      try {
        s = await market.post('/api/v1/offers/repair-web/sessions').send({ customer }).expect(201);
      } finally {
        wire.restore();
      }
      expect(s.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
      const claim = wire.checkouts.find((sent) => sent.some((q) => q.includes('"pool_instance"') && q.includes('"session"')));
      expect(claim).toHaveLength(1);
      await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    });
  }

  it('repair rule: a session left provisioning while its instance is assigned becomes ready on the next pass', async () => {
    await svc.until(async () => (await hotReady('repair-web')) === 2);
    const s = await market.post('/api/v1/offers/repair-web/sessions').send({ customer }).expect(201);
    // Recreate what a crash between the two writes of the old code left behind.
    await sessions.repo.update({ id: s.body.id }, { state: 'provisioning', readyAt: null, expiresAt: null, outputsEnc: null, instanceId: null, instanceKind: null });
    await svc.reconcile.reconcileOnce();
    const after = await market.get(`/api/v1/sessions/${s.body.id}`).expect(200);
    expect(after.body.state).toBe('ready');
    expect(after.body.instanceKind).toBe('hot');
    expect(after.body.outputs.password).toBeTruthy();
    expect(Date.parse(after.body.expiresAt) - Date.parse(after.body.readyAt)).toBe(3600 * 1000);
    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
  });

  it('a cold deployment makes its instance assigned and its session ready together', async () => {
    await svc.until(async () => (await hotReady('repair-web')) === 2);
    await market.post('/api/v1/offers/repair-web/sessions').send({ customer }).expect(201);
    await market.post('/api/v1/offers/repair-web/sessions').send({ customer }).expect(201);
    const cold = await market.post('/api/v1/offers/repair-web/sessions').send({ customer }).expect(201);
    expect(cold.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    const ready = await svc.until(async () => {
      const r = await market.get(`/api/v1/sessions/${cold.body.id}`);
      return r.body.state === 'ready' ? r.body : null;
    });
    const inst = await pool.findBySession(cold.body.id);
    expect(inst!.state).toBe('assigned');
    expect(Date.parse(ready.readyAt)).toBe(inst!.readyAt);
  });
});
