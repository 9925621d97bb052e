import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { SessionsService } from '../sessions/sessions.service';
import { TestDriveType } from '../test-drives/test-drive-type';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { LeaseService } from './lease.service';
import { Metrics } from '../metrics/metrics';
import { MetricsCollector } from '../metrics/metrics.collector';
import { EscalationService } from '../escalation/escalation.service';
import { QueueService } from '../sessions/queue.service';
import { CallbacksService } from '../callbacks/callbacks.service';
import { ChangeWatch } from './change-watch';
import { Database } from '../persistence/database';
import { HISTORY_PURGE_INTERVAL_MS, purgeDoneMessages } from '../persistence/outbox';

/** How often (service clock, ms) the leader evaluates escalation conditions: every 15 s. */
export const ESCALATION_INTERVAL_MS = 15_000;


/** Most expiry runs in flight at once (a run stuck in a slow teardown does not stop the next tick's). */
export const MAX_EXPIRY_RUNS = 3;
/** How long shutdown waits for runs in flight before releasing leadership (ms, wall clock). */
export const SHUTDOWN_WAIT_MS = 10_000;

/** Time budget of one type's scheduled reconcile (ms, wall clock): 5 ticks, at least 5 s. */
export function typeBudgetMs(reconcileIntervalMs: number): number {
  return Math.max(5_000, 5 * reconcileIntervalMs);
}

interface Run {
  promise: Promise<void>;
  /** performance.now() at start. */
  startedAt: number;
  /** Whether "over budget" was logged for this run. */
  warned: boolean;
}

/**
 * The control loop. Every RECONCILE_INTERVAL_MS the replica that leads (LeaseService: a PostgreSQL
 * advisory lock on a dedicated connection, or a SQLite lease renewed every tick) runs a tick:
 *
 * - **Expiry** (SessionsService.expireDue: ready sessions past expiresAt become `ending` and their type
 *   tears down) starts on every tick, on its own path: it never waits for a type's reconcile. A run
 *   still busy (a slow teardown) does not stop the next tick's run (up to MAX_EXPIRY_RUNS at once;
 *   the state transition is conditional, so two runs never end one session twice).
 * - **Each type's reconcile(now)** starts when the previous one of that type has finished. A type
 *   whose previous reconcile is still running is skipped this tick; past its budget (typeBudgetMs)
 *   that is logged once per run. Nothing waits for a slow type: not expiry, not the other types.
 *
 * Issue 14, a pass costs its due work, not the fleet: each task above (expiry, each type, the queue, the
 * leader's bookkeeping) runs on a tick only when sessions or offers changed since its last run
 * (ChangeWatch: one indexed statement per tick, any replica's writes), when its own due time came
 * (the next session expiry, a type's answer from reconcile(): an instance to poll, a periodic check),
 * or after RECONCILE_BACKSTOP_MS at the latest. With nothing changed and nothing due a tick costs the
 * leadership check and that one statement.
 *
 * The tick itself awaits only the leadership check and the change check, so it never waits on Azure.
 * Tests call reconcileOnce() directly with an injected clock: one full pass of every task that awaits
 * everything.
 */
