import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ApiError, ErrorDetail } from '../../src/common/api-error';
import { Clock } from '../../src/common/clock';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OffersRepository } from '../../src/offers/offers.repository';
import { LIVE_SESSION_STATES, SessionEntity } from '../../src/sessions/session.entity';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { z } from 'zod';
import { CapacityRow, SLOT_CAPACITY_FIELDS, StartSessionRequest, TestDriveSchemas, TestDriveType, ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { offerHealthSchema } from '../../src/offers/offer.dto';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { SessionRunner } from '../../src/test-drives/session-runner';
import { DynamicsClients } from './clients/dynamics-clients';
import { RemoteError, toRemoteError } from './clients/errors';
import { DYNAMICS_TEST_DRIVE_TYPE, dynamicsConfigOf, dynamicsDeploymentSchema, dynamicsOutboundUrls, dynamicsTestDriveSchema, validateDynamicsConfig } from './dynamics-config';
import type { OutboundUrl } from '../../src/security/outbound-url';
import { DynamicsHealthChecker, DynamicsOfferHealth, licenseView } from './dynamics-health';
import { DYNAMICS_SETTINGS, DynamicsSettings } from './dynamics-settings';
import { LicenseLedger } from './licenses';
import { DynamicsSessionDriver } from './provisioning/session-driver';

/** Sessions driven at once in one reconcile pass. */
const PARALLEL_SESSIONS = 8;

/** The license counts of a Dynamics 365 offer (licenseView) in capacity rows. */
const licenseViewSchema = z
  .object({
    sku: z.string().meta({ description: 'skuPartNumber.', example: 'DYN365_ENTERPRISE_PLAN1' }),
    skuId: z.string(),
    total: z.number().int(),
    consumed: z.number().int(),
    free: z.number().int(),
    heldByOffer: z.number().int().meta({ description: "Held by this offer's live sessions." }),
  })
  .nullable()
  .meta({ description: "Dynamics 365: the tenant's licenses of the offer's SKU (null when they could not be read)." });

/** What a Dynamics 365 test drive validates and adds to responses (TestDriveSchemas; the API description). */
export const DYNAMICS_SCHEMAS: TestDriveSchemas = {
  testDrive: dynamicsTestDriveSchema,
  deployment: dynamicsDeploymentSchema,
  capacityRow: {
    ...SLOT_CAPACITY_FIELDS,
    licenses: licenseViewSchema,
    health: offerHealthSchema.nullable().meta({ description: "Dynamics 365: the last check against the publisher's environment." }),
  },
};

/**
 * Hosted Dynamics 365 test drives (TestDriveType) for Customer Engagement, Business Central and
 * Operations: each customer gets a temporary user in the publisher's tenant, licensed, holding the
 * publisher's security role, sent to the publisher's instance; when the whole-hour duration is over
 * the user loses role and license and is deleted (test drive rules, "Hosted Dynamics 365 test drives").
 *
 * - Concurrency: min(maxConcurrent, licenses the offer can use), claimed atomically as session slots
 *   (LicenseLedger.claimSlot); otherwise 409 NoCapacity.
 * - Provisioning and teardown: DynamicsSessionDriver (resumable steps in session.progress), kicked
 *   right after the claim / the end, and driven by reconcile() for every non-terminal session.
 * - Health: the publish preflight (DynamicsHealthChecker) runs again every DYNAMICS_HEALTH_INTERVAL_SECONDS
 *   on published offers; the result is offer.health (GET /offers/{id}, GET /capacity).
 * - Sweep: every DYNAMICS_SWEEP_INTERVAL_SECONDS, users this service created for an offer (marker
 *   fields, see USER_MARKER) that no live session owns lose role and license and are deleted.
 */
@Injectable()
export class DynamicsTestDriveType implements TestDriveType, OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  readonly type = DYNAMICS_TEST_DRIVE_TYPE;
  readonly schemas = DYNAMICS_SCHEMAS;
  private readonly logger = new Logger('DynamicsTestDriveType');
  /** Session runs (chained per session, never concurrent in this process) and the work kicked by requests. */
  private readonly runner = new SessionRunner(this.logger);
  /** Per offer: clock time of the next leftover sweep. */
  private readonly nextSweepAt = new Map<string, number>();

  constructor(
    private readonly registry: TestDriveTypeRegistry,
    private readonly offers: OffersRepository,
    private readonly sessions: SessionsRepository,
    private readonly driver: DynamicsSessionDriver,
    private readonly licenses: LicenseLedger,
    private readonly health: DynamicsHealthChecker,
    private readonly clients: DynamicsClients,
    private readonly clock: Clock,
    @Inject(DYNAMICS_SETTINGS) private readonly settings: DynamicsSettings,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  /**
   * Lets session runs in progress finish (each stops at a step boundary, saved in session.progress) before
   * the database and the TLS trust go away (those close in onApplicationShutdown); no new run starts.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.runner.stop();
    await this.runner.drain();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
  }

  /** Drives one session now (chained after a run already in progress for it). */
  private drive(offer: OfferEntity, sessionId: string): Promise<void> {
    return this.runner.run(sessionId, () => this.driver.run(offer, sessionId));
  }

  /** validateDynamicsConfig; the emulator's origin is exempt from the outbound URL rule in the emulated runtime. */
  validateConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
    return validateDynamicsConfig(testDrive, deployment, { outboundPolicy: this.clients.outboundPolicy });
  }

  /** The instance and API URLs (called with the publisher's token): checked, DNS included, when the offer is saved. */
  outboundUrls(testDrive: Record<string, unknown>): OutboundUrl[] {
    return dynamicsOutboundUrls(testDrive);
  }

  /** The health check's problems (publish uses checkHealth directly and also gets the warnings). */
  async publishPreflight(offer: OfferEntity): Promise<ErrorDetail[]> {
    return (await this.checkHealth(offer)).problems;
  }

  /** Runs the checks of DynamicsHealthChecker against the publisher's tenant and instance. */
  checkHealth(offer: OfferEntity): Promise<DynamicsOfferHealth> {
    return this.health.check(offer);
  }

  /**
   * Claims a slot below min(maxConcurrent, licenses the offer can use) and starts provisioning in the
   * background (the session stays `provisioning` until the user holds the role).
   * A `region` in the request is ignored (a hosted instance has none).
   * @throws ApiError 409 NoCapacity; 503 LicensesUnavailable when the tenant's licenses cannot be read.
   */
  async startSession(offer: OfferEntity, session: SessionEntity, _request: StartSessionRequest): Promise<void> {
    void _request;
    const now = this.clock.now();
    let slot: number | null;
    try {
      slot = await this.licenses.claimSlot(offer, session, now);
    } catch (err) {
      if (!(err instanceof RemoteError)) throw err;
      this.logger.warn({ offerId: offer.id, code: err.code, kind: err.kind }, 'licenses could not be read for a slot claim');
      throw new ApiError(503, 'LicensesUnavailable', `The publisher's Dynamics 365 licenses could not be checked (${err.code}); please try again later.`, undefined, undefined, { 'Retry-After': '30' });
    }
    if (slot === null) {
      const cfg = dynamicsConfigOf(offer.testDrive);
      throw new ApiError(409, 'NoCapacity', `Every test drive of offer '${offer.id}' is in use (at most ${cfg.maxConcurrent} at once, and no more than the publisher's free Dynamics 365 licenses). Try again later.`);
    }
    if (session.region !== null) await this.sessions.transition(session.id, ['provisioning'], { region: null }, now);
    this.runner.track(this.drive(offer, session.id));
  }

  /** Starts the teardown at once (role, license, user); the session is `ended` when it is complete. */
  async endSession(session: SessionEntity): Promise<void> {
    const offer = await this.offers.findById(session.offerId);
    if (!offer) {
      await this.sessions.markEnded(session.id, this.clock.now());
      return;
    }
    this.runner.track(this.drive(offer, session.id));
  }

  /**
   * One pass: drive every provisioning / ending Dynamics 365 session one run, re-check published
   * offers whose health is older than DYNAMICS_HEALTH_INTERVAL_SECONDS, and sweep leftovers.
   */
  async reconcile(now: number): Promise<number | undefined> {
    const offers = (await this.offers.list()).filter((o) => o.type === DYNAMICS_TEST_DRIVE_TYPE);
    if (!offers.length) return undefined;
    const byId = new Map(offers.map((o) => [o.id, o]));
    const work = (await this.sessions.listByStates(['provisioning', 'ending'])).filter((s) => s.type === DYNAMICS_TEST_DRIVE_TYPE && byId.has(s.offerId) && !this.runner.isRunning(s.id));
    for (let i = 0; i < work.length; i += PARALLEL_SESSIONS) {
      await Promise.all(work.slice(i, i + PARALLEL_SESSIONS).map((s) => this.drive(byId.get(s.offerId)!, s.id)));
    }
    for (const offer of offers) {
      await this.recheck(offer, now);
      await this.sweep(offer, now);
    }
    // Issue 14: due again now while sessions are driven here, else at the next health check or sweep.
    if (work.length) return now;
    let next = Number.POSITIVE_INFINITY;
    for (const offer of offers) {
      if (offer.state === 'published') next = Math.min(next, (offer.health?.checkedAt ? Date.parse(offer.health.checkedAt) : now) + this.settings.healthIntervalSeconds * 1000);
      if (offer.clientSecretVersion) next = Math.min(next, this.nextSweepAt.get(offer.id) ?? now);
    }
    return Number.isFinite(next) ? next : undefined;
  }

  /**
   * Re-runs the checks of a published offer when its last result is older than the interval; stores
   * offer.health only if the offer still has the version the checks ran on (OffersRepository.updateHealth:
   * never overwrites a concurrent PUT / unpublish, never re-creates a deleted offer; bumps the version).
   * A dropped result is re-checked on the next pass against the current offer.
   */
  private async recheck(offer: OfferEntity, now: number): Promise<void> {
    if (offer.state !== 'published') return;
    const last = offer.health?.checkedAt ? Date.parse(offer.health.checkedAt) : 0;
    if (now - last < this.settings.healthIntervalSeconds * 1000) return;
    const health = await this.checkHealth(offer);
    if (!(await this.offers.updateHealth(offer.id, health, offer.version))) return; // changed or deleted meanwhile
    if (health.status !== offer.health?.status) {
      this.logger[health.status === 'healthy' ? 'log' : 'warn']({ offerId: offer.id, status: health.status, problems: health.problems.map((p) => `${p.target}: ${p.code}`) }, 'Dynamics 365 offer health changed');
    }
  }

  /**
   * Removes leftovers: users marked as this offer's test drive users whose session (department =
   * session id) is not live (ended, failed, or unknown). Each loses role and license and is deleted.
   */
  private async sweep(offer: OfferEntity, now: number): Promise<void> {
    if (!offer.clientSecretVersion || now < (this.nextSweepAt.get(offer.id) ?? 0)) return;
    this.nextSweepAt.set(offer.id, now + this.settings.sweepIntervalSeconds * 1000);
    try {
      const graph = await this.clients.graph(offer);
      const users = await graph.listMarkedUsers(offer.id);
      if (!users.length) return;
      let skuId: string | undefined;
      for (const u of users) {
        const s = u.department ? await this.sessions.findById(u.department) : null;
        if (s && s.offerId === offer.id && LIVE_SESSION_STATES.includes(s.state)) continue;
        try {
          const product = await this.clients.product(offer);
          const envUser = await product.findUser(u.userPrincipalName, u.id).catch(() => null);
          if (envUser) await product.removeRole(envUser, u.userPrincipalName).catch((err) => this.logger.warn({ offerId: offer.id, upn: u.userPrincipalName, err: toRemoteError(err, 'dataverse').code }, 'leftover role removal failed; removing license and user anyway'));
          skuId ??= (await this.licenses.snapshot(offer).catch(() => null))?.skuId;
          for (const l of u.licenseSkuIds) if (!skuId || l === skuId) await graph.removeLicense(u.id, l);
          await graph.deleteUser(u.id);
          this.logger.warn({ offerId: offer.id, upn: u.userPrincipalName, sessionId: u.department, sessionState: s?.state ?? null }, 'removed leftover test drive user');
        } catch (err) {
          this.logger.warn({ offerId: offer.id, upn: u.userPrincipalName, err: toRemoteError(err, 'graph').code }, 'leftover removal failed; next sweep retries');
        }
      }
      this.licenses.invalidate(offer.id);
    } catch (err) {
      const e = toRemoteError(err, 'graph');
      this.logger.warn({ offerId: offer.id, code: e.code, kind: e.kind }, 'leftover sweep failed; next sweep retries');
    }
  }

  /**
   * One row per offer: `{region: null, limit, inUse, maxConcurrent, licenses: {sku, total, consumed,
   * free, heldByOffer} | null, health}`, plus the common counters (deploying = provisioning sessions,
   * assigned = ready ones).
   */
  async capacity(offer: OfferEntity): Promise<CapacityRow[]> {
    const cfg = dynamicsConfigOf(offer.testDrive);
    const { byState, holdingSlot } = await this.sessions.countByState(offer.id, LIVE_SESSION_STATES);
    const snapshot = offer.clientSecretVersion ? await this.licenses.snapshot(offer).catch(() => null) : null;
    const limit = snapshot ? Math.min(cfg.maxConcurrent, snapshot.availableToOffer) : 0;
    return [
      {
        region: null,
        hotTarget: 0,
        hotReady: 0,
        deploying: byState.provisioning,
        assigned: byState.ready,
        failed: 0,
        ending: byState.ending,
        limit,
        inUse: holdingSlot,
        maxConcurrent: cfg.maxConcurrent,
        licenses: snapshot ? licenseView(snapshot) : null,
        health: offer.health ?? null,
      },
    ];
  }
}
