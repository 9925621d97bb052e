import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';

/** What was done (issue 3: every change, by whom). */
export type AuditAction =
  | 'offer.created'
  | 'offer.updated'
  | 'offer.deleted'
  | 'offer.published'
  | 'offer.unpublished'
  | 'package.uploaded'
  | 'leads.destination-changed'
  | 'lead.redelivered'
  | 'session.started'
  | 'session.refused'
  | 'session.ended'
  | 'session.expired'
  | 'session.deprovisioning-acknowledged'
  | 'notifications.registered'
  | 'notifications.updated'
  | 'notifications.removed'
  | 'notifications.secret-rotated';

/**
 * One audited change. `actorType` "client" (an API caller: tenant + client id and its roles) or
 * "system" (the service itself, e.g. session expiry). `details` is small JSON without secrets
 * (e.g. which fields changed, a Key Vault secret *version* id, a package revision number).
 */
@Entity('audit_event')
@Index('IDX_audit_event_at', ['at'])
@Index('IDX_audit_event_offer_at', ['offerId', 'at'])
export class AuditEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  /** Epoch ms (the service clock). */
  @Column(timestampColumn(false))
  at!: number;

  @Column({ type: 'varchar', length: 10 })
  actorType!: 'client' | 'system';

  @Column({ type: 'varchar', length: 64, nullable: true })
  actorTenantId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  actorClientId!: string | null;

  /** Comma-separated app roles the actor held. */
  @Column({ type: 'varchar', length: 200, nullable: true })
  actorRoles!: string | null;

  @Column({ type: 'varchar', length: 40 })
  action!: AuditAction;

  @Column({ type: 'varchar', length: 50, nullable: true })
  offerId!: string | null;

  /** "offer", "package", "session". */
  @Column({ type: 'varchar', length: 20 })
  targetType!: string;

  @Column({ type: 'varchar', length: 64 })
  targetId!: string;

  @Column({ type: 'simple-json', nullable: true })
  details!: Record<string, unknown> | null;
}
