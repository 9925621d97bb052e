import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ResourceManagementClient } from '@azure/arm-resources';
import { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import type { EmulatorOptions, PublisherInfo } from '../../emulator/src';
import { zipDirectory } from '../../src/common/zip-directory';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import type { PoolInstanceEntity } from '../../modules/azure-resource-manager/pools/pool-instance.entity';
import { startLocalAzure, useLocalService, type LocalAzure, type LocalService, type startService, type TestService } from '../support/harness';
import { ARM_FIXTURES } from '../support/fixtures-dir';

export const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
export const FIXTURES = ARM_FIXTURES;
export const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };
export const CLOUDTRY = /^CloudTry_[0-9a-f]{32}$/;

/**
 * Like test/support/harness.ts startLocalAzure(), with the emulator's other options (limits,
 * throttling, persist...) available: the emulator and Azurite on random ports for one test file.
 */
export function startLocalAzureWith(opts: Partial<Omit<EmulatorOptions, 'dataDir' | 'port'>> = {}): Promise<LocalAzure> {
  return startLocalAzure(0.2, { emulator: opts, tmpPrefix: 'td-res-', emulatorDataDir: { before: reuseCachedCa, after: cacheCa } });
}

/**
 * useLocalService() on startLocalAzureWith(`emulator`) (`service`: startService options), and a
 * publisher tenant with a subscription, made once both are started.
 */
export function useLocalServiceWith(emulator: Partial<Omit<EmulatorOptions, 'dataDir' | 'port'>>, service?: Parameters<typeof startService>[1]): LocalService & { readonly publisher: Publisher } {
  const local = useLocalService({ start: () => startLocalAzureWith(emulator), service });
  let publisher: Publisher | undefined;
  beforeAll(async () => {
    publisher = await local.azure.emulator.createPublisher({});
  });
  return {
    get azure() {
      return local.azure;
    },
    get svc() {
      return local.svc;
    },
    get publisher() {
      if (!publisher) throw new Error('useLocalServiceWith: not started (read it inside a test or a hook)');
      return publisher;
    },
  };
}

/**
 * The emulator makes its CA (RSA 2048, a few seconds) on first start in a data dir and reuses
 * ca.crt/ca.key found there: these suites share one CA through a cache folder to start faster.
 */
const CA_CACHE = path.join(os.tmpdir(), 'td-arm-resilience-ca');
const CA_FILES = ['ca.crt', 'ca.key'];

function reuseCachedCa(dataDir: string): void {
  if (!CA_FILES.every((f) => fs.existsSync(path.join(CA_CACHE, f)))) return;
  fs.mkdirSync(dataDir, { recursive: true });
  for (const f of CA_FILES) fs.copyFileSync(path.join(CA_CACHE, f), path.join(dataDir, f));
}

function cacheCa(dataDir: string): void {
  if (fs.existsSync(CA_CACHE)) return;
  const tmp = `${CA_CACHE}.${process.pid}.${Date.now()}`;
  try {
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    for (const f of CA_FILES) fs.copyFileSync(path.join(dataDir, f), path.join(tmp, f));
    fs.renameSync(tmp, CA_CACHE); // both files at once: parallel workers never mix two CAs
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another worker cached first; only a speed-up anyway
  }
}

export type Publisher = PublisherInfo;

export interface CapacityRowView {
  offerId: string;
  region: string;
  hotTarget: number;
  hotReady: number;
  deploying: number;
  assigned: number;
  failed: number;
  deleting: number;
  coldLimit: number;
  coldInUse: number;
  limit: number;
  consecutiveFailures: number;
  backoffUntil: string | null;
  lastFailure: { code: string; message: string; at: string } | null;
  hotPolicy: 'fixed' | 'forecast';
  hotMin: number;
  hotMax: number;
  forecast: { expectedStarts: number; windowMinutes: number; method: 'seasonal' | 'recent' | 'none'; level: number; readyWanted: number; keep: number; reason: string } | null;
}

/** The capacity row of offer/region from GET /api/v1/capacity. */
export async function capacity(svc: TestService, offerId: string, region: string): Promise<CapacityRowView> {
  const r = await svc.http.get(`/api/v1/capacity?offerId=${offerId}`);
  if (r.status !== 200) throw new Error(`GET /capacity: ${r.status} ${JSON.stringify(r.body)}`);
  const row = (r.body.value as CapacityRowView[]).find((x) => x.region === region);
  if (!row) throw new Error(`no capacity row for ${offerId}/${region}`);
  return row;
}

