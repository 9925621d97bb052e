import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LogicManagementClient } from '@azure/arm-logic';
import type { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import type { ResourceManagementClient } from '@azure/arm-resources';
import type { DynamicsEnvironmentInfo, EmulatorHandle } from '../../emulator/src';
import { armClients, control, fastPoll } from '../emulator/helpers';
import { logicClient } from '../emulator/logic-helpers';
import type { TestService } from '../support/harness';

export const TEMPLATE_DIR = path.join(__dirname, '..', '..', 'templates', 'logicapp', 'dynamics-user');
export const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };

export type Publisher = { tenantId: string; tenantName: string; subscriptionId: string; clientId: string; clientSecret: string };

/** Real ARM and Logic clients of `pub` against the emulator. */
export function clients(h: EmulatorHandle, pub: Publisher): { rm: ResourceManagementClient; dep: DeploymentsClient; logic: LogicManagementClient } {
  return { ...armClients(h, pub, pub.subscriptionId), logic: logicClient(h, pub, pub.subscriptionId) };
}

/** Deploys templates/logicapp/dynamics-user into `rg` through DeploymentsClient (as a publisher would). */
export async function deploySample(h: EmulatorHandle, pub: Publisher, env: DynamicsEnvironmentInfo, rg: string, roleName = 'Salesperson'): Promise<void> {
  const { rm, dep } = clients(h, pub);
  await rm.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
  const template = JSON.parse(readFileSync(path.join(TEMPLATE_DIR, 'azuredeploy.json'), 'utf8'));
  const parameters = {
    tenantId: { value: pub.tenantId },
    tenantDomain: { value: pub.tenantName },
    clientId: { value: pub.clientId },
    clientSecret: { value: pub.clientSecret },
    graphBaseUrl: { value: `${h.url}/graph` },
    dataverseUrl: { value: env.instanceUrl },
    licenseSkuId: { value: env.skuId },
    roleName: { value: roleName },
  };
  const d = await dep.deployments.beginCreateOrUpdateAndWait(rg, 'td-sample', { properties: { mode: 'Incremental', template, parameters } }, fastPoll);
  if (d.properties?.provisioningState !== 'Succeeded') throw new Error(`sample deployment ${d.properties?.provisioningState}: ${JSON.stringify(d.properties?.error)}`);
}

/** The offer body of a Logic app test drive on `pub`'s subscription. */
export function offerBody(pub: Publisher, rg: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alias: 'Contoso CRM (Logic app)',
    testDrive: {
      type: 'logic-app',
      region: 'westeurope',
      maxConcurrent: 2,
      durationHours: 1,
      resourceGroupName: rg,
      logicAppName: 'td-provision',
      deprovisionLogicAppName: 'td-deprovision',
      accessInformation: readFileSync(path.join(TEMPLATE_DIR, 'access-information.html'), 'utf8'),
      ...over,
    },
    deployment: { subscriptionId: pub.subscriptionId, tenantId: pub.tenantId, clientId: pub.clientId, clientSecret: pub.clientSecret },
  };
}

/** Runs of a workflow from the emulator's run history (newest first). */
export async function runs(h: EmulatorHandle, pub: Publisher, rg: string, workflow: string): Promise<Array<{ status: string; error?: { code: string; message: string }; trigger?: { outputs?: { body?: any; headers?: Record<string, string> } }; response?: unknown }>> {
  const r = await control(h, 'GET', `/_emulator/logic/runs?subscriptionId=${pub.subscriptionId}&resourceGroup=${rg}&workflow=${workflow}`);
  if (r.status !== 200) throw new Error(`runs: ${r.status}`);
  return r.body.value;
}

/** GET /sessions/{id} until `pred` holds (reconcile passes in between; `tick` ms of clock per pass). */
export async function sessionWhen(svc: TestService, id: string, pred: (s: any) => boolean, opts: { tick?: number; timeoutMs?: number } = {}): Promise<any> {
  return svc.until(async () => {
    if (opts.tick) svc.clock.advance(opts.tick);
    const r = await svc.http.get(`/api/v1/sessions/${id}`);
    return r.status === 200 && pred(r.body) ? r.body : null;
  }, opts.timeoutMs ?? 30_000);
}
