import { Column, Entity, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../../../src/persistence/columns';

/**
 * Health of one offer's pool in one region: consecutive deployment failures drive the retry backoff
 * and show in GET /capacity.
 */
@Entity('pool_region')
export class PoolRegionEntity {
  @PrimaryColumn({ type: 'varchar', length: 50 })
  offerId!: string;

  @PrimaryColumn({ type: 'varchar', length: 40 })
  region!: string;

  @Column({ type: 'integer', default: 0 })
  consecutiveFailures!: number;

  /** No new instance is started in this region before this time (epoch ms). */
  @Column(timestampColumn())
  backoffUntil!: number | null;

  @Column({ type: 'simple-json', nullable: true })
  lastFailure!: { code: string; message: string; at: number } | null;
}
