import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';
import { OutboxRow } from '../persistence/outbox-row';
import type { LeadContact } from './lead-format';

/** Where a lead is: waiting for (another) delivery attempt, delivered, or given up on. */
export type LeadState = 'pending' | 'delivered' | 'failed';

/** Why the last delivery attempt failed (no secret, no personal data). */
export interface LeadError {
  code: string;
  message: string;
  status?: number;
  at: number;
}

/**
 * One lead and its delivery (the outbox, migration 1795000000400). Created in the same transaction as
 * its session; worked by LeadDeliveryService. `contact` is null when no personal data may leave the
 * service (no consent, .edu address). Never holds a secret.
 */
@Entity('lead')
@Index('IX_lead_due', ['state', 'nextAttemptAt'])
@Index('IX_lead_offer_created', ['offerId', 'createdAt'])
export class LeadEntity extends OutboxRow {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  /** The session that produced it (null for a test lead). */
  @Column({ type: 'varchar', length: 36, nullable: true })
  sessionId!: string | null;

  /** `lead` or `test` (a MSFT_TEST_ lead sent when the destination is configured). */
  @Column({ type: 'varchar', length: 8 })
  kind!: 'lead' | 'test';

  @Column({ type: 'varchar', length: 64 })
  publisherId!: string;

  @Column({ type: 'varchar', length: 100 })
  offerTitle!: string;

  @Column({ type: 'varchar', length: 20 })
  source!: string;

  @Column({ type: 'varchar', length: 30 })
  action!: string;

  @Column({ type: 'simple-json', nullable: true })
  contact!: LeadContact | null;

  @Column({ type: 'varchar', length: 16 })
  state!: LeadState;

  @Column({ type: 'simple-json', nullable: true })
  lastError!: LeadError | null;

  @Column(timestampColumn())
  deliveredAt!: number | null;
}