/** Creates (PUT) an ARM offer for `publisher`, uploads `packageDir` (default: the sample web app) and publishes it. */
export async function publishOffer(
  svc: TestService,
  publisher: Publisher,
  offerId: string,
  regions: Array<{ name: string; hot: number | { policy: 'forecast'; min: number; max: number; maxInstanceHoursPerDay?: number }; warm?: number; cold: number }>,
  opts: { packageDir?: string; accessInformation?: string; durationHours?: number; publish?: boolean } = {},
): Promise<void> {
  const put = await svc.http.put(`/api/v1/offers/${offerId}`).send({
    alias: offerId,
    testDrive: {
      type: 'azure-resource-manager',
      durationHours: opts.durationHours ?? 1,
      regions,
      accessInformation: opts.accessInformation ?? '<p>Open {{siteUrl}} as {{userName}} / {{password}}</p>',
    },
    deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecret: publisher.clientSecret },
  });
  if (put.status !== 201 && put.status !== 200) throw new Error(`PUT offer: ${put.status} ${JSON.stringify(put.body)}`);
  const dir = opts.packageDir ?? SAMPLE;
  const zip = await zipDirectory(dir, { exclude: ['README.md', 'access-information.html'] });
  const pkg = await svc.http.put(`/api/v1/offers/${offerId}/package`).set('content-type', 'application/zip').send(zip);
  if (pkg.status !== 201) throw new Error(`PUT package: ${pkg.status} ${JSON.stringify(pkg.body)}`);
  if (opts.publish !== false) {
    const pub = await svc.http.post(`/api/v1/offers/${offerId}/publish`);
    if (pub.status !== 200) throw new Error(`publish: ${pub.status} ${JSON.stringify(pub.body)}`);
  }
}

export interface EmulatedGroup {
  name: string;
  location: string;
  tags: Record<string, string>;
  provisioningState: string;
  deployments: Array<{ name: string; provisioningState: string; outputs: Record<string, { type: string; value: unknown }> | null; error: unknown }>;
  resources: Array<{ id: string; type: string; name: string }>;
}

/** Resource groups of a subscription as the emulator holds them (in process, no HTTP). */
export function emulatedGroups(azure: LocalAzure, subscriptionId: string): EmulatedGroup[] {
  const sub = azure.emulator.getSubscription(subscriptionId) as { resourceGroups: EmulatedGroup[] } | undefined;
  if (!sub) throw new Error(`emulator has no subscription ${subscriptionId}`);
  return sub.resourceGroups;
}

/** How many times the emulator's fault rules fired, per operation. */
export function faultsApplied(azure: LocalAzure): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of azure.emulator.listFaults()) out[f.operation] = (out[f.operation] ?? 0) + f.applied;
  return out;
}

/** Every pool instance row (any state) of an offer, straight from the service's repository. */
export async function instances(svc: TestService, offerId?: string): Promise<PoolInstanceEntity[]> {
  const repo = svc.app.get(PoolInstanceRepository);
  return repo.repo.find({ where: offerId ? { offerId } : {}, order: { createdAt: 'ASC' } });
}

/** The real ARM SDK clients (what a publisher's tooling uses) for `publisher`'s subscription, against the emulator. */
export function armClients(azure: LocalAzure, publisher: Publisher): { rm: ResourceManagementClient; deployments: DeploymentsClient } {
  const cred = azure.runtime.credential(publisher.tenantId, publisher.clientId, publisher.clientSecret);
  const options = { endpoint: azure.emulator.url, credentialScopes: ['https://management.azure.com/.default'], ...azure.runtime.clientOptions };
  return {
    rm: new ResourceManagementClient(cred, publisher.subscriptionId, options),
    deployments: new DeploymentsClient(cred, publisher.subscriptionId, options),
  };
}

/** Real-time sleep (the emulator runs on real time; the service on its ManualClock). */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checks the invariant "every CloudTry_ resource group belongs to exactly one live instance, and every
 * live instance past `pending` has its group": returns the problems found (empty when consistent).
 */
export async function groupInstanceProblems(svc: TestService, azure: LocalAzure, subscriptionId: string, offerId: string): Promise<string[]> {
  const problems: string[] = [];
  const groups = emulatedGroups(azure, subscriptionId).filter((g) => CLOUDTRY.test(g.name) && g.tags['testdrive-offer'] === offerId);
  const rows = await instances(svc, offerId);
  const live = rows.filter((i) => i.state !== 'deleted');
  for (const g of groups) {
    const owners = live.filter((i) => i.resourceGroupName.toLowerCase() === g.name.toLowerCase());
    if (owners.length !== 1) problems.push(`group ${g.name} has ${owners.length} live instances`);
    if (g.tags['testdrive-instance'] && owners[0] && g.tags['testdrive-instance'] !== owners[0].id) problems.push(`group ${g.name} tagged for another instance`);
  }
  for (const i of live) {
    if (['ready', 'assigned', 'deploying'].includes(i.state) && !groups.some((g) => g.name.toLowerCase() === i.resourceGroupName.toLowerCase())) {
      problems.push(`instance ${i.id} (${i.state}) has no resource group`);
    }
  }
  if (new Set(live.map((i) => i.resourceGroupName.toLowerCase())).size !== live.length) problems.push('two live instances share a resource group name');
  return problems;
}
