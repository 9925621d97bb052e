import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * session.progress: type-specific, resumable provisioning progress (e.g. which steps of a Dynamics 365
 * user's set-up are done, a Logic App run id). JSON text; never a secret.
 */
export class SessionProgress1795000000001 implements MigrationInterface {
  name = 'SessionProgress1795000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', new TableColumn({ name: 'progress', type: 'text', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('session', 'progress');
  }
}
