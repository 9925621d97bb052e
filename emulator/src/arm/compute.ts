/**
 * Azure Compute virtual machines (Compute REST API "Virtual Machines", the slice a warm-instance pool needs):
 * get (with `$expand=instanceView`), instance view, list by resource group and by subscription, and the
 * asynchronous start / deallocate with their operation status endpoint
 * (`/subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/operations/{id}`).
 *
 * VMs are created by template deployments (completeDeployment calls prepareDeployedCompute): they start
 * `running`. Start and deallocate answer 202 with `Azure-AsyncOperation` (status `InProgress` -> `Succeeded` |
 * `Failed` | `Canceled`), `Location` (the same URL with `monitor=true`: 202 while running, 200 when done) and
 * `Retry-After`, and run `settings.vmStartSeconds` / `vmDeallocateSeconds`; meanwhile the VM is `starting` /
 * `deallocating` with provisioningState `Updating`. A new start/deallocate preempts one in progress (the older
 * operation ends `Canceled` with `OperationPreempted`, as Compute does). Deallocation releases the address of the
 * VM's dynamic public IPs; a start from deallocated assigns a new one.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { send } from '../http';
import { key, type ArmErrorInfo, type ComputeOperation, type EmulatorState, type ResourceGroup, type StoredResource, type Subscription, type VmPowerState, type VmRuntime } from '../state';
import type { ArmDeps } from './arm';
import { ciEq, nowIso } from './common';
import { armError } from './errors';
import type { ArmEngine, ArmRequest } from './routing';

/** Default duration of a VM start or deallocate, in seconds (settings.vmStartSeconds / vmDeallocateSeconds). */
export const DEFAULT_VM_OPERATION_SECONDS = 5;

/** Resource type of virtual machines. */
export const VM_TYPE = 'Microsoft.Compute/virtualMachines';

/** Finished operations kept for polling (oldest dropped above this). */
const MAX_FINISHED_OPERATIONS = 1000;

const POWER_DISPLAY: Record<VmPowerState, string> = {
  starting: 'VM starting',
  running: 'VM running',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated',
};

/** True for a stored `Microsoft.Compute/virtualMachines` resource. */
export function isVm(r: StoredResource): boolean {
  return ciEq(r.type, VM_TYPE);
}

function isPublicIp(r: StoredResource): boolean {
  return ciEq(r.type, 'Microsoft.Network/publicIPAddresses');
}

