jest.setTimeout(180_000);
import { useLocalService } from '../support/harness';
import { customer, drive, envView, offerBody, publisherWithEnvironment, sessionState } from './helpers';

/**
 * The licence snapshot of a Dynamics 365 offer (LicenseLedger, cached DYNAMICS_LICENSE_CACHE_MS) is read again
 * as soon as a session's licence is assigned or removed: it counts `consumed` from Graph and `heldByOffer` from
 * the sessions, so a snapshot taken while a licence was being assigned counted it as someone else's and, for
 * the rest of the cache time, the offer's limit was too low (NoCapacity refused a start there was a licence
 * for) and GET /capacity disagreed with itself.
 *
 * Found by CI (stop 30, Node 24): `limit: 1, inUse: 3, licenses: {consumed: 2, heldByOffer: 0}` right after
 * three sessions became ready, with the default 3 s cache. Here the cache is 60 s, so the stale snapshot
 * would stay for the whole test.
 */
describe('Dynamics 365 licence snapshot follows the sessions\' licences', () => {
  const saved = process.env.DYNAMICS_LICENSE_CACHE_MS;
  beforeAll(() => {
    process.env.DYNAMICS_LICENSE_CACHE_MS = '60000';
  });
  const local = useLocalService();
  afterAll(() => {
    if (saved === undefined) delete process.env.DYNAMICS_LICENSE_CACHE_MS;
    else process.env.DYNAMICS_LICENSE_CACHE_MS = saved;
  });

  it('after licences are assigned and removed, the limit and the capacity row count them at once', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/crm-ledger').send(offerBody(publisher, env)).expect(201);
    await local.svc.http.post('/api/v1/offers/crm-ledger/publish').expect(200);
    const capacity = async () => (await local.svc.http.get('/api/v1/capacity?offerId=crm-ledger').expect(200)).body.value[0];

    const first = (await local.svc.http.post('/api/v1/offers/crm-ledger/sessions').send({ customer }).expect(201)).body;
    await drive(local.svc, async () => (await sessionState(local.svc, first.id)).state === 'ready');
    expect(envView(local.azure, env.name).licenses.inUse).toBe(1);
    expect(await capacity()).toMatchObject({ limit: 3, inUse: 1, licenses: { total: 3, consumed: 1, free: 2, heldByOffer: 1 } });

    // Two more take the other two licences; a fourth start finds none.
    const second = (await local.svc.http.post('/api/v1/offers/crm-ledger/sessions').send({ customer }).expect(201)).body;
    const third = (await local.svc.http.post('/api/v1/offers/crm-ledger/sessions').send({ customer }).expect(201)).body;
    await drive(local.svc, async () => (await Promise.all([second.id, third.id].map((id) => sessionState(local.svc, id)))).every((s) => s.state === 'ready'));
    expect(await capacity()).toMatchObject({ limit: 3, inUse: 3, licenses: { total: 3, consumed: 3, free: 0, heldByOffer: 3 } });
    expect((await local.svc.http.post('/api/v1/offers/crm-ledger/sessions').send({ customer }).expect(409)).body.error.code).toBe('NoCapacity');

    // Ending one gives its licence back, and the count says so at once.
    await local.svc.http.delete(`/api/v1/sessions/${first.id}`).expect(202);
    await drive(local.svc, async () => (await sessionState(local.svc, first.id)).state === 'ended');
    expect(envView(local.azure, env.name).licenses.inUse).toBe(2);
    expect(await capacity()).toMatchObject({ limit: 3, inUse: 2, licenses: { total: 3, consumed: 2, free: 1, heldByOffer: 2 } });
  });
});
