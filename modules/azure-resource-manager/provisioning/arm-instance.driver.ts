import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../../src/common/clock';
import { AppConfig, APP_CONFIG } from '../../../src/config/app-config';
import { ArmCallError, ArmGateway, ArmSubscriptionClient, toArmCallError } from '../../../src/azure/arm-gateway';
import { DataProtector } from '../../../src/azure/data-protector';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { OfferCredentials } from '../../../src/offers/offer-credentials';
import { PoolInstanceEntity } from '../../../src/pools/pool-instance.entity';
import { PoolInstanceRepository } from '../../../src/pools/pool-instance.repository';
import { SessionsRepository } from '../../../src/sessions/sessions.repository';
import { PackageService } from '../packages/package.service';
import { fillParameters } from '../packages/parameter-filler';
import { deploymentBackoffMs, isTransient } from './backoff';

/** Tag names on every test drive resource group (test drive rules: publisher, offer, revision, session). */
export const TAGS = {
  publisher: 'testdrive-publisher',
  offer: 'testdrive-offer',
  revision: 'testdrive-revision',
  instance: 'testdrive-instance',
  session: 'testdrive-session',
} as const;

/** Attempts at submitting one instance's deployment (transient ARM errors) before it counts as failed. */
const SUBMIT_ATTEMPTS = 5;

/**
 * Moves one ARM instance one step towards where it should be, reading actual state from ARM each
 * time (level-triggered): pending -> (resource group + deployment submitted) deploying -> (deployment
 * Succeeded) ready / assigned; failed -> deleting; deleting -> (resource group gone) deleted.
 * Each step is idempotent (PUTs, conditional state transitions), so a crash at any point is resumed
 * by the next pass, and two replicas driving the same instance do no harm.
 */
@Injectable()
export class ArmInstanceDriver {
  private readonly logger = new Logger('ArmInstanceDriver');

