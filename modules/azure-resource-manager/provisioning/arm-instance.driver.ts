import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../../../src/common/clock';
import { AppConfig, APP_CONFIG } from '../../../src/config/app-config';
import { ArmGateway, ArmSubscriptionClient, VirtualMachinePower } from '../arm-gateway';
import { DataProtector } from '../../../src/azure/data-protector';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { OfferCredentials } from '../../../src/offers/offer-credentials';
import { PoolInstanceEntity } from '../pools/pool-instance.entity';
import { PoolInstanceRepository } from '../pools/pool-instance.repository';
import { SessionsRepository } from '../../../src/sessions/sessions.repository';
import { PackageService } from '../packages/package.service';
import { fillParameters } from '../packages/parameter-filler';
import { classifyRemoteError, RemoteError } from '../../../src/remote/remote-error';
import { deploymentBackoffMs, deploymentPollPauseMs } from './backoff';


/** What tagging an instance's resource group with its session needs (a hot claim returns it: ClaimedHot). */
export type TagTarget = Pick<PoolInstanceEntity, 'id' | 'subscriptionId' | 'resourceGroupName' | 'revisionId'>;

/** Tag names on every test drive resource group (test drive rules: publisher, offer, revision, session). */
export const TAGS = {
  publisher: 'testdrive-publisher',
  offer: 'testdrive-offer',
  revision: 'testdrive-revision',
  instance: 'testdrive-instance',
  session: 'testdrive-session',
} as const;

/** Names of the resource groups this service creates (resourceGroupNameFor). */
export const RESOURCE_GROUP_PATTERN = /^CloudTry_[0-9a-f]{32}$/i;

