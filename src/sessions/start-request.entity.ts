import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';

/** Where a start with an Idempotency-Key is: under way, completed (a session exists) or refused. */
export type StartRequestState = 'started' | 'completed' | 'refused';

/** A refused start as it was answered (replayed as is to a retry with the same key and body). */
export interface StartRefusal {
  status: number;
  code: string;
  message: string;
  target?: string;
  details?: Array<{ code: string; message: string; target?: string }>;
  headers?: Record<string, string>;
}

/**
 * One Idempotency-Key of one marketplace client on one offer (migration 1795000000300). Never holds a
 * secret: the refusal is the error body the client already got.
 */
@Entity('start_request')
@Index('UQ_start_request_key', ['offerId', 'clientKey', 'idempotencyKey'], { unique: true })
export class StartRequestEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  /** "tenantId/clientId" of the caller ("system" for internal starts). */
  @Column({ type: 'varchar', length: 140 })
  clientKey!: string;

  @Column({ type: 'varchar', length: 255 })
  idempotencyKey!: string;

  /** sha256 of the request body the key was first used with. */
  @Column({ type: 'varchar', length: 64 })
  requestHash!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: StartRequestState;

  @Column({ type: 'varchar', length: 36, nullable: true })
  sessionId!: string | null;

  @Column({ type: 'simple-json', nullable: true })
  refusal!: StartRefusal | null;

  @Column(timestampColumn(false))
  createdAt!: number;

  @Column(timestampColumn(false))
  updatedAt!: number;
}
