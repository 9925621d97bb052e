jest.setTimeout(120_000);
import { Role } from '../../src/auth/roles';
import { useLocalService } from '../support/harness';
import { describeEachDb } from '../support/postgres';

const customer = { email: 'bob@example.com', firstName: 'Bob', lastName: 'Builder', country: 'GB' };
const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11&autoAuth=true';
const body = (alias: string) => ({ alias, testDrive: { type: 'power-bi', embedUrl: EMBED } });

/**
 * The sessions, leads and incidents of a deleted offer stay under its ID (nothing is lost), so that ID is not
 * given to a new offer: its owner would read them as its own.
 *
 * Found by trying the product (stop 30): publisher A's offer was deleted after a session; publisher B (another
 * tenant) created an offer with the same ID and read A's customer's session and lead (name, e-mail), and the
 * pending lead was delivered to B's destination; A got 404 for its own session.
 */
describeEachDb('offer IDs of deleted offers with history are not reused, on %s', (db) => {
  const local = useLocalService({ service: { db } });

  it("a deleted offer's sessions and leads never show to the next offer with its ID", async () => {
    const svc = local.svc;
    const a = await svc.as({ roles: [Role.Publisher] });
    const b = await svc.as({ roles: [Role.Publisher], newTenant: true });
    const market = await svc.as({ roles: [Role.Marketplace] });

    await a.put('/api/v1/offers/pbi-reuse').send(body('A dashboard')).expect(201);
    await a.post('/api/v1/offers/pbi-reuse/publish').expect(200);
    const s = (await market.post('/api/v1/offers/pbi-reuse/sessions').send({ customer }).expect(201)).body;
    await market.delete(`/api/v1/sessions/${s.id}`).expect(202);
    await svc.until(async () => (await market.get(`/api/v1/sessions/${s.id}`)).body.state === 'ended');
    await a.post('/api/v1/offers/pbi-reuse/unpublish').expect(200);
    await a.delete('/api/v1/offers/pbi-reuse').expect(204);

    for (const who of [b, a]) {
      const r = await who.put('/api/v1/offers/pbi-reuse').send(body('Another dashboard')).expect(409);
      expect(r.body.error).toMatchObject({ code: 'OfferIdRetired', target: 'offerId' });
      expect(r.body.error.message).toContain("Offer ID 'pbi-reuse'");
    }
    await b.get('/api/v1/offers/pbi-reuse/sessions').expect(404);
    await b.get('/api/v1/offers/pbi-reuse/leads').expect(404);
    await b.get(`/api/v1/sessions/${s.id}`).expect(404);
    // The history is still there for operators.
    const operator = await svc.as({ roles: [Role.Operator] });
    expect((await operator.get(`/api/v1/sessions/${s.id}`).expect(200)).body).toMatchObject({ offerId: 'pbi-reuse', customer: { email: 'bob@example.com' } });

    // An offer deleted before any session or incident left nothing behind: its ID may be used again.
    await a.put('/api/v1/offers/pbi-fresh').send(body('Fresh')).expect(201);
    await a.delete('/api/v1/offers/pbi-fresh').expect(204);
    await b.put('/api/v1/offers/pbi-fresh').send(body('Fresh again')).expect(201);
  });
});
