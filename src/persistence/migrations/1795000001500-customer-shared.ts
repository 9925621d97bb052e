import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * session.customerShared: whether the customer's contact details may be shown to the offer's publisher, the
 * rule of the lead (shareableContact: consent given, not an `.edu` address). Before, the session views
 * showed the publisher the name, e-mail and phone of customers whose lead carried none. Existing sessions
 * take the answer from their lead (contact null = not shared).
 */
export class CustomerShared1795000001500 implements MigrationInterface {
  name = 'CustomerShared1795000001500';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('session', new TableColumn({ name: 'customerShared', type: 'boolean', isNullable: false, default: true }));
    await q.query(`UPDATE "session" SET "customerShared" = false WHERE "id" IN (SELECT "sessionId" FROM "lead" WHERE "kind" = 'lead' AND ("contact" IS NULL OR "contact" = 'null'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('session', 'customerShared');
  }
}
