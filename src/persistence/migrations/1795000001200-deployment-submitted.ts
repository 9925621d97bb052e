import { MigrationInterface, QueryRunner } from 'typeorm';
import { column } from '../ddl';

/**
 * Issue 14: pool_instance.submittedAt, when the instance's deployment was last submitted to ARM (clock
 * ms; null before). A running deployment of a pool refill is read again after a pause of a quarter of its
 * age since then (deploymentPollPauseMs): counted from the instance's creation instead, an instance whose
 * submit waited a minute behind ARM's write throttling was read at the longest pause from its first second.
 */
export class DeploymentSubmitted1795000001200 implements MigrationInterface {
  name = 'DeploymentSubmitted1795000001200';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('pool_instance', column('submittedAt bigint null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('pool_instance', 'submittedAt');
  }
}
