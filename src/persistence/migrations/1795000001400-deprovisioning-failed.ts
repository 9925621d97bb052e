import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';
import { column } from '../ddl';

/**
 * A teardown that gave up for good is a fact of the session, kept until someone acknowledges it:
 * session.deprovisioningFailedAt and deprovisioningAcknowledgedAt (clock ms), and a partial index of the
 * sessions whose failure nobody acknowledged yet (the `deprovisioning_failed` incident's condition).
 * Before, the condition was read from the newest 500 finished sessions of the offer, so the incident
 * resolved itself once 500 more sessions had ended, whatever was left behind.
 * Sessions that gave up before this migration (a Logic app's progress `"gaveUp":true`) are marked, with
 * their last update as the time.
 */
export class DeprovisioningFailed1795000001400 implements MigrationInterface {
  name = 'DeprovisioningFailed1795000001400';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', column('deprovisioningFailedAt bigint null'));
    await q.addColumn('session', column('deprovisioningAcknowledgedAt bigint null'));
    await q.query(`UPDATE "session" SET "deprovisioningFailedAt" = "updatedAt" WHERE "state" IN ('ending', 'ended', 'failed') AND "progress" LIKE '%"gaveUp":true%'`);
    await q.createIndex(
      'session',
      new TableIndex({ name: 'IX_session_deprovisioning_open', columnNames: ['offerId'], where: '"deprovisioningFailedAt" IS NOT NULL AND "deprovisioningAcknowledgedAt" IS NULL' }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('session', 'IX_session_deprovisioning_open');
    await q.dropColumn('session', 'deprovisioningAcknowledgedAt');
    await q.dropColumn('session', 'deprovisioningFailedAt');
  }
}