/** Pause (clock time) before an instance whose step failed is driven again. */
export const STEP_RETRY_MS = 15_000;

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

  private async client(offer: OfferEntity, inst: Pick<PoolInstanceEntity, 'subscriptionId'>): Promise<ArmSubscriptionClient> {
    return this.arm.forSubscription(await this.credentials.credentialFor(offer), inst.subscriptionId);
  }

  /**
   * One step for `inst` (errors are recorded on the instance, never thrown). After a step fails
   * (ARM or Entra unreachable, throttled, refusing), the instance waits STEP_RETRY_MS of clock time (or
   * the Retry-After ARM asked for, if longer) before its next call, so a persistent error does not turn
   * every reconcile pass into ARM calls.
   */
  async step(offer: OfferEntity, inst: PoolInstanceEntity, opts: { someoneWaits?: boolean } = {}): Promise<void> {
    const now = this.clock.now();
    if (inst.nextActionAt && now < inst.nextActionAt) return;
    try {
      switch (inst.state) {
        case 'pending':
          return await this.submit(offer, inst, now);
        case 'deploying':
          return await this.observeDeployment(offer, inst, now, opts.someoneWaits ?? false);
        case 'parking':
          return await this.park(offer, inst, now);
        case 'starting':
          return await this.startWarm(offer, inst, now);
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
      const e = classifyError(err, offer);
      this.logger.warn({ instanceId: inst.id, state: inst.state, kind: e.kind, code: e.code, status: e.status, msg: e.message }, 'instance step failed; will retry');
      await this.pool.transition(inst.id, [inst.state], { nextActionAt: now + Math.max(STEP_RETRY_MS, e.retryAfterMs ?? 0) }, now).catch(() => undefined);
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
      await this.pool.transition(inst.id, ['pending'], { state: 'deploying', attempts: inst.attempts + 1, nextActionAt: null, submittedAt: now }, now);
    } catch (err) {
      const e = classifyError(err, offer);
      const attempts = inst.attempts + 1;
      const failure = { code: e.code, message: e.message };
      if (e.retryable && attempts < SUBMIT_ATTEMPTS) {
        await this.pool.transition(inst.id, ['pending'], { attempts, failure, nextActionAt: now + Math.max(deploymentBackoffMs(attempts, 1_000), e.retryAfterMs ?? 0) }, now);
      } else {
        await this.pool.transition(inst.id, ['pending'], { state: 'failed', attempts, failure }, now);
      }
      this.logger.warn({ instanceId: inst.id, kind: e.kind, code: e.code, status: e.status, attempts }, 'deployment submit failed');
    }
  }

  /**
   * deploying: read the deployment; on success store encrypted outputs, hand over to the session if any.
   * While it runs, an instance nobody waits for (no session of its own, `someoneWaits` false: no request
   * of the offer queued) is read again after deploymentPollPauseMs of clock time.
   */
  private async observeDeployment(offer: OfferEntity, inst: PoolInstanceEntity, now: number, someoneWaits: boolean): Promise<void> {
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
        // Instance assigned and session ready in one transaction (issue 8).
        await this.pool.markAssignedAndSessionReady(inst, outputsEnc, now, this.config.testDriveHourSeconds * 1000);
      } else if (inst.kind === 'warm') {
        // Issue 12: a warm instance's virtual machines are deallocated before it counts as ready (W-).
        await this.pool.transition(inst.id, ['deploying'], { state: 'parking', outputsEnc, failure: null }, now);
      } else if (await this.pool.transition(inst.id, ['deploying'], { state: 'ready', outputsEnc, readyAt: now, failure: null }, now)) {
        await this.pool.recordRegionSuccess(inst.offerId, inst.region, inst.createdAt);
      }
      this.logger.log({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, kind: inst.kind }, 'instance deployed');
      return;
    }
    if (d.provisioningState === 'Failed' || d.provisioningState === 'Canceled') {
      const failure = { code: d.error?.code ?? `Deployment${d.provisioningState}`, message: deploymentErrorMessage(d.error, d.provisioningState), details: d.error?.details };
      await this.pool.transition(inst.id, ['deploying'], { state: 'failed', failure }, now);
      this.logger.warn({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, code: failure.code }, 'deployment failed');
      return;
    }
    // Still running. Nobody waits for a pool refill: read it again after a pause that grows with its age.
    if (!inst.sessionId && !someoneWaits) {
      const pause = deploymentPollPauseMs(now - Number(inst.submittedAt ?? inst.createdAt));
      if (pause > 0) await this.pool.transition(inst.id, ['deploying'], { nextActionAt: now + pause }, now);
    }
  }

  /**
   * parking (warm, issue 12): deallocates every virtual machine of the resource group (submitted, not
   * awaited: the next passes read the power states); when all are deallocated the instance is ready (W-).
   */
  private async park(offer: OfferEntity, inst: PoolInstanceEntity, now: number): Promise<void> {
    const vms = await this.powerVirtualMachines(offer, inst, 'deallocated');
    if (!vms) return;
    if (await this.pool.transition(inst.id, ['parking'], { state: 'ready', readyAt: now }, now)) {
      await this.pool.recordRegionSuccess(inst.offerId, inst.region, inst.createdAt);
      this.logger.log({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, virtualMachines: vms.length }, 'warm instance parked');
    }
  }

  /**
   * starting (a claimed warm instance, issue 12): starts every virtual machine that is not running; when
   * all run, reads the deployment's outputs again (a dynamic public IP may have changed) and makes the
   * instance assigned and its session ready in one transaction. The outputs are always the deployment's,
   * encrypted with the current data key (a template without outputs gives `{}`: ARM may leave
   * `properties.outputs` out); the stored copy is used only when the deployment itself is gone, so a
   * stored copy the data key can no longer read (issue 14's lost key) does not fail a warm start.
   */
  private async startWarm(offer: OfferEntity, inst: PoolInstanceEntity, now: number): Promise<void> {
    if (!(await this.powerVirtualMachines(offer, inst, 'running'))) return;
    const client = await this.client(offer, inst);
    const d = await client.getDeployment(inst.resourceGroupName, inst.deploymentName);
    const outputsEnc = d ? await this.protector.encrypt(d.outputs ?? {}) : inst.outputsEnc;
    if (await this.pool.markAssignedAndSessionReady(inst, outputsEnc ?? (await this.protector.encrypt({})), now, this.config.testDriveHourSeconds * 1000, 'starting')) {
      this.logger.log({ instanceId: inst.id, offerId: inst.offerId, region: inst.region, sessionId: inst.sessionId }, 'warm instance started');
    }
  }

  /**
   * Brings every virtual machine of the instance's resource group towards `target` (deallocated for
   * parking, running for starting): submits a deallocate / start for each VM neither there nor on its way
   * (not awaited: later passes read the power states again).
   * @returns the VMs when all are at `target`, or null while some are still on their way.
   */
  private async powerVirtualMachines(offer: OfferEntity, inst: PoolInstanceEntity, target: 'deallocated' | 'running'): Promise<VirtualMachinePower[] | null> {
    const client = await this.client(offer, inst);
    const vms = await client.listVirtualMachines(inst.resourceGroupName);
    const pending = vms.filter((vm) => vm.power !== target);
    for (const vm of pending) {
      if (target === 'deallocated' && vm.power !== 'deallocating') await client.submitDeallocate(inst.resourceGroupName, vm.name);
      if (target === 'running' && vm.power !== 'starting') await client.submitStart(inst.resourceGroupName, vm.name);
    }
    return pending.length === 0 ? vms : null;
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
      await this.pool.recordRegionFailure(inst.offerId, inst.region, { code: reason.code, message: reason.message }, now, (n) => deploymentBackoffMs(n));
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

  /**
   * Test drive resource groups (`CloudTry_<32 hex>`) tagged for `offer` in its subscription, as ARM
   * lists them (server-side tag filter). Used by the orphan sweep.
   */
  async listOfferGroups(offer: OfferEntity): Promise<Array<{ name: string; tags: Record<string, string> }>> {
    const client = this.arm.forSubscription(await this.credentials.credentialFor(offer), offer.deployment.subscriptionId!);
    const groups = await client.listResourceGroupsByTag(TAGS.offer, offer.id);
    return groups.filter((g) => RESOURCE_GROUP_PATTERN.test(g.name) && g.tags[TAGS.offer] === offer.id);
  }

  /** Submits deletion of resource group `name` in `offer`'s subscription (missing: no-op). */
  async deleteGroup(offer: OfferEntity, name: string): Promise<void> {
    const client = this.arm.forSubscription(await this.credentials.credentialFor(offer), offer.deployment.subscriptionId!);
    await client.submitResourceGroupDelete(name);
  }

  /** Tags of an instance's resource group. */
  tags(offer: OfferEntity, inst: Pick<PoolInstanceEntity, 'id' | 'revisionId'> & { sessionId?: string | null }, sessionId?: string): Record<string, string> {
    return {
      [TAGS.publisher]: offer.deployment.tenantId,
      [TAGS.offer]: offer.id,
      [TAGS.revision]: inst.revisionId,
      [TAGS.instance]: inst.id,
      ...(sessionId ?? inst.sessionId ? { [TAGS.session]: (sessionId ?? inst.sessionId)! } : {}),
    };
  }

  /**
   * Tags the resource group with its session once assigned (billing and audit). The caller records the
   * tags that landed (PoolInstanceRepository.markTagged, one statement for a batch). A failure is logged;
   * the reconcile loop retries until it lands.
   * @returns true when ARM accepted the tags.
   */
  async tagSession(offer: OfferEntity, inst: TagTarget, sessionId: string): Promise<boolean> {
    try {
      const client = await this.client(offer, inst);
      await client.updateTags(inst.resourceGroupName, this.tags(offer, inst, sessionId));
      return true;
    } catch (err) {
      this.logger.warn({ instanceId: inst.id, err: (err as Error).message }, 'could not tag resource group with session');
      return false;
    }
  }
}