function isDynamicIp(r: StoredResource): boolean {
  return String(r.properties.publicIPAllocationMethod ?? '').toLowerCase() === 'dynamic';
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function operationMs(state: EmulatorState, kind: ComputeOperation['kind']): number {
  const s = kind === 'start' ? state.settings.vmStartSeconds : state.settings.vmDeallocateSeconds;
  return Math.max(0, (s ?? DEFAULT_VM_OPERATION_SECONDS) * 1000);
}

/** Retry-After for an operation completing at `atMs`: 0 (= poll at your interval) under a second left, else the seconds left rounded up, at most 15. */
function pollAfter(atMs: number): number {
  const left = atMs - Date.now();
  return left < 1000 ? 0 : Math.min(15, Math.ceil(left / 1000));
}

// ---------------------------------------------------------------- deployment hook

/**
 * Called by completeDeployment before a resource is stored. A new VM gets its runtime state (running,
 * provisioningState Succeeded, timeCreated); a redeployed one keeps its power state (a PUT does not start or
 * deallocate a VM). `osProfile.adminPassword` is dropped: Compute never returns it. A redeployed dynamic public IP
 * keeps its current address (or its absence while the VM is deallocated).
 */
export function prepareDeployedCompute(prev: StoredResource | undefined, next: StoredResource, atIso: string): void {
  if (isVm(next)) {
    const osProfile = obj(next.properties.osProfile);
    if ('adminPassword' in osProfile) {
      const { adminPassword: _omit, ...rest } = osProfile;
      next.properties = { ...next.properties, osProfile: rest };
    }
    const vm: VmRuntime = prev?.vm ? { ...prev.vm } : { powerState: 'running', provisioningState: 'Succeeded', stateTime: atIso, timeCreated: atIso };
    next.vm = vm;
    next.properties = { ...next.properties, vmId: prev?.properties.vmId ?? next.properties.vmId ?? randomUUID(), timeCreated: vm.timeCreated };
  } else if (isPublicIp(next) && prev && isDynamicIp(next)) {
    const props = { ...next.properties };
    if (typeof prev.properties.ipAddress === 'string') props.ipAddress = prev.properties.ipAddress;
    else delete props.ipAddress;
    next.properties = props;
  }
}

// ---------------------------------------------------------------- bodies

function provisioningStatus(vm: VmRuntime): Record<string, unknown> {
  switch (vm.provisioningState) {
    case 'Updating':
      return { code: 'ProvisioningState/updating', level: 'Info', displayStatus: 'Updating' };
    case 'Failed':
      return { code: `ProvisioningState/failed/${vm.error?.code ?? 'InternalExecutionError'}`, level: 'Error', displayStatus: 'Provisioning failed', message: vm.error?.message ?? '', time: vm.stateTime };
    default:
      return { code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time: vm.stateTime };
  }
}

/** The VM's runtime state; a VM stored before the emulator tracked power states is taken as running since now. */
function runtimeOf(r: StoredResource): VmRuntime {
  if (!r.vm) {
    const at = nowIso();
    r.vm = { powerState: 'running', provisioningState: 'Succeeded', stateTime: at, timeCreated: at };
  }
  return r.vm;
}

/** The VM's instance view (VirtualMachineInstanceView): statuses `ProvisioningState/...` and `PowerState/...`. */
export function instanceViewBody(r: StoredResource): Record<string, unknown> {
  const vm = runtimeOf(r);
  const osProfile = obj(r.properties.osProfile);
  const out: Record<string, unknown> = {};
  if (vm.powerState === 'running' && typeof osProfile.computerName === 'string') out.computerName = osProfile.computerName;
  out.statuses = [provisioningStatus(vm), { code: `PowerState/${vm.powerState}`, level: 'Info', displayStatus: POWER_DISPLAY[vm.powerState] }];
  return out;
}

/** ARM JSON of a VM (Compute GET shape); with `expand`, `properties.instanceView`. */
export function vmBody(r: StoredResource, expand: boolean): Record<string, unknown> {
  const vm = runtimeOf(r);
  return {
    name: r.name,
    id: r.id,
    type: VM_TYPE,
    location: r.location,
    ...(r.tags ? { tags: r.tags } : {}),
    ...(r.zones ? { zones: r.zones } : {}),
    ...(r.plan ? { plan: r.plan } : {}),
    ...(r.identity ? { identity: r.identity } : {}),
    properties: {
      ...r.properties,
      provisioningState: vm.provisioningState,
      timeCreated: vm.timeCreated,
      ...(expand ? { instanceView: instanceViewBody(r) } : {}),
    },
  };
}

function wantsInstanceView(r: ArmRequest): boolean {
  return (r.ctx.query.get('$expand') ?? '').toLowerCase() === 'instanceview' || (r.ctx.query.get('statusOnly') ?? '').toLowerCase() === 'true';
}

// ---------------------------------------------------------------- RBAC

/** RBAC scope of a VM request: the VM (or the group's VM collection). */
export function vmScope(r: ArmRequest): string {
  const base = `/subscriptions/${r.sub.id}/resourcegroups/${r.params.resourceGroupName}/providers/Microsoft.Compute/virtualMachines`;
  return r.params.vmName === undefined ? base : `${base}/${r.params.vmName}`;
}

// ---------------------------------------------------------------- handlers

function findVm(rg: ResourceGroup, name: string): StoredResource {
  const found = rg.resources.find((x) => isVm(x) && ciEq(x.name, name));
  if (!found) throw armError(404, 'ResourceNotFound', `The Resource '${VM_TYPE}/${name.slice(0, 100)}' under resource group '${rg.name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
  return found;
}

/**
 * `GET .../resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines` (virtualMachines.list): `{value}`.
 * As the Compute API documents, `$expand=instanceView` needs a `$filter`, and the only filter is
 * `virtualMachineScaleSet/id eq '...'` (no emulated VM belongs to a scale set, so it matches none):
 * 400 InvalidParameter otherwise.
 */
export function listVirtualMachines(r: ArmRequest): void {
  const filter = r.ctx.query.get('$filter');
  const expand = wantsInstanceView(r);
  if (filter !== null && !/^\s*virtualMachineScaleSet\/id\s+eq\s+'[^']*'\s*$/i.test(filter)) {
    throw armError(400, 'InvalidParameter', `The value '${filter.slice(0, 200)}' of parameter '$filter' is invalid. Allowed: virtualMachineScaleSet/id eq '/subscriptions/{subId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachineScaleSets/{vmssName}'.`, { target: '$filter' });
  }
  if (expand && filter === null) {
    throw armError(400, 'InvalidParameter', "The parameter '$expand=instanceView' can only be specified together with a valid '$filter'. Get a VM with '$expand=instanceView', or its instance view, instead.", { target: '$expand' });
  }
  const vms = filter === null ? r.rg.resources.filter(isVm) : [];
  send(r.ctx, 200, { value: vms.map((x) => vmBody(x, expand)) });
}

/** `GET /subscriptions/{s}/providers/Microsoft.Compute/virtualMachines` (virtualMachines.listAll): every VM of the subscription; `statusOnly=true` adds instance views. */
export function listAllVirtualMachines(r: ArmRequest): void {
  const expand = wantsInstanceView(r);
  send(r.ctx, 200, { value: Object.values(r.sub.resourceGroups).flatMap((rg) => rg.resources.filter(isVm)).map((x) => vmBody(x, expand)) });
}

/** `GET .../virtualMachines/{vm}[?$expand=instanceView]`: 200; 404 ResourceNotFound. */
export function getVirtualMachine(r: ArmRequest): void {
  send(r.ctx, 200, vmBody(findVm(r.rg, r.params.vmName), wantsInstanceView(r)));
}

/** `GET .../virtualMachines/{vm}/instanceView`: 200 VirtualMachineInstanceView; 404 ResourceNotFound. */
export function getVirtualMachineInstanceView(r: ArmRequest): void {
  send(r.ctx, 200, instanceViewBody(findVm(r.rg, r.params.vmName)));
}

/** `POST .../virtualMachines/{vm}/start` (see beginOperation). */
export function startVirtualMachine(r: ArmRequest): void {
  beginOperation(r, 'start');
}

/** `POST .../virtualMachines/{vm}/deallocate` (see beginOperation; `hibernate` / `forceDeallocate` are accepted and ignored). */
export function deallocateVirtualMachine(r: ArmRequest): void {
  beginOperation(r, 'deallocate');
}

function operationUrls(r: ArmRequest, op: ComputeOperation): { asyncOperation: string; monitor: string } {
  const base = `${r.ctx.baseUrl}/subscriptions/${r.sub.id}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}`;
  const v = encodeURIComponent(r.apiVersion);
  return { asyncOperation: `${base}?api-version=${v}`, monitor: `${base}?monitor=true&api-version=${v}` };
}

/**
 * Starts a start/deallocate: 202 (no body) with Azure-AsyncOperation, Location (monitor) and Retry-After.
 * 404 ResourceNotFound for an unknown VM; 409 OperationNotAllowed when its resource group is being deleted.
 * An operation in progress is preempted (Canceled, OperationPreempted). A VM already in the target state
 * (and idle) completes at once.
 */
function beginOperation(r: ArmRequest, kind: ComputeOperation['kind']): void {
  const { sub, rg, arm } = r;
  const { deps } = arm;
  const res = findVm(rg, r.params.vmName);
  if (rg.provisioningState === 'Deleting') {
    throw armError(409, 'OperationNotAllowed', `Operation '${kind}' is not allowed on VM '${res.name}' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).`);
  }
  const ops = (deps.state.computeOperations ??= {});
  const vm = runtimeOf(res);
  const now = Date.now();
  const running = vm.operationId ? ops[vm.operationId] : undefined;
  let from: VmPowerState = vm.powerState;
  if (running && running.status === 'InProgress') {
    from = running.fromPowerState;
    endOperation(running, 'Canceled', now, { code: 'OperationPreempted', message: 'Operation execution has been preempted by a more recent operation.' }, 409);
    deps.log('vm operation preempted', { subscriptionId: sub.id, resourceGroup: rg.name, vm: res.name, operation: running.kind });
  }
  const target: VmPowerState = kind === 'start' ? 'running' : 'deallocated';
  const idle = !running || running.status !== 'InProgress';
  const instant = idle && vm.powerState === target && vm.provisioningState !== 'Failed';
  const op: ComputeOperation = {
    id: randomUUID(),
    kind,
    subscriptionId: sub.id,
    resourceGroupName: rg.name,
    vmId: res.id,
    location: (res.location ?? rg.location).replace(/\s+/g, '').toLowerCase(),
    status: 'InProgress',
    startTime: nowIso(now),
    completesAtMs: instant ? now : now + operationMs(deps.state, kind),
    fromPowerState: from,
  };
  ops[op.id] = op;
  pruneOperations(ops);
  vm.operationId = op.id;
  if (!instant) {
    vm.powerState = kind === 'start' ? 'starting' : 'deallocating';
    vm.provisioningState = 'Updating';
    vm.stateTime = nowIso(now);
    delete vm.error;
  }
  scheduleOperation(arm, sub, op);
  deps.log('vm operation accepted', { subscriptionId: sub.id, resourceGroup: rg.name, vm: res.name, operation: kind });
  deps.store.changed();
  const urls = operationUrls(r, op);
  send(r.ctx, 202, undefined, { 'Azure-AsyncOperation': urls.asyncOperation, Location: urls.monitor, 'Retry-After': pollAfter(op.completesAtMs) });
}

/**
 * `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/operations/{id}`:
 * without `monitor=true` (Azure-AsyncOperation) 200 `{startTime, endTime?, status, name, error?}` (+ Retry-After
 * while InProgress); with `monitor=true` (Location) 202 + Location + Retry-After while InProgress, 200 (no body)
 * when Succeeded, the error (409 OperationPreempted, or the failure's status) otherwise. 404 OperationNotFound.
 */
export function getComputeOperation(r: ArmRequest): void {
  const { ctx, sub } = r;
  const id = r.params.operationId;
  const op = r.arm.deps.state.computeOperations?.[id.toLowerCase()] ?? r.arm.deps.state.computeOperations?.[id];
  if (!op || !ciEq(op.subscriptionId, sub.id)) throw armError(404, 'OperationNotFound', `The operation '${id.slice(0, 100)}' could not be found.`);
  const inProgress = op.status === 'InProgress';
  if ((ctx.query.get('monitor') ?? '').toLowerCase() === 'true') {
    if (inProgress) return send(ctx, 202, undefined, { Location: `${ctx.baseUrl}${ctx.path}?${ctx.query.toString()}`, 'Retry-After': pollAfter(op.completesAtMs) });
    if (op.status === 'Succeeded') return send(ctx, 200);
    throw armError(op.httpStatus ?? 500, op.error?.code ?? 'InternalExecutionError', op.error?.message ?? 'The operation failed.');
  }
  const body: Record<string, unknown> = { startTime: op.startTime, ...(op.endTime ? { endTime: op.endTime } : {}), status: op.status, name: op.id };
  if (op.error) body.error = op.error;
  send(ctx, 200, body, inProgress ? { 'Retry-After': pollAfter(op.completesAtMs) } : {});
}

// ---------------------------------------------------------------- lifecycle

function endOperation(op: ComputeOperation, status: 'Succeeded' | 'Failed' | 'Canceled', nowMs: number, error?: ArmErrorInfo, httpStatus?: number): void {
  op.status = status;
  op.endTime = nowIso(nowMs);
  if (error) op.error = error;
  if (httpStatus) op.httpStatus = httpStatus;
}

function pruneOperations(ops: Record<string, ComputeOperation>): void {
  const finished = Object.values(ops).filter((o) => o.status !== 'InProgress');
  if (finished.length <= MAX_FINISHED_OPERATIONS) return;
  finished.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime));
  for (const o of finished.slice(0, finished.length - MAX_FINISHED_OPERATIONS)) delete ops[o.id];
}

function scheduleOperation(arm: ArmEngine, sub: Subscription, op: ComputeOperation): void {
  arm.schedule(op.completesAtMs, () => advanceComputeOperations(arm.deps, sub), sub);
}

/** The VM an operation acts on, if it still exists. */
function vmOf(sub: Subscription, op: ComputeOperation): StoredResource | undefined {
  return sub.resourceGroups[key(op.resourceGroupName)]?.resources.find((x) => isVm(x) && ciEq(x.id, op.vmId));
}

/** A plausible public IPv4 (20.x.y.z), different from `previous`. */
function newPublicIp(previous: unknown): string {
  for (;;) {
    const ip = `20.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(4, 254)}`;
    if (ip !== previous) return ip;
  }
}

/** The dynamic public IP resources attached to the VM's network interfaces (same subscription). */
function dynamicPublicIpsOf(sub: Subscription, vm: StoredResource): StoredResource[] {
  const all = Object.values(sub.resourceGroups).flatMap((g) => g.resources);
  const byId = (id: unknown): StoredResource | undefined => (typeof id === 'string' ? all.find((x) => ciEq(x.id, id)) : undefined);
  const nics = (Array.isArray(obj(vm.properties.networkProfile).networkInterfaces) ? (obj(vm.properties.networkProfile).networkInterfaces as unknown[]) : []).map((n) => byId(obj(n).id));
  const out: StoredResource[] = [];
  for (const nic of nics) {
    if (!nic) continue;
    const cfgs = Array.isArray(nic.properties.ipConfigurations) ? (nic.properties.ipConfigurations as unknown[]) : [];
    for (const c of cfgs) {
      const pip = byId(obj(obj(obj(c).properties).publicIPAddress).id);
      if (pip && isPublicIp(pip) && isDynamicIp(pip) && !out.includes(pip)) out.push(pip);
    }
  }
  return out;
}

function finishOperation(deps: ArmDeps, sub: Subscription, op: ComputeOperation, res: StoredResource, nowMs: number): void {
  const vm = runtimeOf(res);
  const fault = deps.faults.take(`virtualMachines.${op.kind}.execute`);
  if (fault && (fault.status === undefined || fault.status >= 400)) {
    const error: ArmErrorInfo = fault.errorCode
      ? { code: fault.errorCode, message: `The operation failed with error code '${fault.errorCode}' (injected by the emulator).` }
      : op.kind === 'start'
        ? { code: 'AllocationFailed', message: 'Allocation failed. We do not have sufficient capacity for the requested VM size in this region. Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance' }
        : { code: 'InternalExecutionError', message: 'An internal execution error occurred. Please retry later.' };
    endOperation(op, 'Failed', nowMs, error, fault.status ?? 500);
    vm.powerState = op.fromPowerState;
    vm.provisioningState = 'Failed';
    vm.error = error;
  } else {
    endOperation(op, 'Succeeded', nowMs);
    const wasRunning = op.fromPowerState === 'running' && vm.provisioningState !== 'Failed';
    vm.powerState = op.kind === 'start' ? 'running' : 'deallocated';
    vm.provisioningState = 'Succeeded';
    delete vm.error;
    // Dynamic public IPs: released by deallocation, a (new) address assigned when the VM starts again.
    for (const pip of dynamicPublicIpsOf(sub, res)) {
      if (op.kind === 'deallocate') {
        const { ipAddress: _released, ...rest } = pip.properties;
        pip.properties = rest;
      } else if (!wasRunning || typeof pip.properties.ipAddress !== 'string') {
        pip.properties = { ...pip.properties, ipAddress: newPublicIp(pip.properties.ipAddress) };
      }
    }
  }
  vm.stateTime = nowIso(nowMs);
  delete vm.operationId;
  deps.log('vm operation finished', { subscriptionId: sub.id, resourceGroup: op.resourceGroupName, vm: res.name, operation: op.kind, status: op.status });
  deps.store.changed();
}

/**
 * Brings a subscription's VM operations up to date (called before every request of the subscription and by
 * timers): due operations finish (`virtualMachines.{start,deallocate}.execute` faults make them Failed);
 * operations whose VM is gone (deleted, or its group deleted) end Canceled.
 */
export function advanceComputeOperations(deps: ArmDeps, sub: Subscription, nowMs = Date.now()): void {
  const ops = deps.state.computeOperations;
  if (!ops) return;
  for (const op of Object.values(ops)) {
    if (op.status !== 'InProgress' || !ciEq(op.subscriptionId, sub.id)) continue;
    const res = vmOf(sub, op);
    if (!res || res.vm?.operationId !== op.id) {
      endOperation(op, 'Canceled', nowMs, { code: 'OperationPreempted', message: 'Operation execution has been preempted by a more recent operation.' }, 409);
      deps.store.changed();
      continue;
    }
    if (nowMs >= op.completesAtMs) finishOperation(deps, sub, op, res, nowMs);
  }
}

/** After a restart: timers again for the VM operations still in progress (due ones finish on the next request). */
export function resumeComputeOperations(arm: ArmEngine): void {
  for (const op of Object.values(arm.deps.state.computeOperations ?? {})) {
    if (op.status !== 'InProgress') continue;
    const sub = arm.deps.state.subscriptions[op.subscriptionId.toLowerCase()];
    if (sub) scheduleOperation(arm, sub, op);
  }
}
