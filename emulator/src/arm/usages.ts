/**
 * Compute usages and vCPU quotas (Compute REST "Usage - List", `@azure/arm-compute` 24 `usage.list(location)`,
 * api-version 2026-03-01): `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/usages`
 * answers `{value: [{name: {value, localizedValue}, currentValue, limit, unit: 'Count'}]}` with "Total Regional
 * vCPUs" (`cores`), availability sets, virtual machines, scale sets and the vCPUs per VM family. Current values
 * count the subscription's VMs in that location whatever their power state (Azure counts deallocated VMs too);
 * a VM's vCPUs and family come from `hardwareProfile.vmSize` (vmCores). Limits are per subscription and location:
 * DEFAULT_REGIONAL_VCPU_LIMIT unless the control API set them (ComputeQuota).
 *
 * quotaPreflight is what Compute's preflight says when a deployment's new VMs would exceed a limit (QuotaExceeded).
 */
import { send } from '../http';
import { DirectoryError } from '../directory';
import type { ArmErrorInfo, ComputeQuota, EmulatorState, StateStore, Subscription } from '../state';
import { ciEq, normalizeLocation } from './common';
import { armError } from './errors';
import { isVm } from './compute';
import { REGIONS, registrationState } from './providers';
import type { ArmRequest } from './routing';

/** Default "Total Regional vCPUs" limit and default limit of each VM family (per subscription and location). */
export const DEFAULT_REGIONAL_VCPU_LIMIT = 100;

/** Sizes whose vCPU count is not the number in their name (Dv2/DSv2 and the memory-optimised v2 sizes). */
const SIZE_EXCEPTIONS: Record<string, number> = {
  d1_v2: 1, d2_v2: 2, d3_v2: 4, d4_v2: 8, d5_v2: 16, d11_v2: 2, d12_v2: 4, d13_v2: 8, d14_v2: 16, d15_v2: 20,
  ds1_v2: 1, ds2_v2: 2, ds3_v2: 4, ds4_v2: 8, ds5_v2: 16, ds11_v2: 2, ds12_v2: 4, ds13_v2: 8, ds14_v2: 16, ds15_v2: 20,
};

/** Localised names of the non-family usages, in the order Compute lists them. */
const FIXED_USAGES: ReadonlyArray<{ value: string; localizedValue: string; limit?: number }> = [
  { value: 'availabilitySets', localizedValue: 'Availability Sets', limit: 2500 },
  { value: 'cores', localizedValue: 'Total Regional vCPUs' },
  { value: 'virtualMachines', localizedValue: 'Virtual Machines', limit: 25000 },
  { value: 'virtualMachineScaleSets', localizedValue: 'Virtual Machine Scale Sets', limit: 2500 },
];

/** VM families always listed (others appear once a VM of theirs exists or a limit is set). */
const LISTED_FAMILIES = ['standardAv2Family', 'standardBSFamily', 'standardDv2Family', 'standardDSv2Family', 'standardDv3Family', 'standardDSv3Family', 'standardDSv4Family', 'standardDSv5Family', 'standardDDSv5Family', 'standardDASv5Family', 'standardESv3Family', 'standardESv5Family', 'standardFSv2Family'];

/**
 * vCPUs and quota family of a VM size (`Standard_D4s_v3` -> 4, `standardDSv3Family`; `Standard_B2s` -> 2,
 * `standardBSFamily`; `Standard_D2_v2` -> 2, `standardDv2Family`). Unknown or missing sizes count 2 vCPUs and no
 * family (they count towards the regional total only).
 */
export function vmCores(vmSize: unknown): { cores: number; family?: string } {
  const m = typeof vmSize === 'string' ? /^standard_([a-z]+?)(\d+)(?:-\d+)?([a-z]*)(?:_v(\d+))?$/i.exec(vmSize.trim()) : null;
  if (!m) return { cores: 2 };
  const [, series, digits, features, version] = m;
  const short = `${series}${digits}${features}${version ? `_v${version}` : ''}`.toLowerCase();
  const cores = SIZE_EXCEPTIONS[short] ?? Number(digits);
  const s = series.toUpperCase();
  if (s === 'B') return { cores, family: 'standardBSFamily' };
  // Premium-storage variants ('s') of a series form their own family: DSv3, DDSv5, DASv5; "m" (more memory) and "l" do not.
  const feat = features.toUpperCase().replace(/[ML]/g, '');
  const family = `standard${s}${feat}${version ? `v${version}` : ''}Family`;
  return { cores: Math.max(1, cores), family };
}

function quotaOf(sub: Subscription, location: string): ComputeQuota {
  return sub.computeQuotas?.[location] ?? {};
}

