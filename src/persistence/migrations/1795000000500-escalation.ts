import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import { outboxTableColumns } from '../outbox-row';

/**
 * Issue 11 (operators): `incident` (one row per escalation incident: offer, kind, subject such as a
 * region, details, opened/resolved; `openKey` is unique while the incident is open, so two replicas never
 * open the same incident twice), `alert_notification` (the outbox of e-mails and webhooks, unique per
 * incident, event, channel and target: a message is sent once), `offer.escalation` (e-mails, webhook URL;
 * the webhook signing secret is in Key Vault), and indexes on session.readyAt / endedAt for the metrics
 * observer (sessions that became ready or ended since its last pass).
 */
export class Escalation1795000000500 implements MigrationInterface {
  name = 'Escalation1795000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'incident',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'offerId', type: 'varchar', length: '50', isNullable: false },
          { name: 'kind', type: 'varchar', length: '40', isNullable: false },
          { name: 'subject', type: 'varchar', length: '100', isNullable: false },
          { name: 'openKey', type: 'varchar', length: '200', isNullable: true },
          { name: 'state', type: 'varchar', length: '16', isNullable: false },
          { name: 'summary', type: 'varchar', length: '500', isNullable: false },
          { name: 'details', type: 'text', isNullable: true },
          { name: 'openedAt', type: 'bigint', isNullable: false },
          { name: 'resolvedAt', type: 'bigint', isNullable: true },
          { name: 'updatedAt', type: 'bigint', isNullable: false },
        ],
        indices: [
          new TableIndex({ name: 'UQ_incident_open', columnNames: ['openKey'], isUnique: true }),
          new TableIndex({ name: 'IX_incident_offer_opened', columnNames: ['offerId', 'openedAt'] }),
          new TableIndex({ name: 'IX_incident_state', columnNames: ['state'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'alert_notification',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'incidentId', type: 'varchar', length: '36', isNullable: false },
          { name: 'offerId', type: 'varchar', length: '50', isNullable: false },
          { name: 'event', type: 'varchar', length: '16', isNullable: false },
          { name: 'channel', type: 'varchar', length: '16', isNullable: false },
          { name: 'target', type: 'varchar', length: '300', isNullable: false },
          ...outboxTableColumns('sentAt'),
        ],
        indices: [
          new TableIndex({ name: 'UQ_alert_notification_once', columnNames: ['incidentId', 'event', 'channel', 'target'], isUnique: true }),
          new TableIndex({ name: 'IX_alert_notification_due', columnNames: ['state', 'nextAttemptAt'] }),
        ],
      }),
    );
    await q.addColumn('offer', new TableColumn({ name: 'escalation', type: 'text', isNullable: true }));
    await q.createIndex('session', new TableIndex({ name: 'IX_session_ready_at', columnNames: ['readyAt'] }));
    await q.createIndex('session', new TableIndex({ name: 'IX_session_ended_at', columnNames: ['endedAt'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('session', 'IX_session_ended_at');
    await q.dropIndex('session', 'IX_session_ready_at');
    await q.dropColumn('offer', 'escalation');
    await q.dropTable('alert_notification');
    await q.dropTable('incident');
  }
}
