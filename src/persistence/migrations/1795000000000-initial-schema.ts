import { MigrationInterface, QueryRunner, Table, TableColumnOptions, TableIndex } from 'typeorm';

const ts = (name: string, nullable = true): TableColumnOptions => ({ name, type: 'bigint', isNullable: nullable });
const str = (name: string, length: number, nullable = false): TableColumnOptions => ({ name, type: 'varchar', length: String(length), isNullable: nullable });
const json = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const int = (name: string, nullable = false, dflt?: number): TableColumnOptions => ({
  name,
  type: 'integer',
  isNullable: nullable,
  ...(dflt !== undefined ? { default: dflt } : {}),
});

/**
 * Offers, package revisions, pool instances, pool regions, sessions and scheduler leases.
 * Written with TypeORM's Table API so the same migration produces correct DDL on SQLite and PostgreSQL.
 */
export class InitialSchema1795000000000 implements MigrationInterface {
  name = 'InitialSchema1795000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'offer',
        columns: [
          { ...str('id', 50), isPrimary: true },
          str('alias', 50),
          str('type', 40),
          str('state', 20),
          json('testDrive'),
          json('deployment'),
          str('clientSecretName', 127, true),
          str('clientSecretVersion', 64, true),
          str('ownerTenantId', 64, true),
          str('ownerClientId', 64, true),
          str('currentRevisionId', 36, true),
          ts('publishedAt'),
          ts('createdAt', false),
          ts('updatedAt', false),
          int('version'),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'package_revision',
        columns: [
          { ...str('id', 36), isPrimary: true },
          str('offerId', 50),
          int('number'),
          str('containerName', 63),
          str('baseUri', 1024),
          json('parameters'),
          json('files'),
          int('totalBytes'),
          ts('createdAt', false),
        ],
        indices: [new TableIndex({ name: 'UQ_package_revision_offer_number', columnNames: ['offerId', 'number'], isUnique: true })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'pool_instance',
        columns: [
          { ...str('id', 36), isPrimary: true },
          str('offerId', 50),
          str('revisionId', 36),
          str('region', 40),
          str('kind', 8),
          int('slot', true),
          str('state', 16),
          str('subscriptionId', 40),
          str('resourceGroupName', 90),
          str('deploymentName', 64),
          str('sessionId', 36, true),
          json('outputsEnc', true),
          json('failure', true),
          int('attempts', false, 0),
          ts('nextActionAt'),
          ts('createdAt', false),
          ts('readyAt'),
          ts('assignedAt'),
          ts('deletedAt'),
          ts('updatedAt', false),
        ],
        indices: [
          new TableIndex({ name: 'UQ_pool_instance_slot', columnNames: ['offerId', 'region', 'kind', 'slot'], isUnique: true }),
          new TableIndex({ name: 'UQ_pool_instance_session', columnNames: ['sessionId'], isUnique: true }),
          new TableIndex({ name: 'IX_pool_instance_claim', columnNames: ['offerId', 'region', 'kind', 'state'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'pool_region',
        columns: [
          { ...str('offerId', 50), isPrimary: true },
          { ...str('region', 40), isPrimary: true },
          int('consecutiveFailures', false, 0),
          ts('backoffUntil'),
          json('lastFailure', true),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'session',
        columns: [
          { ...str('id', 36), isPrimary: true },
          str('offerId', 50),
          str('type', 40),
          str('state', 16),
          str('region', 40, true),
          str('instanceKind', 8, true),
          str('instanceId', 36, true),
          json('customer'),
          str('idempotencyKey', 255, true),
          str('requestHash', 64, true),
          int('durationHours'),
          int('slot', true),
          json('outputsEnc', true),
          json('failure', true),
          str('endReason', 16, true),
          ts('requestedAt', false),
          ts('readyAt'),
          ts('expiresAt'),
          ts('endedAt'),
          ts('updatedAt', false),
        ],
        indices: [
          new TableIndex({ name: 'UQ_session_idempotency', columnNames: ['offerId', 'idempotencyKey'], isUnique: true }),
          new TableIndex({ name: 'UQ_session_slot', columnNames: ['offerId', 'slot'], isUnique: true }),
          new TableIndex({ name: 'IX_session_state_expires', columnNames: ['state', 'expiresAt'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'scheduler_lease',
        columns: [{ ...str('name', 64), isPrimary: true }, str('owner', 64), ts('expiresAt', false)],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['scheduler_lease', 'session', 'pool_region', 'pool_instance', 'package_revision', 'offer']) {
      await q.dropTable(t, true);
    }
  }
}
