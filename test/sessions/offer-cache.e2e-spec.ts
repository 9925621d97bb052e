import { Role } from '../../src/auth/roles';
import { OffersRepository } from '../../src/offers/offers.repository';
import { START_DECISIONS } from '../../src/sessions/sessions.service';
import { Database, sql } from '../../src/persistence/database';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { capacity, publishOffer } from '../arm-resilience/helpers';

const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11';
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * Issue 14: a start decides on the offer as this process last read it (no read of the offer row per
 * start), and its transaction checks that the row still has that version. These tests change the row
 * behind the service's back (raw SQL, as another replica would: this process's cache is not told) and
 * check that no start is ever decided on an offer that is no longer the stored one.
 */
describeEachDb('starts on a cached offer, checked by version, on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let alice: AuthedHttp;
  let market: AuthedHttp;
  let offers: OffersRepository;

  /** What another replica's write does to the row: a new version (and optionally new fields). */
  async function changeBehindTheBack(offerId: string, set: { state?: string; accessInformation?: string } = {}): Promise<void> {
    await svc.app.get(Database).atomic(function* () {
      const r = yield sql('SELECT "testDrive" FROM "offer" WHERE "id" = ?', [offerId]);
      const testDrive = JSON.parse(String(r.rows[0].testDrive)) as Record<string, unknown>;
      if (set.accessInformation) testDrive.accessInformation = set.accessInformation;
      yield sql('UPDATE "offer" SET "version" = "version" + 1, "testDrive" = ?, "state" = COALESCE(?, "state") WHERE "id" = ?', [JSON.stringify(testDrive), set.state ?? null, offerId]);
    });
  }

  const assignedOf = (offerId: string) => capacity(svc, offerId, 'westeurope');

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    alice = await svc.as({ roles: [Role.Publisher] });
    market = await svc.as({ roles: [Role.Marketplace] });
    offers = svc.app.get(OffersRepository);
    await alice.put('/api/v1/offers/bi').send({ alias: 'bi', testDrive: { type: 'power-bi', embedUrl: EMBED, accessInformation: '<p>v1 {{embedUrl}}</p>' } }).expect(201);
    await alice.post('/api/v1/offers/bi/publish').expect(200);
    await publishOffer(svc, await azure.emulator.createPublisher({}), 'web', [{ name: 'westeurope', hot: 3, cold: 0 }], { accessInformation: '<p>v1 {{siteUrl}}</p>' });
    await svc.until(async () => (await assignedOf('web')).hotReady === 3);
  }, 120_000);

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  afterEach(() => jest.restoreAllMocks());

  it('a start on an offer this process has read reads no offer row', async () => {
    await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    const reads = jest.spyOn(offers, 'getOrThrow');
    const s = await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    expect(s.body.accessInformation).toContain('v1 ');
    expect(reads).not.toHaveBeenCalled();
  });

  it("another replica's change is seen by the next start: new access information, then an unpublished offer refuses", async () => {
    await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    await changeBehindTheBack('bi', { accessInformation: '<p>v2 {{embedUrl}}</p>' });
    const s = await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    expect(s.body.accessInformation).toContain('v2 ');

    await changeBehindTheBack('bi', { state: 'unpublished' });
    const before = (await svc.http.get('/api/v1/offers/bi/sessions').expect(200)).body.value.length;
    const refused = await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(409);
    expect(refused.body.error.code).toBe('OfferNotPublished');
    expect((await svc.http.get('/api/v1/offers/bi/sessions').expect(200)).body.value.length).toBe(before);
    // The refusal left the unpublished offer cached; published again elsewhere, the next start is decided
    // again on the stored offer instead of refused on the cached one.
    await changeBehindTheBack('bi', { state: 'published' });
    await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
  });

  it('a hot claim decided on an offer that changed before its commit is rolled back and decided again on the stored offer', async () => {
    await market.post('/api/v1/offers/web/sessions').send({ customer }).expect(201); // the offer is cached now
    const before = await assignedOf('web');
    const real = offers.forStart.bind(offers);
    let changed = false;
    const decisions = jest.spyOn(offers, 'forStart').mockImplementation(async (id, fresh) => {
      const o = await real(id, fresh);
      if (!changed) {
        changed = true;
        await changeBehindTheBack(id, { accessInformation: '<p>v2 {{siteUrl}}</p>' });
      }
      return o;
    });
    const s = await market.post('/api/v1/offers/web/sessions').send({ customer }).expect(201);
    expect(s.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    expect(s.body.accessInformation).toContain('v2 ');
    expect(decisions.mock.calls.map((c) => c[1] ?? false)).toEqual([false, true]);
    // One instance claimed for one session: the first claim left no trace.
    expect(await assignedOf('web')).toMatchObject({ hotReady: before.hotReady - 1, assigned: before.assigned + 1 });
  });

  it(`an offer that changes under every attempt gets 503 OfferChanging with Retry-After after ${START_DECISIONS} attempts, and nothing is claimed`, async () => {
    const before = await assignedOf('web');
    const sessionsBefore = (await svc.http.get('/api/v1/offers/web/sessions').expect(200)).body.value.length;
    const real = offers.forStart.bind(offers);
    const decisions = jest.spyOn(offers, 'forStart').mockImplementation(async (id, fresh) => {
      const o = await real(id, fresh);
      await changeBehindTheBack(id);
      return o;
    });
    const r = await market.post('/api/v1/offers/web/sessions').set('Idempotency-Key', 'changing-1').send({ customer }).expect(503);
    expect(r.body.error.code).toBe('OfferChanging');
    expect(r.headers['retry-after']).toBe('1');
    expect(decisions).toHaveBeenCalledTimes(START_DECISIONS);
    expect(await assignedOf('web')).toMatchObject({ hotReady: before.hotReady, assigned: before.assigned });
    expect((await svc.http.get('/api/v1/offers/web/sessions').expect(200)).body.value.length).toBe(sessionsBefore);
    // A 5xx is not remembered with the key: the retry is a new attempt, and it succeeds.
    jest.restoreAllMocks();
    const retry = await market.post('/api/v1/offers/web/sessions').set('Idempotency-Key', 'changing-1').send({ customer }).expect(201);
    expect(retry.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
  });

  it("a change through this process's own API is seen at once", async () => {
    await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    const cur = await alice.get('/api/v1/offers/bi').expect(200);
    await alice
      .put('/api/v1/offers/bi')
      .set('If-Match', cur.headers.etag)
      .send({ alias: 'bi', testDrive: { type: 'power-bi', embedUrl: EMBED, accessInformation: '<p>v3 {{embedUrl}}</p>' } })
      .expect(200);
    const reads = jest.spyOn(offers, 'getOrThrow');
    const s = await market.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201);
    expect(s.body.accessInformation).toContain('v3 ');
    expect(reads).toHaveBeenCalledTimes(1); // the write dropped the cached offer: one read, no failed attempt
  });
});
