import { Column } from 'typeorm';
import type { TableColumnOptions } from 'typeorm/schema-builder/options/TableColumnOptions';
import { timestampColumn } from './columns';
import { columns } from './ddl';

/**
 * The delivery columns every outbox row has (leads, alert notifications, marketplace callback events):
 * attempts so far, when the next attempt is due, who holds it and until when (a replica killed mid-send
 * loses it after `lockedUntil`), and its times. An entity extends it (TypeORM inherits the columns).
 */
export abstract class OutboxRow {
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** Not attempted before this time (epoch ms). */
  @Column(timestampColumn(false))
  nextAttemptAt!: number;

  /** Replica sending it right now. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  lockedBy!: string | null;

  @Column(timestampColumn())
  lockedUntil!: number | null;

  @Column(timestampColumn(false))
  createdAt!: number;

  @Column(timestampColumn(false))
  updatedAt!: number;
}

/** An outbound message of an outbox (alert notifications, callback events): pending until sent, or failed for good. */
export abstract class MessageOutboxRow extends OutboxRow {
  @Column({ type: 'varchar', length: 16 })
  state!: 'pending' | 'sent' | 'failed';

  @Column({ type: 'simple-json', nullable: true })
  lastError!: { code: string; message: string; at: number } | null;

  @Column(timestampColumn())
  sentAt!: number | null;
}

/** The migration columns of OutboxRow plus `state`, `lastError` and the "done at" column `doneAt` (e.g. sentAt). */
export function outboxTableColumns(doneAt: string): TableColumnOptions[] {
  return columns(
    `state varchar(16), attempts integer default 0, nextAttemptAt bigint, lastError text null, lockedBy varchar(64) null,
     lockedUntil bigint null, ${doneAt} bigint null, createdAt bigint, updatedAt bigint`,
  );
}