/** The limit of a usage name (`cores` or a family) in a subscription and location. */
function limitOf(sub: Subscription, location: string, name: string): number {
  const q = quotaOf(sub, location);
  if (name === 'cores') return q.cores ?? DEFAULT_REGIONAL_VCPU_LIMIT;
  return Object.entries(q.families ?? {}).find(([k]) => ciEq(k, name))?.[1] ?? DEFAULT_REGIONAL_VCPU_LIMIT;
}

/** Current vCPUs (total and by family) and counts of a subscription's VMs and availability sets in a location. */
function currentUsage(sub: Subscription, location: string): { cores: number; families: Map<string, number>; vms: number; availabilitySets: number } {
  const families = new Map<string, number>();
  let cores = 0;
  let vms = 0;
  let availabilitySets = 0;
  for (const rg of Object.values(sub.resourceGroups)) {
    for (const r of rg.resources) {
      if (normalizeLocation(r.location ?? '') !== location) continue;
      if (ciEq(r.type, 'Microsoft.Compute/availabilitySets')) availabilitySets++;
      if (!isVm(r)) continue;
      const hw = r.properties.hardwareProfile as Record<string, unknown> | undefined;
      const size = vmCores(hw?.vmSize);
      cores += size.cores;
      vms++;
      if (size.family) families.set(size.family, (families.get(size.family) ?? 0) + size.cores);
    }
  }
  return { cores, families, vms, availabilitySets };
}

/** Compute's usage list of a subscription in a (normalised) location. */
export function usageList(sub: Subscription, location: string): Array<Record<string, unknown>> {
  const now = currentUsage(sub, location);
  const fixed: Record<string, number> = { availabilitySets: now.availabilitySets, cores: now.cores, virtualMachines: now.vms, virtualMachineScaleSets: 0 };
  const names = [...LISTED_FAMILIES];
  for (const f of [...now.families.keys(), ...Object.keys(quotaOf(sub, location).families ?? {})]) if (!names.some((n) => ciEq(n, f))) names.push(f);
  const familyLabel = (f: string): string => `Standard ${f.replace(/^standard/, '').replace(/Family$/, '')} Family vCPUs`;
  return [
    ...FIXED_USAGES.map((u) => ({ limit: u.limit ?? limitOf(sub, location, u.value), unit: 'Count', currentValue: fixed[u.value], name: { value: u.value, localizedValue: u.localizedValue } })),
    ...names.map((f) => ({ limit: limitOf(sub, location, f), unit: 'Count', currentValue: [...now.families].find(([k]) => ciEq(k, f))?.[1] ?? 0, name: { value: f, localizedValue: familyLabel(f) } })),
  ];
}

/**
 * `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/usages` (usage.list): `{value}`.
 * 404 NoRegisteredProviderFound for a location that is not a region; 409 MissingSubscriptionRegistration while
 * Microsoft.Compute is not registered (providers.ts).
 */
export function listComputeUsages(r: ArmRequest): void {
  const location = normalizeLocation(r.params.location);
  if (!REGIONS.some((x) => x.name === location)) {
    throw armError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location '${r.params.location.slice(0, 60)}' and API version '${r.apiVersion.slice(0, 40)}' for type 'locations/usages'. The supported locations are '${REGIONS.map((x) => x.name).join(', ')}'.`);
  }
  if (registrationState(r.sub, 'Microsoft.Compute') !== 'Registered') {
    throw armError(409, 'MissingSubscriptionRegistration', "The subscription is not registered to use namespace 'Microsoft.Compute'. See https://aka.ms/rps-not-found for how to register subscriptions.");
  }
  send(r.ctx, 200, { value: usageList(r.sub, location) });
}

/** A VM a deployment would create, as the quota preflight sees it. */
export interface QuotaVm {
  id: string;
  location?: string;
  vmSize?: unknown;
}

/**
 * Compute's quota preflight: the VMs a deployment would add (those whose id does not exist yet) against the
 * regional and family vCPU limits of their location. One QuotaExceeded error per exceeded limit, with
 * Compute's wording. `explicitOnly` (deployments) checks only limits set through the control API, so deployments
 * keep working as before unless a test lowers a limit; validation checks the defaults too.
 */
export function quotaPreflight(sub: Subscription, vms: readonly QuotaVm[], explicitOnly: boolean): ArmErrorInfo[] {
  const existing = new Set(Object.values(sub.resourceGroups).flatMap((rg) => rg.resources.filter(isVm).map((r) => r.id.toLowerCase())));
  const byLocation = new Map<string, QuotaVm[]>();
  for (const vm of vms) {
    if (!vm.location || existing.has(vm.id.toLowerCase())) continue;
    const loc = normalizeLocation(vm.location);
    byLocation.set(loc, [...(byLocation.get(loc) ?? []), vm]);
  }
  const out: ArmErrorInfo[] = [];
  for (const [loc, list] of byLocation) {
    const now = currentUsage(sub, loc);
    const q = quotaOf(sub, loc);
    const need = { cores: 0, families: new Map<string, number>() };
    for (const vm of list) {
      const size = vmCores(vm.vmSize);
      need.cores += size.cores;
      if (size.family) need.families.set(size.family, (need.families.get(size.family) ?? 0) + size.cores);
    }
    const check = (name: string, label: string, current: number, required: number, explicit: boolean): void => {
      if (explicitOnly && !explicit) return;
      const limit = limitOf(sub, loc, name);
      if (current + required <= limit) return;
      out.push({
        code: 'QuotaExceeded',
        message: `Operation could not be completed as it results in exceeding approved ${label} quota. Additional details - Deployment Model: Resource Manager, Location: ${loc}, Current Limit: ${limit}, Current Usage: ${current}, Additional Required: ${required}, (Minimum) New Limit Required: ${current + required}. Submit a request for Quota increase at https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView by specifying parameters listed in the 'Details' section for deployment to succeed. Please read more about quota limits at https://docs.microsoft.com/en-us/azure/azure-supportability/${name === 'cores' ? 'regional-quota-requests' : 'per-vm-quota-requests'}`,
      });
    };
    check('cores', 'Total Regional Cores', now.cores, need.cores, q.cores !== undefined);
    for (const [family, required] of need.families) {
      check(family, `${family} Cores`, [...now.families].find(([k]) => ciEq(k, family))?.[1] ?? 0, required, Object.keys(q.families ?? {}).some((k) => ciEq(k, family)));
    }
  }
  return out;
}

