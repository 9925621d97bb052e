import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { AdvisoryLockLeadership, Leadership, RowLeaseLeadership } from './leadership';

/** Name of the reconcile loop's lease row (SQLite). */
export const RECONCILE_LEASE = 'reconcile';

/**
 * Leadership of the reconcile loop: which one replica runs it (immich's "one lock for scheduled jobs
 * across replicas"). On PostgreSQL a session-level advisory lock on a dedicated connection, held as
 * long as that connection lives (AdvisoryLockLeadership); on SQLite a row lease whose expiry is
 * database time, renewed every tick (RowLeaseLeadership). See docs/operations.md, "Running several
 * replicas".
 */
@Injectable()
export class LeaseService {
  private readonly logger = new Logger('Leadership');
  private readonly leadership: Leadership;

  constructor(@InjectDataSource() ds: DataSource, @Inject(APP_CONFIG) config: AppConfig) {
    const intervalMs = config.reconcileIntervalMs;
    if (config.database.kind === 'postgres') {
      this.leadership = new AdvisoryLockLeadership(config.database.url, this.logger, {
        timeoutMs: Math.max(5_000, intervalMs),
        idleSessionTimeoutMs: Math.max(30_000, 10 * intervalMs),
        standDownMs: standDownMs(intervalMs),
      });
    } else {
      this.leadership = new RowLeaseLeadership(ds, RECONCILE_LEASE, leaseTtlMs(intervalMs), this.logger);
    }
  }

  /** This process's identity as leader (`<host>/<pid>/<random>`). */
  get owner(): string {
    return this.leadership.owner;
  }

  /** 'advisory-lock' (PostgreSQL) or 'row-lease' (SQLite). */
  get kind(): Leadership['kind'] {
    return this.leadership.kind;
  }

  /** Last known leadership, without a database round trip (false as soon as a loss is noticed). */
  get isLeader(): boolean {
    return this.leadership.held;
  }

  /**
   * Called once per tick: the leader confirms it still leads (renews its lease / checks its lock
   * connection), another replica tries to become leader.
   * @returns true when this replica leads now. @throws on database errors (this replica is then not leader).
   */
  ensureLeader(): Promise<boolean> {
    return this.leadership.ensure();
  }

  /** Gives leadership up (on shutdown) so another replica takes over on its next tick. Never throws. */
  release(): Promise<void> {
    return this.leadership.release();
  }
}

/** TTL of the SQLite lease (ms): 3 ticks, at least 10 s; renewed every tick. */
export function leaseTtlMs(reconcileIntervalMs: number): number {
  return Math.max(10_000, 3 * reconcileIntervalMs);
}

/**
 * How long a PostgreSQL replica that lost its leader connection waits before trying the lock again
 * (ms): two ticks, so every other replica has had a tick to take over first (AdvisoryLockLeadership).
 */
export function standDownMs(reconcileIntervalMs: number): number {
  return 2 * reconcileIntervalMs;
}
