jest.setTimeout(90_000);
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamicsWebApi } from 'dynamics-web-api';
import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { start, credential, control } from './helpers';
import type { EmulatorHandle, PublisherInfo, DynamicsEnvironmentInfo } from '../../emulator/src';
import { fetchDispatcherTrusting, trustCaInNewHttpsAgents } from '../../emulator/src/dynamics/clientTls';

const strong = 'Tr1al-Passw0rd!';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function graphClient(h: EmulatorHandle, c: PublisherInfo): Promise<Client> {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential(h, c), { scopes: ['https://graph.microsoft.com/.default'] }),
    baseUrl: `${h.url}/graph/`,
    customHosts: new Set(['localhost']),
    fetchOptions: { dispatcher: await fetchDispatcherTrusting(h.caCertPem) } as never,
  });
}

/** dynamics-web-api against an environment; `scope` defaults to the environment's resource. */
function webApi(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, env: DynamicsEnvironmentInfo, opts: { scope?: string; bc?: boolean } = {}): DynamicsWebApi {
  const cred = credential(h, c);
  return new DynamicsWebApi({
    serverUrl: `${env.instanceUrl}/`, // trailing slash matters: the library resolves "api/data/v9.2" relative to it
    dataApi: opts.bc ? { path: 'microsoft/automation', version: '2.0' } : { version: '9.2' },
    onTokenRefresh: async () => (await cred.getToken(opts.scope ?? `${env.instanceUrl}/.default`)).token,
  });
}

/** Creates a licensed user through Graph; returns its object id and UPN. */
async function licensedUser(g: Client, pub: PublisherInfo, env: DynamicsEnvironmentInfo, alias: string): Promise<{ id: string; upn: string }> {
  const upn = `${alias}@${pub.tenantName}`;
  const u = await g.api('/users').post({ accountEnabled: true, displayName: `Trial ${alias}`, mailNickname: alias, userPrincipalName: upn, usageLocation: 'US', passwordProfile: { password: strong, forceChangePasswordNextSignIn: false } });
  await g.api(`/users/${u.id}/assignLicense`).post({ addLicenses: [{ skuId: env.skuId, disabledPlans: [] }], removeLicenses: [] });
  return { id: u.id, upn };
}

/**
 * Plain fetch against an F&O / BC API root (there is no official Node client for them; dynamics-web-api
 * lower-cases collection names, which breaks BC's camelCase entity sets such as permissionSets).
 */
