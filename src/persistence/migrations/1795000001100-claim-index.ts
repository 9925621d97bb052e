import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Issue 14: the hot claim's candidate comes from an index ordered by `readyAt`, and only ready, unassigned
 * instances are in it (`IX_pool_instance_ready`, partial). Before, SQLite's planner took
 * `UQ_pool_instance_session` for `"sessionId" IS NULL` (a unique index, so it expected one row) and walked
 * every unassigned instance of every offer, then sorted: about 1 ms per claim with 1,280 instances.
 * `UQ_pool_instance_session` becomes partial too (`"sessionId" IS NOT NULL`): it only ever had to keep
 * one instance per session, and NULLs were never unique.
 */
export class ClaimIndex1795000001100 implements MigrationInterface {
  name = 'ClaimIndex1795000001100';

  async up(q: QueryRunner): Promise<void> {
    await q.dropIndex('pool_instance', 'UQ_pool_instance_session');
    await q.createIndex('pool_instance', new TableIndex({ name: 'UQ_pool_instance_session', columnNames: ['sessionId'], isUnique: true, where: '"sessionId" IS NOT NULL' }));
    await q.createIndex('pool_instance', new TableIndex({ name: 'IX_pool_instance_ready', columnNames: ['offerId', 'region', 'kind', 'readyAt'], where: `"state" = 'ready' AND "sessionId" IS NULL` }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('pool_instance', 'IX_pool_instance_ready');
    await q.dropIndex('pool_instance', 'UQ_pool_instance_session');
    await q.createIndex('pool_instance', new TableIndex({ name: 'UQ_pool_instance_session', columnNames: ['sessionId'], isUnique: true }));
  }
}
