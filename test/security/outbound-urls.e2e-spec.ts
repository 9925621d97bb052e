jest.setTimeout(180_000);
import type * as DnsModule from 'node:dns';
import { DataSource } from 'typeorm';
import type { DynamicsEnvironmentInfo, PublisherInfo } from '../../emulator/src';
import { OfferEntity } from '../../src/offers/offer.entity';
import { definition } from '../emulator/logic-helpers';
import { drive, offerBody, publisherWithEnvironment, sessionState } from '../dynamics/helpers';
import { clients, Publisher, sessionWhen } from '../logic-app/helpers';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };

/**
 * Test DNS: names under `.crm.dynamics.com` / `.logic.azure.com` answer what `answers` says (the real
 * ones are unreachable from tests anyway); every other name goes to the system resolver.
 */
const answers = new Map<string, string[]>();
// The module object itself (an `import * as` namespace has read-only bindings): the service reads dns.lookup at call time.
const dns = require('node:dns') as typeof DnsModule;
const realPromisesLookup = dns.promises.lookup.bind(dns.promises);
const realLookup = dns.lookup.bind(dns);
function fakeDns(): void {
  jest.spyOn(dns.promises, 'lookup').mockImplementation((async (host: string, opts?: unknown) => {
    const a = answers.get(host.toLowerCase());
    if (!a) return (realPromisesLookup as (h: string, o?: unknown) => Promise<unknown>)(host, opts);
    if (!a.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as never);
  jest.spyOn(dns, 'lookup').mockImplementation(((host: string, opts: unknown, cb: (e: Error | null, a: unknown, f?: number) => void) => {
    const a = answers.get(String(host).toLowerCase());
    if (!a) return (realLookup as (...x: unknown[]) => void)(host, opts, cb);
    const list = a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    process.nextTick(() => ((opts as { all?: boolean })?.all ? cb(null, list) : cb(null, list[0].address, list[0].family)));
  }) as never);
}

/**
 * Issue 8, hole 5 (reproduced): Dynamics 365 instance URLs such as https://169.254.169.254,
 * https://127.0.0.1:8643, https://10.0.0.1 and decimal IPs were accepted, and the service would call
 * them with a bearer token at publish. Now: refused at save (400 ValidationFailed naming the field and
 * the rule), DNS checked at save, and checked again when the service calls (DNS rebinding, URLs stored
 * before the rule): OutboundUrlRefused, never a 500.
 */
describe('outbound URLs from publisher configuration', () => {
  let azure: LocalAzure;
  let svc: TestService;
  let dyn: { publisher: PublisherInfo; env: DynamicsEnvironmentInfo };

  beforeAll(async () => {
    fakeDns();
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { env: { LOGIC_APP_MAX_ATTEMPTS: '2' } });
    dyn = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'] });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await svc?.close();
    await azure?.stop();
  });

  const dynamicsOffer = (instanceUrl: string, webApi = `${instanceUrl.replace(/\/+$/, '')}/api/data/v9.2`) => offerBody(dyn.publisher, dyn.env, { instanceUrl, instanceWebApiUrl: webApi });

  describe('Dynamics 365 instance URLs at save (PUT /offers/{id})', () => {
    it.each([
      ['https://169.254.169.254', 'not an IP address'],
      ['https://127.0.0.1:8643', 'not an IP address'],
      ['https://10.0.0.1', 'not an IP address'],
      ['https://2852039166', 'not an IP address'],
      ['https://0x7f.1', 'not an IP address'],
      ['https://0177.0.0.1', 'not an IP address'],
      ['https://[::1]', 'not an IP address'],
      ['https://[::ffff:a9fe:a9fe]', 'not an IP address'],
      ['https://localhost', 'localhost'],
      ['https://contoso.crm.dynamics.com.attacker.example', 'Dynamics 365 host'],
      ['https://metadata.google.internal', 'Dynamics 365 host'],
      ['https://contoso.crm.dynamics.com:8443', 'port other than 443'],
      ['https://user:secret@contoso.crm.dynamics.com', 'credentials'],
    ])('refuses %s (400 naming testDrive.instanceUrl: %s)', async (url, why) => {
      const r = await svc.http.put('/api/v1/offers/ssrf-dyn').send(dynamicsOffer(url));
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('ValidationFailed');
      expect(r.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ target: 'testDrive.instanceUrl', message: expect.stringContaining(why) })]));
      await svc.http.get('/api/v1/offers/ssrf-dyn').expect(404);
    });

    it('refuses a Dynamics host whose DNS answer includes a private address, naming both fields and the rule', async () => {
      answers.set('internal.crm.dynamics.com', ['20.42.65.92', '10.0.0.5']);
      const r = await svc.http.put('/api/v1/offers/ssrf-dns').send(dynamicsOffer('https://internal.crm.dynamics.com'));
      expect(r.status).toBe(400);
      expect(r.body.error.details).toEqual([
        expect.objectContaining({ code: 'OutboundUrlRefused', target: 'testDrive.instanceUrl', message: expect.stringContaining('must resolve only to public addresses') }),
        expect.objectContaining({ code: 'OutboundUrlRefused', target: 'testDrive.instanceWebApiUrl', message: expect.stringContaining('must resolve only to public addresses') }),
      ]);
      answers.set('metadata.crm.dynamics.com', ['169.254.169.254']);
      const m = await svc.http.put('/api/v1/offers/ssrf-dns').send(dynamicsOffer('https://metadata.crm.dynamics.com'));
      expect(m.body.error.details[0].message).toContain('link-local');
      answers.set('gone.crm.dynamics.com', []);
      const g = await svc.http.put('/api/v1/offers/ssrf-dns').send(dynamicsOffer('https://gone.crm.dynamics.com')).expect(400);
      expect(g.body.error.details[0].message).toContain('resolves in DNS');
      await svc.http.get('/api/v1/offers/ssrf-dns').expect(404);
    });

    it('accepts a Dynamics host resolving to public addresses, and the emulator origin (emulated runtime)', async () => {
      answers.set('contoso.crm.dynamics.com', ['20.42.65.92', '2603:1030:7::1']);
      await svc.http.put('/api/v1/offers/dyn-public').send(dynamicsOffer('https://contoso.crm.dynamics.com')).expect(201);
      await svc.http.put('/api/v1/offers/dyn-emulator').send(offerBody(dyn.publisher, dyn.env)).expect(201);
      expect(dyn.env.instanceUrl).toMatch(/^https:\/\/localhost:\d+\//);
    });
  });

  describe('Dynamics 365 at call time', () => {
    it('refuses to publish when the instance host now resolves to loopback (DNS rebinding): 409 OutboundUrlRefused', async () => {
      answers.set('rebind.crm.dynamics.com', ['20.42.65.92']);
      await svc.http.put('/api/v1/offers/dyn-rebind').send(dynamicsOffer('https://rebind.crm.dynamics.com')).expect(201);
      answers.set('rebind.crm.dynamics.com', ['127.0.0.1']);
      const r = await svc.http.post('/api/v1/offers/dyn-rebind/publish').expect(409);
      expect(r.body.error.code).toBe('OfferIncomplete');
      expect(r.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'OutboundUrlRefused', target: 'testDrive.instanceWebApiUrl', message: expect.stringContaining('loopback') })]));
    });

    it('fails a session of an offer whose stored URL predates the rule (OutboundUrlRefused), and refuses to publish it again', async () => {
      await svc.http.put('/api/v1/offers/dyn-legacy').send(offerBody(dyn.publisher, dyn.env)).expect(201);
      await svc.http.post('/api/v1/offers/dyn-legacy/publish').expect(200);
      const repo = svc.app.get(DataSource).getRepository(OfferEntity);
      const row = (await repo.findOneBy({ id: 'dyn-legacy' }))!;
      await repo.update({ id: 'dyn-legacy' }, { testDrive: { ...row.testDrive, instanceWebApiUrl: 'https://169.254.169.254/api/data/v9.2/' } });
      const s = await svc.http.post('/api/v1/offers/dyn-legacy/sessions').send({ customer }).expect(201);
      const failed = await drive(svc, async () => {
        const st = await sessionState(svc, s.body.id);
        return st.state === 'failed' ? st : null;
      });
      expect(failed.failure).toMatchObject({ code: 'OutboundUrlRefused' });
      await svc.http.post('/api/v1/offers/dyn-legacy/unpublish').expect(200);
      const p = await svc.http.post('/api/v1/offers/dyn-legacy/publish').expect(409);
      expect(p.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ target: 'testDrive.instanceWebApiUrl', message: expect.stringContaining('not an IP address') })]));
    });
  });

  describe('Logic Apps callback URLs at call time', () => {
    const RG = 'rg-outbound';
    let pub: Publisher;

    beforeAll(async () => {
      pub = (await azure.emulator.createPublisher({}));
      const { rm, logic } = clients(azure.emulator, pub);
      await rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
      const accepted = (location: string) => ({ Response: { type: 'Response', kind: 'Http', runAfter: {}, inputs: { statusCode: 202, headers: { Location: location }, body: {} } } });
      await logic.workflows.createOrUpdate(RG, 'metadata-location', { location: 'westeurope', state: 'Enabled', definition: definition(accepted('https://169.254.169.254/metadata/identity/oauth2/token?resource=https://management.azure.com/')) });
      await logic.workflows.createOrUpdate(RG, 'rebind-location', { location: 'westeurope', state: 'Enabled', definition: definition(accepted('https://prod-00.westeurope.logic.azure.com/workflows/x/runs/y/operations/z?sig=s')) });
      await logic.workflows.createOrUpdate(RG, 'noop-deprovision', { location: 'westeurope', state: 'Enabled', definition: definition({ Response: { type: 'Response', kind: 'Http', runAfter: {}, inputs: { statusCode: 200, body: {} } } }) });
    });

    const logicOffer = (logicAppName: string) => ({
      alias: 'Outbound',
      testDrive: { type: 'logic-app', region: 'westeurope', maxConcurrent: 1, durationHours: 1, resourceGroupName: RG, logicAppName, deprovisionLogicAppName: 'noop-deprovision' },
      deployment: { subscriptionId: pub.subscriptionId, tenantId: pub.tenantId, clientId: pub.clientId, clientSecret: pub.clientSecret },
    });

    it.each([
      ['metadata-location', 'not an IP address', undefined],
      ['rebind-location', 'non-public address', '10.1.2.3'],
    ])('a provisioning Logic App answering 202 with Location on %s fails the session with OutboundUrlRefused (not followed, not retried)', async (wf, why, address) => {
      if (address) answers.set('prod-00.westeurope.logic.azure.com', [address]);
      const id = `la-${wf}`;
      await svc.http.put(`/api/v1/offers/${id}`).send(logicOffer(wf)).expect(201);
      await svc.http.post(`/api/v1/offers/${id}/publish`).expect(200);
      const s = await svc.http.post(`/api/v1/offers/${id}/sessions`).send({ customer }).expect(201);
      const failed = await sessionWhen(svc, s.body.id, (x) => x.state === 'failed', { tick: 1000 });
      expect(failed.failure.code).toBe('OutboundUrlRefused');
      expect(failed.failure.message).toContain(why);
      expect(failed.failure.message).not.toContain('sig=');
    });
  });
});