/**
 * What an operator and a customer need from a failed deployment: ARM's top-level message only says
 * "At least one resource deployment operation failed", the reason is in `details` (nested).
 */
export function deploymentErrorMessage(error: { code?: string; message?: string; details?: unknown } | undefined, state: string): string {
  const leaves: string[] = [];
  const walk = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || depth > 5 || leaves.length >= 3) return;
    const { code, message, details } = e as { code?: unknown; message?: unknown; details?: unknown };
    if (Array.isArray(details) && details.length) {
      for (const d of details) walk(d, depth + 1);
    } else if (depth > 0 && (typeof code === 'string' || typeof message === 'string')) {
      leaves.push([code, message].filter((x) => typeof x === 'string' && x).join(': '));
    }
  };
  walk(error, 0);
  const top = error?.message ?? `Deployment ${state}`;
  return leaves.length ? `${leaves.join('; ')} (${top})` : top;
}

/**
 * An error of one step, classified (src/remote: RemoteError). A token request the tenant refuses (kind
 * `credential`: wrong or expired client secret, app deleted) becomes `AuthenticationFailed` with a
 * message that says what to fix, and is not retried as if transient (test drive rules: an expired client
 * secret silently breaks a test drive). Everything else keeps ARM's code, status and Retry-After.
 */
export function classifyError(err: unknown, offer?: OfferEntity): RemoteError {
  const e = classifyRemoteError(err, 'arm');
  if (e.kind !== 'credential') return e;
  const who = offer ? ` of offer '${offer.id}' (tenant ${offer.deployment.tenantId}, client ${offer.deployment.clientId})` : '';
  return new RemoteError(e.service, 'credential', 'AuthenticationFailed', `The publisher's service principal${who} was refused a token; check or renew its client secret (PUT the offer's deployment.clientSecret). ${e.message.slice(0, 500)}`, 401, undefined, { cause: err });
}
