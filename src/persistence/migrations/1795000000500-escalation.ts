import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { column, columns } from '../ddl';
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
        columns: columns(`id varchar(36) primary, offerId varchar(50), kind varchar(40), subject varchar(100), openKey varchar(200) null,
          state varchar(16), summary varchar(500), details text null, openedAt bigint, resolvedAt bigint null,
          updatedAt bigint`),
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
          ...columns(`id varchar(36) primary, incidentId varchar(36), offerId varchar(50), event varchar(16), channel varchar(16),
            target varchar(300)`),
          ...outboxTableColumns('sentAt'),
        ],
        indices: [
          new TableIndex({ name: 'UQ_alert_notification_once', columnNames: ['incidentId', 'event', 'channel', 'target'], isUnique: true }),
          new TableIndex({ name: 'IX_alert_notification_due', columnNames: ['state', 'nextAttemptAt'] }),
        ],
      }),
    );
    await q.addColumn('offer', column('escalation text null'));
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
