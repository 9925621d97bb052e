jest.setTimeout(60_000);
/**
 * Compute virtual machines (issue 12, warm instances) through the real ComputeManagementClient
 * (@azure/arm-compute): a VM deployed from the vm-simple-linux fixture, its power state (instance view),
 * deallocate / start as long-running operations, preemption, fault injection, RBAC, persistence and the
 * resource group's deletion.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { startEmulator, type EmulatorHandle, type PublisherInfo } from '../../emulator/src';
import { ARM_FIXTURES } from '../support/fixtures-dir';
import { armClients, control, credential, fastPoll, pollFor, start, tlsOptions } from './helpers';

type Params = Record<string, { value: unknown }>;

const VM_START_SECONDS = 1.5;
const VM_DEALLOCATE_SECONDS = 0.5;

/** Responses the SDK saw on the wire (observation only). */
interface Seen {
  method: string;
  url: string;
  status: number;
  headers: Record<string, string>;
}

function recorder(): { policy: PipelinePolicy; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    policy: {
      name: 'recorder',
      sendRequest: async (req, next) => {
        const res = await next(req);
        seen.push({ method: req.method, url: req.url, status: res.status, headers: res.headers.toJSON() });
        return res;
      },
    },
  };
}

/** A real ComputeManagementClient against the emulator (token scope stays ARM's default). */
function computeClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, subscriptionId: string, policy?: PipelinePolicy): ComputeManagementClient {
  return new ComputeManagementClient(credential(h, c), subscriptionId, {
    endpoint: h.url,
    tlsOptions: tlsOptions(h),
    ...(policy ? { additionalPolicies: [{ policy, position: 'perCall' as const }] } : {}),
  });
}

/** The fixture's template and parameters (quickstart CI tokens GEN-UNIQUE / GEN-PASSWORD replaced). */
function vmSimpleLinux(): { template: unknown; parameters: Params } {
  const read = (f: string): any => JSON.parse(readFileSync(join(ARM_FIXTURES, 'vm-simple-linux', f), 'utf8').replace(/^\uFEFF/, ''));
  const parameters = read('azuredeploy.parameters.json').parameters as Params;
  for (const p of Object.values(parameters)) {
    if (p.value === 'GEN-UNIQUE') p.value = `gen${randomBytes(5).toString('hex')}`;
    else if (p.value === 'GEN-PASSWORD') p.value = `Gp!${randomBytes(8).toString('base64url')}9a`;
  }
  return { template: read('azuredeploy.json'), parameters };
}