@Injectable()
export class ReconcileService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ReconcileService.name);
  private pass: Promise<void> | null = null;
  private readonly typeRuns = new Map<string, Run>();
  private readonly expiryRuns = new Set<Promise<void>>();
  /** The leader's bookkeeping run in flight (metrics observer, escalation), if any. */
  private leaderRun: Promise<void> | null = null;
  /** The queue pass in flight (issue 12), if any. */
  private queueRun: Promise<void> | null = null;
  private nextEscalationAt = 0;
  private nextHistoryPurgeAt = 0;
  /** The tick in progress (its leadership check), if any. */
  private ticking: Promise<void> | null = null;
  private stopped = false;
  private expirySkipLogged = false;
  /** Consecutive failed leadership checks (the first is a warning, later ones debug). */
  private leadershipFailures = 0;
  /** Budget of a type's scheduled reconcile, ms (typeBudgetMs of RECONCILE_INTERVAL_MS). */
  readonly budgetMs: number;
  /**
   * RECONCILE_BACKSTOP_MS: the longest a task waits with nothing changed and nothing due (wall clock: a
   * test's stopped clock does not stop it).
   */
  readonly backstopMs: number;
  /** Bumped on every tick that saw sessions or offers change (ChangeWatch). */
  private changeSeq = 0;
  /**
   * Per task: the changeSeq its last run began at, when it is due again by its own account (service
   * clock), and its backstop (performance.now()).
   */
  private readonly gates = new Map<string, { seq: number; dueAt: number; backstopAt: number }>();
  /** Whether this replica led on the previous tick (a new leader starts with every task due). */
  private leading = false;

  constructor(
    private readonly sessions: SessionsService,
    private readonly registry: TestDriveTypeRegistry,
    private readonly lease: LeaseService,
    private readonly clock: Clock,
    private readonly scheduler: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly collector: MetricsCollector,
    private readonly escalation: EscalationService,
    private readonly queue: QueueService,
    private readonly callbacks: CallbacksService,
    private readonly changes: ChangeWatch,
    private readonly db: Database,
  ) {
    this.budgetMs = typeBudgetMs(config.reconcileIntervalMs);
    this.backstopMs = config.reconcileBackstopMs;
  }

  /** Whether `task` should run on this tick: something changed since its last run, or it is due. */
  private isDue(task: string, now: number): boolean {
    const g = this.gates.get(task);
    return !g || g.seq !== this.changeSeq || now >= g.dueAt || performance.now() >= g.backstopAt;
  }

  /**
   * Records a run of `task` that began at change `seq`: due again at `next` (epoch ms, service clock) or
   * after the backstop, whichever is first. A failed run (`failed`) is due again on the next tick.
   */
  private ran(task: string, seq: number, next?: number | void, failed = false): void {
    if (failed) {
      this.gates.delete(task);
      return;
    }
    this.gates.set(task, { seq, dueAt: typeof next === 'number' ? next : Number.POSITIVE_INFINITY, backstopAt: performance.now() + this.backstopMs });
  }

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
    this.stopped = true;
    if (this.scheduler.doesExist('interval', 'reconcile')) this.scheduler.deleteInterval('reconcile');
    const inFlight = [this.ticking, this.pass, this.leaderRun, this.queueRun, ...[...this.typeRuns.values()].map((r) => r.promise), ...this.expiryRuns].filter((p): p is Promise<void> => !!p);
    if (inFlight.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(inFlight),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, SHUTDOWN_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.lease.release().catch(() => undefined);
  }

  /**
   * One scheduled tick: confirm or try leadership; as leader, start an expiry run and the reconcile of
   * every type not still running. Returns once they are started (it does not wait for them).
   * Ticks do not overlap; a failed leadership check skips the tick (logged).
   */
  tick(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.runTick().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    let leader: boolean;
    try {
      leader = await this.lease.ensureLeader();
    } catch (err) {
      const msg = `leadership check failed; skipping this tick: ${(err as Error).message}`;
      if (this.leadershipFailures++ === 0) this.logger.warn(msg);
      else this.logger.debug(msg);
      return;
    }
    if (this.leadershipFailures > 0) this.logger.log(`leadership check works again after ${this.leadershipFailures} failed ticks`);
    this.leadershipFailures = 0;
    if (!leader || this.stopped) {
      this.leading = false;
      return;
    }
    if (!this.leading) {
      // A new leader knows nothing of what is due: every task runs on its first tick.
      this.leading = true;
      this.gates.clear();
      this.changes.reset();
    }
    try {
      if (await this.changes.changed()) this.changeSeq++;
    } catch (err) {
      this.changeSeq++; // unknown: treat as changed
      this.logger.debug(`change check failed: ${(err as Error).message}`);
    }
    const now = this.clock.now();
    if (this.isDue('expiry', now)) this.startExpiry(now);
    if (!this.leaderRun && (this.isDue('leader', now) || now >= this.nextEscalationAt)) this.leaderRun = this.runLeaderTasks(now).finally(() => (this.leaderRun = null));
    if (!this.queueRun && this.isDue('queue', now)) this.queueRun = this.serveQueue(now).finally(() => (this.queueRun = null));
    for (const type of this.registry.all()) {
      const running = this.typeRuns.get(type.type);
      if (!running) {
        if (this.isDue(`type:${type.type}`, now)) void this.runType(type, now);
        continue;
      }
      const elapsed = performance.now() - running.startedAt;
      if (elapsed > this.budgetMs && !running.warned) {
        running.warned = true;
        this.logger.warn(
          `reconcile of ${type.type} has run ${Math.round(elapsed)} ms, over its budget of ${this.budgetMs} ms; it is skipped until it finishes (expiry and the other types go on)`,
        );
      }
    }
  }

  /** Whether a scheduled reconcile of `type` is running now (tests, diagnostics). */
  isRunning(type: string): boolean {
    return this.typeRuns.has(type);
  }

  /**
   * One full pass, awaited: expire due sessions, then each type's reconcile(now) in turn (after that
   * type's run in flight, if any, so a type never runs twice at once in a process). Errors of one type
   * are logged and do not stop the others. No leadership check and no budget: tests call it directly
   * with a ManualClock and expect all the pass's work done on return. Concurrent callers share the
   * pass in progress.
   */
  reconcileOnce(): Promise<void> {
    if (this.pass) return this.pass;
    this.pass = (async () => {
      const now = this.clock.now();
      await this.expire(now);
      for (const type of this.registry.all()) {
        for (let run = this.typeRuns.get(type.type); run; run = this.typeRuns.get(type.type)) await run.promise;
        await this.runType(type, now);
      }
      while (this.queueRun) await this.queueRun;
      await this.serveQueue(now);
    })().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  /**
   * The leader's bookkeeping each tick (never overlapping itself): observe sessions that became ready or
   * ended (time-to-ready and expiry-lag histograms), evaluate escalation conditions every
   * ESCALATION_INTERVAL_MS, and send due alert notifications. Errors are logged and counted.
   */
  private async runLeaderTasks(now: number): Promise<void> {
    const seq = this.changeSeq;
    let failed = false;
    const guard = (task: string, body: () => Promise<unknown>) =>
      this.metrics.timePass(task, body).catch((err: Error) => {
        failed = true;
        this.logger.warn(`${task} pass failed: ${err.message}`);
      });
    await guard('metrics', () => this.collector.observeSessions(now));
    if (now >= this.nextEscalationAt) {
      this.nextEscalationAt = now + ESCALATION_INTERVAL_MS;
      await guard('escalation', () => this.escalation.evaluate(now));
    }
    await guard('alerts', () => this.escalation.deliverDue());
    await guard('callbacks', async () => {
      await this.callbacks.collect(now);
      await this.callbacks.deliverDue();
    });
    if (now >= this.nextHistoryPurgeAt) {
      this.nextHistoryPurgeAt = now + HISTORY_PURGE_INTERVAL_MS;
      await guard('history', () => this.purgeHistory(now));
    }
    this.ran('leader', seq, Math.min(this.nextEscalationAt, this.nextHistoryPurgeAt), failed);
  }

  /**
   * Removes the delivery machinery's finished history older than HISTORY_RETENTION_DAYS: marketplace
   * callback events and alert notifications sent or given up (purgeDoneMessages). Sessions, leads,
   * incidents and the audit trail stay; the ARM type removes its deleted instances in its own reconcile.
   * Run by the leader every HISTORY_PURGE_INTERVAL_MS; safe to run anywhere, any number of times.
   * @returns rows removed per table.
   */
  async purgeHistory(now = this.clock.now()): Promise<{ callbackEvents: number; alertNotifications: number }> {
    const cutoff = now - this.config.historyRetentionMs;
    const callbackEvents = await this.callbacks.purgeDone(cutoff);
    const alertNotifications = await purgeDoneMessages(this.db, 'alert_notification', cutoff);
    if (callbackEvents || alertNotifications) this.logger.log(`removed finished history older than ${new Date(cutoff).toISOString()}: ${callbackEvents} callback events, ${alertNotifications} alert notifications`);
    return { callbackEvents, alertNotifications };
  }

  /** Serves the start queue (issue 12): never overlapping itself; errors logged and counted. */
  private async serveQueue(now: number): Promise<void> {
    const seq = this.changeSeq;
    let failed = false;
    await this.metrics.timePass('queue', () => this.queue.serve(now)).catch((err: Error) => {
      failed = true;
      this.logger.warn(`queue pass failed: ${err.message}`);
    });
    this.ran('queue', seq, undefined, failed);
  }

  private startExpiry(now: number): void {
    if (this.expiryRuns.size >= MAX_EXPIRY_RUNS) {
      if (!this.expirySkipLogged) this.logger.warn(`${this.expiryRuns.size} expiry runs still in flight (slow teardown?); skipping expiry this tick`);
      this.expirySkipLogged = true;
      return;
    }
    this.expirySkipLogged = false;
    const p: Promise<void> = this.expire(now).finally(() => this.expiryRuns.delete(p));
    this.expiryRuns.add(p);
  }

  private async expire(now: number): Promise<void> {
    const seq = this.changeSeq;
    try {
      await this.metrics.timePass('expiry', () => this.sessions.expireDue(now));
      // Due again at the next expiry of a ready session (one indexed MIN); a session that becomes ready
      // later is a change, which runs expiry on the next tick anyway.
      this.ran('expiry', seq, (await this.sessions.nextExpiryAt()) ?? undefined);
    } catch (err) {
      this.ran('expiry', seq, undefined, true);
      this.logger.error(`expiry pass failed: ${(err as Error).stack}`);
    }
  }

  /** Runs `type.reconcile(now)`, registered as that type's run in flight; never rejects. */
  private runType(type: TestDriveType, now: number): Promise<void> {
    const startedAt = performance.now();
    const seq = this.changeSeq;
    const promise = (async () => {
      try {
        let next: number | undefined | void;
        await this.metrics.timePass(type.type, async () => {
          next = await type.reconcile(now);
        });
        this.ran(`type:${type.type}`, seq, next);
      } catch (err) {
        this.ran(`type:${type.type}`, seq, undefined, true);
        this.logger.error(`reconcile of ${type.type} failed: ${(err as Error).stack}`);
      }
    })().finally(() => {
      if (this.typeRuns.get(type.type)?.promise === promise) this.typeRuns.delete(type.type);
      const took = performance.now() - startedAt;
      if (took > this.budgetMs) this.logger.warn(`reconcile of ${type.type} finished after ${Math.round(took)} ms (budget ${this.budgetMs} ms)`);
    });
    this.typeRuns.set(type.type, { promise, startedAt, warned: false });
    return promise;
  }
}
