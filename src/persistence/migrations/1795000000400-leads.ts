import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { column, columns } from '../ddl';

/**
 * Issue 10 (leads): the `lead` outbox (one row per lead: contact details when shareable, delivery state,
 * attempts, next attempt, last error, the replica delivering it and until when) and `offer.leads` (the
 * lead destination without its secret, JSON; the secret is in Key Vault).
 */
export class Leads1795000000400 implements MigrationInterface {
  name = 'Leads1795000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'lead',
        columns: columns(`id varchar(36) primary, offerId varchar(50), sessionId varchar(36) null, kind varchar(8),
          publisherId varchar(64), offerTitle varchar(100), source varchar(20), action varchar(30), contact text null,
          state varchar(16), attempts integer default 0, nextAttemptAt bigint, lastError text null,
          lockedBy varchar(64) null, lockedUntil bigint null, deliveredAt bigint null, createdAt bigint,
          updatedAt bigint`),
        indices: [
          new TableIndex({ name: 'IX_lead_due', columnNames: ['state', 'nextAttemptAt'] }),
          new TableIndex({ name: 'IX_lead_offer_created', columnNames: ['offerId', 'createdAt'] }),
        ],
      }),
    );
    await q.addColumn('offer', column('leads text null'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('offer', 'leads');
    await q.dropTable('lead');
  }
}
