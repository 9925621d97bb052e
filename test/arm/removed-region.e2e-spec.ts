import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { armOfferBody } from '../../src/embedded/sample-offer';
import { useLocalService } from '../support/harness';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };
type Row = { offerId: string; region: string; regionRemoved: boolean; hotTarget: number; hotReady: number; assigned: number; limit: number; coldLimit: number; consecutiveFailures: number };

/**
 * A region removed from a published ARM offer while a session runs there: the session goes on to its
 * expiry, and until its instance is gone GET /capacity keeps a row for the region, marked regionRemoved,
 * with limit 0 (found by trying the product: the row vanished while the instance was still assigned).
 */
describe('ARM: a region removed while one of its sessions runs', () => {
  const local = useLocalService();

  const rows = async (): Promise<Row[]> => ((await local.svc.http.get('/api/v1/capacity').expect(200)).body.value as Row[]).filter((r) => r.offerId === 'shrinking');

  it('keeps a regionRemoved row with limit 0 while the session runs, and drops it once the instance is gone', async () => {
    const { svc, azure } = local;
    const publisher = await azure.emulator.createPublisher({});
    const regions = [
      { name: 'westeurope', hot: 1, cold: 0 },
      { name: 'eastus', hot: 1, cold: 0 },
    ];
    await svc.http.put('/api/v1/offers/shrinking').send(armOfferBody('Shrinking', publisher, { regions })).expect(201);
    await svc.http.put('/api/v1/offers/shrinking/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201);
    await svc.http.post('/api/v1/offers/shrinking/publish').expect(200);
    await svc.until(async () => (await rows()).every((r) => r.hotReady === 1));
    expect((await rows()).every((r) => r.regionRemoved === false)).toBe(true);

    const s = await svc.http.post('/api/v1/offers/shrinking/sessions').send({ customer, region: 'eastus' }).expect(201);
    expect(s.body).toMatchObject({ state: 'ready', region: 'eastus' });

    await svc.http.put('/api/v1/offers/shrinking').send(armOfferBody('Shrinking', publisher, { regions: [regions[0]] })).expect(200);
    const eastus = await svc.until(async () => {
      const r = (await rows()).find((x) => x.region === 'eastus');
      return r && r.hotReady === 0 ? r : undefined; // the idle hot instance of the removed region is deleted
    });
    expect(eastus).toMatchObject({ regionRemoved: true, assigned: 1, limit: 0, hotTarget: 0, coldLimit: 0, consecutiveFailures: 0 });
    expect((await svc.http.get(`/api/v1/sessions/${s.body.id}`).expect(200)).body.state).toBe('ready');
    await svc.http.post('/api/v1/offers/shrinking/sessions').send({ customer, region: 'eastus' }).expect(400);

    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await svc.until(async () => (await rows()).every((r) => r.region !== 'eastus'));
    expect((await rows()).map((r) => r.region)).toEqual(['westeurope']);
  });
});
