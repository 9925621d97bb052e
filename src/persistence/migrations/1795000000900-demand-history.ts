import { MigrationInterface, QueryRunner, TableIndex } from 'typeorm';

/**
 * Issue 15: hot pools sized by forecast read each offer's start requests of the last weeks.
 * `IX_session_offer_requested` (offerId, requestedAt) serves DemandRepository.startRequests.
 */
export class DemandHistory1795000000900 implements MigrationInterface {
  name = 'DemandHistory1795000000900';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('session', new TableIndex({ name: 'IX_session_offer_requested', columnNames: ['offerId', 'requestedAt'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('session', 'IX_session_offer_requested');
  }
}
