import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ZipFile } from 'yazl';
import { startEmulator } from '../../emulator/src';
import { SecretNotFoundError, SecretStore } from '../../src/azure/secret-store';
import { DataProtector } from '../../src/azure/data-protector';
import { OfferCredentials } from '../../src/offers/offer-credentials';
import { OffersRepository } from '../../src/offers/offers.repository';
import { clientSecretNameFor } from '../../src/offers/offer.dto';
import { SessionEntity } from '../../src/sessions/session.entity';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { TestDriveType } from '../../src/test-drives/test-drive-type';
import { AzureResourceManagerModule } from '../../modules/azure-resource-manager/azure-resource-manager.module';
import { validateArmConfig } from '../../modules/azure-resource-manager/arm-config';
import { PackageService } from '../../modules/azure-resource-manager/packages/package.service';
import { zipDirectory } from '../../src/common/zip-directory';
import { armOfferBody } from '../../src/embedded/sample-offer';
import { startAzurite, TestAzurite } from '../support/azurite';
import { createTestApp, TestApp, testAzureRuntime } from '../support/app';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');

/**
 * Until the ARM type (modules/azure-resource-manager/arm-test-drive.type.ts) is registered by its
 * module, register a stand-in with the same validation and preflight so the publisher API can be
 * tested on its own. Does nothing once the real type is registered.
 */
@Injectable()
class ArmTypeFallback implements OnApplicationBootstrap {
  constructor(
    private readonly registry: TestDriveTypeRegistry,
    private readonly packages: PackageService,
  ) {}
  onApplicationBootstrap(): void {
    if (this.registry.has('azure-resource-manager')) return;
    const notHere = () => Promise.reject(new Error('not part of the offers e2e test'));
    const type: TestDriveType = {
      type: 'azure-resource-manager',
      validateConfig: validateArmConfig,
      publishPreflight: (offer) => this.packages.preflight(offer),
      startSession: notHere,
      endSession: notHere,
      reconcile: async () => undefined,
      capacity: async () => [],
    };
    this.registry.register(type);
  }
}
@Module({ imports: [AzureResourceManagerModule], providers: [ArmTypeFallback] })
class ArmTypeFallbackModule {}

