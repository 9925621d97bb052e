jest.setTimeout(60_000);
import { DynamicsWebApi } from 'dynamics-web-api';
import { start, credential, control } from './helpers';
import type { EmulatorHandle, PublisherInfo, DynamicsEnvironmentInfo } from '../../emulator/src';
import { fetchDispatcherTrusting, trustCaInNewHttpsAgents } from '../../emulator/src/dynamics/clientTls';

type Fetcher = (method: string, path: string, body?: unknown, headers?: Record<string, string>, scope?: string) => Promise<{ status: number; json: any; headers: Headers }>;

/** Raw Web API calls (to see statuses and headers the client library hides). */
async function fetcher(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, env: DynamicsEnvironmentInfo): Promise<Fetcher> {
  const cred = credential(h, c);
  const dispatcher = await fetchDispatcherTrusting(h.caCertPem);
  return async (method, path, body, headers = {}, scope) => {
    const token = (await cred.getToken(scope ?? `${env.instanceUrl}/.default`)).token;
    const res = await fetch(`${env.instanceWebApiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0', ...headers }, body: body === undefined ? undefined : JSON.stringify(body), dispatcher } as RequestInit);
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

const lead = (n: string): Record<string, unknown> => ({
  subject: `Test drive lead ${n}`,
  firstname: 'Ada',
  lastname: `Lovelace${n}`,
  emailaddress1: `ada${n}@contoso.com`,
  telephone1: '+1 555 0100',
  companyname: 'Contoso',
  jobtitle: 'CTO',
  address1_country: 'US',
  leadsourcecode: 8,
  description: 'AzureTestDrive-StartTestDrive|contoso.offer1',
});

describe('emulator: Dataverse leads', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let restoreAgents: () => void;
  let pub: PublisherInfo;
  let env: DynamicsEnvironmentInfo;
  let call: Fetcher;
  let dv: DynamicsWebApi;

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    restoreAgents = trustCaInNewHttpsAgents(h.caCertPem);
    pub = await h.createPublisher();
    env = h.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 1, roles: ['Salesperson'] });
    call = await fetcher(h, pub, env);
    const cred = credential(h, pub);
    dv = new DynamicsWebApi({ serverUrl: `${env.instanceUrl}/`, dataApi: { version: '9.2' }, onTokenRefresh: async () => (await cred.getToken(`${env.instanceUrl}/.default`)).token });
  });
  afterAll(async () => {
    restoreAgents();
    await cleanup();
  });

  it('POST leads creates: 204 + OData-EntityId, or 201 with the row for Prefer: return=representation', async () => {
    const a = await call('POST', 'leads', lead('1'));
    expect(a.status).toBe(204);
    const m = /leads\(([0-9a-f-]{36})\)$/.exec(a.headers.get('odata-entityid') ?? '');
    expect(m).not.toBeNull();
    expect(a.headers.get('odata-entityid')).toBe(`${env.instanceWebApiUrl}leads(${m![1]})`);
    const b = await call('POST', 'leads?$select=leadid,fullname,leadsourcecode', lead('2'), { Prefer: 'return=representation' });
    expect(b.status).toBe(201);
    expect(b.json).toMatchObject({ fullname: 'Ada Lovelace2', leadsourcecode: 8 });
    expect(b.json.leadid).toEqual(expect.any(String));
    expect(b.json.emailaddress1).toBeUndefined();
    // through the client library too
    const id = await dv.create({ collection: 'leads', data: lead('3') });
    expect(id).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    const got = await dv.retrieve({ collection: 'leads', key: id as unknown as string, select: ['firstname', 'lastname', 'emailaddress1'] });
    expect(got).toMatchObject({ leadid: id, firstname: 'Ada', lastname: 'Lovelace3', emailaddress1: 'ada3@contoso.com' });
  });

  it('PATCH leads(new_testdriveleadid=...) upserts by the alternate key; If-Match / If-None-Match * prevent create / update', async () => {
    const key = "leads(new_testdriveleadid='session-42')";
    expect((await call('PATCH', key, lead('4'), { 'If-Match': '*' })).status).toBe(404);
    const created = await call('PATCH', key, lead('4'));
    expect(created.status).toBe(204);
    const id = /leads\(([0-9a-f-]{36})\)$/.exec(created.headers.get('odata-entityid') ?? '')![1];
    const again = await call('PATCH', key, { ...lead('4'), jobtitle: 'CEO' }, { Prefer: 'return=representation' });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ leadid: id, jobtitle: 'CEO', new_testdriveleadid: 'session-42' });
    const dup = await call('PATCH', key, lead('4'), { 'If-None-Match': '*' });
    expect(dup.status).toBe(412);
    expect(dup.json.error.code).toBe('0x80040237');
    // If-Match with a stale etag
    expect((await call('PATCH', key, { jobtitle: 'CFO' }, { 'If-Match': 'W/"1"' })).status).toBe(412);
    // one row only, found by the key
    const byKey = await call('GET', `${key}?$select=jobtitle`);
    expect(byKey.status).toBe(200);
    expect(byKey.json).toMatchObject({ leadid: id, jobtitle: 'CEO' });
    const list = await call('GET', "leads?$filter=new_testdriveleadid eq 'session-42'");
    expect(list.json.value).toHaveLength(1);
    // create with representation through an upsert of a new key (201), with dynamics-web-api
    const rep = await dv.upsert({ collection: 'leads', key: "new_testdriveleadid='session-43'", data: lead('5'), returnRepresentation: true });
    expect(rep).toMatchObject({ new_testdriveleadid: 'session-43', lastname: 'Lovelace5' });
    // POST with an alternate-key value already in use
    const clash = await call('POST', 'leads', { ...lead('6'), new_testdriveleadid: 'session-43' });
    expect(clash.status).toBe(412);
  });

  it('queries with $filter/$select/$top, validates columns, and shows the leads in the control API', async () => {
    const q = await call('GET', "leads?$filter=companyname eq 'Contoso' and leadsourcecode eq 8&$select=emailaddress1&$top=2");
    expect(q.status).toBe(200);
    expect(q.json['@odata.context']).toBe(`${env.instanceWebApiUrl}$metadata#leads(emailaddress1)`);
    expect(q.json.value).toHaveLength(2);
    expect(Object.keys(q.json.value[0]).sort()).toEqual(['@odata.etag', 'emailaddress1', 'leadid']);
    const multi = await dv.retrieveMultiple({ collection: 'leads', filter: "startswith(emailaddress1,'ada')", select: ['emailaddress1'] });
    expect(multi.value.length).toBeGreaterThanOrEqual(5);
    expect((await call('GET', "leads?$filter=nosuch eq 'x'")).status).toBe(400);
    const ordered = await call('GET', "leads?$select=lastname&$orderby=lastname desc&$top=3");
    expect(ordered.json.value.map((l: any) => l.lastname)).toEqual(['Lovelace5', 'Lovelace4', 'Lovelace3']);
    expect((await call('GET', 'leads?$orderby=nosuch')).status).toBe(400);
    const unknownCol = await call('POST', 'leads', { ...lead('7'), nosuchcolumn: 1 });
    expect(unknownCol.status).toBe(400);
    expect(unknownCol.json.error.code).toBe('0x80060888');
    const badOption = await call('POST', 'leads', { ...lead('8'), leadsourcecode: 99 });
    expect(badOption.status).toBe(400);
    expect(badOption.json.error.code).toBe('0x80044331');
    expect((await call('POST', 'leads', { ...lead('9'), firstname: 'x'.repeat(51) })).status).toBe(400);
    expect((await call('GET', 'leads(00000000-0000-0000-0000-000000000000)')).status).toBe(404);
    expect((await call('GET', "leads(emailaddress1='x')")).status).toBe(400);
    const snap = await control(h, 'GET', `/_emulator/dynamics-environments/${env.name}`);
    expect(snap.status).toBe(200);
    expect(snap.body.leads.length).toBe(q.json.value.length + multi.value.length - 2);
    expect(snap.body.leads.find((l: any) => l.new_testdriveleadid === 'session-42')).toMatchObject({ jobtitle: 'CEO', emailaddress1: 'ada4@contoso.com' });
    expect(h.getDynamicsEnvironment(env.name)!.leads).toEqual(snap.body.leads);
  });

  it('applies the same token checks as the other entity sets', async () => {
    expect((await call('GET', 'leads', undefined, {}, 'https://graph.microsoft.com/.default')).status).toBe(401);
    const other = await h.createPublisher();
    const otherCall = await fetcher(h, other, env);
    expect((await otherCall('GET', 'leads')).status).toBe(401); // token of another tenant
    const outsider = await h.createClient({ tenantId: pub.tenantId });
    expect((await (await fetcher(h, outsider, env))('POST', 'leads', lead('x'))).status).toBe(403); // not an application user
  });
});
