import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { columns } from '../ddl';

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
        columns: columns(`id varchar(50) primary, alias varchar(50), type varchar(40), state varchar(20), testDrive text,
          deployment text, clientSecretName varchar(127) null, clientSecretVersion varchar(64) null,
          ownerTenantId varchar(64) null, ownerClientId varchar(64) null, currentRevisionId varchar(36) null,
          publishedAt bigint null, createdAt bigint, updatedAt bigint, version integer`),
      }),
    );
    await q.createTable(
      new Table({
        name: 'package_revision',
        columns: columns(`id varchar(36) primary, offerId varchar(50), number integer, containerName varchar(63), baseUri varchar(1024),
          parameters text, files text, totalBytes integer, createdAt bigint`),
        indices: [new TableIndex({ name: 'UQ_package_revision_offer_number', columnNames: ['offerId', 'number'], isUnique: true })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'pool_instance',
        columns: columns(`id varchar(36) primary, offerId varchar(50), revisionId varchar(36), region varchar(40), kind varchar(8),
          slot integer null, state varchar(16), subscriptionId varchar(40), resourceGroupName varchar(90),
          deploymentName varchar(64), sessionId varchar(36) null, outputsEnc text null, failure text null,
          attempts integer default 0, nextActionAt bigint null, createdAt bigint, readyAt bigint null,
          assignedAt bigint null, deletedAt bigint null, updatedAt bigint`),
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
        columns: columns(`offerId varchar(50) primary, region varchar(40) primary, consecutiveFailures integer default 0,
          backoffUntil bigint null, lastFailure text null`),
      }),
    );
    await q.createTable(
      new Table({
        name: 'session',
        columns: columns(`id varchar(36) primary, offerId varchar(50), type varchar(40), state varchar(16), region varchar(40) null,
          instanceKind varchar(8) null, instanceId varchar(36) null, customer text, idempotencyKey varchar(255) null,
          requestHash varchar(64) null, durationHours integer, slot integer null, outputsEnc text null,
          failure text null, endReason varchar(16) null, requestedAt bigint, readyAt bigint null, expiresAt bigint null,
          endedAt bigint null, updatedAt bigint`),
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
        columns: columns('name varchar(64) primary, owner varchar(64), expiresAt bigint'),
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['scheduler_lease', 'session', 'pool_region', 'pool_instance', 'package_revision', 'offer']) {
      await q.dropTable(t, true);
    }
  }
}
