import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import { outboxTableColumns } from '../outbox-row';

/**
 * Issue 12: the queue (sessions in state `queued`, served first in, first out per offer: index
 * offerId/state/requestedAt; `queuePositionNotified` for position callbacks; `servedAt`, when a queued
 * request left the queue, so provisioning durations are measured from then), marketplace callbacks
 * (`callback_subscription`: one per marketplace client, URL and events, signing secret in Key Vault;
 * `callback_event`: the outbox, one row per session event, unique `dedupeKey` so an event is queued
 * once), and `cursor` (named positions of leader scans that must survive a leader change).
 */
export class QueueAndCallbacks1795000000600 implements MigrationInterface {
  name = 'QueueAndCallbacks1795000000600';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', new TableColumn({ name: 'queuePositionNotified', type: 'integer', isNullable: true }));
    await q.addColumn('session', new TableColumn({ name: 'servedAt', type: 'bigint', isNullable: true }));
    await q.createIndex('session', new TableIndex({ name: 'IX_session_queue', columnNames: ['offerId', 'state', 'requestedAt'] }));
    await q.createTable(
      new Table({
        name: 'callback_subscription',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'clientTenantId', type: 'varchar', length: '64', isNullable: false },
          { name: 'clientId', type: 'varchar', length: '64', isNullable: false },
          { name: 'url', type: 'varchar', length: '2048', isNullable: false },
          { name: 'events', type: 'text', isNullable: false },
          { name: 'secretName', type: 'varchar', length: '127', isNullable: false },
          { name: 'secretVersion', type: 'varchar', length: '64', isNullable: false },
          { name: 'createdAt', type: 'bigint', isNullable: false },
          { name: 'updatedAt', type: 'bigint', isNullable: false },
        ],
        indices: [new TableIndex({ name: 'UQ_callback_subscription_client', columnNames: ['clientTenantId', 'clientId'], isUnique: true })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'callback_event',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'subscriptionId', type: 'varchar', length: '36', isNullable: false },
          { name: 'sessionId', type: 'varchar', length: '36', isNullable: false },
          { name: 'event', type: 'varchar', length: '40', isNullable: false },
          { name: 'dedupeKey', type: 'varchar', length: '120', isNullable: false },
          { name: 'payload', type: 'text', isNullable: false },
          ...outboxTableColumns('sentAt'),
        ],
        indices: [
          new TableIndex({ name: 'UQ_callback_event_once', columnNames: ['dedupeKey'], isUnique: true }),
          new TableIndex({ name: 'IX_callback_event_due', columnNames: ['state', 'nextAttemptAt'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'cursor',
        columns: [
          { name: 'name', type: 'varchar', length: '64', isPrimary: true },
          { name: 'value', type: 'bigint', isNullable: false },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('cursor');
    await q.dropTable('callback_event');
    await q.dropTable('callback_subscription');
    await q.dropIndex('session', 'IX_session_queue');
    await q.dropColumn('session', 'servedAt');
    await q.dropColumn('session', 'queuePositionNotified');
  }
}
