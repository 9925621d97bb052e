import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Issue 14: the reconcile loop asks once per tick whether sessions changed (ChangeWatch): the latest
 * `session.updatedAt`, read from `IX_session_updated` instead of scanning every session.
 */
export class ChangeWatch1795000001000 implements MigrationInterface {
  name = 'ChangeWatch1795000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('session', new TableIndex({ name: 'IX_session_updated', columnNames: ['updatedAt'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('session', 'IX_session_updated');
  }
}
