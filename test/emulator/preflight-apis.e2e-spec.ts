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
});