const powerOf = (statuses: Array<{ code?: string }> | undefined): string | undefined => statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code;
const provisioningOf = (statuses: Array<{ code?: string }> | undefined): string | undefined => statuses?.find((s) => s.code?.startsWith('ProvisioningState/'))?.code;

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('emulator: Compute virtual machines through the real ComputeManagementClient', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let pub: PublisherInfo;
  let compute: ComputeManagementClient;
  let rm: ReturnType<typeof armClients>['rm'];
  let wire: ReturnType<typeof recorder>;
  const RG = 'td-warm-1';
  let vmName: string;
  let pipName: string;
  let firstIp: string | undefined;

  const publicIp = async (): Promise<string | undefined> => {
    const r = await rm.resources.get(RG, 'Microsoft.Network', '', 'publicIPAddresses', pipName, '2021-05-01');
    return (r.properties as { ipAddress?: string }).ipAddress;
  };

  beforeAll(async () => {
    ({ h, cleanup } = await start({ vmStartSeconds: VM_START_SECONDS, vmDeallocateSeconds: VM_DEALLOCATE_SECONDS }));
    pub = await h.createPublisher();
    const arm = armClients(h, pub, pub.subscriptionId);
    rm = arm.rm;
    wire = recorder();
    compute = computeClient(h, pub, pub.subscriptionId, wire.policy);
    await rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
    const { template, parameters } = vmSimpleLinux();
    const d = await arm.dep.deployments.createOrUpdate(RG, 'vm', { properties: { mode: 'Incremental', template, parameters } }, fastPoll);
    expect(d.properties?.provisioningState).toBe('Succeeded');
    const resources = await all(rm.resources.listByResourceGroup(RG));
    vmName = resources.find((r) => r.type === 'Microsoft.Compute/virtualMachines')!.name!;
    pipName = resources.find((r) => r.type === 'Microsoft.Network/publicIPAddresses')!.name!;
  });
  afterAll(async () => cleanup());

  afterEach(() => {
    h.setFaults([]);
  });

  it('lists the deployed VM: Succeeded, vmId, the template vmSize, no admin password', async () => {
    const vms: VirtualMachine[] = await all(compute.virtualMachines.list(RG));
    expect(vms.map((v) => v.name)).toEqual(['simpleLinuxVM']);
    const vm = vms[0];
    expect(vm).toMatchObject({ type: 'Microsoft.Compute/virtualMachines', location: 'westeurope', provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_D2s_v3' } });
    expect(vm.id).toBe(`/subscriptions/${pub.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/simpleLinuxVM`);
    expect(vm.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm.timeCreated).toBeInstanceOf(Date);
    expect(vm.osProfile?.adminUsername).toBeTruthy();
    expect(vm.osProfile?.adminPassword).toBeUndefined();
    expect(vm.instanceView).toBeUndefined();
    // Subscription-wide list too.
    expect((await all(compute.virtualMachines.listAll())).map((v) => v.name)).toEqual(['simpleLinuxVM']);
    // Azure: $expand=instanceView on the group list needs a $filter.
    await expect(all(compute.virtualMachines.list(RG, { expand: 'instanceView' }))).rejects.toMatchObject({ statusCode: 400, code: 'InvalidParameter' });
  });

  it('a new VM runs: GET with $expand=instanceView and GET .../instanceView', async () => {
    const vm = await compute.virtualMachines.get(RG, vmName, { expand: 'instanceView' });
    expect(vm.instanceView?.statuses?.map((s) => s.code)).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
    expect(vm.instanceView?.statuses?.[1]).toMatchObject({ level: 'Info', displayStatus: 'VM running' });
    const iv = await compute.virtualMachines.instanceView(RG, vmName);
    expect(powerOf(iv.statuses)).toBe('PowerState/running');
    expect(iv.computerName).toBe(vmName);
    // The generic resource GET answers the same VM.
    const generic = await rm.resources.get(RG, 'Microsoft.Compute', '', 'virtualMachines', vmName, '2024-07-01');
    expect(generic.properties).toMatchObject({ provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_D2s_v3' } });
    firstIp = await publicIp();
    expect(firstIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it('deallocate is an LRO: 202 + Azure-AsyncOperation/Location, deallocating, then deallocated (dynamic public IP released)', async () => {
    wire.seen.length = 0;
    const poller = await compute.virtualMachines.beginDeallocate(RG, vmName, fastPoll);
    const post = wire.seen.find((s) => s.method === 'POST')!;
    expect(post.status).toBe(202);
    const opPath = new RegExp(`^${h.url}/subscriptions/${pub.subscriptionId}/providers/Microsoft\\.Compute/locations/westeurope/operations/[0-9a-f-]{36}\\?`);
    expect(post.headers['azure-asyncoperation']).toMatch(opPath);
    expect(post.headers['azure-asyncoperation']).toContain('api-version=2026-03-01');
    expect(post.headers.location).toMatch(opPath);
    expect(post.headers.location).toContain('monitor=true');
    expect(post.headers['retry-after']).toBeDefined();
    expect(post.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);

    const during = await compute.virtualMachines.instanceView(RG, vmName);
    expect(powerOf(during.statuses)).toBe('PowerState/deallocating');
    expect(provisioningOf(during.statuses)).toBe('ProvisioningState/updating');
    expect((await compute.virtualMachines.get(RG, vmName)).provisioningState).toBe('Updating');

    await poller.pollUntilDone();
    const polls = wire.seen.filter((s) => s.method === 'GET' && s.url.includes('/operations/'));
    // The poller reads the Azure-AsyncOperation status, then GETs the Location (monitor) URL once: 200 when done.
    expect(polls.some((s) => !s.url.includes('monitor=true') && s.status === 200)).toBe(true);
    expect(polls.filter((s) => s.url.includes('monitor=true')).map((s) => s.status)).toEqual([200]);

    const after = await compute.virtualMachines.get(RG, vmName, { expand: 'instanceView' });
    expect(after.provisioningState).toBe('Succeeded');
    expect(after.instanceView?.statuses?.map((s) => s.code)).toEqual(['ProvisioningState/succeeded', 'PowerState/deallocated']);
    expect(await publicIp()).toBeUndefined();
  });

  it('start takes about vmStartSeconds, the VM runs again with a new public IP', async () => {
    const t0 = Date.now();
    const poller = await compute.virtualMachines.beginStart(RG, vmName, fastPoll);
    expect(powerOf((await compute.virtualMachines.instanceView(RG, vmName)).statuses)).toBe('PowerState/starting');
    await poller.pollUntilDone();
    const took = (Date.now() - t0) / 1000;
    expect(took).toBeGreaterThanOrEqual(VM_START_SECONDS - 0.05);
    expect(took).toBeLessThan(VM_START_SECONDS + 1.5);
    expect(powerOf((await compute.virtualMachines.instanceView(RG, vmName)).statuses)).toBe('PowerState/running');
    const ip = await publicIp();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(ip).not.toBe(firstIp);
    // Starting a running VM is accepted and done at once.
    await compute.virtualMachines.beginStartAndWait(RG, vmName, fastPoll);
  });

  it('a second operation preempts the first (Canceled, OperationPreempted), as Compute does', async () => {
    const first = await compute.virtualMachines.beginDeallocate(RG, vmName, fastPoll);
    wire.seen.length = 0;
    await compute.virtualMachines.beginStartAndWait(RG, vmName, fastPoll);
    await expect(first.pollUntilDone()).rejects.toThrow();
    expect(first.getOperationState().status).toBe('canceled');
    expect(powerOf((await compute.virtualMachines.instanceView(RG, vmName)).statuses)).toBe('PowerState/running');
  });

  it('faults: a refused start surfaces as the SDK RestError; an asynchronous failure as the LRO error (AllocationFailed)', async () => {
    h.setFaults([{ operation: 'virtualMachines.start', status: 409, errorCode: 'OperationNotAllowed', count: 1 }]);
    await expect(compute.virtualMachines.beginStartAndWait(RG, vmName, fastPoll)).rejects.toMatchObject({ name: 'RestError', statusCode: 409, code: 'OperationNotAllowed' });

    await compute.virtualMachines.beginDeallocateAndWait(RG, vmName, fastPoll);
    h.setFaults([{ operation: 'virtualMachines.start.execute', count: 1 }]);
    await expect(compute.virtualMachines.beginStartAndWait(RG, vmName, fastPoll)).rejects.toThrow(/AllocationFailed/);
    const iv = await compute.virtualMachines.instanceView(RG, vmName);
    expect(powerOf(iv.statuses)).toBe('PowerState/deallocated');
    expect(iv.statuses?.find((s) => s.code?.startsWith('ProvisioningState/'))).toMatchObject({ code: 'ProvisioningState/failed/AllocationFailed', level: 'Error' });
    expect((await compute.virtualMachines.get(RG, vmName)).provisioningState).toBe('Failed');
    // Retrying the start works.
    await compute.virtualMachines.beginStartAndWait(RG, vmName, fastPoll);
    expect(powerOf((await compute.virtualMachines.instanceView(RG, vmName)).statuses)).toBe('PowerState/running');
    expect((await compute.virtualMachines.get(RG, vmName)).provisioningState).toBe('Succeeded');
  });

  it('unknown VM: 404 ResourceNotFound for get, instanceView and start; unknown group: ResourceGroupNotFound', async () => {
    await expect(compute.virtualMachines.get(RG, 'nope')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    await expect(compute.virtualMachines.instanceView(RG, 'nope')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    await expect(compute.virtualMachines.beginStartAndWait(RG, 'nope', fastPoll)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    await expect(compute.virtualMachines.beginDeallocateAndWait('no-such-rg', 'nope', fastPoll)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });

  it('RBAC: a Reader reads power states but may not start (403 AuthorizationFailed)', async () => {
    const reader = await h.createClient({ tenantId: pub.tenantId, subscriptionRoles: [{ subscriptionId: pub.subscriptionId, role: 'Reader' }] });
    const c = computeClient(h, reader, pub.subscriptionId);
    expect(powerOf((await c.virtualMachines.instanceView(RG, vmName)).statuses)).toBe('PowerState/running');
    await expect(c.virtualMachines.beginDeallocateAndWait(RG, vmName, fastPoll)).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed', message: expect.stringContaining('Microsoft.Compute/virtualMachines/deallocate/action') });
  });

  it('control API: settings take vmStartSeconds / vmDeallocateSeconds; the snapshot shows power states', async () => {
    const r = await control(h, 'PUT', '/_emulator/settings', { vmStartSeconds: 0.4 });
    expect(r).toMatchObject({ status: 200, body: { vmStartSeconds: 0.4, vmDeallocateSeconds: VM_DEALLOCATE_SECONDS } });
    expect(h.settings.vmStartSeconds).toBe(0.4);
    expect((await control(h, 'PUT', '/_emulator/settings', { vmDeallocateSeconds: -1 })).status).toBe(400);
    await control(h, 'PUT', '/_emulator/settings', { vmStartSeconds: VM_START_SECONDS });
    const snap = await control(h, 'GET', `/_emulator/subscriptions/${pub.subscriptionId}`);
    const rg = snap.body.resourceGroups.find((g: { name: string }) => g.name === RG);
    expect(rg.resources.find((x: { type: string }) => x.type === 'Microsoft.Compute/virtualMachines')).toMatchObject({ powerState: 'running', provisioningState: 'Succeeded' });
  });

  it('deleting the resource group removes its VMs', async () => {
    await rm.resourceGroups.beginDeleteAndWait(RG, fastPoll);
    expect(await all(compute.virtualMachines.listAll())).toEqual([]);
    await expect(compute.virtualMachines.get(RG, vmName)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });
});

describe('emulator: VM power state persists', () => {
  const vmTemplate = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    resources: [{ type: 'Microsoft.Compute/virtualMachines', apiVersion: '2024-07-01', name: 'warm0', location: 'westeurope', properties: { hardwareProfile: { vmSize: 'Standard_B2s' } } }],
  };

  it('keeps a deallocated VM deallocated across a restart, and finishes a start begun before it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'azemu-vm-'));
    try {
      const h1 = await startEmulator({ port: 0, dataDir, deploymentSeconds: 0.1, vmStartSeconds: 0.8, vmDeallocateSeconds: 0.1, persist: true });
      const pub = await h1.createPublisher();
      const a1 = armClients(h1, pub, pub.subscriptionId);
      await a1.rm.resourceGroups.createOrUpdate('warm', { location: 'westeurope' });
      await a1.dep.deployments.createOrUpdate('warm', 'vm', { properties: { mode: 'Incremental', template: vmTemplate } }, fastPoll);
      const c1 = computeClient(h1, pub, pub.subscriptionId);
      expect((await c1.virtualMachines.get('warm', 'warm0')).hardwareProfile?.vmSize).toBe('Standard_B2s');
      await c1.virtualMachines.beginDeallocateAndWait('warm', 'warm0', fastPoll);
      await h1.close();

      const h2 = await startEmulator({ port: 0, dataDir, persist: true });
      try {
        expect(h2.settings).toMatchObject({ vmStartSeconds: 0.8, vmDeallocateSeconds: 0.1 });
        const c2 = computeClient(h2, pub, pub.subscriptionId);
        expect(powerOf((await c2.virtualMachines.instanceView('warm', 'warm0')).statuses)).toBe('PowerState/deallocated');
        const abort = new AbortController();
        const poller = await c2.virtualMachines.beginStart('warm', 'warm0', { ...fastPoll, abortSignal: abort.signal });
        poller.pollUntilDone().catch(() => undefined);
        abort.abort();
        await h2.close();

        const h3 = await startEmulator({ port: 0, dataDir, persist: true });
        try {
          const c3 = computeClient(h3, pub, pub.subscriptionId);
          const power = await pollFor(async () => powerOf((await c3.virtualMachines.instanceView('warm', 'warm0')).statuses), 'PowerState/running');
          expect(power).toBe('PowerState/running');
        } finally {
          await h3.close();
        }
      } finally {
        await h2.close().catch(() => undefined);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
