import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ApiError, ErrorDetail } from '../../src/common/api-error';
import { Clock } from '../../src/common/clock';
import { AppConfig, APP_CONFIG } from '../../src/config/app-config';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OffersRepository } from '../../src/offers/offers.repository';
import { PoolInstanceEntity } from './pools/pool-instance.entity';
import { ClaimedHot, DELETABLE_STATES, LiveCount, PoolInstanceRepository } from './pools/pool-instance.repository';
import { ArmHealthChecker, armHealthIntervalMs } from './health/arm-health';
import { SessionEntity } from '../../src/sessions/session.entity';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { z } from 'zod';
import { CapacityRow, OfferHealth, SessionCommit, StartSessionRequest, TestDriveSchemas, TestDriveType, ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { azureDeploymentSchema } from '../../src/test-drives/config-schemas';
import { Database, TxBody } from '../../src/persistence/database';
import { HISTORY_PURGE_INTERVAL_MS } from '../../src/persistence/outbox';
import { isUniqueViolation } from '../../src/persistence/data-source';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { armTestDriveSchema, ArmRegionConfig, ArmTestDriveConfig, regionLimit, validateArmConfig } from './arm-config';
import { HotTarget, HotTargetInput, hotBounds, hotTargetFor, hourlyDemand, instanceHoursLast24h, planHotPool } from './pools/hot-policy';
import { DemandRepository, StartRequest } from '../../src/sessions/demand.repository';
import { packageRevisionSummarySchema } from './packages/package.dto';
import { PackageService } from './packages/package.service';
import { ArmInstanceDriver, STEP_RETRY_MS, TagTarget } from './provisioning/arm-instance.driver';
import { SingleFlight } from '../../src/common/single-flight';
import { DataProtector } from '../../src/azure/data-protector';
import { ArmWriteBudget } from './provisioning/write-budget';

export const ARM_TYPE = 'azure-resource-manager';

/** Instances driven at once in one reconcile pass. */
const PARALLEL_STEPS = 16;

/**
 * Reads of pool refills' running deployments (no customer waiting) and of resource groups being deleted
 * (the first read of each is followed by its DELETE) per subscription in one reconcile pass
 * (one pass a tick, 1 s by default): within ARM's 25 reads/s per subscription and principal (Azure docs
 * "Understand how Azure Resource Manager throttles requests"), with room left for the reads a customer
 * waits for. The rest stay due and are read on the next passes, the least recently read first.
 */
export const POOL_READS_PER_PASS = 20;

/**
 * A session still `provisioning` without an instance this long after its request was abandoned. Since
 * the claim and the session row are one transaction, such a session only comes from an older version.
 */
const ABANDONED_START_MS = 10_000;
/** A resource group not yet tagged with its session this long after the claim is tagged by reconcile. */
const TAG_RETRY_AFTER_MS = 5_000;
/**
 * Following an instance a customer waits for (cold or warm start, issue 14): the shortest and longest
 * pause between two polls (ms, wall clock), and how long this process follows it before leaving it to
 * the reconcile loop. A poll every 2 s at most keeps far inside ARM's read budget per subscription.
 */
const FOLLOW_MIN_PAUSE_MS = 25;
const FOLLOW_MAX_PAUSE_MS = 2_000;
const FOLLOW_MAX_MS = 30 * 60_000;
/** Instance states a waiting customer's instance passes through before its session is ready. */
const FOLLOWED_STATES: ReadonlySet<string> = new Set(['pending', 'deploying', 'starting']);
/** How often (clock time) the orphan sweep lists every ARM offer's resource groups. */
export const ORPHAN_SWEEP_INTERVAL_MS = 5 * 60_000;
/** How often a pass also looks for assigned instances whose session is over (the backstop of endSession; issue 14). */
export const ASSIGNED_SWEEP_INTERVAL_MS = 60_000;
/** How often a pass also checks that the data key of every ready instance's outputs still exists (sweepUnreadable). */
export const UNREADABLE_SWEEP_INTERVAL_MS = 60_000;
/** Resource group tag calls at once when the tag queue is flushed (the rest wait on the shared agent's sockets). */
const TAG_PARALLEL = 8;
/** An instance to tag, with the session it was claimed for. */
type SessionTagTarget = TagTarget & { sessionId: string };
/** How long the tag after a claim waits for other claims to share its flush (ms): one write marks them all tagged. */
export const TAG_SOON_MS = 50;
/**
 * A tagged CloudTry_ group without any instance row is deleted only after it has been seen orphaned for
 * this long. An instance row is always written before its group is created, so this only guards
 * against what a single listing cannot see (a replica's commit in flight, a restore in progress).
 */
export const ORPHAN_GRACE_MS = 10 * 60_000;
/** A forecast hot target is recomputed after this share of a test drive hour (one minute of a real hour). */
const FORECAST_REFRESH_HOURS = 1 / 60;
/** Weeks of start history read for a forecast (hot-policy FORECAST_HISTORY_WEEKS plus the hour being smoothed). */
const DEMAND_HISTORY_HOURS = 4 * 168 + 2;

/** What an ARM test drive validates and adds to responses (TestDriveSchemas; the API description). */
export const ARM_SCHEMAS: TestDriveSchemas = {
  testDrive: armTestDriveSchema,
  deployment: azureDeploymentSchema,
  offerView: { packageRevision: packageRevisionSummarySchema.nullable() },
  capacityRow: {
    deleting: z.number().int().meta({ description: 'ARM: instances whose resource group is being deleted.' }),
    warmTarget: z.number().int().meta({ description: 'ARM: warm instances to keep deployed with their virtual machines deallocated (issue 12).' }),
    warmReady: z.number().int().meta({ description: "ARM: warm instances waiting, virtual machines deallocated (Partner Center billing state W-)." }),
    warmAssigned: z.number().int().meta({ description: 'ARM: warm instances claimed, starting or in use (Partner Center billing state WA).' }),
    hotPolicy: z.enum(['fixed', 'forecast']).meta({ description: 'ARM: how hotTarget is chosen: the fixed count of testDrive.regions[].hot, or by forecast within hotMin..hotMax (issue 15).' }),
    hotMin: z.number().int().meta({ description: 'ARM: the fewest hot instances (the fixed count, or the forecast policy\'s min).' }),
    hotMax: z.number().int().meta({ description: 'ARM: the most hot instances (the fixed count, or the forecast policy\'s max).' }),
    forecast: z
      .object({
        expectedStarts: z.number().meta({ description: 'Start requests expected within the lead time.' }),
        windowMinutes: z.number().meta({ description: 'Lead time: measured deployment duration (90th percentile) x 1.25 + 5 minutes, in minutes of a test drive hour.' }),
        method: z.enum(['seasonal', 'recent', 'none']).meta({ description: 'seasonal: hour-of-week profile x recent level (>= 1 week of history); recent: recent rate; none: no history.' }),
        level: z.number().meta({ description: 'Recent demand over the seasonal profile (1 = as usual).' }),
        readyWanted: z.number().int().meta({ description: 'Ready instances covering the expected starts at the 97th percentile of a Poisson demand.' }),
        keep: z.number().int().meta({ description: 'Idle ready instances are removed only while the pool holds more than this.' }),
        reason: z.string().meta({ description: 'Why hotTarget is what it is, in words.' }),
      })
      .nullable()
      .meta({ description: 'ARM: the forecast behind hotTarget (hot policy forecast; null for a fixed count).' }),
    regionRemoved: z.boolean().meta({ description: 'ARM: the region is no longer in the offer; the row stays, with limit and targets 0, while instances remain (a session running to its expiry, resource groups being deleted).' }),
    coldLimit: z.number().int().meta({ description: 'ARM: the region\'s cold count (most instances deployed on request).' }),
    coldInUse: z.number().int().meta({ description: 'ARM: cold instances deployed or deploying.' }),
    consecutiveFailures: z.number().int().meta({ description: 'ARM: failed deployments in a row in this region (resets on a success).' }),
    instances: z
      .array(z.object({ kind: z.enum(['hot', 'warm', 'cold']), state: z.string(), count: z.number().int() }))
      .meta({ description: 'ARM: live instances of the region by kind and state (pending, deploying, ready, assigned, failed, deleting); the metrics gauge testdrive_pool_instances.' }),
    backoffUntil: z.string().nullable().meta({ description: 'ARM: no new hot instance is started in this region before this time (ISO 8601); null when not backing off.' }),
    lastFailure: z
      .object({ code: z.string(), message: z.string(), at: z.string().meta({ description: 'ISO 8601 UTC.' }) })
      .nullable()
      .meta({ description: 'ARM: the last failed deployment in this region.' }),
  },
};

/**
 * Azure Resource Manager test drives (TestDriveType). Per offer and region it keeps `hot` instances
 * deployed and ready, deploys cold ones on request, never more than `hot + cold` at once, and deletes
 * every assigned instance's resource group after its session (Partner Center: an assigned instance is
 * never reused). Where a hot instance is claimed: claimHot() below, with
 * PoolInstanceRepository.claimReadyHotInstanceTx() — the claim and the session's `ready` are one transaction.
 */
@Injectable()
export class ArmTestDriveType implements TestDriveType, OnModuleInit, OnApplicationShutdown {
  readonly type = ARM_TYPE;
  readonly schemas = ARM_SCHEMAS;
  /** The claim and the session row are one transaction (claimHot, reserveCold). */
  readonly claimsAtomically = true;
  private readonly logger = new Logger('ArmTestDriveType');
  /** Work started on behalf of a request (cold deploy, early delete) that the response does not wait for. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Instances to tag with their session, by id: the offer, and what tagging needs when the claim returned it. */
  private readonly tagQueue = new Map<string, { offer: OfferEntity; target?: SessionTagTarget }>();
  private tagSoon = false;
  private readonly tagFlush = new SingleFlight(() => this.flushTags());
  /** Clock time of the next orphan sweep (0: at the first pass). */
  private nextOrphanSweepAt = 0;
  private nextAssignedSweepAt = 0;
  /** Clock time of the next unreadable-outputs sweep (0: at the first pass, e.g. after a restart). */
  private nextUnreadableSweepAt = 0;
  /** When the next removal of instances deleted more than HISTORY_RETENTION_DAYS ago is due (clock ms). */
  private nextHistoryPurgeAt = 0;
  /** Orphaned groups ("subscription/name", lower case) -> when a sweep first saw them orphaned. */
  private readonly orphansSeen = new Map<string, number>();
  /** Last wall-clock time from claim to ready of a followed instance, per "offerId|region|kind" (ms). */
  private readonly followedMs = new Map<string, number>();
  /** Reconcile passes of this process, and the pass that last read each due pool deployment (deferPoolReads). */
  private poolReadPass = 0;
  private lastPoolRead = new Map<string, number>();
  /** Set at shutdown: followers stop (the reconcile loop of the next leader carries on). */
  private closing = false;

  constructor(
    private readonly registry: TestDriveTypeRegistry,
    private readonly offers: OffersRepository,
    private readonly pool: PoolInstanceRepository,
    private readonly sessions: SessionsRepository,
    private readonly packages: PackageService,
    private readonly driver: ArmInstanceDriver,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: Database,
    private readonly health: ArmHealthChecker,
    private readonly demand: DemandRepository,
    private readonly protector: DataProtector,
    private readonly writes: ArmWriteBudget,
  ) {}

  /** Forecast inputs per "offerId|region" with the clock time they were read (FORECAST_REFRESH_HOURS). */
  private readonly forecastInputs = new Map<string, { at: number; inputs: Pick<HotTargetInput, 'demand' | 'historySince' | 'deploymentDurationsMs' | 'instanceHoursLast24h'> }>();
  /** Start requests of an offer (DEMAND_HISTORY_HOURS), shared by its regions while fresh. */
  private readonly demandCache = new Map<string, { at: number; requests: StartRequest[] }>();

  /** Period of the health check of published offers (ARM_HEALTH_INTERVAL_SECONDS), clock ms. */
  private readonly healthIntervalMs = armHealthIntervalMs();

  /**
   * Issue 13: the publish preflight against the publisher's subscription (ArmHealthChecker: package,
   * credential and secret expiry, role, resource providers per region, quota). Publish runs it; the
   * reconcile loop runs it again every ARM_HEALTH_INTERVAL_SECONDS on published offers.
   */
  checkHealth(offer: OfferEntity): Promise<OfferHealth> {
    return this.health.check(offer);
  }

  /** Re-checks a published offer when its last check is older than the interval; stores the result if the offer did not change meanwhile. */
  private async maybeCheckHealth(offer: OfferEntity, now: number): Promise<void> {
    if (offer.state !== 'published') return;
    const last = offer.health?.checkedAt ? Date.parse(offer.health.checkedAt) : 0;
    if (now - last < this.healthIntervalMs) return;
    const health = await this.health.check(offer);
    if (!(await this.offers.updateHealth(offer.id, health, offer.version))) return;
    if (health.status !== offer.health?.status) {
      this.logger[health.status === 'healthy' ? 'log' : 'warn']({ offerId: offer.id, status: health.status, problems: health.problems.map((p) => `${p.target}: ${p.code}`) }, 'ARM offer health changed');
    }
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.inflight]);
    await this.health.close();
  }

  /** Runs `work` in the background (the reconcile loop would do it anyway; this only makes it sooner). */
  private background(work: Promise<unknown>): void {
    const p = work.catch((err) => this.logger.warn(`background step failed: ${(err as Error).message}`)).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  validateConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
    return validateArmConfig(testDrive, deployment);
  }

  /** The offer view's `packageRevision` (the revision new instances are deployed from), or null. */
  async offerViewExtras(offers: OfferEntity[]): Promise<Map<string, Record<string, unknown>>> {
    const revs = await this.packages.getRevisions(offers.map((o) => o.currentRevisionId).filter((x): x is string => !!x));
    return new Map(
      offers.map((o) => {
        const rev = o.currentRevisionId ? revs.get(o.currentRevisionId) : undefined;
        return [o.id, { packageRevision: rev ? { id: rev.id, number: rev.number, baseUri: rev.baseUri, parameters: rev.parameters } : null }];
      }),
    );
  }

  async publishPreflight(offer: OfferEntity): Promise<ErrorDetail[]> {
    return this.packages.preflight(offer);
  }

  /** The offer cannot be deleted while pool instances are left (the reconciler is still removing them). */
  async deleteBlockers(offer: OfferEntity): Promise<ErrorDetail[]> {
    const instances = await this.pool.countLive(offer.id);
    if (!instances) return [];
    return [{ code: 'OfferHasInstances', message: `Offer '${offer.id}' still has ${instances} pool instance(s) being removed; retry later.` }];
  }

  /**
   * Hot first, then a cold deployment within the region's cold limit: in the requested region when
   * the customer named one, else in any of the offer's regions (in the offer's order). The session is `ready` at once after a
   * hot claim; after a cold reservation it stays `provisioning` until the deployment succeeds.
   * @throws ApiError 400 (region not offered), 409 NoCapacity.
   */
  async startSession(offer: OfferEntity, session: SessionEntity, request: StartSessionRequest, commit: SessionCommit): Promise<void> {
    const cfg = offer.testDrive as unknown as ArmTestDriveConfig;
    if (request.region && !cfg.regions.some((r) => r.name === request.region)) {
      throw ApiError.validation([
        { code: 'RegionNotOffered', target: 'region', message: `Region '${request.region}' is not offered by this test drive. Offered: ${cfg.regions.map((r) => r.name).join(', ')}.` },
      ]);
    }
    // A requested region is binding (the customer chose where to run); without one, any region will do.
    const ordered = request.region ? cfg.regions.filter((r) => r.name === request.region) : cfg.regions;
    const now = this.clock.now();
    const hourMs = this.config.testDriveHourSeconds * 1000;

    // Regions that keep no hot instance (hot 0, or a forecast policy with max 0) are not asked: a cold-only offer's start goes straight to its reservation.
    const hotRegions = ordered.filter((r) => hotBounds(r.hot).max > 0).map((r) => r.name);
    const inst = hotRegions.length ? await this.claimHot(offer, hotRegions, session, commit, now, hourMs) : null;
    if (inst) {
      this.tagAfterClaim(offer, inst.id, { ...inst, sessionId: session.id });
      return;
    }
    // Issue 12: then a warm instance (deployed, virtual machines deallocated): started now, ready in minutes.
    for (const region of ordered) {
      if (!(region.warm ?? 0)) continue;
      const inst = await this.claimWarm(offer, region.name, session, commit, now);
      if (inst) {
        const claimed = await this.pool.findById(inst.id);
        if (claimed) this.background(this.follow(offer, claimed).then(() => this.tagAfterClaim(offer, inst.id)));
        return;
      }
    }
    const revisionId = offer.currentRevisionId;
    const subscriptionId = offer.deployment.subscriptionId;
    if (revisionId && subscriptionId) {
      for (const region of ordered) {
        if (region.cold <= 0) continue;
        const inst = await this.reserveCold(offer, region.name, region.cold, revisionId, subscriptionId, session, commit, now);
        if (inst) {
          this.background(this.follow(offer, inst));
          return;
        }
      }
    }
    throw new ApiError(
      409,
      'NoCapacity',
      `No test drive instance is available for offer '${offer.id}'${request.region ? ` (requested region ${request.region})` : ''}: every hot instance is taken and the cold limit is reached. Try again later.`,
    );
  }

  /**
   * Steps an instance a customer waits for (a cold deployment, a warm instance starting) in this process
   * until its session is ready, instead of waiting for reconcile ticks (issue 14: ready within tens of ms
   * of the deployment's end). Pauses halve the time left to the last such instance's claim-to-ready time
   * of the offer, region and kind, and grow by half once past it (FOLLOW_MIN_PAUSE_MS..FOLLOW_MAX_PAUSE_MS).
   * Stops at a retry pause of the driver (a failed call), after FOLLOW_MAX_MS, or at shutdown; the
   * reconcile loop carries on from the instance's state (steps are conditional transitions, so a pass
   * racing a follower never applies one twice).
   */
  private async follow(offer: OfferEntity, first: PoolInstanceEntity): Promise<void> {
    const key = `${offer.id}|${first.region}|${first.kind}`;
    const t0 = performance.now();
    let pause = FOLLOW_MIN_PAUSE_MS;
    let inst: PoolInstanceEntity | null = first;
    while (inst && FOLLOWED_STATES.has(inst.state) && !this.closing) {
      if (inst.nextActionAt && inst.nextActionAt > this.clock.now()) return; // a retry pause: the loop's job
      await this.driver.step(offer, inst);
      inst = await this.pool.findById(inst.id);
      if (!inst || !FOLLOWED_STATES.has(inst.state)) break;
      const elapsed = performance.now() - t0;
      if (elapsed > FOLLOW_MAX_MS) return;
      const expected = this.followedMs.get(key);
      pause =
        expected !== undefined && elapsed < expected
          ? Math.max(FOLLOW_MIN_PAUSE_MS, Math.min(FOLLOW_MAX_PAUSE_MS, (expected - elapsed) / 2))
          : Math.min(FOLLOW_MAX_PAUSE_MS, Math.max(FOLLOW_MIN_PAUSE_MS, pause * 1.5));
      await new Promise((r) => setTimeout(r, pause));
    }
    if (inst?.state === 'assigned') this.followedMs.set(key, performance.now() - t0);
  }

  /**
   * THE hot start: in ONE transaction, claims the oldest ready hot instance of the first of `regions` (in
   * that order) that has one (PoolInstanceRepository.claimReadyHotInstanceTx) and writes the session `ready`
   * with its outputs (SessionCommit.persist). On PostgreSQL the claim and the session are ONE autocommitted
   * statement per region tried (SessionCommit.claimAndPersist, PoolInstanceRepository.claimHotStatement).
   * Null when no hot instance is ready in any of them: on SQLite (one writer) an empty claim is final; on
   * PostgreSQL a claim passes over rows concurrent claims hold (SKIP LOCKED), so it tries again while ready
   * instances remain (PoolInstanceRepository.anyReady).
   */
  private async claimHot(offer: OfferEntity, regions: string[], session: SessionEntity, commit: SessionCommit, now: number, hourMs: number): Promise<ClaimedHot | null> {
    const pool = this.pool;
    const ready = (region: string) => ({ state: 'ready', region, instanceKind: 'hot', readyAt: now, expiresAt: now + session.durationHours * hourMs }) as const;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (commit.claimAndPersist) {
        for (const region of regions) {
          const claimed = await commit.claimAndPersist((guard) => pool.claimHotStatement(offer.id, region, session.id, now, guard), ready(region), { instanceId: 'id', outputsEnc: 'outputsEnc' });
          if (claimed) return claimed as unknown as ClaimedHot;
        }
      } else {
        const claimed = await this.db.atomic(function* (): TxBody<ClaimedHot | null> {
          for (const region of regions) {
            const inst = yield* pool.claimReadyHotInstanceTx(offer.id, region, session.id, now);
            if (!inst) continue;
            yield* commit.persist({ ...ready(region), instanceId: inst.id, outputsEnc: inst.outputsEnc });
            return inst;
          }
          return null;
        });
        if (claimed) return claimed;
      }
      if (!this.db.postgres || !(await pool.anyReady(offer.id, regions, 'hot'))) return null;
    }
    return null;
  }

  /**
   * The warm start (issue 12): in ONE transaction, claims the oldest ready warm instance of `region`
   * (PoolInstanceRepository.claimReadyWarmInstanceTx: it becomes `starting`) and writes the session
   * `provisioning` with it; the driver starts its virtual machines and makes both ready together.
   */
  private async claimWarm(offer: OfferEntity, region: string, session: SessionEntity, commit: SessionCommit, now: number): Promise<{ id: string } | null> {
    const pool = this.pool;
    for (let attempt = 0; attempt < 20; attempt++) {
      const inst = await this.db.atomic(function* (): TxBody<{ id: string } | null> {
        const claimed = yield* pool.claimReadyWarmInstanceTx(offer.id, region, session.id, now);
        if (!claimed) return null;
        yield* commit.persist({ state: 'provisioning', region, instanceKind: 'warm', instanceId: claimed.id });
        return claimed;
      });
      if (inst) return inst;
      if (!this.db.postgres || !(await pool.anyReady(offer.id, [region], 'warm'))) return null;
    }
    return null;
  }

  /**
   * The cold start: in ONE transaction, reserves a cold slot of `region` (a new pending instance for the
   * session) and writes the session `provisioning` with it. Null when the cold limit is reached.
   * Concurrent reservations of one slot: the loser's transaction rolls back and tries the next slot.
   */
  private async reserveCold(
    offer: OfferEntity,
    region: string,
    limit: number,
    revisionId: string,
    subscriptionId: string,
    session: SessionEntity,
    commit: SessionCommit,
    now: number,
  ): Promise<PoolInstanceEntity | null> {
    const pool = this.pool;
    for (let attempt = 0; attempt < limit + 5; attempt++) {
      try {
        return await this.db.atomic(function* (): TxBody<PoolInstanceEntity | null> {
          const inst = yield* pool.reserveTx({ offerId: offer.id, revisionId, region, kind: 'cold', subscriptionId, sessionId: session.id }, limit, now);
          if (!inst) return null;
          yield* commit.persist({ region, instanceKind: 'cold', instanceId: inst.id });
          return inst;
        });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
    return null;
  }

  /**
   * After a claim, off the request's path (issue 14): the instance joins the tag queue; TAG_SOON_MS later
   * one flush at a time tags the queued resource groups with TAG_PARALLEL calls at once over the shared
   * keep-alive connections, and marks them tagged in one write. `target`: what tagging needs, as the hot
   * claim returned it (ClaimedHot); instances without it are read in one query. Reconcile retries any tag
   * that did not land (retryTags), so nothing is lost when the process stops with a queue.
   */
  private tagAfterClaim(offer: OfferEntity, instanceId: string, target?: SessionTagTarget): void {
    this.tagQueue.set(instanceId, { offer, target });
    if (this.tagSoon) return;
    this.tagSoon = true;
    this.background(
      new Promise((r) => setTimeout(r, TAG_SOON_MS)).then(async () => {
        this.tagSoon = false;
        // A flush that starts at or after this point (SingleFlight): it drains what is queued now.
        await this.tagFlush.run();
      }),
    );
  }

  /** Drains the tag queue (see tagAfterClaim). */
  private async flushTags(): Promise<void> {
    while (this.tagQueue.size) {
      const batch = [...this.tagQueue.entries()].slice(0, 100);
      for (const [id] of batch) this.tagQueue.delete(id);
      const offers = new Map(batch.map(([id, q]) => [id, q.offer]));
      const unknown = batch.filter(([, q]) => !q.target).map(([id]) => id);
      // A claimed instance is assigned to its session for good (never reused): what the claim returned still holds.
      const rows: SessionTagTarget[] = [
        ...batch.flatMap(([, q]) => (q.target ? [q.target] : [])),
        ...(unknown.length ? (await this.pool.findByIds(unknown)).filter((i) => i.sessionId && !i.sessionTaggedAt).map((i) => ({ ...i, sessionId: i.sessionId! })) : []),
      ];
      const tagged: string[] = [];
      for (let i = 0; i < rows.length; i += TAG_PARALLEL) {
        const chunk = rows.slice(i, i + TAG_PARALLEL);
        const ok = await Promise.all(chunk.map((inst) => this.driver.tagSession(offers.get(inst.id)!, inst, inst.sessionId)));
        chunk.forEach((inst, k) => ok[k] && tagged.push(inst.id));
      }
      // One write for the batch (on SQLite one fsync, not one per tag).
      await this.pool.markTagged(tagged, this.clock.now());
    }
  }

  /** Sends the session's instance to deletion at once (and lets the reconcile loop finish it). */
  async endSession(session: SessionEntity): Promise<void> {
    const inst = await this.pool.findBySession(session.id);
    const now = this.clock.now();
    if (!inst || inst.state === 'deleted') {
      await this.sessions.markEnded(session.id, now);
      return;
    }
    await this.pool.transition(inst.id, DELETABLE_STATES, { state: 'deleting' }, now);
    const offer = await this.offers.findById(session.offerId);
    if (offer) this.background(this.driver.step(offer, { ...inst, state: 'deleting', nextActionAt: null }));
  }

  /**
   * One pass over every ARM offer: remove unwanted unassigned instances, top up hot instances per
   * region (within backoff), drive every live instance one step, and settle sessions whose instance is
   * gone or that were abandoned mid-start.
   *
   * Returns when the next pass is due with nothing changed (issue 14): the earliest step of an instance
   * (IX_pool_instance_due), a region's backoff end, a forecast pool's refresh, a health check, a tag
   * retry, the sweeps; `now` while ARM sessions are between two states.
   */
  async reconcile(now: number): Promise<number> {
    const offers = (await this.offers.list()).filter((o) => o.type === ARM_TYPE);
    const byId = new Map(offers.map((o) => [o.id, o]));
    const dues: number[] = [];
    for (const offer of offers) dues.push(await this.converge(offer, now));
    for (const offer of offers) await this.maybeCheckHealth(offer, now).catch((err: Error) => this.logger.warn({ offerId: offer.id, err: err.message }, 'ARM health check failed'));

    // Only due work (issue 14): instances with a step of their own whose pause is over, and (every
    // ASSIGNED_SWEEP_INTERVAL_MS) assigned instances whose session is over without its teardown having run.
    const due = await this.pool.listDue(now);
    if (now >= this.nextAssignedSweepAt) {
      this.nextAssignedSweepAt = now + ASSIGNED_SWEEP_INTERVAL_MS;
      due.push(...(await this.pool.listAssignedWithSessionOver()));
    }
    // A queued request waits for the next instance of its offer to be ready: that offer's running
    // deployments are read on every pass, their pauses (deploymentPollPauseMs) set aside.
    const waitedFor = new Set([...(await this.sessions.queuedByOffer()).keys()].filter((id) => byId.has(id)));
    if (waitedFor.size) due.push(...(await this.pool.listPausedDeployments([...waitedFor], now, STEP_RETRY_MS)).map((i) => ({ ...i, nextActionAt: null })));
    // Reads paced by the per-pass budget: pool refills' running deployments nobody waits for, and every
    // resource group being deleted (nobody waits for a deletion; a big unpublish is hundreds of them).
    const deferred = this.deferPoolReads(due.filter((i) => (i.state === 'deploying' && !i.sessionId && !waitedFor.has(i.offerId)) || i.state === 'deleting'));
    for (const id of this.deferPoolSubmits(due.filter((i) => i.state === 'pending' && !i.sessionId))) deferred.add(id);
    const work = due.filter((i) => byId.has(i.offerId) && !deferred.has(i.id));
    for (let i = 0; i < work.length; i += PARALLEL_STEPS) {
      await Promise.all(work.slice(i, i + PARALLEL_STEPS).map((inst) => this.driver.step(byId.get(inst.offerId)!, inst, { someoneWaits: waitedFor.has(inst.offerId) })));
    }
    if (await this.settleSessions(now)) dues.push(now);
    dues.push(await this.retryTags(byId, now));
    await this.sweepOrphans(offers, now);
    await this.sweepUnreadable(now).catch((err: Error) => this.logger.warn({ err: err.message }, 'unreadable outputs sweep failed; next pass retries'));
    await this.purgeHistory(now).catch((err: Error) => this.logger.warn({ err: err.message }, 'removing old deleted instances failed; next pass retries'));
    dues.push(this.nextAssignedSweepAt, this.nextOrphanSweepAt, this.nextUnreadableSweepAt, this.nextHistoryPurgeAt);
    for (const offer of offers) {
      if (offer.state === 'published') dues.push((offer.health?.checkedAt ? Date.parse(offer.health.checkedAt) : now) + this.healthIntervalMs);
    }
    const nextStep = await this.pool.nextStepAt();
    if (nextStep !== null) dues.push(nextStep);
    return Math.min(...dues.filter((d) => Number.isFinite(d)));
  }

  /**
   * Every HISTORY_PURGE_INTERVAL_MS (and on the first pass after a start): removes instances deleted more than
   * HISTORY_RETENTION_DAYS ago (PoolInstanceRepository.purgeDeletedBefore). A failed run is retried on the next pass.
   */
  private async purgeHistory(now: number): Promise<void> {
    if (now < this.nextHistoryPurgeAt) return;
    const removed = await this.pool.purgeDeletedBefore(now - this.config.historyRetentionMs);
    this.nextHistoryPurgeAt = now + HISTORY_PURGE_INTERVAL_MS;
    if (removed) this.logger.log({ removed }, 'removed instances deleted before the history retention');
  }

  /**
   * Every UNREADABLE_SWEEP_INTERVAL_MS (and on the first pass after a start): ready hot instances whose
   * outputs were encrypted with a data key version that no longer exists in Key Vault (deleted and
   * purged) can never give a customer their access information, so they are deleted (`deleting`, with
   * the failure kept) and converge() deploys their replacements. One query of the outputs' prefixes, one
   * Key Vault read per unknown key version (found versions are cached by DataProtector). Warm instances
   * are kept: their start reads the outputs again from the deployment and encrypts them anew.
   */
  private async sweepUnreadable(now: number): Promise<void> {
    if (now < this.nextUnreadableSweepAt) return;
    this.nextUnreadableSweepAt = now + UNREADABLE_SWEEP_INTERVAL_MS;
    const byVersion = new Map<string, string[]>();
    for (const r of await this.pool.listReadyHotOutputKeys()) {
      const version = DataProtector.keyVersionOf(r.prefix) ?? '';
      const ids = byVersion.get(version);
      if (ids) ids.push(r.id);
      else byVersion.set(version, [r.id]);
    }
    for (const [version, ids] of byVersion) {
      if (version && (await this.protector.hasKeyVersion(version))) continue;
      const failure = { code: 'OutputsUnreadable', message: `The deployment outputs cannot be decrypted: data protection key version '${version || '(none)'}' no longer exists in Key Vault.` };
      let deleted = 0;
      for (const id of ids) if (await this.pool.transition(id, ['ready'], { state: 'deleting', failure }, now)) deleted++;
      this.logger.error({ keyVersion: version || null, instances: deleted }, 'ready instances whose outputs cannot be decrypted are deleted and replaced');
    }
  }

  /**
   * Which of `pending` (due submits of pool refills: no session) wait for a later pass: beyond what
   * ARM's write bucket of their subscription has room for now (ArmWriteBudget.submitsAllowed: 2 writes
   * each, WRITE_RESERVE kept for cold submits, warm starts and session tags), the youngest wait. A
   * publish of hundreds of hot instances is submitted at the pace ARM accepts instead of meeting 429s.
   */
  private deferPoolSubmits(pending: PoolInstanceEntity[]): string[] {
    const bySubscription = new Map<string, PoolInstanceEntity[]>();
    for (const i of pending) {
      const list = bySubscription.get(i.subscriptionId);
      if (list) list.push(i);
      else bySubscription.set(i.subscriptionId, [i]);
    }
    const deferred: string[] = [];
    for (const [subscriptionId, list] of bySubscription) {
      const allowed = this.writes.submitsAllowed(subscriptionId);
      if (list.length <= allowed) continue;
      list.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
      deferred.push(...list.slice(allowed).map((i) => i.id));
    }
    return deferred;
  }

  /**
   * Which of `paced` (due reads of pool refills' running deployments and of groups being deleted) wait for a later pass: beyond
   * POOL_READS_PER_PASS per subscription, the ones read most recently by this process (lastPoolRead, a
   * pass number) wait, so every instance is read in turn even while the clock stands still.
   */
  private deferPoolReads(paced: PoolInstanceEntity[]): Set<string> {
    const pass = ++this.poolReadPass;
    const last = (id: string) => this.lastPoolRead.get(id) ?? 0;
    const reads = new Map<string, number>();
    const deferred = new Set<string>();
    const next = new Map<string, number>();
    for (const i of [...paced].sort((a, b) => last(a.id) - last(b.id))) {
      const n = reads.get(i.subscriptionId) ?? 0;
      reads.set(i.subscriptionId, n + 1);
      if (n >= POOL_READS_PER_PASS) deferred.add(i.id);
      next.set(i.id, n >= POOL_READS_PER_PASS ? last(i.id) : pass);
    }
    this.lastPoolRead = next; // only instances still waiting for a read are remembered
    return deferred;
  }

  /**
   * Every ORPHAN_SWEEP_INTERVAL_MS: deletes the resource groups this service made and no longer needs
   * but no instance will delete — `CloudTry_` groups tagged `testdrive-offer` = one of our ARM offers
   * whose instance row is `deleted` (deleted at once: e.g. re-created by a late retry) or missing
   * (deleted after ORPHAN_GRACE_MS: e.g. rows lost in a database restore). Groups of a live instance
   * are the driver's business; groups tagged for offers this service does not know are not ours to
   * delete (another installation may own them) and are never listed.
   */
  private async sweepOrphans(offers: OfferEntity[], now: number): Promise<void> {
    if (now < this.nextOrphanSweepAt) return;
    this.nextOrphanSweepAt = now + ORPHAN_SWEEP_INTERVAL_MS;
    const orphaned = new Set<string>();
    for (const offer of offers) {
      if (!offer.deployment.subscriptionId || !offer.clientSecretName) continue;
      try {
        const groups = await this.driver.listOfferGroups(offer);
        const rows = await this.pool.findByResourceGroups(groups.map((g) => g.name));
        const byName = new Map(rows.map((r) => [r.resourceGroupName.toLowerCase(), r]));
        for (const g of groups) {
          const row = byName.get(g.name.toLowerCase());
          if (row && row.state !== 'deleted') continue;
          const key = `${offer.deployment.subscriptionId}/${g.name}`.toLowerCase();
          orphaned.add(key);
          const firstSeen = this.orphansSeen.get(key) ?? now;
          this.orphansSeen.set(key, firstSeen);
          if (row || now - firstSeen >= ORPHAN_GRACE_MS) {
            this.logger.warn({ offerId: offer.id, resourceGroup: g.name, instanceId: row?.id ?? g.tags['testdrive-instance'] ?? null, reason: row ? 'instance deleted' : 'no instance' }, 'deleting orphaned resource group');
            await this.driver.deleteGroup(offer, g.name);
          }
        }
      } catch (err) {
        this.logger.warn({ offerId: offer.id, err: (err as Error).message }, 'orphan sweep failed for offer; next sweep retries');
        // Keep what was seen for this offer's subscription: a failed listing proves nothing.
        for (const k of this.orphansSeen.keys()) if (k.startsWith(`${offer.deployment.subscriptionId}/`.toLowerCase())) orphaned.add(k);
      }
    }
    for (const k of [...this.orphansSeen.keys()]) if (!orphaned.has(k)) this.orphansSeen.delete(k);
  }

  /**
   * Desired state of one offer's pools vs. actual: deletes what is unwanted, reserves missing hot instances.
   * Returns when it is due again by itself (epoch ms): a region's backoff end, a forecast's refresh; else Infinity.
   */
  private async converge(offer: OfferEntity, now: number): Promise<number> {
    let dueAt = Number.POSITIVE_INFINITY;
    const cfg = offer.testDrive as unknown as ArmTestDriveConfig;
    const regions = new Map((cfg.regions ?? []).map((r) => [r.name, r]));
    const published = offer.state === 'published' && !!offer.currentRevisionId && !!offer.deployment.subscriptionId;
    const unassigned = await this.pool.listUnassignedLive(offer.id);
    const removed = new Set<string>();
    for (const inst of unassigned) {
      const region = regions.get(inst.region);
      const unwanted =
        !published ||
        inst.revisionId !== offer.currentRevisionId ||
        !region ||
        inst.kind === 'cold' ||
        (inst.kind === 'hot' && (inst.slot ?? 0) >= hotBounds(region.hot).max) ||
        (inst.kind === 'warm' && (inst.slot ?? 0) >= (region.warm ?? 0));
      if (unwanted) {
        removed.add(inst.id);
        await this.pool.transition(inst.id, ['pending', 'deploying', 'parking', 'ready', 'failed'], { state: 'deleting' }, now);
      }
    }
    if (!published) return dueAt;

    // Slots are counted below the most a pool may hold (a forecast policy's max); the target is below that.
    const slotsOf = (name: string, kind: string): number => {
      const r = regions.get(name);
      return !r ? 0 : kind === 'hot' ? hotBounds(r.hot).max : kind === 'warm' ? (r.warm ?? 0) : r.cold;
    };
    const held = await this.pool.heldSlots(offer.id, slotsOf);
    for (const region of regions.values()) {
      // Hot and warm pools are kept full the same way (warm instances then park their virtual machines).
      for (const kind of ['hot', 'warm'] as const) {
        let target = slotsOf(region.name, kind);
        const holds = held.get(`${region.name}|${kind}`) ?? 0;
        if (kind === 'hot') {
          // Issue 15: the hot target (fixed, or by forecast) and the shared pool rule planHotPool (also the simulator's).
          const idle = unassigned.filter((i) => i.kind === 'hot' && i.region === region.name && !removed.has(i.id) && (i.slot ?? 0) < target);
          const t = await this.hotTargetOf(offer, region, holds - idle.length, now);
          // A forecast target moves with the clock: look again when its inputs are refreshed.
          if (typeof region.hot !== 'number') dueAt = Math.min(dueAt, now + FORECAST_REFRESH_HOURS * this.config.testDriveHourSeconds * 1000);
          const plan = planHotPool({ target: t.target, keep: t.keep, held: holds, unassigned: idle.map((i) => ({ id: i.id, readyAt: i.state === 'ready' ? i.readyAt : null })), now, idleMs: t.windowMs });
          for (const id of plan.remove) {
            if (await this.pool.transition(id, ['ready'], { state: 'deleting' }, now)) this.logger.log({ offerId: offer.id, region: region.name, instanceId: id, reason: t.reason }, 'hot pool scaled down by forecast');
          }
          if (!plan.reserve) continue;
          target = Math.min(target, holds + plan.reserve);
        }
        const missing = target - holds;
        if (missing <= 0) continue;
        const health = await this.pool.regionState(offer.id, region.name);
        if (health.backoffUntil && now < health.backoffUntil) {
          dueAt = Math.min(dueAt, health.backoffUntil);
          continue;
        }
        // One transaction per pool (issue 14), not a round trip per instance.
        await this.pool.reserveMany(
          { offerId: offer.id, revisionId: offer.currentRevisionId!, region: region.name, kind, subscriptionId: offer.deployment.subscriptionId! },
          missing,
          slotsOf(region.name, kind),
          now,
        );
      }
    }
    return dueAt;
  }

  /**
   * Level-triggered rules for sessions between two states: `ending` whose instance is gone → ended
   * (else the instance is sent to deletion); `provisioning` whose instance is already assigned with
   * outputs → ready (repair of a crash between the two writes, issue 8); `provisioning` without any
   * instance (a start interrupted before its claim transaction, by an older version) → failed.
   * Returns whether any ARM session was between two states (the next pass is then due at once).
   */
  private async settleSessions(now: number): Promise<boolean> {
    const hourMs = this.config.testDriveHourSeconds * 1000;
    let inFlight = false;
    for (const s of await this.sessions.listByStates(['ending', 'provisioning'])) {
      if (s.type !== ARM_TYPE) continue;
      inFlight = true;
      const inst = await this.pool.findBySession(s.id);
      if (s.state === 'ending') {
        if (!inst || inst.state === 'deleted') await this.sessions.markEnded(s.id, now);
        else if (inst.state !== 'deleting') await this.pool.transition(inst.id, DELETABLE_STATES, { state: 'deleting' }, now);
      } else if (inst?.state === 'assigned' && inst.readyAt !== null) {
        if (await this.pool.readySessionOfAssignedInstance(inst, now, hourMs)) {
          this.logger.warn({ sessionId: s.id, instanceId: inst.id }, 'repaired a session left provisioning with its instance assigned');
        }
      } else if (!inst && now - s.requestedAt > ABANDONED_START_MS) {
        await this.sessions.markFailed(s.id, { code: 'StartAbandoned', message: 'The start of this test drive was interrupted; please start a new one.' }, now);
      }
    }
    return inFlight;
  }

  /**
   * Tags resource groups of assigned instances with their session where the tag after the claim did not
   * land. Returns when the next retry is due (epoch ms; Infinity when every group is tagged).
   */
  private async retryTags(byId: Map<string, OfferEntity>, now: number): Promise<number> {
    let next = Number.POSITIVE_INFINITY;
    const tagged: string[] = [];
    for (const inst of await this.pool.listUntagged()) {
      const offer = byId.get(inst.offerId);
      if (!offer || !inst.sessionId) continue;
      // The tag written right after the claim gets a few seconds before this retry steps in.
      const retryAt = (inst.assignedAt ?? 0) + TAG_RETRY_AFTER_MS;
      if (now > retryAt) {
        if (await this.driver.tagSession(offer, inst, inst.sessionId)) tagged.push(inst.id);
        else next = Math.min(next, now + TAG_RETRY_AFTER_MS); // a failed retry is retried
      } else next = Math.min(next, retryAt + 1);
    }
    await this.pool.markTagged(tagged, this.clock.now());
    return next;
  }

  /**
   * GET /capacity rows: per region, hot target vs. ready, deploying, assigned, failed, and the limit. A
   * region removed from the offer that still has live instances (a session running to its expiry, groups
   * being deleted) keeps a row, `regionRemoved: true`, with limit and targets 0, until they are gone.
   */
  async capacity(offer: OfferEntity): Promise<CapacityRow[]> {
    const cfg = offer.testDrive as unknown as ArmTestDriveConfig;
    const live = await this.pool.liveCounts(offer.id);
    const states = await this.pool.regionStates(offer.id);
    const configured = cfg.regions ?? [];
    const removed = [...new Set(live.map((i) => i.region))].filter((name) => !configured.some((r) => r.name === name)).sort();
    const rows: CapacityRow[] = [];
    for (const region of [...configured, ...removed.map((name): ArmRegionConfig => ({ name, hot: 0, warm: 0, cold: 0 }))]) {
      const regionRemoved = !configured.includes(region);
      const inRegion = live.filter((i) => i.region === region.name);
      const count = (pred: (i: LiveCount) => boolean) => inRegion.reduce((sum, i) => sum + (pred(i) ? i.n : 0), 0);
      const noFailures = { offerId: offer.id, region: region.name, consecutiveFailures: 0, backoffUntil: null, lastFailure: null };
      // A removed region deploys nothing more: its past failures raise no backoff incident.
      const health = (regionRemoved ? undefined : states.get(region.name)) ?? noFailures;
      const bounds = hotBounds(region.hot);
      const hot = await this.hotTargetOf(offer, region, count((i) => i.kind === 'hot' && i.held), this.clock.now());
      rows.push({
        region: region.name,
        regionRemoved,
        hotTarget: hot.target,
        hotPolicy: typeof region.hot === 'number' ? 'fixed' : 'forecast',
        hotMin: bounds.min,
        hotMax: bounds.max,
        forecast:
          hot.method === 'fixed'
            ? null
            : { expectedStarts: hot.expectedStarts, windowMinutes: Math.round((hot.windowMs / (this.config.testDriveHourSeconds * 1000)) * 600) / 10, method: hot.method, level: hot.level, readyWanted: hot.readyWanted, keep: hot.keep, reason: hot.reason },
        hotReady: count((i) => i.kind === 'hot' && i.state === 'ready'),
        warmTarget: region.warm ?? 0,
        warmReady: count((i) => i.kind === 'warm' && i.state === 'ready'),
        warmAssigned: count((i) => i.kind === 'warm' && (i.state === 'starting' || i.state === 'assigned')),
        deploying: count((i) => i.state === 'pending' || i.state === 'deploying' || i.state === 'parking' || i.state === 'starting'),
        assigned: count((i) => i.state === 'assigned' || (i.kind === 'cold' && i.held && i.state !== 'deleting')),
        failed: count((i) => i.state === 'failed'),
        deleting: count((i) => i.state === 'deleting'),
        coldLimit: region.cold,
        coldInUse: count((i) => i.kind === 'cold'),
        limit: regionLimit(region),
        consecutiveFailures: health.consecutiveFailures,
        instances: byKindAndState(inRegion),
        /** No new hot instance is started in this region before this time (null: not backing off). */
        backoffUntil: health.backoffUntil && health.backoffUntil > this.clock.now() ? new Date(health.backoffUntil).toISOString() : null,
        lastFailure: health.lastFailure ? { ...health.lastFailure, at: new Date(health.lastFailure.at).toISOString() } : null,
      });
    }
    return rows;
  }
  /**
   * The hot target of one region (issue 15; pools/hot-policy.ts hotTargetFor): a fixed count as it is;
   * a forecast policy from the offer's start requests of the last four weeks (sessions of every outcome
   * and refused starts; requests without a region count for the offer's first region; history starts at
   * the first of them after publishing), the region's
   * measured hot deployment durations and hot instance-hours of the last 24 hours. Recomputed at most
   * once per FORECAST_REFRESH_HOURS of clock time per offer and region (by each replica that asks).
   * @param assigned  hot instances of the region assigned to sessions now
   */
  async hotTargetOf(offer: OfferEntity, region: ArmRegionConfig, assigned: number, now: number): Promise<HotTarget> {
    const hourMs = this.config.testDriveHourSeconds * 1000;
    const base = { hot: region.hot, demand: new Map<number, number>(), historySince: now, now, hourMs, assigned, deploymentDurationsMs: [], instanceHoursLast24h: 0 };
    if (typeof region.hot === 'number') return hotTargetFor(base);
    const key = `${offer.id}|${region.name}`;
    const cached = this.forecastInputs.get(key);
    // The inputs hold for the refresh period; the clock and the assigned count move with every call.
    if (cached && now - cached.at < FORECAST_REFRESH_HOURS * hourMs && now >= cached.at) return hotTargetFor({ ...base, ...cached.inputs });
    const firstRegion = (offer.testDrive as unknown as ArmTestDriveConfig).regions?.[0]?.name;
    const requests = await this.startRequests(offer.id, now - DEMAND_HISTORY_HOURS * hourMs, now, hourMs);
    const times = requests.filter((r) => (r.region ?? firstRegion) === region.name).map((r) => r.at);
    const inputs = {
      demand: hourlyDemand(times, hourMs),
      // History starts with the first request after publishing: the hours before it are unknown, not quiet
      // (a week-old zero from before customers found the offer must not silence the seasonal forecast).
      historySince: Math.max(offer.publishedAt ?? offer.createdAt, times.length ? times[0] : now), // requests come oldest first
      deploymentDurationsMs: await this.pool.recentHotDeploymentDurations(offer.id, region.name),
      instanceHoursLast24h: instanceHoursLast24h(await this.pool.hotLifetimesSince(offer.id, region.name, now - 24 * hourMs), now, hourMs),
    };
    this.forecastInputs.set(key, { at: now, inputs });
    return hotTargetFor({ ...base, ...inputs });
  }

  /** An offer's start requests since `since`, read once per FORECAST_REFRESH_HOURS for all its regions. */
  private async startRequests(offerId: string, since: number, now: number, hourMs: number): Promise<StartRequest[]> {
    const cached = this.demandCache.get(offerId);
    if (cached && now - cached.at < FORECAST_REFRESH_HOURS * hourMs && now >= cached.at) return cached.requests;
    const requests = await this.demand.startRequests(offerId, since);
    this.demandCache.set(offerId, { at: now, requests });
    return requests;
  }
}

const KIND_ORDER = { hot: 0, warm: 1, cold: 2 } as const;

/** Live instances counted by kind and state, in a stable order (hot first, then by state). */
function byKindAndState(groups: readonly LiveCount[]): Array<{ kind: 'hot' | 'warm' | 'cold'; state: string; count: number }> {
  const counts = new Map<string, number>();
  for (const i of groups) counts.set(`${i.kind}|${i.state}`, (counts.get(`${i.kind}|${i.state}`) ?? 0) + i.n);
  return [...counts.entries()]
    .map(([k, count]) => {
      const [kind, state] = k.split('|') as ['hot' | 'warm' | 'cold', string];
      return { kind, state, count };
    })
    .sort((a, b) => (a.kind === b.kind ? a.state.localeCompare(b.state) : KIND_ORDER[a.kind] - KIND_ORDER[b.kind]));
}