async function odataFetcher(h: EmulatorHandle, c: PublisherInfo, env: DynamicsEnvironmentInfo): Promise<(method: string, path: string, body?: unknown, scope?: string) => Promise<{ status: number; json: any; headers: Headers }>> {
  const cred = credential(h, c);
  const dispatcher = await fetchDispatcherTrusting(h.caCertPem);
  return async (method, path, body, scope) => {
    const token = (await cred.getToken(scope ?? `${env.instanceUrl}/.default`)).token;
    const res = await fetch(`${env.instanceWebApiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), dispatcher } as RequestInit);
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(100);
  }
}

describe('emulator: Dynamics 365 environments through dynamics-web-api', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let restoreAgents: () => void;

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    restoreAgents = trustCaInNewHttpsAgents(h.caCertPem); // dynamics-web-api has no TLS option
  });
  afterAll(async () => {
    restoreAgents();
    await cleanup();
  });

  it('Customer Engagement: systemuser syncs after the delay, role by name in the BU, associate/disassociate, leaves with the licence', async () => {
    const pub = await h.createPublisher();
    const created = await control(h, 'POST', '/_emulator/dynamics-environments', { tenantId: pub.tenantId, product: 'customer-engagement', licenses: 3, roles: ['Salesperson', 'Sales Manager'], syncSeconds: 1 });
    expect(created.status).toBe(201);
    const env = created.body as DynamicsEnvironmentInfo;
    expect(env).toMatchObject({ product: 'customer-engagement', instanceUrl: `${h.url}/dynamics/${env.name}`, instanceWebApiUrl: `${h.url}/dynamics/${env.name}/api/data/v9.2/`, licenseSku: 'DYN365_ENTERPRISE_PLAN1', tenantName: pub.tenantName });
    const g = await graphClient(h, pub);
    const api = webApi(h, pub, env);

    const who = await api.callFunction({ name: 'WhoAmI' });
    expect(who).toMatchObject({ OrganizationId: expect.stringMatching(/^[0-9a-f-]{36}$/), BusinessUnitId: expect.any(String), UserId: expect.any(String) });

    const t0 = Date.now();
    const user = await licensedUser(g, pub, env, 'td-carol');
    const byOid = async (): Promise<any[]> => (await api.retrieveMultiple({ collection: 'systemusers', filter: `azureactivedirectoryobjectid eq ${user.id}`, select: ['systemuserid', '_businessunitid_value', 'domainname', 'isdisabled'] })).value;
    expect(await byOid()).toEqual([]); // not yet synced
    const su = await until(async () => (await byOid())[0]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(su).toMatchObject({ domainname: user.upn, isdisabled: false, _businessunitid_value: expect.any(String), systemuserid: expect.any(String) });
    expect((await api.retrieveMultiple({ collection: 'systemusers', filter: `internalemailaddress eq '${user.upn}'` })).value).toHaveLength(1);

    const roles = (await api.retrieveMultiple({ collection: 'roles', filter: `name eq 'Salesperson' and _businessunitid_value eq ${su._businessunitid_value}`, select: ['roleid', 'name'] })).value;
    expect(roles).toEqual([expect.objectContaining({ name: 'Salesperson', roleid: expect.any(String) })]);
    const roleId = roles[0].roleid as string;

    await api.associate({ collection: 'systemusers', primaryKey: su.systemuserid, relationshipName: 'systemuserroles_association', relatedCollection: 'roles', relatedKey: roleId });
    const held = await api.retrieveMultiple({ collection: `systemusers(${su.systemuserid})/systemuserroles_association`, select: ['name'] });
    expect(held.value.map((r: any) => r.name)).toEqual(['Salesperson']);
    await expect(api.associate({ collection: 'systemusers', primaryKey: su.systemuserid, relationshipName: 'systemuserroles_association', relatedCollection: 'roles', relatedKey: roleId }))
      .rejects.toMatchObject({ status: 400, code: '0x80040237' });
    let view = (await control(h, 'GET', `/_emulator/dynamics-environments/${env.name}`)).body;
    expect(view.licenses).toMatchObject({ total: 3, inUse: 1 });
    expect(view.users).toEqual([expect.objectContaining({ upn: user.upn, licensed: true, inEnvironment: true, roles: ['Salesperson'] })]);
    expect(view.roleAssignments).toEqual([expect.objectContaining({ upn: user.upn, role: 'Salesperson' })]);

    await api.disassociate({ collection: 'systemusers', primaryKey: su.systemuserid, relationshipName: 'systemuserroles_association', relatedKey: roleId });
    expect((await api.retrieveMultiple({ collection: `systemusers(${su.systemuserid})/systemuserroles_association` })).value).toEqual([]);

    // not found errors are Dataverse-shaped
    await expect(api.retrieve({ collection: 'systemusers', key: '00000000-0000-0000-0000-000000000001' })).rejects.toMatchObject({ status: 404, code: '0x80040217' });

    // the licence goes -> the systemuser goes
    await g.api(`/users/${user.id}/assignLicense`).post({ addLicenses: [], removeLicenses: [env.skuId] });
    expect(await byOid()).toEqual([]);
    view = h.getDynamicsEnvironment(env.name)!;
    expect(view).toMatchObject({ licenses: { inUse: 0 }, users: [expect.objectContaining({ licensed: false, inEnvironment: false })] });
  });

  it('Customer Engagement: wrong audience -> 401, no application user -> 403, injected 429 carries Retry-After', async () => {
    const pub = await h.createPublisher();
    const env = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 1, roles: ['Salesperson'], syncSeconds: 0 });
    await expect(webApi(h, pub, env, { scope: 'https://graph.microsoft.com/.default' }).retrieveMultiple({ collection: 'roles' })).rejects.toMatchObject({ status: 401 });
    // a token for another environment's resource is refused too
    const other = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 1, roles: [] });
    await expect(webApi(h, pub, env, { scope: `${other.instanceUrl}/.default` }).retrieveMultiple({ collection: 'roles' })).rejects.toMatchObject({ status: 401 });
    // another tenant's app
    const stranger = await h.createPublisher();
    await expect(webApi(h, stranger, env).retrieveMultiple({ collection: 'roles' })).rejects.toMatchObject({ status: 401 });

    const noAppUser = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 1, roles: ['Salesperson'], applicationUser: false });
    await expect(webApi(h, pub, noAppUser).retrieveMultiple({ collection: 'roles' })).rejects.toMatchObject({ status: 403, code: '0x80072560' });

    const api = webApi(h, pub, env);
    h.setFaults([{ operation: 'dataverse.roles.list', status: 429, retryAfterSeconds: 1, count: 1 }]);
    const err = (await api.retrieveMultiple({ collection: 'roles' }).catch((e: unknown) => e)) as { status: number; code: string; headers: Record<string, string> };
    expect(err).toMatchObject({ status: 429, code: '0x80072322' });
    expect(err.headers['retry-after']).toBe('1');
    await sleep(Number(err.headers['retry-after']) * 1000);
    expect((await api.retrieveMultiple({ collection: 'roles' })).value).toHaveLength(1);
    h.setFaults([]);

    // degraded offer: operator deletes the role
    const patched = await control(h, 'PATCH', `/_emulator/dynamics-environments/${env.name}`, { deleteRoles: ['Salesperson'], licenses: 0 });
    expect(patched).toMatchObject({ status: 200, body: { roles: [], licenses: { total: 0 } } });
    expect((await api.retrieveMultiple({ collection: 'roles', filter: "name eq 'Salesperson'" })).value).toEqual([]);
  });

  it('Finance and Operations: SystemUsers by email/UserID, SecurityUserRoleAssociations + legal-entity scoping (plain fetch)', async () => {
    const pub = await h.createPublisher();
    const env = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'operations', licenses: 2, roles: ['SYSTEMUSER', 'LEDGERACCOUNTANT'], syncSeconds: 0.3, legalEntity: 'usmf' });
    expect(env).toMatchObject({ instanceWebApiUrl: `${env.instanceUrl}/data/`, legalEntity: 'USMF', licenseSku: 'DYN365_ENTERPRISE_P1_IW' });
    const g = await graphClient(h, pub);
    const fno = await odataFetcher(h, pub, env);
    const user = await licensedUser(g, pub, env, 'td-dave');
    const found = await until(async () => (await fno('GET', `SystemUsers?$filter=Email eq '${user.upn}'`)).json.value[0]);
    expect(found).toMatchObject({ UserID: 'td-dave', Alias: user.upn, Enabled: true });
    expect((await fno('GET', "SystemUsers?$filter=UserID eq 'td-dave'")).json.value).toHaveLength(1);
    expect((await fno('GET', "SecurityRoles?$filter=SecurityRoleIdentifier eq 'LEDGERACCOUNTANT'")).json.value).toHaveLength(1);

    const post = await fno('POST', 'SecurityUserRoleAssociations', { UserId: 'td-dave', SecurityRoleIdentifier: 'LEDGERACCOUNTANT', AssignmentStatus: 'Enabled', AssignmentMode: 'Manual' });
    expect(post).toMatchObject({ status: 201, json: { UserId: 'td-dave', SecurityRoleIdentifier: 'LEDGERACCOUNTANT', AssignmentStatus: 'Enabled' } });
    expect((await fno('POST', 'SecurityUserRoleOrganizations', { UserId: 'td-dave', SecurityRoleIdentifier: 'LEDGERACCOUNTANT', OrganizationId: 'USMF' })).status).toBe(201);
    expect((await fno('POST', 'SecurityUserRoleOrganizations', { UserId: 'td-dave', SecurityRoleIdentifier: 'LEDGERACCOUNTANT', OrganizationId: 'DEMF' })).status).toBe(400);
    expect((await fno('POST', 'SecurityUserRoleAssociations', { UserId: 'td-dave', SecurityRoleIdentifier: 'NOPE' })).status).toBe(400);
    let view = h.getDynamicsEnvironment(env.name)!;
    expect(view.roleAssignments).toEqual([expect.objectContaining({ role: 'LEDGERACCOUNTANT', organizations: ['USMF'] })]);

    h.setFaults([{ operation: 'fno.SecurityUserRoleAssociations.delete', status: 429, retryAfterSeconds: 2, count: 1 }]);
    const throttled = await fno('DELETE', "SecurityUserRoleAssociations(UserId='td-dave',SecurityRoleIdentifier='LEDGERACCOUNTANT')");
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('2');
    expect((await fno('DELETE', "SecurityUserRoleAssociations(UserId='td-dave',SecurityRoleIdentifier='LEDGERACCOUNTANT')")).status).toBe(204);
    view = h.getDynamicsEnvironment(env.name)!;
    expect(view.roleAssignments).toEqual([]);
    // wrong audience
    expect((await fno('GET', 'SystemUsers', undefined, 'https://graph.microsoft.com/.default')).status).toBe(401);
  });

  it('Business Central: users sync, permission sets, userPermissions create/delete (automation API over fetch)', async () => {
    const pub = await h.createPublisher();
    const env = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'business-central', licenses: 1, roles: ['D365 BUS FULL ACCESS', 'D365 READ'], syncSeconds: 0 });
    expect(env.instanceWebApiUrl).toBe(`${env.instanceUrl}/api/microsoft/automation/v2.0/`);
    const g = await graphClient(h, pub);
    const bc = await odataFetcher(h, pub, env);
    const companies = (await bc('GET', 'companies')).json.value;
    expect(companies).toEqual([expect.objectContaining({ id: env.companyId, name: env.companyName })]);
    const cid = companies[0].id as string;
    const user = await licensedUser(g, pub, env, 'td-erin');
    const bcUser = await until(async () => (await bc('GET', `companies(${cid})/users?$filter=${encodeURIComponent(`contactEmail eq '${user.upn}'`)}`)).json.value[0]);
    expect(bcUser).toMatchObject({ userName: 'TD-ERIN', state: 'Enabled', userSecurityId: expect.any(String) });
    expect((await bc('GET', `companies(${cid})/permissionSets?$filter=${encodeURIComponent("id eq 'D365 READ'")}`)).json.value).toHaveLength(1);

    const permsPath = `companies(${cid})/users(${bcUser.userSecurityId})/userPermissions`;
    const created = await bc('POST', permsPath, { roleId: 'D365 READ', company: env.companyName });
    expect(created).toMatchObject({ status: 201, json: { roleId: 'D365 READ', company: env.companyName, userSecurityId: bcUser.userSecurityId, id: expect.any(String) } });
    expect((await bc('POST', permsPath, { roleId: 'D365 READ', company: env.companyName })).json.error.code).toBe('Internal_EntityWithSameKeyExists');
    expect((await bc('POST', permsPath, { roleId: 'NO SUCH SET' })).json.error.code).toBe('Internal_RecordNotFound');
    expect((await bc('GET', permsPath)).json.value).toEqual([expect.objectContaining({ id: created.json.id, roleId: 'D365 READ' })]);
    expect(h.getDynamicsEnvironment(env.name)!.roleAssignments).toEqual([expect.objectContaining({ upn: user.upn, role: 'D365 READ' })]);

    h.setFaults([{ operation: 'bc.userPermissions.delete', status: 429, retryAfterSeconds: 1, count: 1 }]);
    const throttled = await bc('DELETE', `${permsPath}(${created.json.id})`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect((await bc('DELETE', `${permsPath}(${created.json.id})`)).status).toBe(204);
    expect((await bc('GET', permsPath)).json.value).toEqual([]);

    // user deleted in Entra -> gone from BC too
    await g.api(`/users/${user.id}`).delete();
    expect((await bc('GET', `companies(${cid})/users`)).json.value).toEqual([]);
    // unregistered app (another tenant) -> 401 Authentication_InvalidCredentials
    const stranger = await h.createPublisher();
    expect((await (await odataFetcher(h, stranger, env))('GET', 'companies')).json.error.code).toBe('Authentication_InvalidCredentials');
  });

  it('persists users, licences and environments in state.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'azemu-dyn-'));
    try {
      const first = await start({ dataDir: dir, persist: true });
      const pub = await first.h.createPublisher();
      const env = first.h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 1, roles: ['Salesperson'], syncSeconds: 0 });
      await licensedUser(await graphClient(first.h, pub), pub, env, 'td-persist');
      await first.cleanup();
      expect(readFileSync(join(dir, 'state.json'), 'utf8')).not.toContain(strong);
      const second = await start({ dataDir: dir, persist: true });
      const view = second.h.getDynamicsEnvironment(env.name)!;
      expect(view).toMatchObject({ licenses: { inUse: 1 }, users: [expect.objectContaining({ upn: `td-persist@${pub.tenantName}`, inEnvironment: true })] });
      await second.cleanup();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('control API validates input and lists environments', async () => {
    const pub = await h.createPublisher();
    expect((await control(h, 'POST', '/_emulator/dynamics-environments', { tenantId: pub.tenantId, product: 'nav', licenses: 1, roles: [] })).status).toBe(400);
    expect((await control(h, 'POST', '/_emulator/dynamics-environments', { tenantId: '00000000-0000-0000-0000-000000000000', product: 'operations', licenses: 1, roles: [] })).status).toBe(404);
    const env = (await control(h, 'POST', '/_emulator/dynamics-environments', { tenantId: pub.tenantId, product: 'operations', licenses: 1, roles: ['SYSTEMUSER'], name: 'fo-trial' })).body;
    expect(env.name).toBe('fo-trial');
    expect((await control(h, 'POST', '/_emulator/dynamics-environments', { tenantId: pub.tenantId, product: 'operations', licenses: 1, roles: [], name: 'fo-trial' })).status).toBe(409);
    const list = (await control(h, 'GET', '/_emulator/dynamics-environments')).body.value;
    expect(list.map((e: any) => e.name)).toContain('fo-trial');
    expect((await control(h, 'DELETE', '/_emulator/dynamics-environments/fo-trial')).status).toBe(204);
    expect((await control(h, 'GET', '/_emulator/dynamics-environments/fo-trial')).status).toBe(404);
  });
});
