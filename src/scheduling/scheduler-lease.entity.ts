import { Column, Entity, PrimaryColumn } from 'typeorm';
import { timestampColumn } from '../persistence/columns';

/** A named lease: the one replica holding it runs that scheduled job (immich-style job lock). */
@Entity('scheduler_lease')
export class SchedulerLeaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'varchar', length: 64 })
  owner!: string;

  @Column(timestampColumn(false))
  expiresAt!: number;
}
