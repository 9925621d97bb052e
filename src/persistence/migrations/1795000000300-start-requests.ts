import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { column, columns } from '../ddl';

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
    await q.addColumn('session', column('clientTenantId varchar(64) null'));
    await q.addColumn('session', column('clientId varchar(64) null'));
    await q.dropIndex('session', 'UQ_session_idempotency');
    await q.addColumn('pool_instance', column('sessionTaggedAt bigint null'));
    await q.createTable(
      new Table({
        name: 'start_request',
        columns: columns(`id varchar(36) primary, offerId varchar(50), clientKey varchar(140), idempotencyKey varchar(255),
          requestHash varchar(64), state varchar(16), sessionId varchar(36) null, refusal text null, createdAt bigint,
          updatedAt bigint`),
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
