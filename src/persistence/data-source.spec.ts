import { openDataSource, isUniqueViolation } from './data-source';
import { PoolInstanceEntity } from '../../modules/azure-resource-manager/pools/pool-instance.entity';
import { POSTGRES_ADMIN_URL, describeEachDb } from '../../test/support/postgres';

const targets: Record<'sqlite' | 'postgres', Parameters<typeof openDataSource>[0]> = {
  sqlite: { kind: 'sqlite', file: ':memory:' },
  postgres: { kind: 'postgres', url: POSTGRES_ADMIN_URL },
};

describeEachDb('migrations on %s', (name) => {
  const db = targets[name];
  it('create the schema, and the slot index refuses a second holder of one slot', async () => {
    const ds = await openDataSource(db);
    try {
      const repo = ds.getRepository(PoolInstanceEntity);
      const base = {
        offerId: `o-${Date.now()}`, revisionId: 'r', region: 'westeurope', kind: 'hot' as const, slot: 0, state: 'pending' as const,
        subscriptionId: 's', resourceGroupName: 'rg', deploymentName: 'd', sessionId: null, outputsEnc: null, failure: null,
        attempts: 0, nextActionAt: null, createdAt: Date.now(), readyAt: null, assignedAt: null, deletedAt: null, updatedAt: Date.now(),
      };
      await repo.insert({ ...base, id: crypto.randomUUID() });
      const err = await repo.insert({ ...base, id: crypto.randomUUID() }).catch((e: unknown) => e);
      expect(isUniqueViolation(err)).toBe(true);
      await repo.insert({ ...base, id: crypto.randomUUID(), slot: null });
      await repo.insert({ ...base, id: crypto.randomUUID(), slot: null });
      const rows = await repo.find({ where: { offerId: base.offerId } });
      expect(rows).toHaveLength(3);
      expect(typeof rows[0].createdAt).toBe('number');
      await repo.delete({ offerId: base.offerId });
    } finally {
      await ds.destroy();
    }
  });
});
