jest.setTimeout(60_000);
/**
 * The APIs an ARM publish preflight calls (issue 13), through the real SDK clients against the emulator:
 * Microsoft Graph applications (client secret expiry), Azure RBAC role assignments / definitions, resource
 * providers, Compute usages and deployment validation.
 */
import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { start, credential, control } from './helpers';
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
});
