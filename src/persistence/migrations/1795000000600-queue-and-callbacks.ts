import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { column, columns } from '../ddl';
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
    await q.addColumn('session', column('queuePositionNotified integer null'));
    await q.addColumn('session', column('servedAt bigint null'));
    await q.createIndex('session', new TableIndex({ name: 'IX_session_queue', columnNames: ['offerId', 'state', 'requestedAt'] }));
    await q.createTable(
      new Table({
        name: 'callback_subscription',
        columns: columns(`id varchar(36) primary, clientTenantId varchar(64), clientId varchar(64), url varchar(2048), events text,
          secretName varchar(127), secretVersion varchar(64), createdAt bigint, updatedAt bigint`),
        indices: [new TableIndex({ name: 'UQ_callback_subscription_client', columnNames: ['clientTenantId', 'clientId'], isUnique: true })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'callback_event',
        columns: [
          ...columns(`id varchar(36) primary, subscriptionId varchar(36), sessionId varchar(36), event varchar(40),
            dedupeKey varchar(120), payload text`),
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
        columns: columns(`name varchar(64) primary, value bigint`),
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
