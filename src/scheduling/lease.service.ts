import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { isUniqueViolation } from '../persistence/data-source';
import { SchedulerLeaseEntity } from './scheduler-lease.entity';

/**
 * Named leases in the database: one replica at a time runs a scheduled job (immich's "one lock for
 * scheduled jobs across replicas", done with a row so it works on SQLite and PostgreSQL alike).
 * A holder that dies loses the lease when it expires; another replica takes over.
 */
@Injectable()
export class LeaseService {
  /** This process's identity as a lease owner. */
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly repo: Repository<SchedulerLeaseEntity>;

  constructor(@InjectDataSource() ds: DataSource) {
    this.repo = ds.getRepository(SchedulerLeaseEntity);
  }

  /**
   * Takes or renews lease `name` for `ttlMs` from `now` (epoch ms). True when this process holds it.
   * One conditional UPDATE (held by us, or expired) or, the first time, an INSERT racing on the key.
   */
  async tryAcquire(name: string, now: number, ttlMs: number): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update(SchedulerLeaseEntity)
      .set({ owner: this.owner, expiresAt: now + ttlMs })
      .where('name = :name', { name })
      .andWhere('(owner = :owner OR "expiresAt" <= :now)', { owner: this.owner, now })
      .execute();
    if (r.affected === 1) return true;
    try {
      await this.repo.insert({ name, owner: this.owner, expiresAt: now + ttlMs });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Gives the lease up (on shutdown) so another replica need not wait for it to expire. */
  async release(name: string): Promise<void> {
    await this.repo.delete({ name, owner: this.owner });
  }
}