async function zipOf(files: Record<string, string>): Promise<Buffer> {
  const z = new ZipFile();
  for (const [name, data] of Object.entries(files)) z.addBuffer(Buffer.from(data), name);
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('Offers and packages (publisher API) against the emulator and Azurite', () => {
  let dir: string;
  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  let azurite: TestAzurite;
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let publisher: { tenantId: string; subscriptionId: string; clientId: string; clientSecret: string };

  const body = (over: Record<string, unknown> = {}, deploymentOver: Record<string, unknown> = {}) => ({
    ...armOfferBody(
      'Contoso web',
      publisher,
      {
        durationHours: 2,
        regions: [
          { name: 'westeurope', hot: 1, cold: 2 },
          { name: 'eastus', hot: 0, cold: 1 },
        ],
        description: 'Try it.',
        accessInformation: fs.readFileSync(path.join(SAMPLE, 'access-information.html'), 'utf8'),
      },
      deploymentOver,
    ),
    ...over,
  });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-offers-e2e-'));
    emulator = await startEmulator({ port: 0, dataDir: path.join(dir, 'emulator'), deploymentSeconds: 0.2 });
    azurite = await startAzurite();
    const identity = await emulator.createClient({});
    publisher = await emulator.createPublisher({});
    t = await createTestApp({ azure: testAzureRuntime(emulator, azurite.connectionString, identity), imports: [ArmTypeFallbackModule] });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
    await azurite?.stop();
    await emulator?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('PUT /offers/{id}', () => {
    it('creates an offer (201), stores the client secret in Key Vault only', async () => {
      const res = await http.put('/api/v1/offers/contoso_web').send(body()).expect(201);
      expect(res.body).toMatchObject({
        id: 'contoso_web',
        alias: 'Contoso web',
        state: 'draft',
        testDrive: { type: 'azure-resource-manager', durationHours: 2, regions: [{ name: 'westeurope', hot: 1, cold: 2 }, { name: 'eastus', hot: 0, cold: 1 }] },
        deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecretSet: true },
        packageRevision: null,
        publishedAt: null,
      });
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect(JSON.stringify(res.body)).not.toContain(publisher.clientSecret);
      expect(res.body.deployment.clientSecret).toBeUndefined();

      const offer = await t.app.get(OffersRepository).getOrThrow('contoso_web');
      expect(offer.clientSecretName).toBe(clientSecretNameFor('contoso_web'));
      expect(offer.clientSecretName).toMatch(/^offer-contoso-web-[0-9a-f]{8}-client-secret$/);
      expect(JSON.stringify(offer)).not.toContain(publisher.clientSecret);
      expect(await t.app.get(SecretStore).get(offer.clientSecretName!, offer.clientSecretVersion!)).toBe(publisher.clientSecret);
      // and nothing in the database holds it
      const rows = await t.app.get(DataSource).query('SELECT * FROM offer');
      expect(JSON.stringify(rows)).not.toContain(publisher.clientSecret);
    });

    it('updates (200); without clientSecret the current one is kept, with one a new version is used', async () => {
      const repo = t.app.get(OffersRepository);
      const before = await repo.getOrThrow('contoso_web');
      const d = body({ alias: 'Contoso web 2' }).deployment as Record<string, unknown>;
      delete d.clientSecret;
      const res = await http.put('/api/v1/offers/contoso_web').send({ ...body({ alias: 'Contoso web 2' }), deployment: d }).expect(200);
      expect(res.body).toMatchObject({ alias: 'Contoso web 2', deployment: { clientSecretSet: true } });
      expect((await repo.getOrThrow('contoso_web')).clientSecretVersion).toBe(before.clientSecretVersion);

      await http.put('/api/v1/offers/contoso_web').send(body({}, { clientSecret: 'rotated-secret' })).expect(200);
      const after = await repo.getOrThrow('contoso_web');
      expect(after.clientSecretVersion).not.toBe(before.clientSecretVersion);
      expect(await t.app.get(SecretStore).get(after.clientSecretName!, after.clientSecretVersion!)).toBe('rotated-secret');
      // put the publisher's real secret back for the credential test
      await http.put('/api/v1/offers/contoso_web').send(body()).expect(200);
    });

    it('lists every problem at once with field paths', async () => {
      const bad = body({ alias: 'x'.repeat(51), extra: 1 });
      (bad.testDrive as Record<string, unknown>).regions = [
        { name: 'westeurope', hot: 1, cold: 0 },
        { name: 'atlantis', hot: 100, cold: 0 },
      ];
      (bad.testDrive as Record<string, unknown>).durationHours = 1.5;
      (bad.deployment as Record<string, unknown>).tenantId = 'nope';
      const res = await http.put('/api/v1/offers/Bad%20Id').send(bad).expect(400);
      expect(res.body.error.code).toBe('ValidationFailed');
      const targets = (res.body.error.details as Array<{ target: string }>).map((d) => d.target).sort();
      expect(targets).toEqual(
        ['offerId', 'alias', 'extra', 'testDrive.durationHours', 'testDrive.regions[1].name', 'testDrive.regions[1].hot', 'deployment.tenantId'].sort(),
      );
    });

    it('requires a client secret on create', async () => {
      const b = body();
      delete (b.deployment as Record<string, unknown>).clientSecret;
      const res = await http.put('/api/v1/offers/no-secret').send(b).expect(400);
      expect(res.body.error.details).toEqual([expect.objectContaining({ target: 'deployment.clientSecret' })]);
      await http.get('/api/v1/offers/no-secret').expect(404);
    });

    it('refuses unknown types and type changes, naming testDrive.type', async () => {
      const unknown = await http.put('/api/v1/offers/other').send({ alias: 'x', testDrive: { type: 'teleport' }, deployment: {} }).expect(400);
      expect(unknown.body.error.details[0]).toMatchObject({ code: 'UnknownTestDriveType', target: 'testDrive.type' });
      expect(unknown.body.error.details[0].message).toContain('azure-resource-manager');
      const change = await http.put('/api/v1/offers/contoso_web').send({ alias: 'x', testDrive: { type: 'power-bi', url: 'https://x' } }).expect(400);
      expect(change.body.error.details).toEqual([expect.objectContaining({ code: 'TestDriveTypeCannotChange', target: 'testDrive.type' })]);
    });

    it('answers malformed JSON with a 400 error body', async () => {
      const res = await http.put('/api/v1/offers/x').set('content-type', 'application/json').send('{"alias": ').expect(400);
      expect(res.body.error).toEqual({ code: 'InvalidJson', message: expect.stringMatching(/^The request body is not valid JSON: /) });
      const notObject = await http.put('/api/v1/offers/x').set('content-type', 'application/json').send('null').expect(400);
      expect(notObject.body.error).toEqual({ code: 'InvalidJson', message: 'The request body must be a JSON object, not null.' });
    });
  });

  describe('GET', () => {
    it('gets one offer, lists offers, 404 for unknown ids', async () => {
      const one = await http.get('/api/v1/offers/contoso_web').expect(200);
      expect(one.body.id).toBe('contoso_web');
      const list = await http.get('/api/v1/offers').expect(200);
      expect(list.body.value.map((o: { id: string }) => o.id)).toContain('contoso_web');
      const missing = await http.get('/api/v1/offers/nope').expect(404);
      expect(missing.body.error.code).toBe('OfferNotFound');
    });
  });

  describe('packages', () => {
    it('refuses publishing without a package (409 OfferIncomplete naming it)', async () => {
      const res = await http.post('/api/v1/offers/contoso_web/publish').expect(409);
      expect(res.body.error.code).toBe('OfferIncomplete');
      expect(res.body.error.details).toEqual([expect.objectContaining({ code: 'PackageMissing', target: 'package' })]);
    });

    it('refuses other content types (415) and bad packages (400 naming the entry)', async () => {
      const r415 = await http.put('/api/v1/offers/contoso_web/package').set('content-type', 'application/json').send('{}').expect(415);
      expect(r415.body.error.message).toContain('application/zip');
      const notZip = await http.put('/api/v1/offers/contoso_web/package').set('content-type', 'application/zip').send(Buffer.from('hello')).expect(400);
      expect(notZip.body.error.details[0].code).toBe('InvalidZip');
      const wrapped = await http
        .put('/api/v1/offers/contoso_web/package')
        .set('content-type', 'application/zip')
        .send(await zipOf({ 'pkg/main-template.json': '{"parameters":{}}' }))
        .expect(400);
      expect(wrapped.body.error.details[0]).toMatchObject({ code: 'MainTemplateMissing', target: 'package:main-template.json' });
      const badParam = await http
        .put('/api/v1/offers/contoso_web/package')
        .set('content-type', 'application/zip')
        .send(await zipOf({ 'main-template.json': JSON.stringify({ parameters: { vmSize: { type: 'string' } } }) }))
        .expect(400);
      expect(badParam.body.error.details[0].target).toBe('main-template.json:parameters.vmSize');
      await http.put('/api/v1/offers/nope/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE)).expect(404);
    });

    it('stores the sample package in a new public container per revision', async () => {
      const zip = await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] });
      const r1 = await http.put('/api/v1/offers/contoso_web/package').set('content-type', 'application/zip').send(zip).expect(201);
      const rev = r1.body.revision;
      expect(rev).toMatchObject({ number: 1, totalBytes: expect.any(Number) });
      expect(rev.files.map((f: { path: string }) => f.path).sort()).toEqual(['main-template.json', 'nested/webapp.json']);
      expect(rev.parameters).toEqual(
        expect.arrayContaining([
          { name: 'baseUri', armType: 'string', metadataType: 'baseuri', hasDefault: false, valueSource: 'package' },
          { name: 'adminPassword', armType: 'securestring', metadataType: 'password', hasDefault: false, valueSource: 'generated', passwordLength: 10 },
          { name: 'skuName', armType: 'string', metadataType: null, hasDefault: true, valueSource: 'default' },
        ]),
      );
      expect(rev.baseUri).toMatch(new RegExp(`^${azurite.blobEndpoint}/pkg-contoso-web-1-[0-9a-f]{8}/$`));
      // ARM fetches linked templates anonymously: the files must be readable without credentials.
      const nested = await fetch(`${rev.baseUri}nested/webapp.json`);
      expect(nested.status).toBe(200);
      expect(nested.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(await nested.text()).resources).toHaveLength(3);

      const r2 = await http.put('/api/v1/offers/contoso_web/package').set('content-type', 'application/x-zip-compressed').send(zip).expect(201);
      expect(r2.body.revision.number).toBe(2);
      expect(r2.body.revision.baseUri).not.toBe(rev.baseUri);
      const current = await http.get('/api/v1/offers/contoso_web/package').expect(200);
      expect(current.body.revision.id).toBe(r2.body.revision.id);
      const offer = await http.get('/api/v1/offers/contoso_web').expect(200);
      expect(offer.body.packageRevision).toMatchObject({ id: r2.body.revision.id, number: 2, baseUri: r2.body.revision.baseUri });
      expect((await fetch(`${rev.baseUri}main-template.json`)).status).toBe(200); // old revisions stay served
    });
  });

  describe('publish / unpublish / delete', () => {
    it('publishes (idempotent), refuses delete while published, unpublishes', async () => {
      const p1 = await http.post('/api/v1/offers/contoso_web/publish').expect(200);
      expect(p1.body.state).toBe('published');
      expect(p1.body.publishedAt).toEqual(expect.any(String));
      const p2 = await http.post('/api/v1/offers/contoso_web/publish').expect(200);
      expect(p2.body.publishedAt).toBe(p1.body.publishedAt);
      const del = await http.delete('/api/v1/offers/contoso_web').expect(409);
      expect(del.body.error.code).toBe('OfferPublished');
      const u = await http.post('/api/v1/offers/contoso_web/unpublish').expect(200);
      expect(u.body.state).toBe('unpublished');
      await http.post('/api/v1/offers/contoso_web/unpublish').expect(200);
      await http.post('/api/v1/offers/nope/publish').expect(404);
    });

    it('gives a working credential for the publisher app registration (secret read from Key Vault)', async () => {
      const offer = await t.app.get(OffersRepository).getOrThrow('contoso_web');
      const cred = await t.app.get(OfferCredentials).credentialFor(offer);
      const token = await cred.getToken('https://management.azure.com/.default');
      expect(token?.token).toEqual(expect.any(String));
      expect(await t.app.get(OfferCredentials).credentialFor(offer)).toBe(cred); // cached per version
    });

    it('refuses delete while a session runs, then deletes the offer and its secret', async () => {
      const ds = t.app.get(DataSource);
      const sessionId = randomUUID();
      await ds.getRepository(SessionEntity).insert({
        id: sessionId,
        offerId: 'contoso_web',
        type: 'azure-resource-manager',
        state: 'ready',
        customer: { email: 'a@example.com', firstName: 'A', lastName: 'B' },
        durationHours: 2,
        requestedAt: Date.now(),
        updatedAt: Date.now(),
      });
      const res = await http.delete('/api/v1/offers/contoso_web').expect(409);
      expect(res.body.error.code).toBe('OfferHasSessions');
      await ds.getRepository(SessionEntity).update({ id: sessionId }, { state: 'ended' });

      const secretName = (await t.app.get(OffersRepository).getOrThrow('contoso_web')).clientSecretName!;
      await http.delete('/api/v1/offers/contoso_web').expect(204);
      await http.get('/api/v1/offers/contoso_web').expect(404);
      await expect(t.app.get(SecretStore).get(secretName)).rejects.toBeInstanceOf(SecretNotFoundError);
      await http.delete('/api/v1/offers/contoso_web').expect(404);

      // the id keeps the deleted offer's session, so it is not given to a new offer (offer-id-reuse e2e) ...
      expect((await http.put('/api/v1/offers/contoso_web').send(body()).expect(409)).body.error.code).toBe('OfferIdRetired');
      // ... and without that history it can be used again (the soft-deleted secret was purged)
      await ds.getRepository(SessionEntity).delete({ id: sessionId });
      await http.put('/api/v1/offers/contoso_web').send(body()).expect(201);
    });
  });

  describe('Key Vault services', () => {
    it('DataProtector encrypts with a key kept in Key Vault and decrypts after a restart', async () => {
      const protector = t.app.get(DataProtector);
      const token = await protector.encrypt({ password: 'Ab1!xyzXYZ' });
      expect(token).toMatch(/^v1:[0-9a-zA-Z-]+:/);
      expect(token).not.toContain('Ab1!');
      expect(await protector.decrypt(token)).toEqual({ password: 'Ab1!xyzXYZ' });
      const fresh = new DataProtector(t.app.get(SecretStore));
      expect(await fresh.decrypt(token)).toEqual({ password: 'Ab1!xyzXYZ' });
    });

    it('SecretStore: versions, delete is idempotent', async () => {
      const s = t.app.get(SecretStore);
      const a = await s.set('e2e-secret', 'one');
      const b = await s.set('e2e-secret', 'two');
      expect(a.version).not.toBe(b.version);
      expect(await s.get('e2e-secret', a.version)).toBe('one');
      expect(await s.get('e2e-secret')).toBe('two');
      await s.delete('e2e-secret');
      await s.delete('e2e-secret');
      await expect(s.get('e2e-secret')).rejects.toBeInstanceOf(SecretNotFoundError);
      await expect(s.set('bad_name', 'x')).rejects.toThrow(/Invalid Key Vault secret name/);
    });
  });

  it('documents the API (OpenAPI at /api/docs)', async () => {
    const res = await http.get('/api/docs-json').expect(200);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/v1/offers/{offerId}', '/api/v1/offers/{offerId}/publish', '/api/v1/offers/{offerId}/package']));
  });
});
