import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ApiError, ErrorDetail } from '../../src/common/api-error';
import { Clock } from '../../src/common/clock';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OffersRepository } from '../../src/offers/offers.repository';
import { LIVE_SESSION_STATES, SessionEntity } from '../../src/sessions/session.entity';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { z } from 'zod';
import { CapacityRow, SLOT_CAPACITY_FIELDS, StartSessionRequest, TestDriveSchemas, TestDriveType, ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { azureDeploymentSchema } from '../../src/test-drives/config-schemas';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { SessionRunner } from '../../src/test-drives/session-runner';
import { LOGIC_APP_TEST_DRIVE_TYPE, logicAppConfigOf, logicAppTestDriveSchema, validateLogicAppConfig } from './logic-app-config';
import { LogicAppGateway, toLogicCallError } from './logic-app.gateway';
import { LogicAppSessionDriver } from './provisioning/session-driver';

/** Sessions driven at once in one reconcile pass. */
const PARALLEL_SESSIONS = 8;

/** What a Logic app test drive validates and adds to responses (TestDriveSchemas; the API description). */
export const LOGIC_APP_SCHEMAS: TestDriveSchemas = {
  testDrive: logicAppTestDriveSchema,
  deployment: azureDeploymentSchema,
  capacityRow: {
    ...SLOT_CAPACITY_FIELDS,
    deprovisionFailures: z
      .number()
      .int()
      .meta({ description: 'Logic app: finished sessions whose deprovisioning Logic App gave up (what it made may be left behind) and nobody acknowledged yet (POST /sessions/{id}/acknowledge-deprovisioning).' }),
    deprovisionFailedSessions: z.array(z.string()).meta({ description: 'Logic app: the ids of the newest 20 of those sessions.' }),
  },
};

/**
 * Logic app test drives (TestDriveType): the publisher's provisioning Logic App, already deployed in
 * its resource group, makes whatever the customer gets and answers the access details; the
 * deprovisioning Logic App removes it when the session ends (test drive rules, "Logic app test
 * drives"; the request/response contract is ours: docs/logic-app-contract.md).
 *
 * - Concurrency: at most `maxConcurrent` sessions hold a slot (unique per offer), claimed atomically
 *   (lowest free slot; a unique violation tries the next); otherwise 409 NoCapacity. The slot is freed
 *   when the session is `ended` / `failed`, i.e. after deprovisioning.
 * - Provisioning and deprovisioning: LogicAppSessionDriver (resumable steps in session.progress),
 *   kicked right after the claim / the end, and driven by reconcile() for every non-terminal session.
 * - Publish preflight: both workflows exist in the resource group, are enabled, have a Request trigger
 *   (POST), and their callback URLs can be obtained.
 */
@Injectable()
export class LogicAppTestDriveType implements TestDriveType, OnModuleInit, OnApplicationShutdown {
  readonly type = LOGIC_APP_TEST_DRIVE_TYPE;
  readonly schemas = LOGIC_APP_SCHEMAS;
  private readonly logger = new Logger('LogicAppTestDriveType');
  /** Session runs (chained per session, never concurrent in this process). */
  private readonly runner = new SessionRunner(this.logger);

  constructor(
    private readonly registry: TestDriveTypeRegistry,
    private readonly offers: OffersRepository,
    private readonly sessions: SessionsRepository,
    private readonly driver: LogicAppSessionDriver,
    private readonly gateway: LogicAppGateway,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  /** Waits for the session runs in progress (a run may chain another: up to three rounds). */
  async onApplicationShutdown(): Promise<void> {
    await this.runner.drain();
  }

  /** Drives one session now (chained after a run already in progress for it). */
  private drive(offer: OfferEntity, sessionId: string): Promise<void> {
    return this.runner.run(sessionId, () => this.driver.run(offer, sessionId));
  }

  validateConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
    return validateLogicAppConfig(testDrive, deployment);
  }

  /**
   * Checks both Logic Apps in the publisher's subscription: each exists in `resourceGroupName`, is
   * enabled, has a Request trigger accepting POST, and its callback URL can be listed with the offer's
   * credentials. Each problem names the field to fix (testDrive.logicAppName, deployment.clientSecret...).
   */
  async publishPreflight(offer: OfferEntity): Promise<ErrorDetail[]> {
    const cfg = logicAppConfigOf(offer.testDrive);
    const problems: ErrorDetail[] = [];
    const checks: Array<[string, string]> = [
      ['testDrive.logicAppName', cfg.logicAppName],
      ['testDrive.deprovisionLogicAppName', cfg.deprovisionLogicAppName],
    ];
    for (const [target, name] of checks) {
      try {
        const wf = await this.gateway.workflow(offer, cfg.resourceGroupName, name);
        if (!wf) {
          problems.push({ code: 'LogicAppNotFound', target, message: `Logic App '${name}' was not found in resource group '${cfg.resourceGroupName}' of subscription ${offer.deployment.subscriptionId}.` });
          continue;
        }
        if ((wf.state ?? 'Enabled').toLowerCase() !== 'enabled') {
          problems.push({ code: 'LogicAppDisabled', target, message: `Logic App '${name}' is ${String(wf.state).toLowerCase()}: enable it (az logic workflow update --state Enabled, or the portal).` });
        }
        if (!wf.requestTrigger) {
          problems.push({ code: 'LogicAppNoRequestTrigger', target, message: `Logic App '${name}' has no Request trigger ("When a HTTP request is received"): the test drive calls it through that trigger's callback URL.` });
          continue;
        }
        if (wf.requestTrigger.method && wf.requestTrigger.method !== 'POST') {
          problems.push({ code: 'LogicAppTriggerMethod', target, message: `The Request trigger '${wf.requestTrigger.name}' of Logic App '${name}' accepts ${wf.requestTrigger.method} only; the test drive POSTs to it.` });
          continue;
        }
        await this.gateway.callbackUrl(offer, cfg.resourceGroupName, name, wf.requestTrigger.name);
      } catch (err) {
        const e = toLogicCallError(err);
        problems.push(this.remoteProblem(e, target, name, cfg.resourceGroupName));
        if (e.code === 'AuthenticationFailed' || e.statusCode === 403) break; // the second check would say the same
      }
    }
    return problems;
  }

  private remoteProblem(e: { code: string; message: string; statusCode?: number }, target: string, name: string, rg: string): ErrorDetail {
    if (e.code === 'AuthenticationFailed' || e.statusCode === 401) return { code: 'AuthenticationFailed', target: 'deployment.clientSecret', message: e.message };
    if (e.code === 'ResourceGroupNotFound') return { code: 'ResourceGroupNotFound', target: 'testDrive.resourceGroupName', message: `Resource group '${rg}' was not found in the subscription.` };
    if (e.statusCode === 403) return { code: 'AuthorizationFailed', target: 'deployment.clientId', message: `The app registration may not read Logic App '${name}' or list its callback URL (it needs e.g. Logic App Contributor on resource group '${rg}'): ${e.message}` };
    if (e.code === 'SubscriptionNotFound') return { code: 'SubscriptionNotFound', target: 'deployment.subscriptionId', message: e.message };
    return { code: 'LogicAppCheckFailed', target, message: `Logic App '${name}' could not be checked (${e.code}): ${e.message}` };
  }

  /**
   * Claims the lowest free slot below `maxConcurrent` (unique index per offer: a concurrent claim of
   * the same slot loses and tries the next) and starts provisioning in the background; the session
   * stays `provisioning` until the provisioning Logic App answered.
   * @throws ApiError 400 RegionNotOffered (another region requested), 409 NoCapacity.
   */
  async startSession(offer: OfferEntity, session: SessionEntity, request: StartSessionRequest): Promise<void> {
    const cfg = logicAppConfigOf(offer.testDrive);
    if (request.region && request.region.toLowerCase() !== cfg.region) {
      throw ApiError.validation([{ code: 'RegionNotOffered', target: 'region', message: `Region '${request.region}' is not offered by this test drive. Offered: ${cfg.region}.` }]);
    }
    const now = this.clock.now();
    const slot = await this.sessions.claimSessionSlot(session, offer.id, cfg.maxConcurrent, now, { region: cfg.region });
    if (slot === null) {
      throw new ApiError(409, 'NoCapacity', `Every test drive of offer '${offer.id}' is in use (at most ${cfg.maxConcurrent} at once). Try again later.`);
    }
    void this.drive(offer, session.id);
  }

  /** Starts deprovisioning at once; the session is `ended` (or `failed`) when it is done. */
  async endSession(session: SessionEntity): Promise<void> {
    const offer = await this.offers.findById(session.offerId);
    if (!offer) {
      await this.sessions.markEnded(session.id, this.clock.now());
      return;
    }
    void this.drive(offer, session.id);
  }

  /** One pass: drive every provisioning / ending Logic app session one run (not those already running here). */
  async reconcile(now: number): Promise<number | undefined> {
    const offers = (await this.offers.list()).filter((o) => o.type === LOGIC_APP_TEST_DRIVE_TYPE);
    if (!offers.length) return undefined;
    const byId = new Map(offers.map((o) => [o.id, o]));
    const work = (await this.sessions.listByStates(['provisioning', 'ending'])).filter((s) => s.type === LOGIC_APP_TEST_DRIVE_TYPE && !this.runner.isRunning(s.id));
    for (const s of work) {
      if (!byId.has(s.offerId) && s.state === 'ending') await this.sessions.markEnded(s.id, this.clock.now()); // offer gone: nothing to call
    }
    const driven = work.filter((s) => byId.has(s.offerId));
    for (let i = 0; i < driven.length; i += PARALLEL_SESSIONS) {
      await Promise.all(driven.slice(i, i + PARALLEL_SESSIONS).map((s) => this.drive(byId.get(s.offerId)!, s.id)));
    }
    // Issue 14: due again now while sessions are driven here; otherwise only a change brings work.
    return driven.length ? now : undefined;
  }

  /**
   * One row per offer: `{region, limit: maxConcurrent, inUse, deploying (provisioning), assigned
   * (ready), ending, failed (sessions requested in the last 24 hours that failed), deprovisionFailures
   * (finished sessions whose deprovisioning failed every attempt and nobody acknowledged yet, counted in the
   * database however long ago they ended), deprovisionFailedSessions (the newest 20 of their ids)}`. The live counts come from the database, however many
   * sessions the offer has (defect: they were taken from its newest 500 sessions, so a long queue hid the
   * sessions holding its slots).
   */
  async capacity(offer: OfferEntity): Promise<CapacityRow[]> {
    const cfg = logicAppConfigOf(offer.testDrive);
    const now = this.clock.now();
    const [{ byState, holdingSlot }, failed, gaveUp] = await Promise.all([
      this.sessions.countByState(offer.id, LIVE_SESSION_STATES),
      this.sessions.countInStates(offer.id, ['failed'], now - 24 * 3_600_000),
      this.sessions.deprovisioningFailures(offer.id),
    ]);
    return [
      {
        region: cfg.region,
        hotTarget: 0,
        hotReady: 0,
        deploying: byState.provisioning,
        assigned: byState.ready,
        failed,
        ending: byState.ending,
        limit: cfg.maxConcurrent,
        inUse: holdingSlot,
        maxConcurrent: cfg.maxConcurrent,
        deprovisionFailures: gaveUp.count,
        deprovisionFailedSessions: gaveUp.sessionIds,
      },
    ];
  }
}
