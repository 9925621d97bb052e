import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Response } from 'supertest';
import { zipDirectory } from '../../src/common/zip-directory';
import { Role } from '../../src/auth/roles';
import { SecretNotFoundError, SecretStore } from '../../src/azure/secret-store';
import { OffersRepository } from '../../src/offers/offers.repository';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';

const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper', country: 'US' };

/**
 * Issue 3 acceptance: after a full life (offer, secret update, package, publish, hot and cold sessions,
 * reads by every role, end, expiry, unpublish, delete) no client secret, generated password, SAS
 * signature or bearer token appears in the logs (debug level), the SQLite database files, or any
 * response it should not (everything but the marketplace's own session responses).
 */
describe('secret hygiene over a full e2e life', () => {
  let azure: LocalAzure;
  let svc: TestService;
  const logs: Buffer[] = [];
  const responses: Array<{ what: string; text: string; mayHoldAccess: boolean }> = [];

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => logs.push(c));
    svc = await startService(azure, { logStream: stream, env: { LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await azure?.stop();
  });

  const keep = (what: string, r: Response, mayHoldAccess = false): Response => {
    responses.push({ what, text: `${JSON.stringify(r.headers)}\n${r.text}`, mayHoldAccess });
    return r;
  };

  it('leaks nothing', async () => {
    const pub: AuthedHttp = await svc.as({ roles: [Role.Publisher] });
    const market = await svc.as('marketplace');
    const ops = await svc.as('operator');
    const p = await azure.emulator.createPublisher({});
    const secondSecret = `${randomBytes(12).toString('base64url')}8Q~${randomBytes(12).toString('base64url')}`;
    const body = (clientSecret: string) => ({
      alias: 'Hygiene',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 1, cold: 1 }], accessInformation: '<p>{{siteUrl}} {{userName}} {{password}}</p>' },
      deployment: { subscriptionId: p.subscriptionId, tenantId: p.tenantId, clientId: p.clientId, clientSecret },
    });
    keep('put', await pub.put('/api/v1/offers/hygiene').send(body(p.clientSecret)).expect(201));
    const repo = svc.app.get(OffersRepository);
    const v1 = (await repo.getOrThrow('hygiene')).clientSecretVersion;
    // A new secret: a new Key Vault version; the offer moves to it. Then back to the working one.
    keep('put2', await pub.put('/api/v1/offers/hygiene').send(body(secondSecret)).expect(200));
    const v2 = (await repo.getOrThrow('hygiene')).clientSecretVersion;
    expect(v2).not.toBe(v1);
    keep('put3', await pub.put('/api/v1/offers/hygiene').send(body(p.clientSecret)).expect(200));
    const offer = await repo.getOrThrow('hygiene');
    expect(offer.clientSecretVersion).not.toBe(v2);
    expect(await svc.app.get(SecretStore).get(offer.clientSecretName!, offer.clientSecretVersion!)).toBe(p.clientSecret);

    keep('pkg', await pub.put('/api/v1/offers/hygiene/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201));
    keep('publish', await pub.post('/api/v1/offers/hygiene/publish').expect(200));
    await svc.until(async () => (await ops.get('/api/v1/capacity?offerId=hygiene')).body.value?.[0]?.hotReady === 1);

    const hot = keep('start hot', await market.post('/api/v1/offers/hygiene/sessions').send({ customer, region: 'westeurope' }).expect(201), true);
    const cold = keep('start cold', await market.post('/api/v1/offers/hygiene/sessions').send({ customer, region: 'westeurope' }).expect(201), true);
    const ready = await svc.until(async () => {
      const r = await market.get(`/api/v1/sessions/${cold.body.id}`);
      return r.body.state === 'ready' ? r : undefined;
    });
    keep('get cold (marketplace)', ready, true);
    const passwords = [hot.body.outputs.password as string, ready.body.outputs.password as string];
    expect(passwords.every((x) => typeof x === 'string' && x.length >= 8)).toBe(true);

    for (const id of [hot.body.id, cold.body.id]) {
      keep('get (publisher)', await pub.get(`/api/v1/sessions/${id}`).expect(200));
      keep('get (operator)', await ops.get(`/api/v1/sessions/${id}`).expect(200));
    }
    keep('list sessions (publisher)', await pub.get('/api/v1/offers/hygiene/sessions').expect(200));
    keep('list sessions (operator)', await ops.get('/api/v1/offers/hygiene/sessions').expect(200));
    keep('offers (publisher)', await pub.get('/api/v1/offers').expect(200));
    keep('offers (operator)', await ops.get('/api/v1/offers').expect(200));
    keep('offer', await ops.get('/api/v1/offers/hygiene').expect(200));
    keep('package', await ops.get('/api/v1/offers/hygiene/package').expect(200));
    keep('capacity', await pub.get('/api/v1/capacity').expect(200));
    keep('end (operator)', await ops.delete(`/api/v1/sessions/${hot.body.id}`).expect(202));
    svc.clock.advance(3600_000 + 1000);
    await svc.until(async () => (await ops.get(`/api/v1/sessions/${cold.body.id}`)).body.state === 'ended');
    keep('unpublish', await pub.post('/api/v1/offers/hygiene/unpublish').expect(200));
    keep('audit', await ops.get('/api/v1/audit').expect(200));
    // Refusals echo nothing secret either.
    keep('bad put', await pub.put('/api/v1/offers/hygiene').send({ ...body(secondSecret), extra: secondSecret }).expect(400));
    keep('bad token', await svc.anonymous.get('/api/v1/offers').set('Authorization', `Bearer ${pub.token}x`).expect(401));
    const del = await svc.until(async () => {
      const r = await pub.delete('/api/v1/offers/hygiene');
      return r.status === 204 ? r : undefined;
    });
    keep('delete', del);
    await expect(svc.app.get(SecretStore).get(offer.clientSecretName!)).rejects.toBeInstanceOf(SecretNotFoundError);

    const dbFile = svc.databaseUrl.slice('sqlite:'.length);
    const dbBytesLive = ['', '-wal', '-shm'].map((x) => (fs.existsSync(dbFile + x) ? fs.readFileSync(dbFile + x) : Buffer.alloc(0)));
    await svc.close();
    const dbBytes = Buffer.concat([...dbBytesLive, fs.readFileSync(dbFile)]);
    const logText = Buffer.concat(logs).toString('utf8');
    expect(logText.length).toBeGreaterThan(1000);
    expect(logText).toMatch(/"level":20.*caller authenticated/); // debug lines were captured
    expect(logText).toMatch(/session started/);

    const accountKey = /AccountKey=([^;]+)/.exec(azure.runtime.endpoints.storageConnectionString)?.[1];
    const secrets: Array<[string, string]> = [
      ['publisher client secret', p.clientSecret],
      ['second client secret', secondSecret],
      ['service client secret', azure.runtime.serviceIdentity.clientSecret],
      ...passwords.map((x, i): [string, string] => [`generated password ${i}`, x]),
      ...[pub, market, ops, svc.http].map((c, i): [string, string] => [`bearer token ${i}`, c.token]),
      ...[pub, market, ops, svc.http].map((c, i): [string, string] => [`bearer token signature ${i}`, c.token.split('.')[2]]),
      ...(accountKey ? [['storage account key', accountKey] as [string, string]] : []),
    ];
    for (const [name, value] of secrets) {
      expect({ name, inLogs: logText.includes(value) }).toEqual({ name, inLogs: false });
      expect({ name, inDatabase: dbBytes.includes(Buffer.from(value, 'utf8')) }).toEqual({ name, inDatabase: false });
      for (const r of responses) {
        const allowed = r.mayHoldAccess && name.startsWith('generated password');
        if (!allowed) expect({ name, response: r.what, leaked: r.text.includes(value) }).toEqual({ name, response: r.what, leaked: false });
      }
    }
    // SAS signatures never appear (the service uses none; any `sig=` would be a leaked one).
    expect(logText).not.toMatch(/[?&]sig=/i);
    expect(dbBytes.toString('latin1')).not.toMatch(/[?&]sig=/i);
    for (const r of responses) expect({ r: r.what, sas: /[?&]sig=/i.test(r.text) }).toEqual({ r: r.what, sas: false });
  });
});
