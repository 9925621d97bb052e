jest.setTimeout(60_000);
/**
 * The APIs an ARM publish preflight calls (issue 13), through the real SDK clients against the emulator:
 * Microsoft Graph applications (client secret expiry), Azure RBAC role assignments / definitions, resource
 * providers, Compute usages and deployment validation.
 */
import { Client } from '@microsoft/microsoft-graph-client';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ComputeManagementClient } from '@azure/arm-compute';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { start, credential, control, tlsOptions, armClients, fastPoll } from './helpers';
import type { EmulatorHandle, PublisherInfo } from '../../emulator/src';
import { fetchDispatcherTrusting } from '../../emulator/src/dynamics/clientTls';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import { ARM_FIXTURES } from '../support/fixtures-dir';

/** The real Graph client against the emulator (baseUrl /graph/, customHosts so the auth middleware sends the token). */
async function graphClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }): Promise<Client> {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential(h, c), { scopes: ['https://graph.microsoft.com/.default'] }),
    baseUrl: `${h.url}/graph/`,
    customHosts: new Set(['localhost']),
    fetchOptions: { dispatcher: await fetchDispatcherTrusting(h.caCertPem) } as never,
  });
}

/** AuthorizationManagementClient 9 against the emulator: `endpoint`, and `credentialScopes` (it derives the scope from the endpoint otherwise). */
function authorizationClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, subscriptionId: string): AuthorizationManagementClient {
  return new AuthorizationManagementClient(credential(h, c), subscriptionId, { endpoint: h.url, credentialScopes: ['https://management.azure.com/.default'], tlsOptions: tlsOptions(h) });
}

/** ComputeManagementClient 24 against the emulator (its token scope stays ARM's). */
function computeClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, subscriptionId: string): ComputeManagementClient {
  return new ComputeManagementClient(credential(h, c), subscriptionId, { endpoint: h.url, tlsOptions: tlsOptions(h) });
}

/** A template of VMs (name, size, location) without expressions. */
function vmTemplate(vms: Array<{ name: string; size: string; location: string }>): Record<string, unknown> {
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    resources: vms.map((vm) => ({ type: 'Microsoft.Compute/virtualMachines', apiVersion: '2024-07-01', name: vm.name, location: vm.location, properties: { hardwareProfile: { vmSize: vm.size } } })),
  };
}

/**
 * deployments.beginValidateAndWait as a preflight calls it. ARM answers an invalid template with a synchronous 400,
 * which the SDK's poller (arm-resourcesdeployments 2.0) rejects as a bare "The long-running operation has failed":
 * the error body is read through `onResponse`.
 */
