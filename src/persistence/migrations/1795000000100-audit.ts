import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/**
 * audit_event: who changed what (offers, packages, publishing, sessions), newest read first by
 * operators (GET /api/v1/audit). Times are epoch-ms BIGINT like every other table. Table API so the
 * DDL is right on SQLite and PostgreSQL. Never holds a secret.
 */
export class Audit1795000000100 implements MigrationInterface {
  name = 'Audit1795000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'audit_event',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'at', type: 'bigint', isNullable: false },
          { name: 'actorType', type: 'varchar', length: '10', isNullable: false },
          { name: 'actorTenantId', type: 'varchar', length: '64', isNullable: true },
          { name: 'actorClientId', type: 'varchar', length: '64', isNullable: true },
          { name: 'actorRoles', type: 'varchar', length: '200', isNullable: true },
          { name: 'action', type: 'varchar', length: '40', isNullable: false },
          { name: 'offerId', type: 'varchar', length: '50', isNullable: true },
          { name: 'targetType', type: 'varchar', length: '20', isNullable: false },
          { name: 'targetId', type: 'varchar', length: '64', isNullable: false },
          { name: 'details', type: 'text', isNullable: true },
        ],
        indices: [
          new TableIndex({ name: 'IDX_audit_event_at', columnNames: ['at'] }),
          new TableIndex({ name: 'IDX_audit_event_offer_at', columnNames: ['offerId', 'at'] }),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('audit_event');
  }
}
