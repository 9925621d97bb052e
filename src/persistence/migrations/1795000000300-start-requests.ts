import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

/**
 * Issue 8 (trust, idempotency, crash windows):
 * - session.clientTenantId / clientId: the marketplace client that started a session (it alone reads,
 *   ends and replays it);
 * - start_request: one row per Idempotency-Key, scoped per client and offer (UNIQUE offerId, clientKey,
 *   idempotencyKey), remembering the request hash, whether the start is under way, completed (sessionId)
 *   or refused (the refusal, replayed as is). Replaces the per-offer unique index on session.idempotencyKey;
 * - pool_instance.sessionTaggedAt: when the instance's resource group was tagged with its session
 *   (the tag is written after the answer and retried by reconcile until done).
 */
export class StartRequests1795000000300 implements MigrationInterface {
  name = 'StartRequests1795000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', new TableColumn({ name: 'clientTenantId', type: 'varchar', length: '64', isNullable: true }));
    await q.addColumn('session', new TableColumn({ name: 'clientId', type: 'varchar', length: '64', isNullable: true }));
    await q.dropIndex('session', 'UQ_session_idempotency');
    await q.addColumn('pool_instance', new TableColumn({ name: 'sessionTaggedAt', type: 'bigint', isNullable: true }));
    await q.createTable(
      new Table({
        name: 'start_request',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'offerId', type: 'varchar', length: '50', isNullable: false },
          { name: 'clientKey', type: 'varchar', length: '140', isNullable: false },
          { name: 'idempotencyKey', type: 'varchar', length: '255', isNullable: false },
          { name: 'requestHash', type: 'varchar', length: '64', isNullable: false },
          { name: 'state', type: 'varchar', length: '16', isNullable: false },
          { name: 'sessionId', type: 'varchar', length: '36', isNullable: true },
          { name: 'refusal', type: 'text', isNullable: true },
          { name: 'createdAt', type: 'bigint', isNullable: false },
          { name: 'updatedAt', type: 'bigint', isNullable: false },
        ],
        indices: [new TableIndex({ name: 'UQ_start_request_key', columnNames: ['offerId', 'clientKey', 'idempotencyKey'], isUnique: true })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('start_request');
    await q.dropColumn('pool_instance', 'sessionTaggedAt');
    await q.createIndex('session', new TableIndex({ name: 'UQ_session_idempotency', columnNames: ['offerId', 'idempotencyKey'], isUnique: true }));
    await q.dropColumn('session', 'clientId');
    await q.dropColumn('session', 'clientTenantId');
  }
}
