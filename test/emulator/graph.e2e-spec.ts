jest.setTimeout(60_000);
import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { credential, control, emulatorPerSuite } from './helpers';
import type { EmulatorHandle } from '../../emulator/src';
import { fetchDispatcherTrusting } from '../../emulator/src/dynamics/clientTls';

/** The real Graph client against the emulator: baseUrl /graph/, customHosts so the auth middleware sends the token. */
async function graphClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, scope = 'https://graph.microsoft.com/.default'): Promise<Client> {
  const authProvider = new TokenCredentialAuthenticationProvider(credential(h, c), { scopes: [scope] });
  const dispatcher = await fetchDispatcherTrusting(h.caCertPem);
  return Client.initWithMiddleware({
    authProvider,
    baseUrl: `${h.url}/graph/`,
    customHosts: new Set(['localhost']),
    fetchOptions: { dispatcher } as never,
  });
}

const strong = 'Tr1al-Passw0rd!';

describe('emulator: Microsoft Graph through @microsoft/microsoft-graph-client', () => {
  let h: EmulatorHandle;
  emulatorPerSuite((started) => (h = started));

  it('creates, gets (by id and UPN, $select), patches and deletes a user; validates like Graph', async () => {
    const pub = await h.createPublisher();
    const g = await graphClient(h, pub);
    const upn = `td-alice@${pub.tenantName}`;
    const created = await g.api('/users').post({
      accountEnabled: true,
      displayName: 'Test Drive Alice',
      mailNickname: 'td-alice',
      userPrincipalName: upn,
      usageLocation: 'US',
      employeeType: 'testdrive',
      passwordProfile: { password: strong, forceChangePasswordNextSignIn: false },
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.userPrincipalName).toBe(upn);
    expect(created.passwordProfile).toBeUndefined();
    expect(created.usageLocation).toBeUndefined(); // not in Graph's default property set

    const byUpn = await g.api(`/users/${upn}`).select('id,usageLocation,accountEnabled,employeeType,assignedLicenses').get();
    expect(byUpn).toMatchObject({ id: created.id, usageLocation: 'US', accountEnabled: true, employeeType: 'testdrive', assignedLicenses: [] });
    expect(byUpn.displayName).toBeUndefined();

    await g.api(`/users/${created.id}`).patch({ accountEnabled: false, department: 'Trials' });
    const after = await g.api(`/users/${created.id}`).select('accountEnabled,department').get();
    expect(after).toMatchObject({ accountEnabled: false, department: 'Trials' });

    // duplicate UPN
    await expect(g.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'td-alice', userPrincipalName: upn, passwordProfile: { password: strong } }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.' });
    // weak password
    await expect(g.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'td-bob', userPrincipalName: `td-bob@${pub.tenantName}`, passwordProfile: { password: 'password' } }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: expect.stringContaining('does not comply with password complexity requirements') });
    // missing passwordProfile
    await expect(g.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'td-bob', userPrincipalName: `td-bob@${pub.tenantName}` }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: expect.stringContaining("'passwordProfile'") });
    // a usageLocation that is two letters but no country
    await expect(g.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'td-bob', userPrincipalName: `td-bob@${pub.tenantName}`, usageLocation: 'XX', passwordProfile: { password: strong } }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: "Invalid value specified for property 'usageLocation' of resource 'User'." });
    // foreign domain
    await expect(g.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'td-bob', userPrincipalName: 'td-bob@fabrikam.com', passwordProfile: { password: strong } }))
      .rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('domain portion of the userPrincipalName') });

    await g.api(`/users/${created.id}`).delete();
    const err = await g.api(`/users/${created.id}`).get().catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
    // Graph's error shape: the client parses error.innerError into requestId/date and keeps `error` as body
    const ge = err as { body: string; requestId: string; date: Date };
    expect(ge.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ge.date.getTime()).not.toBeNaN();
    expect(Object.keys((JSON.parse(ge.body) as { innerError: object }).innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
  });

  it('assigns licenses while units are free, fails like Graph when none are, and frees a unit on removeLicenses', async () => {
    const pub = await h.createPublisher();
    const env = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 2, roles: ['Salesperson'] });
    const g = await graphClient(h, pub);
    const skus = (await g.api('/subscribedSkus').get()).value as Array<Record<string, any>>;
    const sku = skus.find((s) => s.skuPartNumber === env.licenseSku)!;
    expect(sku).toMatchObject({ skuId: env.skuId, capabilityStatus: 'Enabled', appliesTo: 'User', consumedUnits: 0, prepaidUnits: { enabled: 2, suspended: 0, warning: 0 } });

    const ids: string[] = [];
    for (const n of ['u1', 'u2', 'u3']) {
      const u = await g.api('/users').post({ accountEnabled: true, displayName: n, mailNickname: n, userPrincipalName: `${n}@${pub.tenantName}`, usageLocation: 'DE', passwordProfile: { password: strong } });
      ids.push(u.id);
    }
    const noLoc = await g.api('/users').post({ accountEnabled: true, displayName: 'noloc', mailNickname: 'noloc', userPrincipalName: `noloc@${pub.tenantName}`, passwordProfile: { password: strong } });
    await expect(g.api(`/users/${noLoc.id}/assignLicense`).post({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: 'License assignment cannot be done for user with invalid usage location.' });

    await g.api(`/users/${ids[0]}/assignLicense`).post({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] });
    await g.api(`/users/${ids[1]}/assignLicense`).post({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] });
    await expect(g.api(`/users/${ids[2]}/assignLicense`).post({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest', message: expect.stringContaining('does not have any available licenses') });
    await expect(g.api(`/users/${ids[2]}/assignLicense`).post({ addLicenses: [{ skuId: '11111111-1111-1111-1111-111111111111' }], removeLicenses: [] }))
      .rejects.toMatchObject({ statusCode: 400, code: 'Request_BadRequest' });
    expect((await g.api(`/subscribedSkus/${sku.id}`).get()).consumedUnits).toBe(2);

    await g.api(`/users/${ids[0]}/assignLicense`).post({ addLicenses: [], removeLicenses: [sku.skuId] });
    expect((await g.api('/subscribedSkus').get()).value.find((s: any) => s.skuId === sku.skuId).consumedUnits).toBe(1);
    await g.api(`/users/${ids[2]}/assignLicense`).post({ addLicenses: [{ skuId: sku.skuId, disabledPlans: [] }], removeLicenses: [] });
    const u3 = await g.api(`/users/${ids[2]}`).select('assignedLicenses').get();
    expect(u3.assignedLicenses).toEqual([{ skuId: sku.skuId, disabledPlans: [] }]);
    // deleting a licensed user frees its unit
    await g.api(`/users/${ids[1]}`).delete();
    expect((await g.api(`/subscribedSkus/${sku.id}`).get()).consumedUnits).toBe(1);
  });

  it('lists with $filter (startswith, eq, lambda), $select, $top and @odata.nextLink paging', async () => {
    const pub = await h.createPublisher();
    const g = await graphClient(h, pub);
    for (let i = 0; i < 5; i++) {
      await g.api('/users').post({ accountEnabled: true, displayName: `Sweep ${i}`, mailNickname: `tdsweep${i}`, userPrincipalName: `tdsweep${i}@${pub.tenantName}`, companyName: i < 4 ? 'TestDriveMarker' : 'Other', passwordProfile: { password: strong } });
    }
    await g.api('/users').post({ accountEnabled: true, displayName: 'Keep', mailNickname: 'keep', userPrincipalName: `keep@${pub.tenantName}`, companyName: 'TestDriveMarker', passwordProfile: { password: strong } });
    const seen: string[] = [];
    let page = await g.api('/users').filter("startswith(userPrincipalName,'tdsweep') and companyName eq 'TestDriveMarker'").select('id,userPrincipalName,companyName').top(3).get();
    seen.push(...page.value.map((u: any) => u.userPrincipalName));
    expect(page.value[0]).toEqual({ id: expect.any(String), userPrincipalName: expect.any(String), companyName: 'TestDriveMarker' });
    expect(page['@odata.nextLink']).toContain(`${h.url}/graph/v1.0/users?`);
    page = await g.api(page['@odata.nextLink']).get();
    seen.push(...page.value.map((u: any) => u.userPrincipalName));
    expect(page['@odata.nextLink']).toBeUndefined();
    expect(seen.sort()).toEqual([0, 1, 2, 3].map((i) => `tdsweep${i}@${pub.tenantName}`));

    await expect(g.api('/users').filter("nosuchprop eq 'x'").get()).rejects.toMatchObject({ statusCode: 400 });
    await expect(g.api('/users').top(1000).get()).rejects.toMatchObject({ statusCode: 400 });
    const none = await g.api('/users').filter('assignedLicenses/any(x:x/skuId eq 2880026b-2b0c-4251-8656-5d41ff11e3aa)').get();
    expect(none.value).toEqual([]);
  });

  it('refuses tokens for another audience (401 InvalidAuthenticationToken) and apps without permission (403)', async () => {
    const pub = await h.createPublisher();
    const wrong = await graphClient(h, pub, 'https://management.azure.com/.default');
    await expect(wrong.api('/users').get()).rejects.toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.' });
    const weak = await h.createClient({ tenantId: pub.tenantId });
    await expect((await graphClient(h, weak)).api('/users').get()).rejects.toMatchObject({ statusCode: 403, code: 'Authorization_RequestDenied' });
    const reader = await h.createClient({ tenantId: pub.tenantId, roles: ['User.Read.All'] });
    const rg = await graphClient(h, reader);
    expect((await rg.api('/users').get()).value).toEqual([]);
    await expect(rg.api('/users').post({ accountEnabled: true, displayName: 'x', mailNickname: 'x', userPrincipalName: `x@${pub.tenantName}`, passwordProfile: { password: strong } }))
      .rejects.toMatchObject({ statusCode: 403, code: 'Authorization_RequestDenied' });
  });

  it('answers injected 429s with Retry-After, which the client RetryHandler honours', async () => {
    const pub = await h.createPublisher();
    const g = await graphClient(h, pub);
    h.setFaults([{ operation: 'graph.users.create', status: 429, retryAfterSeconds: 0, count: 2 }]);
    const t0 = Date.now();
    const u = await g.api('/users').post({ accountEnabled: true, displayName: 'retry', mailNickname: 'retry', userPrincipalName: `retry@${pub.tenantName}`, passwordProfile: { password: strong } });
    expect(u.id).toBeDefined();
    expect(h.listFaults()[0].applied).toBe(2);
    expect(Date.now() - t0).toBeLessThan(20_000);
    h.setFaults([{ operation: 'graph.assignLicense', status: 429, retryAfterSeconds: 0, count: 10 }]);
    await expect(g.api(`/users/${u.id}/assignLicense`).post({ addLicenses: [], removeLicenses: [] })).rejects.toMatchObject({ statusCode: 429, code: 'TooManyRequests' });
    h.setFaults([]);
  });

  it('control API: settings take dynamicsSyncSeconds', async () => {
    const r = await control(h, 'PUT', '/_emulator/settings', { dynamicsSyncSeconds: 0.5 });
    expect(r).toMatchObject({ status: 200, body: { dynamicsSyncSeconds: 0.5 } });
    expect(h.settings.dynamicsSyncSeconds).toBe(0.5);
    expect((await control(h, 'PUT', '/_emulator/settings', { dynamicsSyncSeconds: -1 })).status).toBe(400);
  });
});
