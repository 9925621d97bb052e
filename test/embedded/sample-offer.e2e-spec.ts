import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Role } from '../../src/auth/roles';
import { SAMPLE_OFFER_ID, seedSampleOffer } from '../../src/embedded/sample-offer';
import type { EmbeddedAzure } from '../../src/embedded/embedded-azure';
import { useLocalService } from '../support/harness';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * `npm start` seeds the sample ARM offer through the public API. When someone used the sample ID and deleted
 * that offer, the ID is retired (409 OfferIdRetired): the next start says so in words, instead of printing
 * the raw 409 as "sample offer not seeded: PUT offer: 409 {...}".
 */
describe('the embedded sample offer', () => {
  const local = useLocalService();

  it('is not seeded again under a retired ID, and the start says why in one line', async () => {
    const { svc, azure } = local;
    const server = svc.app.getHttpServer() as http.Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const publisher = await svc.as({ roles: [Role.Publisher] });
    const market = await svc.as({ roles: [Role.Marketplace] });

    // The sample ID used by an offer that had a session, then deleted.
    await publisher.put(`/api/v1/offers/${SAMPLE_OFFER_ID}`).send({ alias: 'Used', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11' } }).expect(201);
    await publisher.post(`/api/v1/offers/${SAMPLE_OFFER_ID}/publish`).expect(200);
    const s = (await market.post(`/api/v1/offers/${SAMPLE_OFFER_ID}/sessions`).send({ customer }).expect(201)).body;
    await market.delete(`/api/v1/sessions/${s.id}`).expect(202);
    await publisher.post(`/api/v1/offers/${SAMPLE_OFFER_ID}/unpublish`).expect(200);
    await publisher.delete(`/api/v1/offers/${SAMPLE_OFFER_ID}`).expect(204);

    const lines = await seedSampleOffer(base, { emulator: azure.emulator } as EmbeddedAzure, publisher.token);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^  Sample:   offer '${SAMPLE_OFFER_ID}' is not seeded: its ID belonged to a deleted offer`))]);
    expect(lines.join('\n')).not.toContain('409');
    await publisher.get(`/api/v1/offers/${SAMPLE_OFFER_ID}`).expect(404);
  });
});
