import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';
import { MessageOutboxRow } from '../persistence/outbox-row';

/** Session events a marketplace client can subscribe to (issue 12). */
export const CALLBACK_EVENTS = ['session.ready', 'session.ended', 'session.failed', 'session.queued.position'] as const;
export type CallbackEventType = (typeof CALLBACK_EVENTS)[number];

/** A marketplace client's callback: one per client (tenant + client id); its signing secret is in Key Vault. */
@Entity('callback_subscription')
@Index('UQ_callback_subscription_client', ['clientTenantId', 'clientId'], { unique: true })
export class CallbackSubscriptionEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 64 })
  clientTenantId!: string;

  @Column({ type: 'varchar', length: 64 })
  clientId!: string;

  /** https URL the events are POSTed to (checked by the outbound URL rule). */
  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  @Column({ type: 'simple-json' })
  events!: CallbackEventType[];

  @Column({ type: 'varchar', length: 127 })
  secretName!: string;

  @Column({ type: 'varchar', length: 64 })
  secretVersion!: string;

  /**
   * The Key Vault version of the secret before the last rotation, still signing (beside the current one)
   * until previousSecretExpiresAt; null when no overlap was asked for.
   */
  @Column({ type: 'varchar', length: 64, nullable: true })
  previousSecretVersion!: string | null;

  /** When the previous secret stops signing (clock ms); null without one. */
  @Column(timestampColumn(true))
  previousSecretExpiresAt!: number | null;

  @Column(timestampColumn(false))
  createdAt!: number;

  @Column(timestampColumn(false))
  updatedAt!: number;
}

/** One event for one subscription (the outbox): queued once (unique dedupeKey), delivered at least once. */
@Entity('callback_event')
@Index('UQ_callback_event_once', ['dedupeKey'], { unique: true })
@Index('IX_callback_event_due', ['state', 'nextAttemptAt'])
export class CallbackEventEntity extends MessageOutboxRow {
  /** The event id the receiver de-duplicates on (also sent as Idempotency-Key). */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  subscriptionId!: string;

  @Column({ type: 'varchar', length: 36 })
  sessionId!: string;

  @Column({ type: 'varchar', length: 40 })
  event!: CallbackEventType;

  /** `<sessionId>|<event>[|<position>]`: the same fact is queued once. */
  @Column({ type: 'varchar', length: 120 })
  dedupeKey!: string;

  /** The JSON body sent (no access information: the receiver reads the session with its token). */
  @Column({ type: 'text' })
  payload!: string;
}
