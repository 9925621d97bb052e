import { Column, Entity, FindOptionsWhere, Index, IsNull, Not, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';

/** queued: waiting for capacity (issue 12, whenFull=queue), served first in, first out per offer and region. */
export type SessionState = 'queued' | 'provisioning' | 'ready' | 'ending' | 'ended' | 'failed';

/** Session states a customer holds or waits on (a slot is held in them): provisioning, ready, ending. */
export const LIVE_SESSION_STATES: readonly SessionState[] = ['provisioning', 'ready', 'ending'];
export type EndReason = 'expired' | 'ended' | 'failed' | 'unpublished';

/** Contact details the customer agreed to share with the publisher (the lead). */
export interface Customer {
  email: string;
  firstName: string;
  lastName: string;
  company?: string;
  country?: string;
  phone?: string;
  title?: string;
}

/**
 * Sessions whose deprovisioning gave up and nobody acknowledged yet (the `deprovisioning_failed` incident's
 * condition; the partial index IX_session_deprovisioning_open), as a TypeORM `where` to spread beside others.
 */
export const DEPROVISIONING_UNACKNOWLEDGED: FindOptionsWhere<SessionEntity> = { deprovisioningFailedAt: Not(IsNull()), deprovisioningAcknowledgedAt: IsNull() };

/**
 * One customer's test drive. Lasts `durationHours` whole hours from `readyAt` (Partner Center: whole
 * hours only) and then ends by itself. `slot` is used by types bounded by a concurrency limit
 * (unique per offer while the session holds capacity).
 */
@Entity('session')
@Index('UQ_session_slot', ['offerId', 'slot'], { unique: true })
@Index('IX_session_state_expires', ['state', 'expiresAt'])
@Index('IX_session_offer_requested', ['offerId', 'requestedAt'])
@Index('IX_session_updated', ['updatedAt'])
@Index('IX_session_deprovisioning_open', ['offerId'], { where: '"deprovisioningFailedAt" IS NOT NULL AND "deprovisioningAcknowledgedAt" IS NULL' })
export class SessionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  @Column({ type: 'varchar', length: 40 })
  type!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: SessionState;

  @Column({ type: 'varchar', length: 40, nullable: true })
  region!: string | null;

  @Column({ type: 'varchar', length: 8, nullable: true })
  instanceKind!: string | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  instanceId!: string | null;

  @Column({ type: 'simple-json' })
  customer!: Customer;

  /**
   * Whether the offer's publisher may see `customer`: the lead's rule (shareableContact: consent given, not an
   * `.edu` address). The marketplace client that started the session and operators always see it.
   */
  @Column({ type: 'boolean', default: true })
  customerShared!: boolean;

  @Column({ type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  /** Marketplace client that started the session (tenant, client id): it alone reads, ends and replays it. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  clientTenantId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  clientId!: string | null;

  /** Hash of the request body the idempotency key was first used with. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  requestHash!: string | null;

  @Column({ type: 'integer' })
  durationHours!: number;

  @Column({ type: 'integer', nullable: true })
  slot!: number | null;

  /** Outputs (access information values), encrypted: they include the customer's credentials. */
  @Column({ type: 'text', nullable: true })
  outputsEnc!: string | null;

  @Column({ type: 'simple-json', nullable: true })
  failure!: { code: string; message: string } | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  endReason!: EndReason | null;

  @Column(timestampColumn(false))
  requestedAt!: number;

  @Column(timestampColumn())
  readyAt!: number | null;

  @Column(timestampColumn())
  expiresAt!: number | null;

  @Column(timestampColumn())
  endedAt!: number | null;

  /** When a queued request left the queue (issue 12; null: never queued). Provisioning time counts from here. */
  @Column(timestampColumn())
  servedAt?: number | null;

  /** Arrival number of a queued request within its offer (issue 12): the queue's order. Null: never queued. */
  @Column({ type: 'bigint', nullable: true, transformer: { to: (v: number | null | undefined) => v, from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)) } })
  queueSeq?: number | null;

  /** queued: the queue position last sent to the marketplace's callback (issue 12; null: none sent). */
  @Column({ type: 'integer', nullable: true })
  queuePositionNotified?: number | null;

  /**
   * When the teardown of what the session made gave up for good (epoch ms; null: it did not): every attempt
   * failed (a Logic app's deprovisioning Logic App, LOGIC_APP_MAX_ATTEMPTS) and the session ended anyway, so
   * resources may be left behind. The `deprovisioning_failed` incident holds until someone acknowledges it.
   */
  @Column(timestampColumn())
  deprovisioningFailedAt?: number | null;

  /** When an operator or the offer's publisher acknowledged the failed deprovisioning (POST /sessions/{id}/acknowledge-deprovisioning; epoch ms). */
  @Column(timestampColumn())
  deprovisioningAcknowledgedAt?: number | null;

  /** Type-specific provisioning progress (resumable steps, run ids...). JSON; never a secret. */
  @Column({ type: 'simple-json', nullable: true })
  progress!: Record<string, unknown> | null;

  @Column(timestampColumn(false))
  updatedAt!: number;
}
