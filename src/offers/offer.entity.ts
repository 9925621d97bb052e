import { Column, Entity, PrimaryColumn, VersionColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';
import type { StoredLeadsConfig } from '../leads/lead-destination';
import type { StoredEscalationConfig } from '../escalation/escalation-config';

/** Lifecycle of an offer's test drive. Partner Center: disabling a test drive stops new sessions only. */
export type OfferState = 'draft' | 'published' | 'unpublished';

/**
 * What a type's checks against the publisher's environment found (TestDriveType.checkHealth): problems
 * make the offer `degraded` (and refuse publishing), warnings do not. Each names the field to fix.
 */
export interface OfferHealth {
  status: 'healthy' | 'degraded';
  problems: Array<{ code: string; message: string; target?: string }>;
  warnings: Array<{ code: string; message: string; target?: string }>;
  /** ISO time of the check (service clock). */
  checkedAt: string;
  /** Type-specific facts (e.g. Dynamics 365: licenses). */
  [extra: string]: unknown;
}

/** Publisher's deployment subscription details, without the client secret (that lives in Key Vault). */
export interface OfferDeployment {
  subscriptionId?: string;
  tenantId: string;
  tenantName?: string;
  clientId: string;
}

/**
 * An offer's test drive configuration. `testDrive` holds the type-specific settings (validated by the
 * type's module); no secret is ever stored here: the client secret is referenced by its Key Vault
 * name and version.
 */
@Entity('offer')
export class OfferEntity {
  /** Partner Center offer ID: lowercase letters, digits, '-' and '_', at most 50 characters. */
  @PrimaryColumn({ type: 'varchar', length: 50 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  alias!: string;

  /** Test drive type, e.g. "azure-resource-manager". */
  @Column({ type: 'varchar', length: 40 })
  type!: string;

  @Column({ type: 'varchar', length: 20 })
  state!: OfferState;

  @Column({ type: 'simple-json' })
  testDrive!: Record<string, unknown>;

  @Column({ type: 'simple-json' })
  deployment!: OfferDeployment;

  /** Key Vault secret name of the client secret. */
  @Column({ type: 'varchar', length: 127, nullable: true })
  clientSecretName!: string | null;

  /** Key Vault secret version in use; a new secret writes a new version and this moves to it. */
  @Column({ type: 'varchar', length: 64, nullable: true })
  clientSecretVersion!: string | null;

  /** Owning publisher (Entra tenant id + client id of the caller that created it). */
  @Column({ type: 'varchar', length: 64, nullable: true })
  ownerTenantId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ownerClientId!: string | null;

  /** The package revision new instances are deployed from (ARM only). */
  @Column({ type: 'varchar', length: 36, nullable: true })
  currentRevisionId!: string | null;

  /**
   * Result of the type's last check against the publisher's environment (publish preflight, then
   * periodically while published; types with TestDriveType.checkHealth only). Null/absent: never checked.
   */
  @Column({ type: 'simple-json', nullable: true })
  health?: OfferHealth | null;

  /** Lead destination without its secret (Key Vault reference), and the contact; null: none (issue 10). */
  @Column({ type: 'simple-json', nullable: true })
  leads?: StoredLeadsConfig | null;

  /** Escalation e-mails and webhook without its signing secret (Key Vault reference); null: none (issue 11). */
  @Column({ type: 'simple-json', nullable: true })
  escalation?: StoredEscalationConfig | null;

  @Column(timestampColumn())
  publishedAt!: number | null;

  @Column(timestampColumn(false))
  createdAt!: number;

  @Column(timestampColumn(false))
  updatedAt!: number;

  @VersionColumn()
  version!: number;
}
