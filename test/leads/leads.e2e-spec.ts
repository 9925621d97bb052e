import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { Role } from '../../src/auth/roles';
import { LeadSender } from '../../src/leads/lead-sender';
import { LeadsRepository } from '../../src/leads/leads.repository';
import { LeadsService } from '../../src/leads/leads.service';
import { EscalationService } from '../../src/escalation/escalation.service';
import { OffersRepository } from '../../src/offers/offers.repository';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { offerBody, publisherWithEnvironment } from '../dynamics/helpers';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB', company: 'Analytical Engines', phone: '+44 20 7946 0000', title: 'CTO' };
const powerBi = (_offerId: string) => ({ type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 });

type Received = { body: { LeadId: string; LeadSource: string; UserDetails: Record<string, string>; ActionCode: string; OfferTitle: string }; refused?: boolean; headers: Record<string, unknown> };

/**
 * Issue 10: every test drive start becomes a lead delivered to the publisher's destination exactly once
 * (HTTPS endpoint on the emulator's receiver, Azure Table on Azurite, Dataverse on the emulator), through
 * outages and crashes; consent and .edu respected; test leads on configuration and publish.
 */
describeEachDb('leads on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: AuthedHttp;
  let market: AuthedHttp;
  let leads: LeadsService;
  let repo: LeadsRepository;

  const received = (id: string) => (azure.emulator.receivers.get(id)?.received ?? []) as unknown as Received[];
  const delivered = (id: string) => received(id).filter((r) => !r.refused && !r.body.LeadSource.startsWith('MSFT_TEST_'));

  async function offerWith(offerId: string, destination: Record<string, unknown>): Promise<{ tenantId: string; body: Record<string, unknown> }> {
    const r = await pub.put(`/api/v1/offers/${offerId}`).send({ alias: `Offer ${offerId}`, testDrive: powerBi(offerId), leads: { destination, contactEmail: 'leads@contoso.com' } });
    expect(r.status).toBe(201);
    await pub.post(`/api/v1/offers/${offerId}/publish`).expect(200);
    return { tenantId: pub.client.tenantId, body: r.body };
  }

  beforeAll(async () => {
    azure = await startLocalAzure(0.2, { table: true });
    svc = await startService(azure, { db });
    pub = await svc.as({ roles: [Role.Publisher] });
    market = await svc.as('marketplace');
    leads = svc.app.get(LeadsService);
    repo = svc.app.get(LeadsRepository);
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  it('https endpoint: the test lead arrives on configuration and publish, then one lead per start with the Partner Center fields', async () => {
    const rx = azure.emulator.receivers.create();
    const { tenantId, body } = await offerWith('leads-https', { type: 'https-endpoint', url: rx.url });
    expect(body.leads).toMatchObject({ destination: { type: 'https-endpoint', secretSet: true }, contactEmail: 'leads@contoso.com', lastTestLead: { delivered: true } });
    expect(JSON.stringify(body)).not.toContain(rx.url);
    const tests = received(rx.id).filter((r) => r.body.LeadSource.startsWith('MSFT_TEST_'));
    expect(tests.length).toBe(2); // on PUT and on publish
    const s = await market.post('/api/v1/offers/leads-https/sessions').send({ customer, source: 'AppSource' }).expect(201);
    await leads.deliverDue();
    const got = delivered(rx.id);
    expect(got).toHaveLength(1);
    expect(got[0].body).toMatchObject({
      LeadSource: `AppSource-StartTestDrive|${tenantId}.leads-https`,
      ActionCode: 'StartTestDrive',
      OfferTitle: 'Offer leads-https',
      UserDetails: { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com', Phone: '+44 20 7946 0000', Country: 'GB', Company: 'Analytical Engines', Title: 'CTO' },
    });
    expect(got[0].headers['idempotency-key']).toBe(got[0].body.LeadId);
    const list = (await pub.get('/api/v1/offers/leads-https/leads').expect(200)).body.value as Array<{ sessionId: string; state: string; contact: unknown; kind: string }>;
    expect(list.find((l) => l.sessionId === s.body.id)).toMatchObject({ state: 'delivered', contact: { email: 'ada@example.com' } });
    // Operators see the lead, not the person.
    const ops = await svc.as('operator');
    const opView = (await ops.get('/api/v1/offers/leads-https/leads').expect(200)).body.value as Array<{ contact: unknown }>;
    expect(opView.every((l) => l.contact === null)).toBe(true);
  });

  it('a delivery pass reads an offer\'s row only when its version is not the one this process holds (issue 14)', async () => {
    const rx = azure.emulator.receivers.create();
    await offerWith('leads-cache', { type: 'https-endpoint', url: rx.url });
    await market.post('/api/v1/offers/leads-cache/sessions').send({ customer }).expect(201);
    await leads.deliverDue();
    const offers = svc.app.get(OffersRepository);
    const reads = [jest.spyOn(offers, 'getOrThrow'), jest.spyOn(offers, 'list')];
    try {
      await market.post('/api/v1/offers/leads-cache/sessions').send({ customer }).expect(201);
      await leads.deliverDue();
      // Before: every pass read every offer in full (list()).
      for (const r of reads) expect(r).not.toHaveBeenCalled();
      expect(delivered(rx.id)).toHaveLength(2);
    } finally {
      for (const r of reads) r.mockRestore();
    }
  });

  it('a lead written while a delivery pass is in flight is attempted by the next deliverDue, not left for the backstop (defect: the call shared the pass that began before it)', async () => {
    const rx = azure.emulator.receivers.create();
    await offerWith('leads-inflight', { type: 'https-endpoint', url: rx.url });
    const sender = svc.app.get(LeadSender);
    const real = sender.send.bind(sender);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let entered: () => void = () => undefined;
    const inSend = new Promise<void>((r) => (entered = r));
    const spy = jest.spyOn(sender, 'send').mockImplementation(async (...args) => {
      entered();
      await held;
      return real(...args);
    });
    try {
      await market.post('/api/v1/offers/leads-inflight/sessions').send({ customer: { ...customer, email: 'first@example.com' } }).expect(201);
      const firstPass = leads.deliverDue();
      await inSend; // a pass holds the first lead
      const second = await market.post('/api/v1/offers/leads-inflight/sessions').send({ customer: { ...customer, email: 'second@example.com' } }).expect(201);
      const asked = leads.deliverDue();
      release();
      await firstPass;
      await asked;
      const lead = (await repo.list('leads-inflight', { limit: 10 })).find((l) => l.sessionId === second.body.id)!;
      expect(lead).toMatchObject({ state: 'delivered', attempts: 1 });
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it('no personal data without consent or for an .edu address', async () => {
    const rx = azure.emulator.receivers.create();
    await offerWith('leads-privacy', { type: 'https-endpoint', url: rx.url });
    await market.post('/api/v1/offers/leads-privacy/sessions').send({ customer, consentToShare: false }).expect(201);
    await market.post('/api/v1/offers/leads-privacy/sessions').send({ customer: { ...customer, email: 'ada@cs.stanford.edu' } }).expect(201);
    await leads.deliverDue();
    const got = delivered(rx.id);
    expect(got).toHaveLength(2);
    for (const g of got) {
      expect(g.body.UserDetails).toMatchObject({ FirstName: '', LastName: '', Email: '', Phone: '', Company: '' });
      expect(JSON.stringify(g.body)).not.toMatch(/Ada|Lovelace|stanford|Analytical/);
    }
  });

  it('an outage: leads wait, are retried with backoff, and each arrives exactly once; a refused start makes no lead', async () => {
    const rx = azure.emulator.receivers.create();
    await offerWith('leads-outage', { type: 'https-endpoint', url: rx.url });
    azure.emulator.receivers.update(rx.id, { failWith: 503, failCount: 3, retryAfterSeconds: 30 });
    for (let i = 0; i < 2; i++) await market.post('/api/v1/offers/leads-outage/sessions').send({ customer: { ...customer, email: `c${i}@example.com` } }).expect(201);
    await leads.deliverDue();
    let rows = await repo.list('leads-outage', { limit: 10 });
    const pending = rows.filter((l) => l.kind === 'lead');
    expect(pending.every((l) => l.state === 'pending' && l.lastError?.status === 503 && l.nextAttemptAt >= svc.clock.now() + 30_000)).toBe(true);
    await leads.deliverDue(); // not due yet: nothing sent
    expect(received(rx.id).filter((r) => r.refused)).toHaveLength(2);
    for (let round = 0; round < 5; round++) {
      svc.clock.advance(10 * 60_000);
      await leads.deliverDue();
    }
    rows = (await repo.list('leads-outage', { limit: 10 })).filter((l) => l.kind === 'lead');
    expect(rows.map((l) => l.state)).toEqual(['delivered', 'delivered']);
    const ids = delivered(rx.id).map((r) => r.body.LeadId).sort();
    expect(ids).toEqual(rows.map((l) => l.id).sort());
    expect(rows.reduce((n, l) => n + l.attempts, 0)).toBe(5); // 3 refused + 2 delivered
    // A start refused for validation makes no lead.
    await market.post('/api/v1/offers/leads-outage/sessions').send({ customer: { ...customer, email: 'not-an-email' } }).expect(400);
    expect((await repo.list('leads-outage', { limit: 10 })).filter((l) => l.kind === 'lead')).toHaveLength(2);
  });

  it('a failed test lead is the destination check, not a lost lead: it counts in neither leadsFailed nor lead_delivery_failing (found by trying the product: the incident stayed open for good)', async () => {
    const rx = azure.emulator.receivers.create();
    azure.emulator.receivers.update(rx.id, { failWith: 400, failCount: 2 }); // the test leads of PUT and publish
    const r = await pub.put('/api/v1/offers/leads-testfail').send({ alias: 'Test fail', testDrive: powerBi('x'), leads: { destination: { type: 'https-endpoint', url: rx.url } } }).expect(201);
    expect(r.body.leads.lastTestLead).toMatchObject({ delivered: false });
    await pub.post('/api/v1/offers/leads-testfail/publish').expect(200);
    expect((await repo.list('leads-testfail', { limit: 10 })).filter((l) => l.kind === 'test' && l.state === 'failed').length).toBeGreaterThan(0);
    await market.post('/api/v1/offers/leads-testfail/sessions').send({ customer }).expect(201);
    await leads.deliverDue();
    expect((await repo.list('leads-testfail', { limit: 10 })).filter((l) => l.kind === 'lead').map((l) => l.state)).toEqual(['delivered']);
    const ops = await svc.as('operator');
    expect((await ops.get('/api/v1/capacity?offerId=leads-testfail').expect(200)).body.value[0]).toMatchObject({ leadsPending: 0, leadsFailed: 0 });
    const { conditions } = await svc.app.get(EscalationService).conditions();
    expect(conditions.filter((c) => c.offerId === 'leads-testfail')).toEqual([]);
  });

  it('a destination that refuses the payload stops retries at once; redelivery after the fix delivers it', async () => {
    const rx = azure.emulator.receivers.create();
    await offerWith('leads-refused', { type: 'https-endpoint', url: rx.url });
    azure.emulator.receivers.update(rx.id, { failWith: 400, failCount: 1 });
    await market.post('/api/v1/offers/leads-refused/sessions').send({ customer }).expect(201);
    await leads.deliverDue();
    const [lead] = (await repo.list('leads-refused', { limit: 10 })).filter((l) => l.kind === 'lead');
    expect(lead).toMatchObject({ state: 'failed', attempts: 1, lastError: { status: 400 } });
    const ops = await svc.as('operator');
    expect((await ops.get('/api/v1/capacity?offerId=leads-refused').expect(200)).body.value[0]).toMatchObject({ leadsPending: 0, leadsFailed: 1 });
    const again = await pub.post(`/api/v1/offers/leads-refused/leads/${lead.id}/redeliver`).expect(202);
    expect(again.body.state).toBe('pending');
    await leads.deliverDue();
    expect((await repo.findById(lead.id))!.state).toBe('delivered');
    expect(delivered(rx.id).filter((r) => r.body.LeadId === lead.id).length).toBe(1);
  });

  it('azure table: one entity per lead, also when a replica died mid-delivery and the lead is delivered again', async () => {
    const connectionString = azure.azurite.connectionString;
    // No destination yet: leads of starts wait (pending).
    await pub.put('/api/v1/offers/leads-table').send({ alias: 'Offer leads-table', testDrive: powerBi('x') }).expect(201);
    await pub.post('/api/v1/offers/leads-table/publish').expect(200);
    for (let i = 0; i < 3; i++) await market.post('/api/v1/offers/leads-table/sessions').send({ customer: { ...customer, email: `t${i}@example.com` } }).expect(201);
    await leads.deliverDue();
    expect((await repo.list('leads-table', { limit: 10, state: 'pending' })).length).toBe(3);
    // Another replica claims them and dies before writing anything back.
    const claimedByDead = await repo.claimDue(['leads-table'], 'dead-replica', svc.clock.now(), 60_000, 10);
    expect(claimedByDead.length).toBe(3);
    const put = await pub.put('/api/v1/offers/leads-table').send({ alias: 'Offer leads-table', testDrive: powerBi('x'), leads: { destination: { type: 'azure-table', connectionString } } }).expect(200);
    expect(put.body.leads).toMatchObject({ destination: { type: 'azure-table', account: 'devstoreaccount1', secretSet: true }, lastTestLead: { delivered: true } });
    expect(JSON.stringify(put.body)).not.toContain('AccountKey');
    await leads.deliverDue();
    expect((await repo.list('leads-table', { limit: 10, state: 'delivered' })).filter((l) => l.kind === 'lead')).toHaveLength(0);
    svc.clock.advance(61_000);
    await leads.deliverDue();
    const rows = (await repo.list('leads-table', { limit: 10 })).filter((l) => l.kind === 'lead');
    expect(rows.map((l) => [l.state, l.lastError?.message ?? null])).toEqual([['delivered', null], ['delivered', null], ['delivered', null]]);
    // Delivered twice on the wire (a redelivery): still one entity per lead.
    await pub.post(`/api/v1/offers/leads-table/leads/${rows[0].id}/redeliver`).expect(202);
    await leads.deliverDue();
    const table = TableClient.fromConnectionString(connectionString, 'MarketplaceLeads', { allowInsecureConnection: true });
    const entities: Array<{ rowKey?: string; LeadSource?: string; Email?: string }> = [];
    for await (const e of table.listEntities({ queryOptions: { filter: "PartitionKey eq 'leads-table'" } })) entities.push(e);
    const real = entities.filter((e) => !String(e.LeadSource).startsWith('MSFT_TEST_'));
    expect(real.map((e) => e.rowKey).sort()).toEqual(rows.map((l) => l.id).sort());
    expect(real.map((e) => e.Email).sort()).toEqual(['t0@example.com', 't1@example.com', 't2@example.com']);
  });

  it('an azure-table destination must name an Azure Table storage endpoint: loopback, link-local and other hosts are refused at save and never called', async () => {
    // Found by trying the product: the table endpoint skipped the outbound URL rule, so a publisher could make the
    // service write to any local port and tell the services apart by the test lead's error.
    const hits: string[] = [];
    const listener = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as AddressInfo).port;
    const key = /AccountKey=[^;]+;/.exec(azure.azurite.connectionString)![0];
    try {
      for (const [cs, why] of [
        [`DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;${key}TableEndpoint=http://127.0.0.1:${port}/internal;`, 'must use https'],
        [`AccountName=devstoreaccount1;${key}TableEndpoint=https://127.0.0.1:${port}/;`, 'not an IP address'],
        [`AccountName=x;${key}TableEndpoint=https://169.254.169.254/;`, 'not an IP address'],
        [`AccountName=contoso;${key}EndpointSuffix=example.com`, 'Azure Table storage host'],
      ]) {
        const r = await pub.put('/api/v1/offers/leads-table-ssrf').send({ alias: 'SSRF', testDrive: powerBi('x'), leads: { destination: { type: 'azure-table', connectionString: cs } } });
        expect({ cs, status: r.status, code: r.body.error?.code }).toEqual({ cs, status: 400, code: 'ValidationFailed' });
        expect(r.body.error.details).toEqual([expect.objectContaining({ code: 'OutboundUrlRefused', target: 'leads.destination.connectionString', message: expect.stringContaining(why) })]);
        expect(JSON.stringify(r.body)).not.toContain(String(port));
      }
      // A destination stored before the rule is refused when a lead is sent, not called.
      const sender = svc.app.get(LeadSender);
      const stored = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;${key}TableEndpoint=http://127.0.0.1:${port}/internal;`;
      const lead = { id: 'lead-1', offerId: 'leads-table-ssrf' } as unknown as Parameters<LeadSender['send']>[2];
      const outcome = await sender.send({ type: 'azure-table', account: 'devstoreaccount1' }, stored, lead);
      expect(outcome).toMatchObject({ ok: false, code: 'OutboundUrlRefused', permanent: true, message: expect.stringContaining('must use https') });
      expect(hits).toEqual([]);
    } finally {
      await new Promise((r) => listener.close(r));
    }
  });

  it('a wrong connection string is reported at publish naming the field, as a warning', async () => {
    const bad = azure.azurite.connectionString.replace(/AccountKey=[^;]+/, 'AccountKey=d3Jvbmc=');
    await pub.put('/api/v1/offers/leads-badtable').send({ alias: 'Bad table', testDrive: powerBi('x'), leads: { destination: { type: 'azure-table', connectionString: bad } } }).expect(201);
    const p = await pub.post('/api/v1/offers/leads-badtable/publish').expect(200);
    expect(p.body.state).toBe('published');
    expect(p.body.warnings).toEqual([expect.objectContaining({ code: 'LeadDestinationRefused', target: 'leads.destination.connectionString' })]);
    expect(p.body.leads.lastTestLead).toMatchObject({ delivered: false });
  });

  it('dynamics 365: a Dataverse lead per start, upserted by lead id; a wrong secret is reported naming the field', async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 2, roles: ['Salesperson'] });
    const dest = { type: 'dynamics-365', instanceWebApiUrl: env.instanceWebApiUrl, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecret: publisher.clientSecret };
    const r = await pub.put('/api/v1/offers/leads-crm').send({ ...offerBody(publisher, env), leads: { destination: dest } }).expect(201);
    expect(r.body.leads.lastTestLead).toEqual({ at: expect.any(String), delivered: true });
    await pub.post('/api/v1/offers/leads-crm/publish').expect(200);
    await market.post('/api/v1/offers/leads-crm/sessions').send({ customer }).expect(201);
    await leads.deliverDue();
    const [lead] = (await repo.list('leads-crm', { limit: 10 })).filter((l) => l.kind === 'lead');
    expect(lead.state).toBe('delivered');
    await pub.post(`/api/v1/offers/leads-crm/leads/${lead.id}/redeliver`).expect(202);
    await leads.deliverDue();
    const envLeads = (azure.emulator.getDynamicsEnvironment(env.name) as { leads: Array<Record<string, unknown>> }).leads;
    const mine = envLeads.filter((l) => l.new_testdriveleadid === lead.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ emailaddress1: 'ada@example.com', lastname: 'Lovelace', description: expect.stringMatching(/^AzureMarketplace-StartTestDrive\|/) });
    // Wrong client secret: the test lead fails and says which field to fix.
    const wrong = await pub.put('/api/v1/offers/leads-crm').send({ ...offerBody(publisher, env, {}, { clientSecret: undefined }), leads: { destination: { ...dest, clientSecret: 'wrong' } } });
    expect(wrong.status).toBe(200);
    expect(wrong.body.leads.lastTestLead).toMatchObject({ delivered: false });
    const unpublished = await pub.post('/api/v1/offers/leads-crm/unpublish').expect(200);
    expect(unpublished.body.state).toBe('unpublished');
    const p = await pub.post('/api/v1/offers/leads-crm/publish');
    expect(p.body.warnings).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'LeadDestinationRefused', target: 'leads.destination.clientSecret' })]));
  });

  it('leads configuration is validated naming the field; secrets are never returned', async () => {
    const r = await pub.put('/api/v1/offers/leads-invalid').send({ alias: 'x', testDrive: powerBi('x'), leads: { destination: { type: 'https-endpoint', url: 'https://169.254.169.254/latest' } } });
    expect(r.status).toBe(400);
    expect(r.body.error.details[0].target).toBe('leads.destination.url');
    const r2 = await pub.put('/api/v1/offers/leads-invalid').send({ alias: 'x', testDrive: powerBi('x'), leads: { destination: { type: 'ftp' } } });
    expect(r2.status).toBe(400);
    const r3 = await pub.put('/api/v1/offers/leads-invalid').send({ alias: 'x', testDrive: powerBi('x'), leads: { destination: { type: 'dynamics-365', instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data/v9.2', tenantId: 'nope', clientId: 'nope' } } });
    expect(r3.status).toBe(400);
    expect(r3.body.error.details.map((d: { target: string }) => d.target)).toEqual(expect.arrayContaining(['leads.destination.tenantId', 'leads.destination.clientId']));
  });
});
