import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { SecretStore } from '../../src/azure/secret-store';
import { OfferHealth } from '../../src/offers/offer.entity';
import { OffersRepository } from '../../src/offers/offers.repository';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');

type Res = { status: number; body: { error?: { code: string; target?: string; message: string } } & Record<string, unknown>; headers: Record<string, string> };

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Optimistic concurrency on offers (issue 8): ETag / If-Match / If-None-Match on the offers API, and no
 * write that read an offer before a concurrent change (PUT, unpublish, package upload, delete) overwrites
 * it or re-creates a deleted offer. Races are made deterministic by holding a request inside its remote
 * step (the ARM type's publish preflight, the Key Vault write of a PUT) until the other request is done.
 */
describeEachDb('Offer optimistic concurrency on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let publisher: { tenantId: string; subscriptionId: string; clientId: string; clientSecret: string };
  let pkg: Buffer;
  let n = 0;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    publisher = await azure.emulator.createPublisher({});
    pkg = await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] });
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  afterEach(() => jest.restoreAllMocks());

  const body = (alias: string, withSecret = true) => ({
    alias,
    testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 1, cold: 1 }], accessInformation: '<p>{{siteUrl}} {{userName}} {{password}}</p>' },
    deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, ...(withSecret ? { clientSecret: publisher.clientSecret } : {}) },
  });
  const url = (id: string) => `/api/v1/offers/${id}`;
  /** A new draft offer with a package (ready to publish); returns its id. */
  const newOffer = async (withPackage = true): Promise<string> => {
    const id = `race-${++n}`;
    await svc.http.put(url(id)).send(body('Original')).expect(201);
    if (withPackage) await svc.http.put(`${url(id)}/package`).set('content-type', 'application/zip').send(pkg).expect(201);
    return id;
  };
  const get = async (id: string) => svc.http.get(url(id)) as unknown as Promise<Res>;
  const etagOf = async (id: string) => (await get(id)).headers.etag;
  /** Fires a request now (supertest starts on then()). */
  const fire = (t: PromiseLike<unknown>): Promise<Res> => Promise.resolve(t) as Promise<Res>;
  /** The next ARM publish preflight (its checkHealth against the subscription, issue 13) waits, after it was entered, until release(). */
  const holdNextPublishPreflight = () => {
    const type = svc.app.get(TestDriveTypeRegistry).get('azure-resource-manager') as { checkHealth: (o: never) => Promise<unknown> };
    const original = type.checkHealth.bind(type);
    const entered = deferred();
    const gate = deferred();
    jest.spyOn(type, 'checkHealth').mockImplementationOnce(async (offer) => {
      entered.resolve();
      await gate.promise;
      return original(offer);
    });
    return { entered: entered.promise, release: gate.resolve };
  };
  /** Publishes `id` with its preflight held, runs `meanwhile` while it is held, and returns the publish's answer. */
  const duringSlowPublish = async (id: string, meanwhile: () => Promise<unknown>): Promise<Res> => {
    const hold = holdNextPublishPreflight();
    const publish = fire(svc.http.post(`${url(id)}/publish`));
    await hold.entered;
    await meanwhile();
    hold.release();
    return publish;
  };
  const expectError = (r: Res, status: number, code: string, target?: string) => {
    expect({ status: r.status, code: r.body.error?.code, ...(target ? { target: r.body.error?.target } : {}) }).toEqual({ status, code, ...(target ? { target } : {}) });
  };

  describe('ETag and conditional headers', () => {
    it('GET, PUT, publish and unpublish answer a strong ETag that changes with every write (package uploads too)', async () => {
      const id = `race-${++n}`;
      const created = (await svc.http.put(url(id)).send(body('Original')).expect(201)) as unknown as Res;
      expect(created.headers.etag).toMatch(/^"\d+"$/);
      expect(await etagOf(id)).toBe(created.headers.etag);
      const updated = (await svc.http.put(url(id)).send(body('Renamed', false)).expect(200)) as unknown as Res;
      expect(updated.headers.etag).not.toBe(created.headers.etag);
      await svc.http.put(`${url(id)}/package`).set('content-type', 'application/zip').send(pkg).expect(201);
      const afterPackage = await etagOf(id);
      expect(afterPackage).not.toBe(updated.headers.etag);
      const published = (await svc.http.post(`${url(id)}/publish`).expect(200)) as unknown as Res;
      expect(published.headers.etag).not.toBe(afterPackage);
      expect(await etagOf(id)).toBe(published.headers.etag);
      const unpublished = (await svc.http.post(`${url(id)}/unpublish`).expect(200)) as unknown as Res;
      expect(unpublished.headers.etag).not.toBe(published.headers.etag);
      expect(await etagOf(id)).toBe(unpublished.headers.etag);
    });

    it('If-Match: a stale ETag is 412 PreconditionFailed naming If-Match and changes nothing; the current one applies', async () => {
      const id = await newOffer();
      const stale = await etagOf(id);
      await svc.http.put(url(id)).send(body('Changed by someone else', false)).expect(200);
      const current = await etagOf(id);

      const put = (await svc.http.put(url(id)).set('If-Match', stale).send(body('Mine', false))) as unknown as Res;
      expectError(put, 412, 'PreconditionFailed', 'If-Match');
      expect(put.body.error!.message).toContain(`current ETag is ${current}`);
      for (const action of ['publish', 'unpublish']) expectError(await svc.http.post(`${url(id)}/${action}`).set('If-Match', stale), 412, 'PreconditionFailed', 'If-Match');
      expectError(await svc.http.delete(url(id)).set('If-Match', stale), 412, 'PreconditionFailed', 'If-Match');
      expectError(await svc.http.put(url(id)).set('If-Match', `W/${current}`).send(body('Mine', false)), 412, 'PreconditionFailed', 'If-Match');
      const after = await get(id);
      expect(after.body).toMatchObject({ alias: 'Changed by someone else', state: 'draft' });
      expect(after.headers.etag).toBe(current);

      const ok = (await svc.http.put(url(id)).set('If-Match', `"0", ${current}`).send(body('Mine', false)).expect(200)) as unknown as Res;
      expect(ok.body.alias).toBe('Mine');
      const published = (await svc.http.post(`${url(id)}/publish`).set('If-Match', ok.headers.etag).expect(200)) as unknown as Res;
      const unpublished = (await svc.http.post(`${url(id)}/unpublish`).set('If-Match', published.headers.etag).expect(200)) as unknown as Res;
      await svc.http.delete(url(id)).set('If-Match', unpublished.headers.etag).expect(204);
      await svc.http.get(url(id)).expect(404);
    });

    it('If-Match: * requires the offer to exist; If-None-Match: * creates only; a malformed header is 400 InvalidHeader', async () => {
      const id = `race-${++n}`;
      expectError(await svc.http.put(url(id)).set('If-Match', '*').send(body('New')), 412, 'PreconditionFailed', 'If-Match');
      expectError(await svc.http.put(url(id)).set('If-Match', '"1"').send(body('New')), 412, 'PreconditionFailed', 'If-Match');
      await svc.http.get(url(id)).expect(404);
      await svc.http.put(url(id)).set('If-None-Match', '*').send(body('New')).expect(201);
      const again = (await svc.http.put(url(id)).set('If-None-Match', '*').send(body('Overwrite'))) as unknown as Res;
      expectError(again, 412, 'PreconditionFailed', 'If-None-Match');
      expect((await get(id)).body.alias).toBe('New');
      await svc.http.put(url(id)).set('If-Match', '*').send(body('Updated', false)).expect(200);
      for (const bad of ['1', '"1', 'W/1']) {
        const r = (await svc.http.put(url(id)).set('If-Match', bad).send(body('Bad', false))) as unknown as Res;
        expectError(r, 400, 'InvalidHeader', 'If-Match');
        expect(r.body.error!.message).toMatch(/^If-Match must be "\*" or a comma-separated list of quoted entity tags/);
      }
      expectError(await svc.http.delete(url(id)).set('If-Match', 'nope'), 400, 'InvalidHeader', 'If-Match');
      // Preconditions never reveal another publisher's offer: it is 404 to them.
      const other = await svc.as({ roles: ['TestDrive.Publisher'], newTenant: true });
      expectError(await other.put(url(id)).set('If-Match', '*').send(body('Theirs')), 404, 'OfferNotFound');
      expectError(await other.post(`${url(id)}/publish`).set('If-Match', '"999"'), 404, 'OfferNotFound');
      expect((await get(id)).body.alias).toBe('Updated');
    });
  });

  describe('concurrent writes', () => {
    it('two concurrent PUTs with the same If-Match: exactly one wins, the other is 412', async () => {
      const id = await newOffer(false);
      const etag = await etagOf(id);
      const [a, b] = await Promise.all([
        fire(svc.http.put(url(id)).set('If-Match', etag).send(body('Writer A'))),
        fire(svc.http.put(url(id)).set('If-Match', etag).send(body('Writer B'))),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      const loser = a.status === 200 ? b : a;
      expectError(loser, 412, 'PreconditionFailed', 'If-Match');
      const now = await get(id);
      expect(now.body.alias).toBe(winner.body.alias);
      expect(now.headers.etag).toBe(winner.headers.etag);
    });

    it('a PUT that read the offer before a concurrent PUT wrote it loses: 412 with If-Match, 409 OfferChanged without', async () => {
      for (const conditional of [true, false]) {
        const id = await newOffer(false);
        const etag = await etagOf(id);
        // A is held inside its Key Vault write (after it read and checked the offer, before its update).
        const secrets = svc.app.get(SecretStore);
        const original = secrets.set.bind(secrets);
        const entered = deferred();
        const gate = deferred();
        jest.spyOn(secrets, 'set').mockImplementationOnce(async (...args) => {
          entered.resolve();
          await gate.promise;
          return original(...args);
        });
        const reqA = svc.http.put(url(id)).send(body('Writer A'));
        const a = fire(conditional ? reqA.set('If-Match', etag) : reqA);
        await entered.promise;
        const reqB = svc.http.put(url(id)).send(body('Writer B', false));
        await (conditional ? reqB.set('If-Match', etag) : reqB).expect(200);
        gate.resolve();
        const lost = await a;
        if (conditional) expectError(lost, 412, 'PreconditionFailed', 'If-Match');
        else {
          expectError(lost, 409, 'OfferChanged');
          expect(lost.body.error!.message).toBe(`Offer '${id}' changed while this request ran; read it again and retry.`);
        }
        expect((await get(id)).body.alias).toBe('Writer B');
        jest.restoreAllMocks();
      }
    });

    it('a PUT during a publish whose remote checks are slow is not overwritten: the publish is refused', async () => {
      const id = await newOffer();
      const r = await duringSlowPublish(id, () => svc.http.put(url(id)).send(body('Renamed during publish', false)).expect(200));
      expectError(r, 409, 'OfferChanged');
      expect((await get(id)).body).toMatchObject({ alias: 'Renamed during publish', state: 'draft', publishedAt: null });
      // A retry publishes the offer as it is now.
      await svc.http.post(`${url(id)}/publish`).expect(200);
      expect((await get(id)).body).toMatchObject({ alias: 'Renamed during publish', state: 'published' });
    });

    it('an unpublish during a slow publish is not overwritten (412 for the publish when it sent If-Match)', async () => {
      const id = await newOffer();
      const etag = await etagOf(id);
      const hold = holdNextPublishPreflight();
      const slow = fire(svc.http.post(`${url(id)}/publish`).set('If-Match', etag));
      await hold.entered;
      // Meanwhile another publish (not held) goes through and an operator unpublishes.
      await svc.http.post(`${url(id)}/publish`).expect(200);
      const operator = await svc.as('operator');
      await operator.post(`${url(id)}/unpublish`).expect(200);
      hold.release();
      expectError(await slow, 412, 'PreconditionFailed', 'If-Match');
      expect((await get(id)).body.state).toBe('unpublished');
    });

    it('a package uploaded during a slow publish refuses the publish (its checks saw the previous package)', async () => {
      const id = await newOffer();
      const r = await duringSlowPublish(id, () => svc.http.put(`${url(id)}/package`).set('content-type', 'application/zip').send(pkg).expect(201));
      expectError(r, 409, 'OfferChanged');
      expect((await get(id)).body.state).toBe('draft');
    });

    it('a delete during a slow publish is not resurrected', async () => {
      const id = await newOffer();
      const r = await duringSlowPublish(id, () => svc.http.delete(url(id)).expect(204));
      expectError(r, 409, 'OfferChanged');
      expect(r.body.error!.message).toBe(`Offer '${id}' was deleted while this request ran; read it again and retry.`);
      await svc.http.get(url(id)).expect(404);
      expect(await svc.app.get(OffersRepository).findById(id)).toBeNull();
    });

    it('a delete never removes a change it did not see; a PUT of a deleted id creates it anew', async () => {
      const id = await newOffer(false);
      const repo = svc.app.get(OffersRepository);
      const read = await repo.getOrThrow(id);
      await svc.http.put(url(id)).send(body('Changed', false)).expect(200);
      expect(await repo.delete(id, read.version)).toBe(false);
      expect((await get(id)).body.alias).toBe('Changed');
      await svc.http.delete(url(id)).expect(204);
      expect(await repo.delete(id, read.version + 1)).toBe(false);
      const again = (await svc.http.put(url(id)).send(body('Created again')).expect(201)) as unknown as Res;
      expect(again.body).toMatchObject({ alias: 'Created again', state: 'draft' });
    });

    it('health writes (periodic checks) apply only to the version checked, bump it, and never re-create a deleted offer', async () => {
      const id = await newOffer(false);
      const repo = svc.app.get(OffersRepository);
      const read = await repo.getOrThrow(id);
      const health: OfferHealth = { status: 'healthy', problems: [], warnings: [], checkedAt: new Date().toISOString() };
      expect(await repo.updateHealth(id, health, read.version - 1)).toBe(false);
      expect((await repo.getOrThrow(id)).health ?? null).toBeNull();
      expect(await repo.updateHealth(id, health, read.version)).toBe(true);
      const after = await repo.getOrThrow(id);
      expect(after.health).toEqual(health);
      expect(after.version).toBe(read.version + 1);
      expect(after.alias).toBe('Original');
      await svc.http.delete(url(id)).expect(204);
      expect(await repo.updateHealth(id, health, after.version)).toBe(false);
      expect(await repo.setCurrentRevision(id, '00000000-0000-0000-0000-000000000000', Date.now())).toBe(false);
      expect(await repo.findById(id)).toBeNull();
    });
  });
});