  constructor(
    private readonly pool: PoolInstanceRepository,
    private readonly sessions: SessionsRepository,
    private readonly credentials: OfferCredentials,
    private readonly arm: ArmGateway,
    private readonly packages: PackageService,
    private readonly protector: DataProtector,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private async client(offer: OfferEntity, inst: PoolInstanceEntity): Promise<ArmSubscriptionClient> {
    return this.arm.forSubscription(await this.credentials.credentialFor(offer), inst.subscriptionId);
  }

  /** One step for `inst` (errors are recorded on the instance, never thrown). */
  async step(offer: OfferEntity, inst: PoolInstanceEntity): Promise<void> {
    const now = this.clock.now();
    if (inst.nextActionAt && now < inst.nextActionAt && (inst.state === 'pending' || inst.state === 'failed')) return;
    try {
      switch (inst.state) {
        case 'pending':
          return await this.submit(offer, inst, now);
        case 'deploying':
          return await this.observeDeployment(offer, inst, now);
        case 'failed':
          return await this.giveUp(inst, now);
        case 'assigned':
          return await this.checkAssigned(inst, now);
        case 'deleting':
          return await this.delete(offer, inst, now);
        default:
          return;
      }
    } catch (err) {
      const e = err instanceof ArmCallError ? err : toArmCallError(err);
      this.logger.warn({ instanceId: inst.id, state: inst.state, code: e.code, status: e.statusCode, msg: e.message }, 'instance step failed; will retry');
    }
  }

  /** pending: create the resource group and submit the deployment of the package revision. */
  private async submit(offer: OfferEntity, inst: PoolInstanceEntity, now: number): Promise<void> {
    const revision = await this.packages.getRevision(inst.revisionId);
    if (!revision) {
      await this.pool.transition(inst.id, ['pending'], { state: 'failed', failure: { code: 'PackageMissing', message: `Package revision ${inst.revisionId} no longer exists.` } }, now);
      return;
    }
    try {
      const client = await this.client(offer, inst);
      await client.ensureResourceGroup(inst.resourceGroupName, inst.region, this.tags(offer, inst));
      const parameters = fillParameters(revision.parameters, { baseUri: revision.baseUri, sessionId: inst.id });
      await client.submitDeployment(inst.resourceGroupName, inst.deploymentName, `${revision.baseUri}main-template.json`, parameters);
      await this.pool.transition(inst.id, ['pending'], { state: 'deploying', attempts: inst.attempts + 1, nextActionAt: null }, now);
    } catch (err) {
      const e = err instanceof ArmCallError ? err : toArmCallError(err);
      const attempts = inst.attempts + 1;
      const failure = { code: e.code, message: e.message };
      if (isTransient(e.statusCode) && attempts < SUBMIT_ATTEMPTS) {
        await this.pool.transition(inst.id, ['pending'], { attempts, failure, nextActionAt: now + deploymentBackoffMs(attempts, 1_000) }, now);
      } else {
        await this.pool.transition(inst.id, ['pending'], { state: 'failed', attempts, failure }, now);
      }
      this.logger.warn({ instanceId: inst.id, code: e.code, status: e.statusCode, attempts }, 'deployment submit failed');
    }
  }

  /** deploying: read the deployment; on success store encrypted outputs, hand over to the session if any. */
  private async observeDeployment(offer: OfferEntity, inst: PoolInstanceEntity, now: number): Promise<void> {
    const client = await this.client(offer, inst);
    const d = await client.getDeployment(inst.resourceGroupName, inst.deploymentName);
    if (!d) {
      // Lost (resource group removed behind our back, or ARM history trimmed): start over.
      await this.pool.transition(inst.id, ['deploying'], { state: 'pending' }, now);
      return;
    }
    if (d.provisioningState === 'Succeeded') {
      const outputsEnc = await this.protector.encrypt(d.outputs ?? {});
      if (inst.sessionId) {
        if (await this.pool.transition(inst.id, ['deploying'], { state: 'assigned', outputsEnc, readyAt: now, failure: null }, now)) {
          const session = await this.sessions.findById(inst.sessionId);
          if (session) await this.sessions.markReady(session, outputsEnc, now, this.config.testDriveHourSeconds * 1000);
        }
      } else if (await this.pool.transition(inst.id, ['deploying'], { state: 'ready', outputsEnc, readyAt: now, failure: null }, now)) {
        const region = await this.pool.regionState(inst.offerId, inst.region);
        if (region.consecutiveFailures || region.backoffUntil) {
          await this.pool.saveRegionState({ ...region, consecutiveFailures: 0, backoffUntil: null });
        }
      }
      this.logger.log({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, kind: inst.kind }, 'instance deployed');
      return;
    }
    if (d.provisioningState === 'Failed' || d.provisioningState === 'Canceled') {
      const failure = { code: d.error?.code ?? `Deployment${d.provisioningState}`, message: d.error?.message ?? `Deployment ${d.provisioningState}`, details: d.error?.details };
      await this.pool.transition(inst.id, ['deploying'], { state: 'failed', failure }, now);
      this.logger.warn({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, code: failure.code }, 'deployment failed');
    }
  }

  /**
   * failed: the customer of a cold instance gets a failed session with the reason; a hot instance's
   * region backs off before deploying a replacement. The resource group is deleted either way
   * (instances are never repaired in place: a fresh one replaces it).
   */
  private async giveUp(inst: PoolInstanceEntity, now: number): Promise<void> {
    if (!(await this.pool.transition(inst.id, ['failed'], { state: 'deleting' }, now))) return;
    const reason = inst.failure ?? { code: 'DeploymentFailed', message: 'The deployment failed.' };
    if (inst.sessionId) {
      await this.sessions.markFailed(inst.sessionId, { code: reason.code, message: `The test drive could not be deployed: ${reason.message}` }, now);
    } else {
      const region = await this.pool.regionState(inst.offerId, inst.region);
      const failures = region.consecutiveFailures + 1;
      await this.pool.saveRegionState({
        ...region,
        consecutiveFailures: failures,
        backoffUntil: now + deploymentBackoffMs(failures),
        lastFailure: { code: reason.code, message: reason.message, at: now },
      });
    }
  }

  /** assigned: once the session is over (ending, ended, failed, or gone) the instance is deleted. */
  private async checkAssigned(inst: PoolInstanceEntity, now: number): Promise<void> {
    const session = inst.sessionId ? await this.sessions.findById(inst.sessionId) : null;
    if (!session || session.state === 'ending' || session.state === 'ended' || session.state === 'failed') {
      await this.pool.transition(inst.id, ['assigned'], { state: 'deleting' }, now);
    }
  }

  /** deleting: submit the resource group's deletion until ARM no longer has it; then free the slot. */
  private async delete(offer: OfferEntity, inst: PoolInstanceEntity, now: number): Promise<void> {
    const client = await this.client(offer, inst);
    const state = await client.getResourceGroupState(inst.resourceGroupName);
    if (state === null) {
      if (await this.pool.markDeleted(inst.id, now)) {
        if (inst.sessionId) await this.sessions.markEnded(inst.sessionId, now);
        this.logger.log({ instanceId: inst.id, resourceGroup: inst.resourceGroupName }, 'resource group deleted');
      }
      return;
    }
    if (state !== 'Deleting') await client.submitResourceGroupDelete(inst.resourceGroupName);
  }

  /** Tags of an instance's resource group. */
  tags(offer: OfferEntity, inst: PoolInstanceEntity, sessionId?: string): Record<string, string> {
    return {
      [TAGS.publisher]: offer.deployment.tenantId,
      [TAGS.offer]: offer.id,
      [TAGS.revision]: inst.revisionId,
      [TAGS.instance]: inst.id,
      ...(sessionId ?? inst.sessionId ? { [TAGS.session]: (sessionId ?? inst.sessionId)! } : {}),
    };
  }

  /** Best effort: tags the resource group with its session once assigned (billing and audit). */
  async tagSession(offer: OfferEntity, inst: PoolInstanceEntity, sessionId: string): Promise<void> {
    try {
      const client = await this.client(offer, inst);
      await client.updateTags(inst.resourceGroupName, this.tags(offer, inst, sessionId));
    } catch (err) {
      this.logger.warn({ instanceId: inst.id, err: (err as Error).message }, 'could not tag resource group with session');
    }
  }
}
