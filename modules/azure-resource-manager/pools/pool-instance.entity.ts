import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../../../src/persistence/columns';

/**
 * Hot: deployed ahead and waiting; warm: deployed ahead with its virtual machines deallocated, started
 * when claimed; cold: deployed when a customer asks (Partner Center instance kinds).
 */
export type InstanceKind = 'hot' | 'warm' | 'cold';

/**
 * pending -> deploying -> ready -> assigned -> deleting -> deleted
 *                \-> failed -> deleting (after backoff) ...
 * Warm (issue 12): deploying -> parking (its virtual machines being deallocated) -> ready (W-) ->
 * starting (claimed: virtual machines being started, outputs refreshed) -> assigned (WA).
 * An assigned instance is never reused: after its session it is deleted (Partner Center rule).
 */
export type InstanceState = 'pending' | 'deploying' | 'parking' | 'ready' | 'starting' | 'assigned' | 'failed' | 'deleting' | 'deleted';

export interface InstanceFailure {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * One ARM test drive instance: a resource group `CloudTry_<guid>` with one deployment of a package
 * revision. `slot` (0..limit-1, per offer/region/kind) is unique while the instance holds capacity and
 * NULL once deleted: the database's unique index is what keeps a region within its hot/cold limits,
 * atomically on SQLite and PostgreSQL alike.
 */
@Entity('pool_instance')
@Index('UQ_pool_instance_slot', ['offerId', 'region', 'kind', 'slot'], { unique: true })
@Index('UQ_pool_instance_session', ['sessionId'], { unique: true, where: '"sessionId" IS NOT NULL' })
// The hot and warm claims' candidates, oldest first (migration 1795000001100).
@Index('IX_pool_instance_ready', ['offerId', 'region', 'kind', 'readyAt'], { where: `"state" = 'ready' AND "sessionId" IS NULL` })
@Index('IX_pool_instance_claim', ['offerId', 'region', 'kind', 'state'])
@Index('IX_pool_instance_due', ['state', 'nextActionAt'])
export class PoolInstanceEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id!: string;

  @Column({ type: 'varchar', length: 50 })
  offerId!: string;

  @Column({ type: 'varchar', length: 36 })
  revisionId!: string;

  @Column({ type: 'varchar', length: 40 })
  region!: string;

  @Column({ type: 'varchar', length: 8 })
  kind!: InstanceKind;

  @Column({ type: 'integer', nullable: true })
  slot!: number | null;

  @Column({ type: 'varchar', length: 16 })
  state!: InstanceState;

  @Column({ type: 'varchar', length: 40 })
  subscriptionId!: string;

  /** CloudTry_<32 hex> (test drive rules). */
  @Column({ type: 'varchar', length: 90 })
  resourceGroupName!: string;

  @Column({ type: 'varchar', length: 64 })
  deploymentName!: string;

  @Column({ type: 'varchar', length: 36, nullable: true })
  sessionId!: string | null;

  /** Deployment outputs, encrypted (they often carry the generated password). */
  @Column({ type: 'text', nullable: true })
  outputsEnc!: string | null;

  @Column({ type: 'simple-json', nullable: true })
  failure!: InstanceFailure | null;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** Do not act on this instance before this time (backoff after failures, pacing of delete polls). */
  @Column(timestampColumn())
  nextActionAt!: number | null;

  @Column(timestampColumn(false))
  createdAt!: number;

  /** When the deployment was last submitted to ARM (null before): the age that paces its reads (deploymentPollPauseMs). */
  @Column(timestampColumn())
  submittedAt!: number | null;

  @Column(timestampColumn())
  readyAt!: number | null;

  @Column(timestampColumn())
  assignedAt!: number | null;

  @Column(timestampColumn())
  deletedAt!: number | null;

  /** When the resource group was tagged with its session (null: not yet; reconcile retries until done). */
  @Column(timestampColumn())
  sessionTaggedAt?: number | null;

  @Column(timestampColumn(false))
  updatedAt!: number;
}
