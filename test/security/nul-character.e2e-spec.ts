import { Role } from '../../src/auth/roles';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * U+0000 in a request: PostgreSQL refuses it in text and json ("invalid byte sequence for encoding UTF8:
 * 0x00"), SQLite stores it, and the publisher's CRM gets it in a lead. A body string with it is refused
 * with 400 naming the field; a path segment with it finds nothing (404). Never a 500.
 */
describeEachDb('the NUL character on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: AuthedHttp;
  let market: AuthedHttp;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    pub = await svc.as({ roles: [Role.Publisher] });
    market = await svc.as('marketplace');
    await pub.put('/api/v1/offers/nul').send({ alias: 'Nul', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 } }).expect(201);
    await pub.post('/api/v1/offers/nul/publish').expect(200);
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  it.each([
    ['customer.firstName', { customer: { ...customer, firstName: 'A\u0000da' } }],
    ['customer.company', { customer: { ...customer, company: 'x\u0000' } }],
    ['customer.lastName', { customer: { ...customer, lastName: '\u0000' } }],
  ])('a start with U+0000 in %s is refused naming it', async (target, body) => {
    const r = await market.post('/api/v1/offers/nul/sessions').send(body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'ValidationFailed', target });
    expect(r.body.error.details[0].message).toMatch(/U\+0000/);
  });

  it('an offer with U+0000 in its alias is refused naming it, and the offer is unchanged (defect: PostgreSQL answered 500)', async () => {
    const r = await pub.put('/api/v1/offers/nul').send({ alias: 'N\u0000ul', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'ValidationFailed', target: 'alias' });
    expect((await pub.get('/api/v1/offers/nul').expect(200)).body.alias).toBe('Nul');
  });

  it.each(['/api/v1/sessions/%00', '/api/v1/sessions/a%00b', '/api/v1/offers/%00', '/api/v1/offers/nul%00/sessions', '/api/v1/offers/nul/leads?before=2026-01-01T00:00:00Z~%00', '/api/v1/capacity?offerId=%00'])(
    'GET %s is refused naming the URL (defect: PostgreSQL answered 500 for a path with it)',
    async (path) => {
      const ops = await svc.as({ roles: [Role.Operator] });
      const r = await ops.get(path).expect(400);
      expect(r.body.error).toMatchObject({ code: 'ValidationFailed', target: 'url', message: 'url: The URL must not contain U+0000 (the NUL character, %00).' });
    },
  );

  it('an escaped backslash before u0000 is text, not a NUL', async () => {
    const r = await market.post('/api/v1/offers/nul/sessions').send({ customer: { ...customer, company: 'C:\\u0000' } });
    expect(r.status).toBe(201);
  });

  // Found by trying the product (stop 30): bytes that are not UTF-8 in a body read as UTF-8 were decoded with
  // U+FFFD in place of each bad byte (201), and the altered name reached the lead.
  it('a body read as UTF-8 whose bytes are not UTF-8 is refused; UTF-8 and a named charset are read as sent', async () => {
    const asIs = (b: unknown) => b as string; // superagent would JSON-encode a Buffer sent as application/json
    const latin1 = Buffer.from(JSON.stringify({ customer: { ...customer, firstName: 'Jérôme' } }), 'latin1'); // é and ô as one byte each
    for (const ct of ['application/json', 'application/json; charset=utf-8']) {
      const r = await market.post('/api/v1/offers/nul/sessions').set('content-type', ct).serialize(asIs).send(latin1);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'InvalidJson', target: 'body' });
      expect(r.body.error.message).toContain('not valid UTF-8');
    }
    const utf8 = await market.post('/api/v1/offers/nul/sessions').set('content-type', 'application/json').serialize(asIs).send(Buffer.from(JSON.stringify({ customer: { ...customer, firstName: 'Jérôme' } }), 'utf8')).expect(201);
    expect(utf8.body.customer.firstName).toBe('Jérôme');
    const utf16 = await market.post('/api/v1/offers/nul/sessions').set('content-type', 'application/json; charset=utf-16le').serialize(asIs).send(Buffer.from(JSON.stringify({ customer: { ...customer, firstName: 'Jérôme' } }), 'utf16le'));
    expect([201, 415]).toContain(utf16.status);
    if (utf16.status === 201) expect(utf16.body.customer.firstName).toBe('Jérôme');
  });
});
