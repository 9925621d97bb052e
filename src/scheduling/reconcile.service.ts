import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { SessionsService } from '../sessions/sessions.service';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { LeaseService } from './lease.service';

const LEASE = 'reconcile';

/**
 * The control loop. Every RECONCILE_INTERVAL_MS (an @nestjs/schedule interval) the replica holding the
 * `reconcile` lease ends expired sessions and lets each test drive type converge actual state to
 * desired state. Passes never overlap within a process; tests call reconcileOnce() directly with an
 * injected clock.
 */
@Injectable()
export class ReconcileService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcileService.name);
  private running: Promise<void> | null = null;

  constructor(
    private readonly sessions: SessionsService,
    private readonly registry: TestDriveTypeRegistry,
    private readonly lease: LeaseService,
    private readonly clock: Clock,
    private readonly scheduler: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const ms = this.config.reconcileIntervalMs;
    if (ms > 0) {
      const handle = setInterval(() => void this.tick(), ms);
      handle.unref?.();
      this.scheduler.addInterval('reconcile', handle);
      void this.tick();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.scheduler.doesExist('interval', 'reconcile')) this.scheduler.deleteInterval('reconcile');
    await this.running?.catch(() => undefined);
    await this.lease.release(LEASE).catch(() => undefined);
  }

  /** One scheduled tick: skipped if a pass is still running or another replica holds the lease. */
  async tick(): Promise<void> {
    if (this.running) return;
    const ttl = Math.max(15_000, this.config.reconcileIntervalMs * 5);
    try {
      if (!(await this.lease.tryAcquire(LEASE, this.clock.now(), ttl))) return;
    } catch (err) {
      this.logger.warn(`lease check failed: ${(err as Error).message}`);
      return;
    }
    await this.reconcileOnce();
  }

  /**
   * One full pass: expire due sessions, then each type's reconcile(now). Errors of one type are logged
   * and do not stop the others. Concurrent callers share the pass in progress.
   */
  reconcileOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      const now = this.clock.now();
      try {
        await this.sessions.expireDue(now);
      } catch (err) {
        this.logger.error(`expiry pass failed: ${(err as Error).stack}`);
      }
      for (const type of this.registry.all()) {
        try {
          await type.reconcile(now);
        } catch (err) {
          this.logger.error(`reconcile of ${type.type} failed: ${(err as Error).stack}`);
        }
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
