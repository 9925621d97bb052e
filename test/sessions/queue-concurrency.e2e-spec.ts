import { DataSource } from 'typeorm';
import { SessionEntity } from '../../src/sessions/session.entity';
import { PoolInstanceEntity } from '../../modules/azure-resource-manager/pools/pool-instance.entity';
import { startService, TestService } from '../support/harness';
import { describeWithPostgres } from '../support/postgres';
import { customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

const QUEUED = 200;
const COLD = 20;

/**
 * Issue 12: 200 concurrent queued requests over two replicas on one PostgreSQL are served in order, none
 * twice and none lost, also when one replica stops in the middle of a pass; the positions each client was
 * told are the order in which they are served. Both replicas serve at once here (stronger than the
 * leader-only loop of production).
 */
describeWithPostgres('queue under concurrency (two replicas, PostgreSQL)', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db: 'postgres', env: { QUEUE_MAX_LENGTH: String(QUEUED + 10) } });

  it('serves 200 queued requests first in, first out, exactly once, across a replica that stops', async () => {
    const a = local.svc;
    let b: TestService | null = await startService(local.azure, { databaseUrl: a.databaseUrl, clock: a.clock, env: { QUEUE_MAX_LENGTH: String(QUEUED + 10) } });
    try {
      await publishOffer(a, local.publisher, 'busy', [{ name: 'westeurope', hot: 0, cold: COLD }]);
      const marketA = await a.as('marketplace');
      const marketB = await b.as('marketplace');
      // The cold slots go first (no queue).
      for (let i = 0; i < COLD; i++) await marketA.post('/api/v1/offers/busy/sessions').send({ customer, region: 'westeurope' }).expect(201);
      // 200 queue requests, 40 at a time, alternating replicas.
      const told = new Map<string, number>();
      for (let i = 0; i < QUEUED; i += 40) {
        const batch = await Promise.all(
          Array.from({ length: 40 }, (_, j) => (j % 2 ? marketB : marketA).post('/api/v1/offers/busy/sessions').send({ customer, region: 'westeurope', whenFull: 'queue' })),
        );
        for (const r of batch) {
          expect(r.status).toBe(202);
          told.set(r.body.id as string, r.body.queuePosition as number);
        }
      }
      // Positions told are 1..200, each once (arrival order under the queue lock).
      expect([...told.values()].sort((x, y) => x - y)).toEqual(Array.from({ length: QUEUED }, (_, i) => i + 1));
      const ds = a.app.get(DataSource);
      const sessions = () => ds.getRepository(SessionEntity).find({ where: { offerId: 'busy' } });
      const byTold = [...told.entries()].sort((x, y) => x[1] - y[1]).map(([id]) => id);

      for (let cycle = 0; ; cycle++) {
        const all = await sessions();
        const state = new Map(all.map((s) => [s.id, s.state]));
        // In order: every request still queued comes after every request served.
        const firstWaiting = byTold.findIndex((id) => state.get(id) === 'queued');
        if (firstWaiting < 0) break;
        expect(byTold.slice(firstWaiting).every((id) => state.get(id) === 'queued')).toBe(true);
        if (cycle > 40) throw new Error('the queue does not drain');
        // Capacity frees: the running sessions end; their instances are deleted; both replicas serve.
        await a.until(async () => (await sessions()).every((s) => s.state !== 'provisioning'), 30_000);
        const ready = (await sessions()).filter((s) => s.state === 'ready');
        await Promise.all(ready.map((s) => a.http.delete(`/api/v1/sessions/${s.id}`).expect(202))); // an operator ends any session
        await a.until(async () => (await sessions()).every((s) => s.state !== 'ending'), 30_000);
        const passes = [a.reconcile.reconcileOnce(), ...(b ? [b.reconcile.reconcileOnce()] : [])];
        if (cycle === 3 && b) {
          // Replica B stops in the middle of its pass (shutdown while serving).
          const stopping = b;
          b = null;
          await stopping.close();
        }
        await Promise.allSettled(passes);
        await a.reconcile.reconcileOnce();
      }
      const all = await sessions();
      const queuedOnes = all.filter((s) => told.has(s.id));
      expect(queuedOnes).toHaveLength(QUEUED);
      expect(queuedOnes.filter((s) => s.state === 'queued' || s.state === 'failed')).toEqual([]);
      // Served once: each has exactly one instance, and no instance serves two sessions.
      const instances = await ds.getRepository(PoolInstanceEntity).find({ where: { offerId: 'busy' } });
      const perSession = new Map<string, number>();
      for (const i of instances) if (i.sessionId) perSession.set(i.sessionId, (perSession.get(i.sessionId) ?? 0) + 1);
      for (const s of queuedOnes) expect({ id: s.id, instances: perSession.get(s.id) ?? 0 }).toEqual({ id: s.id, instances: 1 });
    } finally {
      await b?.close();
    }
  }, 300_000);
});
