import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Issue 12, warm instances: package_revision.virtualMachines, the number of
 * Microsoft.Compute/virtualMachines resources the package's templates declare (null for revisions
 * stored before: not checked). Warm instances themselves need no schema change (kind 'warm', states
 * 'parking' and 'starting' fit the existing columns).
 */
export class WarmInstances1795000000700 implements MigrationInterface {
  name = 'WarmInstances1795000000700';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('package_revision', new TableColumn({ name: 'virtualMachines', type: 'integer', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('package_revision', 'virtualMachines');
  }
}