function controlTarget(state: EmulatorState, subscriptionId: string, location: string): { sub: Subscription; loc: string } {
  const sub = state.subscriptions[String(subscriptionId).toLowerCase()];
  if (!sub) throw new DirectoryError(404, 'SubscriptionNotFound', `The subscription '${String(subscriptionId).slice(0, 100)}' could not be found.`);
  const loc = normalizeLocation(String(location));
  if (!REGIONS.some((x) => x.name === loc)) throw new DirectoryError(400, 'InvalidLocation', `'${String(location).slice(0, 60)}' is not a region (e.g. westeurope).`);
  return { sub, loc };
}

/**
 * The usage list Compute answers for a subscription in a location (GET /_emulator/subscriptions/{s}/compute-quotas/{location}).
 * @throws DirectoryError 404 SubscriptionNotFound; 400 InvalidLocation.
 */
export function computeUsages(state: EmulatorState, subscriptionId: string, location: string): Array<Record<string, unknown>> {
  const { sub, loc } = controlTarget(state, subscriptionId, location);
  return usageList(sub, loc);
}

/**
 * Sets the vCPU limits of a subscription in a location (PUT /_emulator/subscriptions/{s}/compute-quotas/{location}
 * `{cores?, families?: {standardDSv3Family: 8}}`; given family limits are merged in), or drops them (`'reset'`).
 * @returns the usage list Compute then answers for that location.
 * @throws DirectoryError 404 SubscriptionNotFound; 400 InvalidLocation / InvalidQuota (limits: integers 0-100000).
 */
export function setComputeQuota(state: EmulatorState, store: StateStore, subscriptionId: string, location: string, quota: ComputeQuota | 'reset'): Array<Record<string, unknown>> {
  const { sub, loc } = controlTarget(state, subscriptionId, location);
  if (quota === 'reset') {
    if (sub.computeQuotas) delete sub.computeQuotas[loc];
    store.changed();
    return usageList(sub, loc);
  }
  const ok = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100_000;
  if (typeof quota !== 'object' || quota === null) throw new DirectoryError(400, 'InvalidQuota', 'Give {cores?, families?}.');
  if (quota.cores !== undefined && !ok(quota.cores)) throw new DirectoryError(400, 'InvalidQuota', 'cores must be an integer in [0, 100000].');
  const families = quota.families ?? {};
  if (typeof families !== 'object' || Array.isArray(families) || Object.entries(families).some(([k, v]) => !/^[A-Za-z0-9]{1,60}$/.test(k) || !ok(v))) {
    throw new DirectoryError(400, 'InvalidQuota', 'families must map family names (e.g. standardDSv3Family) to integers in [0, 100000].');
  }
  if (quota.cores === undefined && Object.keys(families).length === 0) throw new DirectoryError(400, 'InvalidQuota', 'Give cores and/or families.');
  const prev = sub.computeQuotas?.[loc] ?? {};
  (sub.computeQuotas ??= {})[loc] = { ...prev, ...(quota.cores !== undefined ? { cores: quota.cores } : {}), families: { ...(prev.families ?? {}), ...families } };
  store.changed();
  return usageList(sub, loc);
}
