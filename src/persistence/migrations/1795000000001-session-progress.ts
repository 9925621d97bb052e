import { MigrationInterface, QueryRunner } from 'typeorm';
import { column } from '../ddl';

/**
 * session.progress: type-specific, resumable provisioning progress (e.g. which steps of a Dynamics 365
 * user's set-up are done, a Logic App run id). JSON text; never a secret.
 */
export class SessionProgress1795000000001 implements MigrationInterface {
  name = 'SessionProgress1795000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', column('progress text null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('session', 'progress');
  }
}
