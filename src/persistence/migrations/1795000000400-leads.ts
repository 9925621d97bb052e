import { MigrationInterface, QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';

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
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'offerId', type: 'varchar', length: '50', isNullable: false },
          { name: 'sessionId', type: 'varchar', length: '36', isNullable: true },
          { name: 'kind', type: 'varchar', length: '8', isNullable: false },
          { name: 'publisherId', type: 'varchar', length: '64', isNullable: false },
          { name: 'offerTitle', type: 'varchar', length: '100', isNullable: false },
          { name: 'source', type: 'varchar', length: '20', isNullable: false },
          { name: 'action', type: 'varchar', length: '30', isNullable: false },
          { name: 'contact', type: 'text', isNullable: true },
          { name: 'state', type: 'varchar', length: '16', isNullable: false },
          { name: 'attempts', type: 'integer', isNullable: false, default: 0 },
          { name: 'nextAttemptAt', type: 'bigint', isNullable: false },
          { name: 'lastError', type: 'text', isNullable: true },
          { name: 'lockedBy', type: 'varchar', length: '64', isNullable: true },
          { name: 'lockedUntil', type: 'bigint', isNullable: true },
          { name: 'deliveredAt', type: 'bigint', isNullable: true },
          { name: 'createdAt', type: 'bigint', isNullable: false },
          { name: 'updatedAt', type: 'bigint', isNullable: false },
        ],
        indices: [
          new TableIndex({ name: 'IX_lead_due', columnNames: ['state', 'nextAttemptAt'] }),
          new TableIndex({ name: 'IX_lead_offer_created', columnNames: ['offerId', 'createdAt'] }),
        ],
      }),
    );
    await q.addColumn('offer', new TableColumn({ name: 'leads', type: 'text', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('offer', 'leads');
    await q.dropTable('lead');
  }
}
