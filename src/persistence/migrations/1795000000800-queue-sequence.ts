import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Issue 12: session.queueSeq, the arrival number of a queued request within its offer (1, 2, 3...),
 * given under the queue's lock: first in, first out is exact even for requests within one millisecond.
 */
export class QueueSequence1795000000800 implements MigrationInterface {
  name = 'QueueSequence1795000000800';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', new TableColumn({ name: 'queueSeq', type: 'bigint', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('session', 'queueSeq');
  }
}
