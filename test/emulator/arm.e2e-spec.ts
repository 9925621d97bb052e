jest.setTimeout(60_000);
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { start, credential, armClients, control, fastPoll } from './helpers';
import type { EmulatorHandle, PublisherInfo } from '../../emulator/src';

const outputsTemplate = {
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  parameters: {},
  resources: [],
  outputs: { x: { type: 'string', value: 'hello' } },
};

function decodeJwt(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** Records the status codes the SDK saw on the wire (observation only; the SDK is not modified). */
function statusRecorder(): { policy: PipelinePolicy; statuses: number[]; retryAfter: string[] } {
  const statuses: number[] = [];
  const retryAfter: string[] = [];
  return {
    statuses,
    retryAfter,
    policy: {
      name: 'statusRecorder',
      sendRequest: async (req, next) => {
        const res = await next(req);
        statuses.push(res.status);
        const ra = res.headers.get('retry-after');
        if (ra) retryAfter.push(ra);
        return res;
      },
    },
  };
}

describe('emulator: Entra ID + ARM through the real SDKs', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let pub: PublisherInfo;

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    pub = await h.createPublisher();
  });
  afterAll(async () => cleanup());

  it('issues an RS256 v1 access token for ARM with the expected claims', async () => {
    const t = await credential(h, pub).getToken('https://management.azure.com/.default');
    expect(t).toBeTruthy();
    const header = JSON.parse(Buffer.from(t.token.split('.')[0], 'base64url').toString('utf8'));
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(typeof header.kid).toBe('string');
    const c = decodeJwt(t.token);
    expect(c).toMatchObject({ aud: 'https://management.azure.com/', iss: `https://sts.windows.net/${pub.tenantId}/`, tid: pub.tenantId, oid: pub.principalId, appid: pub.clientId, azp: pub.clientId, ver: '1.0' });
    expect(c.exp - c.iat).toBe(3600);
    expect(t.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('puts app roles of a control-API client into the roles claim', async () => {
    const client = await h.createClient({ roles: ['TestDrive.Admin'] });
    const t = await credential(h, client).getToken('api://test-drive-orchestrator/.default');
    expect(decodeJwt(t.token)).toMatchObject({ roles: ['TestDrive.Admin'], aud: 'api://test-drive-orchestrator', tid: h.serviceTenantId });
  });

  it('refuses a wrong client secret with AADSTS7000215', async () => {
    const cred = credential(h, { ...pub, clientSecret: 'wrong-secret' });
    // identity 4.13 wraps MSAL's ServerError (invalid_client) as AuthenticationRequiredError; the AADSTS text is kept.
    await expect(cred.getToken('https://management.azure.com/.default')).rejects.toMatchObject({
      name: expect.stringMatching(/^Authentication(Required)?Error$/),
      message: expect.stringContaining('AADSTS7000215'),
    });
  });

  it('refuses an unknown client (AADSTS700016) and an unknown tenant (AADSTS90002)', async () => {
    await expect(credential(h, { ...pub, clientId: '00000000-0000-0000-0000-000000000001' }).getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS700016/);
    // Unknown tenant: the OpenID metadata request gets 400 AADSTS90002, which MSAL reports as endpoints_resolution_error.
    await expect(credential(h, { ...pub, tenantId: '00000000-0000-0000-0000-000000000002' }).getToken('https://management.azure.com/.default')).rejects.toMatchObject({
      name: 'CredentialUnavailableError',
      message: expect.stringContaining('endpoints_resolution_error'),
    });
  });

  it('creates, reads, lists by tag, updates and deletes resource groups', async () => {
    const { rm } = armClients(h, pub, pub.subscriptionId);
    let status = 0;
    const created = await rm.resourceGroups.createOrUpdate('CloudTry_abc', { location: 'West Europe', tags: { offer: 'lab1', session: 's1' } }, { onResponse: (r) => (status = r.status) });
    expect(status).toBe(201);
    expect(created).toMatchObject({ name: 'CloudTry_abc', location: 'westeurope', type: 'Microsoft.Resources/resourceGroups', properties: { provisioningState: 'Succeeded' } });
    await rm.resourceGroups.createOrUpdate('cloudtry_ABC', { location: 'westeurope', tags: { offer: 'lab1', session: 's1' } }, { onResponse: (r) => (status = r.status) });
    expect(status).toBe(200); // names are case-insensitive
    await rm.resourceGroups.createOrUpdate('other', { location: 'westeurope', tags: { offer: 'lab2' } });
    expect((await rm.resourceGroups.get('cloudtry_abc')).name).toBe('CloudTry_abc');
    expect((await rm.resourceGroups.checkExistence('CloudTry_abc')).body).toBe(true);
    expect((await rm.resourceGroups.checkExistence('missing')).body).toBe(false);

    const byTag: string[] = [];
    for await (const g of rm.resourceGroups.list({ filter: "tagName eq 'offer' and tagValue eq 'lab1'" })) byTag.push(g.name!);
    expect(byTag).toEqual(['CloudTry_abc']);
    const byName: string[] = [];
    for await (const g of rm.resourceGroups.list({ filter: "tagName eq 'offer'" })) byName.push(g.name!);
    expect(byName.sort()).toEqual(['CloudTry_abc', 'other']);
    const paged: string[] = [];
    for await (const g of rm.resourceGroups.list({ top: 1 })) paged.push(g.name!); // follows nextLink
    expect(paged.length).toBe(2);

    const updated = await rm.resourceGroups.update('CloudTry_abc', { tags: { offer: 'lab1', state: 'assigned' } });
    expect(updated.tags).toEqual({ offer: 'lab1', state: 'assigned' });

    await rm.resourceGroups.beginDeleteAndWait('CloudTry_abc', fastPoll);
    await expect(rm.resourceGroups.get('CloudTry_abc')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
    // ARM answers 404 ResourceGroupNotFound to DELETE of a missing group (callers treat it as done).
    await expect(rm.resourceGroups.beginDeleteAndWait('CloudTry_abc', fastPoll)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
    await rm.resourceGroups.beginDeleteAndWait('other', fastPoll);
  });

  it('runs a deployment to completion and returns its outputs', async () => {
    const { rm, dep } = armClients(h, pub, pub.subscriptionId);
    await rm.resourceGroups.createOrUpdate('rg-deploy', { location: 'eastus' });
    const started = Date.now();
    const result = await dep.deployments.createOrUpdate('rg-deploy', 'main', { properties: { mode: 'Incremental', template: outputsTemplate, parameters: {} } }, fastPoll);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(result.properties?.provisioningState).toBe('Succeeded');
    expect((result.properties?.outputs).x.value).toBe('hello');
    const got = await dep.deployments.get('rg-deploy', 'main');
    expect((got.properties?.outputs).x.value).toBe('hello');
    const names: string[] = [];
    for await (const d of dep.deployments.listByResourceGroup('rg-deploy')) names.push(d.name!);
    expect(names).toEqual(['main']);
    const snap = h.getSubscription(pub.subscriptionId) as any;
    expect(snap.resourceGroups.find((g: any) => g.name === 'rg-deploy').deployments[0]).toMatchObject({ name: 'main', provisioningState: 'Succeeded' });
  });

  it('answers 409 DeploymentActive for a second PUT while one runs, and deleting the RG cancels it', async () => {
    const { rm, dep } = armClients(h, pub, pub.subscriptionId);
    h.settings.deploymentSeconds = 5;
    try {
      await rm.resourceGroups.createOrUpdate('rg-active', { location: 'eastus' });
      const poller = dep.deployments.createOrUpdate('rg-active', 'd', { properties: { mode: 'Incremental', template: outputsTemplate } }, fastPoll);
      await poller.submitted();
      await expect(dep.deployments.createOrUpdate('rg-active', 'd', { properties: { mode: 'Incremental', template: outputsTemplate } })).rejects.toMatchObject({ statusCode: 409, code: 'DeploymentActive' });
      const pollDone = poller.then(() => 'done', (e: Error) => e.message);
      await rm.resourceGroups.beginDeleteAndWait('rg-active', fastPoll);
      expect(await pollDone).not.toBe('done'); // the deployment ended as Canceled (or vanished with its group)
    } finally {
      h.settings.deploymentSeconds = 0.2;
    }
  });

  it('reports a failed deployment (fault deployments.execute): the SDK throws and GET shows properties.error', async () => {
    const { rm, dep } = armClients(h, pub, pub.subscriptionId);
    await rm.resourceGroups.createOrUpdate('rg-fail', { location: 'eastus' });
    const r = await control(h, 'PUT', '/_emulator/faults', { rules: [{ operation: 'deployments.execute', failureRate: 1, errorCode: 'SkuNotAvailable' }] });
    expect(r.status).toBe(200);
    try {
      await expect(dep.deployments.createOrUpdate('rg-fail', 'bad', { properties: { mode: 'Incremental', template: outputsTemplate } }, fastPoll)).rejects.toThrow(/DeploymentFailed|failed/i);
      const got = await dep.deployments.get('rg-fail', 'bad');
      expect(got.properties?.provisioningState).toBe('Failed');
      expect(got.properties?.error).toMatchObject({ code: 'DeploymentFailed', details: [{ code: 'SkuNotAvailable' }] });
    } finally {
      await control(h, 'DELETE', '/_emulator/faults');
    }
  });

  it('refuses an invalid deployment synchronously with 400 and a missing RG with 404', async () => {
    const { dep } = armClients(h, pub, pub.subscriptionId);
    await expect(dep.deployments.createOrUpdate('no-such-rg', 'x', { properties: { mode: 'Incremental', template: outputsTemplate } })).rejects.toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });

  it('has the SDK retry an injected 429 with Retry-After (fault count 1)', async () => {
    const rec = statusRecorder();
    const { rm } = armClients(h, pub, pub.subscriptionId);
    rm.pipeline.addPolicy(rec.policy, { phase: 'Retry', afterPhase: undefined } as any);
    await rm.resourceGroups.createOrUpdate('rg-429', { location: 'eastus' });
    h.setFaults([{ operation: 'resourceGroups.get', status: 429, retryAfterSeconds: 1, count: 1 }]);
    try {
      const started = Date.now();
      const g = await rm.resourceGroups.get('rg-429');
      expect(g.name).toBe('rg-429');
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(h.listFaults()[0].applied).toBe(1);
      expect(rec.statuses.slice(-2)).toEqual([429, 200]);
      expect(rec.retryAfter).toContain('1');
    } finally {
      h.setFaults([]);
    }
  });

  it('refuses a principal without a role on the subscription (403 AuthorizationFailed) and a foreign tenant (401)', async () => {
    // A second publisher in the same tenant: its own subscription, no role on the first one.
    const other = await h.createPublisher({ tenantId: pub.tenantId });
    const { rm } = armClients(h, other, pub.subscriptionId);
    await expect(rm.resourceGroups.createOrUpdate('intruder', { location: 'eastus' })).rejects.toMatchObject({
      statusCode: 403,
      code: 'AuthorizationFailed',
      message: expect.stringContaining(`The client '${other.principalId}' with object id '${other.principalId}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourcegroups/write'`),
    });
    const foreign = await h.createPublisher();
    const { rm: rm2 } = armClients(h, foreign, pub.subscriptionId);
    await expect(rm2.resourceGroups.get('x')).rejects.toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationTokenTenant' });
    const { rm: rm3 } = armClients(h, pub, '11111111-2222-3333-4444-555555555555');
    await expect(rm3.resourceGroups.get('x')).rejects.toMatchObject({ statusCode: 404, code: 'SubscriptionNotFound' });
  });

  it('reports x-ms-ratelimit-remaining-* and x-ms-request-id headers', async () => {
    const { rm } = armClients(h, pub, pub.subscriptionId);
    let headers: Record<string, string> = {};
    await rm.resourceGroups.createOrUpdate('rg-headers', { location: 'eastus' }, { onResponse: (r) => (headers = r.headers.toJSON()) });
    expect(Number(headers['x-ms-ratelimit-remaining-subscription-writes'])).toBeGreaterThan(0);
    expect(headers['x-ms-request-id']).toBeTruthy();
    expect(headers['x-ms-correlation-request-id']).toBeTruthy();
    await rm.resourceGroups.get('rg-headers', { onResponse: (r) => (headers = r.headers.toJSON()) });
    expect(Number(headers['x-ms-ratelimit-remaining-subscription-reads'])).toBeGreaterThan(200);
  });

  it('defaults to the 980 resource groups per subscription limit', () => {
    expect(h.limits.resourceGroupsPerSubscription).toBe(980);
  });
});

describe('emulator: limits', () => {
  it('refuses the resource group above the per-subscription limit with ResourceGroupQuotaExceeded', async () => {
    const { h, cleanup } = await start({ limits: { resourceGroupsPerSubscription: 3 } });
    try {
      const pub = await h.createPublisher();
      const { rm } = armClients(h, pub, pub.subscriptionId);
      for (let i = 0; i < 3; i++) await rm.resourceGroups.createOrUpdate(`rg${i}`, { location: 'eastus' });
      await expect(rm.resourceGroups.createOrUpdate('rg3', { location: 'eastus' })).rejects.toMatchObject({ statusCode: 400, code: 'ResourceGroupQuotaExceeded' });
      await rm.resourceGroups.beginDeleteAndWait('rg0', fastPoll);
      await rm.resourceGroups.createOrUpdate('rg3', { location: 'eastus' });
    } finally {
      await cleanup();
    }
  });

  it('throttles reads with a token bucket: 429 + Retry-After, retried by the SDK', async () => {
    const { h, cleanup } = await start({ limits: { throttling: { reads: { bucket: 2, perSecond: 1 } } } });
    try {
      const pub = await h.createPublisher();
      const rec = statusRecorder();
      const { rm } = armClients(h, pub, pub.subscriptionId);
      rm.pipeline.addPolicy(rec.policy, { phase: 'Retry' } as any);
      await rm.resourceGroups.createOrUpdate('rg', { location: 'eastus' });
      for (let i = 0; i < 3; i++) await rm.resourceGroups.get('rg');
      expect(rec.statuses).toContain(429);
      expect(rec.statuses[rec.statuses.length - 1]).toBe(200);
    } finally {
      await cleanup();
    }
  });
});
