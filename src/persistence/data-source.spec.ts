import { openDataSource, isUniqueViolation } from './data-source';
import { PoolInstanceEntity } from '../../modules/azure-resource-manager/pools/pool-instance.entity';
import { claimStatement } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { POSTGRES_ADMIN_URL, describeEachDb } from '../../test/support/postgres';

const targets: Record<'sqlite' | 'postgres', Parameters<typeof openDataSource>[0]> = {
  sqlite: { kind: 'sqlite', file: ':memory:' },
  postgres: { kind: 'postgres', url: POSTGRES_ADMIN_URL },
};

/** A pool_instance row with every column set; `fields` override. */
function instanceRow(fields: QueryDeepPartialEntity<PoolInstanceEntity> & { offerId: string }): QueryDeepPartialEntity<PoolInstanceEntity> {
  return {
    id: crypto.randomUUID(), revisionId: 'r', region: 'westeurope', kind: 'hot', slot: 0, state: 'pending',
    subscriptionId: 's', resourceGroupName: 'rg', deploymentName: 'd', sessionId: null, outputsEnc: null, failure: null,
    attempts: 0, nextActionAt: null, createdAt: Date.now(), readyAt: null, assignedAt: null, deletedAt: null, updatedAt: Date.now(),
    ...fields,
  };
}

describeEachDb('migrations on %s', (name) => {
  const db = targets[name];
  it('create the schema, and the slot index refuses a second holder of one slot', async () => {
    const ds = await openDataSource(db);
    try {
      const repo = ds.getRepository(PoolInstanceEntity);
      const base = { offerId: `o-${Date.now()}` };
      await repo.insert(instanceRow(base));
      const err = await repo.insert(instanceRow(base)).catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
      await repo.insert(instanceRow({ ...base, slot: null }));
      await repo.insert(instanceRow({ ...base, slot: null }));
      const rows = await repo.find({ where: { offerId: base.offerId } });
      expect(rows).toHaveLength(3);
      expect(typeof rows[0].createdAt).toBe('number');
      await repo.delete({ offerId: base.offerId });
    } finally {
      await ds.destroy();
    }
  });
});

describeEachDb('pool instance indexes on %s', (name) => {
  const db = targets[name];
  it('keep one instance per session, and any number of unassigned ones', async () => {
    const ds = await openDataSource(db);
    try {
      const repo = ds.getRepository(PoolInstanceEntity);
      const offerId = `u-${Date.now()}`;
      const row = (slot: number, sessionId: string | null) => instanceRow({ offerId, slot, sessionId, state: 'ready', readyAt: Date.now() });
      await repo.insert([row(0, null), row(1, null), row(2, 'session-a')]);
      expect(isUniqueViolation(await repo.insert(row(3, 'session-a')).catch((e: unknown) => e))).toBe(true);
      await repo.delete({ offerId });
    } finally {
      await ds.destroy();
    }
  });
});

describe('the hot claim on SQLite', () => {
  it('takes its candidate from IX_pool_instance_ready in readyAt order: no scan of the unassigned instances, no sort', async () => {
    const ds = await openDataSource({ kind: 'sqlite', file: ':memory:' });
    try {
      const plan = await ds.query<Array<{ detail: string }>>(`EXPLAIN QUERY PLAN ${claimStatement('hot', false)}`, ['s', 1, 1, 'o', 'westeurope']);
      const details = plan.map((p) => p.detail);
      // Before migration 1795000001100 the planner took UQ_pool_instance_session for "sessionId" IS NULL and sorted.
      expect(details).toContainEqual(expect.stringContaining('USING INDEX IX_pool_instance_ready (offerId=? AND region=? AND kind=?)'));
      expect(details.join('\n')).not.toMatch(/TEMP B-TREE|UQ_pool_instance_session/);
    } finally {
      await ds.destroy();
    }
  });
});