async function validate(dep: DeploymentsClient, rg: string, name: string, properties: Record<string, unknown>): Promise<{ ok: true; result: any } | { ok: false; status: number; error: any; thrown: Error }> {
  let raw: { status: number; parsedBody?: unknown } | undefined;
  try {
    const result = await dep.deployments.beginValidateAndWait(rg, name, { properties: { mode: 'Incremental', ...properties } }, { ...fastPoll, onResponse: (r: { status: number; parsedBody?: unknown }) => (raw = r) });
    return { ok: true, result };
  } catch (e) {
    return { ok: false, status: raw?.status ?? 0, error: (raw?.parsedBody as { error?: unknown } | undefined)?.error, thrown: e as Error };
  }
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const READER = 'acdd72a7-3b07-43c8-9a03-8bad6d8bc8a8';

describe('emulator: ARM publish preflight APIs through the real SDKs', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let pub: PublisherInfo;

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    pub = await h.createPublisher({ location: 'westeurope' });
  });
  afterAll(async () => cleanup());

  describe('Microsoft Graph applications and client secret expiry', () => {
    it('finds the app registration by $filter appId and by the appId alternate key, with secret metadata only', async () => {
      const g = await graphClient(h, pub);
      const list = await g.api('/applications').filter(`appId eq '${pub.clientId}'`).get();
      expect(list['@odata.context']).toMatch(/\/\$metadata#applications$/);
      expect(list.value).toHaveLength(1);
      const app = list.value[0];
      expect(app).toMatchObject({ appId: pub.clientId, displayName: expect.any(String), signInAudience: 'AzureADMyOrg', publisherDomain: pub.tenantName });
      expect(app.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(app.id).not.toBe(pub.principalId); // the application object is not the service principal
      expect(app.passwordCredentials).toHaveLength(1);
      const pc = app.passwordCredentials[0];
      expect(pc).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f-]{36}$/), displayName: 'Client secret', hint: pub.clientSecret.slice(0, 3), secretText: null });
      const years = (Date.parse(pc.endDateTime) - Date.parse(pc.startDateTime)) / (365.25 * 86400_000);
      expect(years).toBeGreaterThan(1.99);
      expect(years).toBeLessThan(2.01);
      expect(JSON.stringify(list)).not.toContain(pub.clientSecret);

      const byKey = await g.api(`/applications(appId='${pub.clientId}')`).get();
      expect(byKey).toMatchObject({ id: app.id, appId: pub.clientId, passwordCredentials: [{ keyId: pc.keyId, endDateTime: pc.endDateTime }] });
      const byId = await g.api(`/applications/${app.id}`).select('id,appId,passwordCredentials').get();
      expect(Object.keys(byId).sort()).toEqual(['@odata.context', 'appId', 'id', 'passwordCredentials']);
      expect(h.getApplication(pub.clientId)).toMatchObject({ id: app.id, appId: pub.clientId });
    });

    it('answers 404 Request_ResourceNotFound for an unknown appId and an empty list for an unknown filter value', async () => {
      const g = await graphClient(h, pub);
      await expect(g.api(`/applications(appId='00000000-0000-0000-0000-00000000abcd')`).get()).rejects.toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
      expect((await g.api('/applications').filter("appId eq '00000000-0000-0000-0000-00000000abcd'").get()).value).toEqual([]);
    });

    it('needs Application.Read.All (or Application.ReadWrite.OwnedBy for its own registration only)', async () => {
      const other = await h.createClient({ tenantId: pub.tenantId });
      const none = await graphClient(h, other);
      await expect(none.api(`/applications(appId='${pub.clientId}')`).get()).rejects.toMatchObject({ statusCode: 403, code: 'Authorization_RequestDenied' });
      await expect(none.api(`/applications(appId='${other.clientId}')`).get()).rejects.toMatchObject({ statusCode: 403 });

      const reader = await h.createClient({ tenantId: pub.tenantId, roles: ['Application.Read.All'] });
      expect((await (await graphClient(h, reader)).api('/applications').get()).value.map((a: { appId: string }) => a.appId)).toEqual(expect.arrayContaining([pub.clientId, other.clientId, reader.clientId]));

      const owned = await h.createClient({ tenantId: pub.tenantId, roles: ['Application.ReadWrite.OwnedBy'] });
      const og = await graphClient(h, owned);
      expect((await og.api('/applications').get()).value.map((a: { appId: string }) => a.appId)).toEqual([owned.clientId]);
      expect((await og.api(`/applications(appId='${owned.clientId}')`).get()).appId).toBe(owned.clientId);
      await expect(og.api(`/applications(appId='${pub.clientId}')`).get()).rejects.toMatchObject({ statusCode: 403 });
      // Applications of another tenant are not visible at all.
      expect((await (await graphClient(h, reader)).api('/applications').filter(`appId eq '${(await h.createPublisher()).clientId}'`).get()).value).toEqual([]);
    });

    it('an expired secret is refused at the token endpoint with AADSTS7000222; a new end date makes it valid again', async () => {
      const c = await h.createClient({ tenantId: pub.tenantId, roles: ['Application.Read.All'] });
      await credential(h, c).getToken('https://management.azure.com/.default');
      const past = new Date(Date.now() - 60_000).toISOString();
      const r = await control(h, 'PATCH', `/_emulator/clients/${c.clientId}`, { secretEndDateTime: past });
      expect(r.status).toBe(200);
      expect(r.body.passwordCredentials[0].endDateTime).toBe(past);
      // A fresh credential (no cached token) must go to the token endpoint.
      await expect(credential(h, c).getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000222.*The provided client secret keys for app '[0-9a-f-]+' are expired/s);
      // The app registration (read by another app) shows the expired end date.
      const g = await graphClient(h, pub);
      expect((await g.api(`/applications(appId='${c.clientId}')`).get()).passwordCredentials[0].endDateTime).toBe(past);

      const future = new Date(Date.now() + 30 * 86400_000);
      expect(h.setClientSecretExpiry(c.clientId, future).endDateTime).toBe(future.toISOString());
      await expect(credential(h, c).getToken('https://management.azure.com/.default')).resolves.toBeTruthy();
      expect((await control(h, 'PATCH', `/_emulator/clients/${c.clientId}`, { secretEndDateTime: 'soon' })).body.error.code).toBe('InvalidSecretEndDateTime');
      expect((await control(h, 'PATCH', '/_emulator/clients/00000000-0000-0000-0000-000000000000', { secretEndDateTime: past })).status).toBe(404);
    });

    it('graph.applications.* faults answer the injected error', async () => {
      const g = await graphClient(h, pub);
      h.setFaults([{ operation: 'graph.applications.list', status: 503, count: 1 }]);
      try {
        // The Graph client retries 503 on its own (RetryHandler); one injected failure is absorbed.
        expect((await g.api('/applications').filter(`appId eq '${pub.clientId}'`).get()).value).toHaveLength(1);
        expect(h.listFaults()[0].applied).toBe(1);
        h.setFaults([{ operation: 'graph.applications.get', status: 404, errorCode: 'Request_ResourceNotFound' }]);
        await expect(g.api(`/applications(appId='${pub.clientId}')`).get()).rejects.toMatchObject({ statusCode: 404 });
      } finally {
        h.setFaults([]);
      }
    });
  });

  describe('role assignments and role definitions (@azure/arm-authorization 9)', () => {
    it("lists the publisher's Contributor assignment with assignedTo() and principalId eq filters; gets the role definition", async () => {
      const authz = authorizationClient(h, pub, pub.subscriptionId);
      const scope = `/subscriptions/${pub.subscriptionId}`;
      const mine = await all(authz.roleAssignments.listForScope(scope, { filter: `assignedTo('${pub.principalId}')` }));
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({
        id: expect.stringMatching(new RegExp(`^/subscriptions/${pub.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/[0-9a-f-]{36}$`)),
        type: 'Microsoft.Authorization/roleAssignments',
        roleDefinitionId: `/subscriptions/${pub.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${CONTRIBUTOR}`,
        principalId: pub.principalId,
        principalType: 'ServicePrincipal',
        scope,
      });
      expect(mine[0].name).toBe(mine[0].id!.split('/').pop());
      expect(await all(authz.roleAssignments.listForScope(scope, { filter: `principalId eq '${pub.principalId}'` }))).toEqual(mine);
      expect(await all(authz.roleAssignments.listForScope(scope, { filter: `atScope() and assignedTo('${pub.principalId}')` }))).toEqual(mine);
      expect(await all(authz.roleAssignments.listForSubscription({ filter: `principalId eq '${pub.principalId}'` }))).toEqual(mine);
      expect((await authz.roleAssignments.get(scope, mine[0].name!)).principalId).toBe(pub.principalId);

      const def = await authz.roleDefinitions.get(scope, CONTRIBUTOR);
      expect(def).toMatchObject({ name: CONTRIBUTOR, roleName: 'Contributor', roleType: 'BuiltInRole', assignableScopes: ['/'] });
      expect(def.permissions?.[0]).toMatchObject({ actions: ['*'], notActions: expect.arrayContaining(['Microsoft.Authorization/*/Write']) });
      expect((await authz.roleDefinitions.get(scope, OWNER)).roleName).toBe('Owner');
      expect((await authz.roleDefinitions.get(scope, READER)).permissions?.[0].actions).toEqual(['*/read']);
      expect((await all(authz.roleDefinitions.list(scope, { filter: "roleName eq 'Reader'" }))).map((d) => d.name)).toEqual([READER]);
      await expect(authz.roleDefinitions.get(scope, '00000000-0000-0000-0000-000000000001')).rejects.toMatchObject({ statusCode: 404, code: 'RoleDefinitionDoesNotExist' });
      await expect(all(authz.roleAssignments.listForScope(scope, { filter: "displayName eq 'x'" }))).rejects.toMatchObject({ statusCode: 400, code: 'UnsupportedQuery' });
    });

    it('lists subscription assignments at resource-group scope too (inherited)', async () => {
      const { rm } = armClients(h, pub, pub.subscriptionId);
      await rm.resourceGroups.createOrUpdate('rbac-rg', { location: 'westeurope' });
      const authz = authorizationClient(h, pub, pub.subscriptionId);
      const inRg = await all(authz.roleAssignments.listForResourceGroup('rbac-rg', { filter: `assignedTo('${pub.principalId}')` }));
      expect(inRg.map((a) => a.principalId)).toEqual([pub.principalId]);
      await expect(all(authz.roleAssignments.listForResourceGroup('no-such-rg'))).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
    });

    it('removing the role (control call) makes ARM refuse the principal with 403 AuthorizationFailed; restoring it lets it back in', async () => {
      const p = await h.createPublisher();
      const { rm } = armClients(h, p, p.subscriptionId);
      await rm.resourceGroups.createOrUpdate('before', { location: 'westeurope' });
      const del = await control(h, 'DELETE', `/_emulator/subscriptions/${p.subscriptionId}/role-assignments/${p.principalId}`);
      expect(del.status).toBe(200);
      expect(del.body.removed).toEqual([expect.objectContaining({ properties: expect.objectContaining({ principalId: p.principalId, roleDefinitionId: expect.stringContaining(CONTRIBUTOR) }) })]);
      await expect(rm.resourceGroups.createOrUpdate('after', { location: 'westeurope' })).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
      await expect(rm.resourceGroups.get('before')).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
      // Without any role it cannot read role assignments either (as in Azure).
      await expect(all(authorizationClient(h, p, p.subscriptionId).roleAssignments.listForScope(`/subscriptions/${p.subscriptionId}`, { filter: `assignedTo('${p.principalId}')` }))).rejects.toMatchObject({ statusCode: 403 });
      // An Owner of the subscription sees the principal has no assignment left.
      const owner = await h.createClient({ tenantId: p.tenantId, subscriptionRoles: [{ subscriptionId: p.subscriptionId, role: 'Owner' }] });
      const ownerAuthz = authorizationClient(h, owner, p.subscriptionId);
      expect(await all(ownerAuthz.roleAssignments.listForScope(`/subscriptions/${p.subscriptionId}`, { filter: `assignedTo('${p.principalId}')` }))).toEqual([]);
      expect((await control(h, 'DELETE', `/_emulator/subscriptions/${p.subscriptionId}/role-assignments/${p.principalId}`)).body.error.code).toBe('RoleAssignmentNotFound');

      // Restore as Reader (by client id): reads work, writes are refused.
      const put = await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/role-assignments/${p.clientId}`, { role: 'Reader' });
      expect(put.status).toBe(200);
      expect(put.body.properties.roleDefinitionId).toContain(READER);
      expect((await rm.resourceGroups.get('before')).name).toBe('before');
      await expect(rm.resourceGroups.createOrUpdate('after', { location: 'westeurope' })).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
      // Handle methods: back to Contributor.
      expect(h.setRoleAssignment(p.subscriptionId, p.principalId, 'Contributor')).toMatchObject({ properties: { principalId: p.principalId } });
      expect((await rm.resourceGroups.createOrUpdate('after', { location: 'westeurope' })).name).toBe('after');
      expect((await all(ownerAuthz.roleAssignments.listForScope(`/subscriptions/${p.subscriptionId}`, { filter: `assignedTo('${p.principalId}')` }))).map((a) => a.roleDefinitionId)).toEqual([expect.stringContaining(CONTRIBUTOR)]);
      expect(h.removeRoleAssignment(p.subscriptionId, p.clientId)).toHaveLength(1);
      expect(() => h.removeRoleAssignment(p.subscriptionId, p.clientId)).toThrow(/holds no role/);
      expect((await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/role-assignments/${p.principalId}`, { role: 'Janitor' })).body.error.code).toBe('InvalidRole');
      const foreign = await h.createClient();
      expect((await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/role-assignments/${foreign.principalId}`, { role: 'Reader' })).body.error.code).toBe('CrossTenantRoleAssignment');
    });

    it('roleAssignments.* / roleDefinitions.* faults answer the injected error', async () => {
      const authz = authorizationClient(h, pub, pub.subscriptionId);
      h.setFaults([{ operation: 'roleAssignments.list', status: 429, retryAfterSeconds: 0, count: 1 }, { operation: 'roleDefinitions.get', status: 404, errorCode: 'RoleDefinitionDoesNotExist', count: 1 }]);
      try {
        // A throttled list is retried by the SDK (Retry-After 0) and then succeeds.
        expect(await all(authz.roleAssignments.listForScope(`/subscriptions/${pub.subscriptionId}`))).not.toHaveLength(0);
        expect(h.listFaults()[0].applied).toBe(1);
        await expect(authz.roleDefinitions.get(`/subscriptions/${pub.subscriptionId}`, OWNER)).rejects.toMatchObject({ statusCode: 404, code: 'RoleDefinitionDoesNotExist' });
      } finally {
        h.setFaults([]);
      }
    });
  });

  describe('resource providers (@azure/arm-resources 7 providers.list / get / register)', () => {
    it('lists the supported namespaces as Registered with resource types, display-name locations and API versions', async () => {
      const { rm } = armClients(h, pub, pub.subscriptionId);
      const list = await all(rm.providers.list());
      const namespaces = list.map((x) => x.namespace);
      expect(namespaces).toEqual(expect.arrayContaining(['Microsoft.Resources', 'Microsoft.Compute', 'Microsoft.Network', 'Microsoft.Storage', 'Microsoft.Web', 'Microsoft.Logic', 'Microsoft.KeyVault', 'Microsoft.ContainerInstance']));
      expect(list.every((x) => x.registrationState === 'Registered')).toBe(true);
      const web = await rm.providers.get('Microsoft.Web');
      expect(web).toMatchObject({ id: `/subscriptions/${pub.subscriptionId}/providers/Microsoft.Web`, namespace: 'Microsoft.Web', registrationState: 'Registered', registrationPolicy: 'RegistrationRequired' });
      const sites = web.resourceTypes!.find((x) => x.resourceType === 'sites')!;
      expect(sites.locations).toEqual(expect.arrayContaining(['West Europe', 'East US', 'North Europe']));
      expect(sites.apiVersions).toEqual(expect.arrayContaining(['2022-03-01']));
      const compute = await rm.providers.get('microsoft.compute');
      expect(compute.resourceTypes!.map((x) => x.resourceType)).toEqual(expect.arrayContaining(['virtualMachines', 'locations/usages']));
      await expect(rm.providers.get('Microsoft.Nope')).rejects.toMatchObject({ statusCode: 404, code: 'InvalidResourceNamespace' });
    });

    it('control settings: a namespace NotRegistered (register fixes it), a resource type unavailable in a location', async () => {
      const p = await h.createPublisher();
      const { rm } = armClients(h, p, p.subscriptionId);
      const r = await control(h, 'PATCH', `/_emulator/subscriptions/${p.subscriptionId}/providers/Microsoft.Web`, { registrationState: 'NotRegistered', unavailableLocations: { sites: ['West Europe', 'northeurope'] } });
      expect(r.status).toBe(200);
      const web = await rm.providers.get('Microsoft.Web');
      expect(web.registrationState).toBe('NotRegistered');
      const sites = web.resourceTypes!.find((x) => x.resourceType === 'sites')!;
      expect(sites.locations).not.toContain('West Europe');
      expect(sites.locations).not.toContain('North Europe');
      expect(sites.locations).toContain('East US');
      expect(web.resourceTypes!.find((x) => x.resourceType === 'serverFarms')!.locations).toContain('West Europe');
      // Another subscription is unaffected.
      expect((await armClients(h, pub, pub.subscriptionId).rm.providers.get('Microsoft.Web')).registrationState).toBe('Registered');

      // A Reader may not register; a Contributor may.
      const reader = await h.createClient({ tenantId: p.tenantId, subscriptionRoles: [{ subscriptionId: p.subscriptionId, role: 'Reader' }] });
      await expect(armClients(h, reader, p.subscriptionId).rm.providers.register('Microsoft.Web')).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
      expect((await rm.providers.register('Microsoft.Web')).registrationState).toBe('Registered');
      expect((await rm.providers.unregister('Microsoft.Web')).registrationState).toBe('Unregistered');

      expect(h.setProvider(p.subscriptionId, 'Microsoft.Web', 'reset')).toMatchObject({ registrationState: 'Registered' });
      expect((await rm.providers.get('Microsoft.Web')).resourceTypes!.find((x) => x.resourceType === 'sites')!.locations).toContain('West Europe');
      expect((await control(h, 'PATCH', `/_emulator/subscriptions/${p.subscriptionId}/providers/Microsoft.Web`, { unavailableLocations: { nothing: ['westeurope'] } })).body.error.code).toBe('InvalidProviderSettings');
      expect((await control(h, 'PATCH', `/_emulator/subscriptions/${p.subscriptionId}/providers/Microsoft.Web`, { unavailableLocations: { sites: ['atlantis'] } })).body.error.code).toBe('InvalidProviderSettings');
      expect((await control(h, 'PATCH', `/_emulator/subscriptions/${p.subscriptionId}/providers/Microsoft.Nope`, { registrationState: 'NotRegistered' })).status).toBe(404);
    });

    it('providers.* faults answer the injected error', async () => {
      const { rm } = armClients(h, pub, pub.subscriptionId);
      h.setFaults([{ operation: 'providers.get', status: 409, errorCode: 'Conflict', count: 1 }]);
      try {
        await expect(rm.providers.get('Microsoft.Compute')).rejects.toMatchObject({ statusCode: 409, code: 'Conflict' });
        expect((await rm.providers.get('Microsoft.Compute')).namespace).toBe('Microsoft.Compute');
      } finally {
        h.setFaults([]);
      }
    });
  });

  describe('Compute usages (@azure/arm-compute 24 usage.list)', () => {
    it("counts the subscription's VM vCPUs per location and family against the (configurable) limits", async () => {
      const p = await h.createPublisher();
      const { rm, dep } = armClients(h, p, p.subscriptionId);
      await rm.resourceGroups.createOrUpdate('vms', { location: 'westeurope' });
      const d = await dep.deployments.beginCreateOrUpdateAndWait('vms', 'vms', {
        properties: {
          mode: 'Incremental',
          template: vmTemplate([
            { name: 'a', size: 'Standard_D2s_v3', location: 'westeurope' },
            { name: 'b', size: 'Standard_D4s_v3', location: 'westeurope' },
            { name: 'c', size: 'Standard_B1s', location: 'westeurope' },
            { name: 'd', size: 'Standard_D2_v2', location: 'northeurope' },
          ]),
        },
      }, fastPoll);
      expect(d.properties?.provisioningState).toBe('Succeeded');
      const compute = computeClient(h, p, p.subscriptionId);
      const usages = await all(compute.usage.list('westeurope'));
      const by = (name: string): { currentValue?: number; limit?: number; unit?: string; name?: { localizedValue?: string } } | undefined => usages.find((u) => u.name?.value === name);
      expect(by('cores')).toMatchObject({ currentValue: 7, limit: 100, unit: 'Count', name: { localizedValue: 'Total Regional vCPUs' } });
      expect(by('standardDSv3Family')).toMatchObject({ currentValue: 6, limit: 100, name: { localizedValue: 'Standard DSv3 Family vCPUs' } });
      expect(by('standardBSFamily')?.currentValue).toBe(1);
      expect(by('virtualMachines')).toMatchObject({ currentValue: 3, limit: 25000 });
      expect(by('standardDv2Family')?.currentValue).toBe(0);
      const north = await all(compute.usage.list('North Europe'));
      expect(north.find((u) => u.name?.value === 'cores')?.currentValue).toBe(2);
      expect(north.find((u) => u.name?.value === 'standardDv2Family')?.currentValue).toBe(2);

      const r = await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/compute-quotas/westeurope`, { cores: 10, families: { standardDSv3Family: 8 } });
      expect(r.status).toBe(200);
      const after = await all(compute.usage.list('westeurope'));
      expect(after.find((u) => u.name?.value === 'cores')).toMatchObject({ currentValue: 7, limit: 10 });
      expect(after.find((u) => u.name?.value === 'standardDSv3Family')).toMatchObject({ currentValue: 6, limit: 8 });
      expect((await all(compute.usage.list('northeurope'))).find((u) => u.name?.value === 'cores')?.limit).toBe(100);
      h.setComputeQuota(p.subscriptionId, 'westeurope', 'reset');
      expect((await all(compute.usage.list('westeurope'))).find((u) => u.name?.value === 'cores')?.limit).toBe(100);
      expect((await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/compute-quotas/atlantis`, { cores: 1 })).body.error.code).toBe('InvalidLocation');
      expect((await control(h, 'PUT', `/_emulator/subscriptions/${p.subscriptionId}/compute-quotas/westeurope`, { cores: -1 })).body.error.code).toBe('InvalidQuota');
      await expect(all(compute.usage.list('atlantis'))).rejects.toMatchObject({ statusCode: 404, code: 'NoRegisteredProviderFound' });
    });

    it('usage.list faults answer the injected error', async () => {
      const compute = computeClient(h, pub, pub.subscriptionId);
      h.setFaults([{ operation: 'usage.list', status: 403, errorCode: 'AuthorizationFailed', count: 1 }]);
      try {
        await expect(all(compute.usage.list('westeurope'))).rejects.toMatchObject({ statusCode: 403 });
        expect((await all(compute.usage.list('westeurope'))).find((u) => u.name?.value === 'cores')?.currentValue).toBe(0);
      } finally {
        h.setFaults([]);
      }
    });
  });

  describe('deployment validation (@azure/arm-resourcesdeployments deployments.beginValidateAndWait)', () => {
    const base = { $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#', contentVersion: '1.0.0.0' };
    const storage = (name: string, location = "[resourceGroup().location]"): Record<string, unknown> => ({ type: 'Microsoft.Storage/storageAccounts', apiVersion: '2023-01-01', name, location, sku: { name: 'Standard_LRS' }, kind: 'StorageV2', properties: {} });
    let p: PublisherInfo;
    let clients: ReturnType<typeof armClients>;

    beforeAll(async () => {
      p = await h.createPublisher();
      clients = armClients(h, p, p.subscriptionId);
      await clients.rm.resourceGroups.createOrUpdate('val', { location: 'westeurope' });
    });

    it('a valid template: 200 Succeeded with validatedResources, providers and dependencies; nothing is created', async () => {
      const template = {
        ...base,
        parameters: { sku: { type: 'string', allowedValues: ['Standard_LRS', 'Standard_GRS'], defaultValue: 'Standard_LRS' }, prefix: { type: 'string', minLength: 3 } },
        resources: [
          { ...storage("[concat(parameters('prefix'), 'sa')]"), sku: { name: "[parameters('sku')]" } },
          { type: 'Microsoft.Web/serverfarms', apiVersion: '2022-03-01', name: 'plan', location: '[resourceGroup().location]', sku: { name: 'B1' } },
          { type: 'Microsoft.Web/sites', apiVersion: '2022-03-01', name: "[concat(parameters('prefix'), '-web')]", location: '[resourceGroup().location]', dependsOn: ["[resourceId('Microsoft.Web/serverfarms', 'plan')]"], properties: { serverFarmId: "[resourceId('Microsoft.Web/serverfarms', 'plan')]" } },
        ],
      };
      const v = await validate(clients.dep, 'val', 'check1', { template, parameters: { prefix: { value: 'tdx' } } });
      if (!v.ok) throw v.thrown;
      const props = v.result.properties;
      expect(v.result).toMatchObject({ id: `/subscriptions/${p.subscriptionId}/resourceGroups/val/providers/Microsoft.Resources/deployments/check1`, name: 'check1' });
      expect(props.provisioningState).toBe('Succeeded');
      expect(props.validatedResources.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining([
        `/subscriptions/${p.subscriptionId}/resourceGroups/val/providers/Microsoft.Storage/storageAccounts/tdxsa`,
        `/subscriptions/${p.subscriptionId}/resourceGroups/val/providers/Microsoft.Web/sites/tdx-web`,
      ]));
      expect(props.providers).toEqual(expect.arrayContaining([{ namespace: 'Microsoft.Web', resourceTypes: expect.arrayContaining([{ resourceType: 'sites', locations: ['westeurope'] }]) }]));
      expect(props.dependencies).toEqual([expect.objectContaining({ resourceName: 'tdx-web', dependsOn: [expect.objectContaining({ resourceType: 'Microsoft.Web/serverfarms', resourceName: 'plan' })] })]);
      expect(props.parameters).toMatchObject({ prefix: { type: 'String', value: 'tdx' }, sku: { type: 'String', value: 'Standard_LRS' } });
      // Nothing was created: no deployment, no resource.
      expect(await all(clients.dep.deployments.listByResourceGroup('val'))).toEqual([]);
      expect(await all(clients.rm.resources.listByResourceGroup('val'))).toEqual([]);
    });

    it('the vm-simple-linux fixture validates', async () => {
      const read = (f: string): any => JSON.parse(readFileSync(join(ARM_FIXTURES, 'vm-simple-linux', f), 'utf8').replace(/^\uFEFF/, ''));
      const parameters = read('azuredeploy.parameters.json').parameters as Record<string, { value: string }>;
      for (const x of Object.values(parameters)) x.value = x.value === 'GEN-PASSWORD' ? `Gp!${randomBytes(8).toString('base64url')}9a` : `gen${randomBytes(5).toString('hex')}`;
      const v = await validate(clients.dep, 'val', 'vm', { template: read('azuredeploy.json'), parameters });
      if (!v.ok) throw new Error(JSON.stringify(v.error));
      expect(v.result.properties.validatedResources.map((x: { id: string }) => x.id.split('/providers/')[1].split('/').slice(0, 2).join('/'))).toEqual(expect.arrayContaining(['Microsoft.Compute/virtualMachines', 'Microsoft.Network/virtualNetworks', 'Microsoft.Network/publicIPAddresses']));
    });

    it('parameter constraints, template function errors and missing parameters: 400 InvalidTemplate', async () => {
      const template = { ...base, parameters: { sku: { type: 'string', allowedValues: ['a', 'b'] }, n: { type: 'int', maxValue: 3, defaultValue: 1 } }, resources: [] };
      const notAllowed = await validate(clients.dep, 'val', 'bad1', { template, parameters: { sku: { value: 'c' } } });
      expect(notAllowed).toMatchObject({ ok: false, status: 400, error: { code: 'InvalidTemplate', message: expect.stringContaining("The parameter value is not part of the allowed value(s): 'a,b'") } });
      if (!notAllowed.ok) expect(notAllowed.thrown.message).toMatch(/The long-running operation has failed/);
      expect(await validate(clients.dep, 'val', 'bad2', { template, parameters: { sku: { value: 'a' }, n: { value: 9 } } })).toMatchObject({ status: 400, error: { code: 'InvalidTemplate', message: expect.stringContaining("less than or equal to '3'") } });
      expect(await validate(clients.dep, 'val', 'bad3', { template })).toMatchObject({ status: 400, error: { code: 'InvalidTemplate', message: expect.stringContaining("The value for the template parameter 'sku'") } });
      const fn = { ...base, resources: [storage("[toUpperr('x')]")] };
      expect(await validate(clients.dep, 'val', 'bad4', { template: fn })).toMatchObject({ status: 400, error: { code: 'InvalidTemplate', message: expect.stringContaining("The template function 'toUpperr' is not valid") } });
      expect(await validate(clients.dep, 'val', 'bad5', { template: fn, mode: 'Sideways' })).toMatchObject({ status: 400, error: { code: 'InvalidDeploymentMode' } });
    });

    it('unknown namespaces and resource types: 400 InvalidTemplateDeployment with the providers\' errors as details', async () => {
      const template = {
        ...base,
        resources: [
          { type: 'Microsoft.Storage/storageAcounts', apiVersion: '2023-01-01', name: 'typo', location: 'westeurope', properties: {} },
          { type: 'Contoso.Widgets/widgets', apiVersion: '2024-01-01', name: 'w', location: 'westeurope', properties: {} },
          storage('fine'),
        ],
      };
      const v = await validate(clients.dep, 'val', 'types', { template });
      expect(v).toMatchObject({ ok: false, status: 400, error: { code: 'InvalidTemplateDeployment', message: expect.stringMatching(/^The template deployment 'types' is not valid according to the validation procedure\. The tracking id is '[0-9a-f-]{36}'\. See inner errors for details\.$/) } });
      if (v.ok) return;
      expect(v.error.details).toEqual([
        expect.objectContaining({ code: 'InvalidResourceType', message: "The resource type 'storageAcounts' could not be found in the namespace 'Microsoft.Storage' for api version '2023-01-01'." }),
        expect.objectContaining({ code: 'InvalidResourceNamespace', message: "The resource namespace 'Contoso.Widgets' is invalid." }),
      ]);
    });

    it('provider settings: NotRegistered namespace and unavailable location fail validation (and the deployment); register fixes it', async () => {
      const q = await h.createPublisher();
      const { rm, dep } = armClients(h, q, q.subscriptionId);
      await rm.resourceGroups.createOrUpdate('g', { location: 'westeurope' });
      const template = { ...base, resources: [storage('sa1')] };
      h.setProvider(q.subscriptionId, 'Microsoft.Storage', { registrationState: 'NotRegistered' });
      const v = await validate(dep, 'g', 'reg', { template });
      expect(v).toMatchObject({ status: 400, error: { code: 'InvalidTemplateDeployment', details: [{ code: 'MissingSubscriptionRegistration', target: 'Microsoft.Storage', message: "The subscription is not registered to use namespace 'Microsoft.Storage'. See https://aka.ms/rps-not-found for how to register subscriptions." }] } });
      await expect(dep.deployments.beginCreateOrUpdateAndWait('g', 'reg', { properties: { mode: 'Incremental', template } }, fastPoll)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidTemplateDeployment' });
      await rm.providers.register('Microsoft.Storage');
      expect((await validate(dep, 'g', 'reg', { template })).ok).toBe(true);

      h.setProvider(q.subscriptionId, 'Microsoft.Storage', { unavailableLocations: { storageAccounts: ['westeurope'] } });
      const loc = await validate(dep, 'g', 'loc', { template });
      expect(loc).toMatchObject({ status: 400, error: { code: 'InvalidTemplateDeployment', details: [{ code: 'LocationNotAvailableForResourceType', message: expect.stringMatching(/^The provided location 'westeurope' is not available for resource type 'Microsoft.Storage\/storageAccounts'\. List of available regions for the resource type is '[a-z0-9,]+'\.$/) }] } });
      if (!loc.ok) expect(loc.error.details[0].message).not.toMatch(/'westeurope,|,westeurope[,']/);
      expect((await validate(dep, 'g', 'loc', { template: { ...base, resources: [storage('sa2', 'northeurope')] } })).ok).toBe(true);
      await expect(dep.deployments.beginCreateOrUpdateAndWait('g', 'loc', { properties: { mode: 'Incremental', template } }, fastPoll)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidTemplateDeployment' });
      // A location that is not a region of the type fails validation even without settings.
      h.setProvider(q.subscriptionId, 'Microsoft.Storage', 'reset');
      expect(await validate(dep, 'g', 'loc', { template: { ...base, resources: [storage('sa3', 'atlantis')] } })).toMatchObject({ status: 400, error: { details: [{ code: 'LocationNotAvailableForResourceType' }] } });
      expect((await dep.deployments.beginCreateOrUpdateAndWait('g', 'ok', { properties: { mode: 'Incremental', template } }, fastPoll)).properties?.provisioningState).toBe('Succeeded');
    });

    it('vCPU quota: new VMs above the regional or family limit fail with QuotaExceeded (validation and, for a set limit, the deployment)', async () => {
      const q = await h.createPublisher();
      const { rm, dep } = armClients(h, q, q.subscriptionId);
      await rm.resourceGroups.createOrUpdate('g', { location: 'westeurope' });
      const two = vmTemplate([{ name: 'v1', size: 'Standard_D4s_v3', location: 'westeurope' }, { name: 'v2', size: 'Standard_D4s_v3', location: 'westeurope' }]);
      expect((await validate(dep, 'g', 'q', { template: two })).ok).toBe(true);
      h.setComputeQuota(q.subscriptionId, 'westeurope', { cores: 6 });
      const v = await validate(dep, 'g', 'q', { template: two });
      expect(v).toMatchObject({ status: 400, error: { code: 'InvalidTemplateDeployment', details: [{ code: 'QuotaExceeded', message: expect.stringContaining('exceeding approved Total Regional Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 6, Current Usage: 0, Additional Required: 8, (Minimum) New Limit Required: 8.') }] } });
      await expect(dep.deployments.beginCreateOrUpdateAndWait('g', 'q', { properties: { mode: 'Incremental', template: two } }, fastPoll)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidTemplateDeployment' });
      // One VM fits; once deployed it counts, and a second one no longer fits the family limit.
      h.setComputeQuota(q.subscriptionId, 'westeurope', { cores: 100, families: { standardDSv3Family: 6 } });
      const one = vmTemplate([{ name: 'v1', size: 'Standard_D4s_v3', location: 'westeurope' }]);
      expect((await dep.deployments.beginCreateOrUpdateAndWait('g', 'one', { properties: { mode: 'Incremental', template: one } }, fastPoll)).properties?.provisioningState).toBe('Succeeded');
      expect((await validate(dep, 'g', 'again', { template: one })).ok).toBe(true); // redeploying v1 adds nothing
      expect(await validate(dep, 'g', 'more', { template: two })).toMatchObject({ status: 400, error: { details: [{ code: 'QuotaExceeded', message: expect.stringContaining('standardDSv3Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westeurope, Current Limit: 6, Current Usage: 4, Additional Required: 4') }] } });
    });

    it('RBAC: a Reader gets 403 AuthorizationFailed (validate/action); a missing resource group 404', async () => {
      const reader = await h.createClient({ tenantId: p.tenantId, subscriptionRoles: [{ subscriptionId: p.subscriptionId, role: 'Reader' }] });
      const { dep } = armClients(h, reader, p.subscriptionId);
      const v = await validate(dep, 'val', 'ro', { template: { ...base, resources: [] } });
      expect(v).toMatchObject({ ok: false, status: 403, error: { code: 'AuthorizationFailed', message: expect.stringContaining("'Microsoft.Resources/deployments/validate/action'") } });
      expect(await validate(clients.dep, 'nope', 'x', { template: { ...base, resources: [] } })).toMatchObject({ status: 404, error: { code: 'ResourceGroupNotFound' } });
    });

    it('an error that would only fail the deployment later does not fail validation (Warning diagnostic)', async () => {
      const template = { ...base, resources: [], outputs: { k: { type: 'object', value: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'missing'), '2023-01-01')]" } } };
      const v = await validate(clients.dep, 'val', 'late', { template });
      if (!v.ok) throw new Error(JSON.stringify(v.error));
      expect(v.result.properties).toMatchObject({ provisioningState: 'Succeeded', diagnostics: [{ level: 'Warning', code: 'ResourceNotFound' }] });
    });

    it('deployments (PUT) after the shared refactoring: 400 InvalidTemplate at once, later failures end Failed, outputs and echoed parameters', async () => {
      const bad = { ...base, parameters: { sku: { type: 'string', allowedValues: ['a'] } }, resources: [] };
      await expect(clients.dep.deployments.beginCreateOrUpdateAndWait('val', 'put1', { properties: { mode: 'Incremental', template: bad, parameters: { sku: { value: 'z' } } } }, fastPoll)).rejects.toMatchObject({ statusCode: 400, code: 'InvalidTemplate' });
      const late = { ...base, resources: [], outputs: { k: { type: 'object', value: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'missing'), '2023-01-01')]" } } };
      await expect(clients.dep.deployments.beginCreateOrUpdateAndWait('val', 'put2', { properties: { mode: 'Incremental', template: late } }, fastPoll)).rejects.toThrow(/DeploymentFailed|ResourceNotFound|long-running operation has failed/);
      expect((await clients.dep.deployments.get('val', 'put2')).properties).toMatchObject({ provisioningState: 'Failed', error: { code: 'DeploymentFailed', details: [{ code: 'ResourceNotFound' }] } });
      const good = { ...base, parameters: { word: { type: 'string' }, secret: { type: 'securestring' } }, resources: [storage('putsa')], outputs: { w: { type: 'string', value: "[toUpper(parameters('word'))]" } } };
      const d = await clients.dep.deployments.beginCreateOrUpdateAndWait('val', 'put3', { properties: { mode: 'Incremental', template: good, parameters: { word: { value: 'hi' }, secret: { value: 's3cret' } } } }, fastPoll);
      expect(d.properties).toMatchObject({ provisioningState: 'Succeeded', outputs: { w: { type: 'String', value: 'HI' } }, parameters: { word: { type: 'String', value: 'hi' }, secret: { type: 'SecureString' } } });
      expect(JSON.stringify(d)).not.toContain('s3cret');
      expect((await clients.rm.resources.getById(`/subscriptions/${p.subscriptionId}/resourceGroups/val/providers/Microsoft.Storage/storageAccounts/putsa`, '2023-01-01')).name).toBe('putsa');
    });

    it('deployments.validate faults answer the injected error', async () => {
      h.setFaults([{ operation: 'deployments.validate', status: 409, errorCode: 'Conflict', count: 1 }]);
      try {
        expect(await validate(clients.dep, 'val', 'f', { template: { ...base, resources: [] } })).toMatchObject({ ok: false, status: 409, error: { code: 'Conflict' } });
        expect((await validate(clients.dep, 'val', 'f', { template: { ...base, resources: [] } })).ok).toBe(true);
      } finally {
        h.setFaults([]);
      }
    });
  });
});
