import { ApiError } from '../common/api-error';
import type { OfferEntity } from './offer.entity';
import { OffersService } from './offers.service';

/**
 * DELETE /offers/{id} asks the offer's type what it still holds (TestDriveType.deleteBlockers, issue 9)
 * instead of reading a type's tables: the first blocker's code and message are the 409.
 */
describe('OffersService.delete and TestDriveType.deleteBlockers', () => {
  const offer = { id: 'o1', type: 'fake', state: 'unpublished', version: 3, ownerTenantId: null, ownerClientId: null, clientSecretName: null } as unknown as OfferEntity;

  function service(blockers: Array<{ code: string; message: string }> | undefined) {
    const deleted: string[] = [];
    const type = blockers === undefined ? {} : { deleteBlockers: jest.fn(async () => blockers) };
    // Positional fakes for what delete() uses (offers, registry, secrets, credentials, clock, sessions, audit); the rest undefined.
    const deps = [
      { findById: async () => offer, delete: async (id: string) => (deleted.push(id), true) },
      { has: () => true, get: () => type },
      {},
      { forget: () => undefined },
      { now: () => 0 },
      { count: async () => 0 },
      { record: async () => undefined },
    ] as unknown as ConstructorParameters<typeof OffersService>;
    const svc = new OffersService(...deps);
    return { svc, deleted, type };
  }

  it('refuses with the type\'s first blocker (409, its code and message) and deletes nothing', async () => {
    const { svc, deleted, type } = service([{ code: 'OfferHasInstances', message: "Offer 'o1' still has 2 pool instance(s) being removed; retry later." }]);
    const err = await svc.delete('o1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getResponse()).toEqual({ error: { code: 'OfferHasInstances', message: "Offer 'o1' still has 2 pool instance(s) being removed; retry later." } });
    expect((err as ApiError).getStatus()).toBe(409);
    expect((type as { deleteBlockers: jest.Mock }).deleteBlockers).toHaveBeenCalledWith(offer);
    expect(deleted).toEqual([]);
  });

  it('deletes when the type holds nothing, or has no deleteBlockers', async () => {
    for (const blockers of [[], undefined]) {
      const { svc, deleted } = service(blockers);
      await svc.delete('o1');
      expect(deleted).toEqual(['o1']);
    }
  });
});
