import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Issue 14: a reconcile pass reads only its due work. `IX_pool_instance_due` (state, nextActionAt)
 * serves PoolInstanceRepository.listDue (instances in a state with a step whose pause is over).
 */
export class DueWork1795000000800 implements MigrationInterface {
  name = 'DueWork1795000000800';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('pool_instance', new TableIndex({ name: 'IX_pool_instance_due', columnNames: ['state', 'nextActionAt'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('pool_instance', 'IX_pool_instance_due');
  }
}
