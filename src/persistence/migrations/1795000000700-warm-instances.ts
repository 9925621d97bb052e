import { MigrationInterface, QueryRunner } from 'typeorm';
import { column } from '../ddl';

/**
 * Issue 12: package_revision.virtualMachines, the number of Microsoft.Compute/virtualMachines resources
 * the package's templates declare (null for revisions stored before: not checked; warm instances need
 * them — the instances themselves fit the existing columns: kind 'warm', states 'parking', 'starting'),
 * and session.queueSeq, the arrival number of a queued request within its offer (1, 2, 3...) given
 * under the queue's lock, so first in, first out is exact even within one millisecond; and
 * package_revision.resourceTypes, the resource types its templates declare (issue 13's provider checks).
 */
export class WarmInstances1795000000700 implements MigrationInterface {
  name = 'WarmInstances1795000000700';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('package_revision', column('virtualMachines integer null'));
    await q.addColumn('session', column('queueSeq bigint null'));
    await q.addColumn('package_revision', column('resourceTypes text null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('package_revision', 'resourceTypes');
    await q.dropColumn('session', 'queueSeq');
    await q.dropColumn('package_revision', 'virtualMachines');
  }
}
