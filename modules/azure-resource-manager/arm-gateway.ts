import { Injectable } from '@nestjs/common';
import { TokenCredential } from '@azure/identity';
import { ResourceManagementClient } from '@azure/arm-resources';
import { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import { ComputeManagementClient } from '@azure/arm-compute';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { callRemote, classifyRemoteError, RemoteError } from '../../src/remote/remote-error';
import { ArmWriteBudget } from './provisioning/write-budget';

/** State of one ARM deployment as the pools need it. */
export interface DeploymentStatus {
  /** ARM provisioningState: Accepted, Running, Succeeded, Failed, Canceled... */
  provisioningState: string;
  /** properties.outputs: `{ name: { type, value } }` (present once Succeeded). */
  outputs?: Record<string, { type?: string; value?: unknown }>;
  /** properties.error on failure: `{ code, message, details? }`. */
  error?: { code?: string; message?: string; details?: unknown };
}

/** A virtual machine of a resource group and its power state (instance view `PowerState/<x>`: running, deallocated, starting, deallocating, stopped...; '' when unknown). */
export interface VirtualMachinePower {
  name: string;
  power: string;
}

/** An SDK failure classified (src/remote: RemoteError, service `arm`; a refused token is kind `credential`, service `token`). */
const armError = (err: unknown): RemoteError => classifyRemoteError(err, 'arm');

/** Runs one SDK call, its failure thrown classified (armError); with `ifNotFound`, a 404 returns that value. */
const armCall = <T, N = never>(fn: () => Promise<T>, ifNotFound?: { value: N }): Promise<T | N> => callRemote(fn, armError, ifNotFound);

/**
 * The ARM operations the pools use, in one publisher subscription, through the real SDK clients
 * (@azure/arm-resources for resource groups, @azure/arm-resourcesdeployments for deployments).
 * Long-running operations are only submitted here; callers observe progress on later reconcile passes
 * (level-triggered), so nothing is lost when the process stops mid-way.
 * Errors: SDK errors are rethrown classified as RemoteError (src/remote/remote-error.ts: kind, ARM code, status, retryAfterMs).
 */
export class ArmSubscriptionClient {
  private readonly resources: ResourceManagementClient;
  private readonly deployments: DeploymentsClient;
  private readonly compute: ComputeManagementClient;

  /** `writes`: the budget its writes are counted in (pool refills wait for it: ArmWriteBudget). */
  constructor(runtime: AzureRuntime, credential: TokenCredential, readonly subscriptionId: string, writes: ArmWriteBudget) {
    const options = {
      ...runtime.clientOptions,
      additionalPolicies: [...runtime.clientOptions.additionalPolicies, { policy: writes.policy(subscriptionId), position: 'perRetry' as const }],
      endpoint: runtime.endpoints.resourceManagerEndpoint,
      credentialScopes: [runtime.armScope],
    };
    this.resources = new ResourceManagementClient(credential, subscriptionId, options);
    this.deployments = new DeploymentsClient(credential, subscriptionId, options);
    this.compute = new ComputeManagementClient(credential, subscriptionId, options);
  }

  /** The virtual machines of a resource group with their power state (instance view of each; warm instances, issue 12). */
  async listVirtualMachines(resourceGroup: string): Promise<VirtualMachinePower[]> {
    return armCall(async () => {
      const out: VirtualMachinePower[] = [];
      for await (const vm of this.compute.virtualMachines.list(resourceGroup)) {
        const name = vm.name ?? '';
        const view = await this.compute.virtualMachines.instanceView(resourceGroup, name);
        const code = view.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code ?? '';
        out.push({ name, power: code.slice('PowerState/'.length) });
      }
      return out;
    });
  }

  /** Submits deallocation of a virtual machine (202; completes asynchronously: read its power state later). */
  async submitDeallocate(resourceGroup: string, vm: string): Promise<void> {
    await armCall(() => this.compute.virtualMachines.deallocate(resourceGroup, vm).submitted());
  }

  /** Submits the start of a virtual machine (202; completes asynchronously: read its power state later). */
  async submitStart(resourceGroup: string, vm: string): Promise<void> {
    await armCall(() => this.compute.virtualMachines.start(resourceGroup, vm).submitted());
  }

  /** Creates or updates a resource group (PUT is idempotent: 201 new, 200 existing). */
  async ensureResourceGroup(name: string, location: string, tags: Record<string, string>): Promise<void> {
    await armCall(() => this.resources.resourceGroups.createOrUpdate(name, { location, tags }));
  }

  /** Replaces a resource group's tags (PATCH). */
  async updateTags(name: string, tags: Record<string, string>): Promise<void> {
    await armCall(() => this.resources.resourceGroups.update(name, { tags }));
  }

  /**
   * Submits an Incremental deployment of the template at `templateUri` (PUT; ARM answers 201 Accepted
   * and runs it asynchronously). A deployment of that name already running (409 DeploymentActive)
   * counts as submitted.
   */
  async submitDeployment(resourceGroup: string, name: string, templateUri: string, parameters: Record<string, { value: unknown }>): Promise<void> {
    try {
      const poller = this.deployments.deployments.createOrUpdate(resourceGroup, name, {
        properties: { mode: 'Incremental', templateLink: { uri: templateUri }, parameters },
      });
      await poller.submitted();
    } catch (err) {
      const e = armError(err);
      if (e.code === 'DeploymentActive') return;
      throw e;
    }
  }

  /**
   * ARM's validation of a deployment of the template at `templateUri` into `resourceGroup` (POST
   * .../deployments/{name}/validate; nothing is deployed). Returns null when ARM accepts it, else ARM's
   * error `{code, message, details?}` (InvalidTemplate, InvalidTemplateDeployment...).
   * @throws RemoteError when ARM could not be asked (throttled, unreachable, refused credentials).
   */
  async validateDeployment(resourceGroup: string, name: string, templateUri: string, parameters: Record<string, { value: unknown }>): Promise<{ code: string; message: string; details?: unknown } | null> {
    let body: unknown;
    try {
      await this.deployments.deployments.validate(resourceGroup, name, { properties: { mode: 'Incremental', templateLink: { uri: templateUri }, parameters } }, {
        updateIntervalInMs: 500,
        onResponse: (r) => {
          body = r.parsedBody;
        },
      });
      return null;
    } catch (err) {
      const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      if (error?.code) return { code: error.code, message: error.message ?? error.code, details: error.details };
      throw armError(err);
    }
  }

  /** Current state of a deployment, or null when it does not exist. */
  async getDeployment(resourceGroup: string, name: string): Promise<DeploymentStatus | null> {
    const d = await armCall(() => this.deployments.deployments.get(resourceGroup, name), { value: null });
    if (!d) return null;
    const p = d.properties ?? {};
    return {
      provisioningState: String(p.provisioningState ?? 'Unknown'),
      outputs: p.outputs as DeploymentStatus['outputs'],
      error: p.error as DeploymentStatus['error'],
    };
  }

  /** provisioningState of a resource group ("Succeeded", "Deleting"...), or null when it does not exist. */
  async getResourceGroupState(name: string): Promise<string | null> {
    const rg = await armCall(() => this.resources.resourceGroups.get(name), { value: null });
    return rg ? (rg.properties?.provisioningState ?? 'Succeeded') : null;
  }

  /** Submits deletion of a resource group (202 + Location; completes asynchronously). Missing group: no-op. */
  async submitResourceGroupDelete(name: string): Promise<void> {
    await armCall(() => this.resources.resourceGroups.beginDelete(name), { value: undefined });
  }

  /** Names and tags of resource groups carrying tag `tagName` = `tagValue` ($filter on the server). */
  async listResourceGroupsByTag(tagName: string, tagValue: string): Promise<Array<{ name: string; tags: Record<string, string> }>> {
    const out: Array<{ name: string; tags: Record<string, string> }> = [];
    await armCall(async () => {
      for await (const rg of this.resources.resourceGroups.list({ filter: `tagName eq '${tagName}' and tagValue eq '${tagValue.replace(/'/g, "''")}'` })) {
        out.push({ name: rg.name ?? '', tags: (rg.tags ?? {}) });
      }
    });
    return out;
  }
}

/** Builds (and caches) ArmSubscriptionClient per subscription and credential. */
@Injectable()
export class ArmGateway {
  private readonly cache = new WeakMap<TokenCredential, Map<string, ArmSubscriptionClient>>();

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly writes: ArmWriteBudget,
  ) {}

  /** Client for `subscriptionId` acting as `credential` (the publisher's service principal). */
  forSubscription(credential: TokenCredential, subscriptionId: string): ArmSubscriptionClient {
    let bySub = this.cache.get(credential);
    if (!bySub) this.cache.set(credential, (bySub = new Map<string, ArmSubscriptionClient>()));
    let client = bySub.get(subscriptionId);
    if (!client) bySub.set(subscriptionId, (client = new ArmSubscriptionClient(this.runtime, credential, subscriptionId, this.writes)));
    return client;
  }
}
