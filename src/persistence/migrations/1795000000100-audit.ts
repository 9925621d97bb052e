import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { columns } from '../ddl';

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
        columns: columns(`id varchar(36) primary, at bigint, actorType varchar(10), actorTenantId varchar(64) null,
          actorClientId varchar(64) null, actorRoles varchar(200) null, action varchar(40), offerId varchar(50) null,
          targetType varchar(20), targetId varchar(64), details text null`),
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
