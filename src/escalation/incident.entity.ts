import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';
import { MessageOutboxRow } from '../persistence/outbox-row';

/**
 * What an incident is about (issue 11, escalation):
 * - `pool_backoff`: an ARM region's pool backs off after ESCALATION_FAILURES_IN_A_ROW failed deployments
 *   in a row (subject: the region; details carry the Azure error);
 * - `offer_degraded`: the offer's health check found problems (subject: '');
 * - `deprovisioning_failed`: a teardown gave up for good: resources may be left behind (subject: ''); it holds
 *   until each such session is acknowledged (POST /sessions/{id}/acknowledge-deprovisioning);
 * - `client_secret_expiring`: the offer's client secret expires within 30 days (a health warning);
 * - `lead_delivery_failing`: a lead of the offer has waited for delivery over an hour, or failed.
 */
export type IncidentKind = 'pool_backoff' | 'offer_degraded' | 'deprovisioning_failed' | 'client_secret_expiring' | 'lead_delivery_failing';

/** Every kind, in the order the dashboard lists them. */
export const INCIDENT_KINDS: readonly IncidentKind[] = ['pool_backoff', 'offer_degraded', 'deprovisioning_failed', 'client_secret_expiring', 'lead_delivery_failing'];

/**
 * One incident: opened once when its condition starts, resolved once when it stops (never a storm).
 * `openKey` = offerId|kind|subject while open and null once resolved; a unique index on it means two
 * replicas (or two passes) can never open the same incident twice. Never holds a secret.
 */
@Entity('incident')
@Index('UQ_incident_open', ['openKey'], { unique: true })
@Index('IX_incident_offer_opened', ['offerId', 'openedAt'])
@Index('IX_incident_state', ['state'])
export class IncidentEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  @Column({ type: 'varchar', length: 40 })
  kind!: IncidentKind;

  /** What of the offer it is about: a region for pool_backoff, else ''. */
  @Column({ type: 'varchar', length: 100 })
  subject!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  openKey!: string | null;

  @Column({ type: 'varchar', length: 16 })
  state!: 'open' | 'resolved';

  /** One line for people: what happened, with the Azure error when there is one (≤ 500 characters). */
  @Column({ type: 'varchar', length: 500 })
  summary!: string;

  /** Facts for machines (error code, message, counts). */
  @Column({ type: 'simple-json', nullable: true })
  details!: Record<string, unknown> | null;

  @Column(timestampColumn(false))
  openedAt!: number;

  @Column(timestampColumn())
  resolvedAt!: number | null;

  @Column(timestampColumn(false))
  updatedAt!: number;
}

/** One message about an incident to one target: an e-mail address or the offer's webhook. */
@Entity('alert_notification')
@Index('UQ_alert_notification_once', ['incidentId', 'event', 'channel', 'target'], { unique: true })
@Index('IX_alert_notification_due', ['state', 'nextAttemptAt'])
export class AlertNotificationEntity extends MessageOutboxRow {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 36 })
  incidentId!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  @Column({ type: 'varchar', length: 16 })
  event!: 'opened' | 'resolved';

  @Column({ type: 'varchar', length: 16 })
  channel!: 'email' | 'webhook';

  /** The e-mail address, or the webhook URL (origin + path: never a query that could carry a signature). */
  @Column({ type: 'varchar', length: 300 })
  target!: string;
}
