import { MigrationInterface, QueryRunner } from 'typeorm';
import { column } from '../ddl';

/**
 * offer.health: JSON text of the last check against the publisher's environment (publish preflight and
 * periodic health check of types with TestDriveType.checkHealth, e.g. Dynamics 365):
 * `{status: 'healthy'|'degraded', problems, warnings, checkedAt, ...}`. Never a secret.
 */
export class OfferHealth1795000000200 implements MigrationInterface {
  name = 'OfferHealth1795000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('offer', column('health text null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('offer', 'health');
  }
}
