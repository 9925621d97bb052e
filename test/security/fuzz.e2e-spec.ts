import fc from 'fast-check';
import type { Response, Test } from 'supertest';
import { DataSource } from 'typeorm';
import { BlobServiceClient } from '@azure/storage-blob';
import { Role } from '../../src/auth/roles';
import { AuthedHttp, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { control } from './support';
import { rawZip, RawEntry } from '../support/raw-zip';

/**
 * Issue 3: no input, however malformed or hostile, produces a 5xx or changes stored state when refused.
 * fast-check drives the real HTTP API (supertest): JSON bodies of PUT /offers, POST sessions, hostile
 * zips on PUT package, headers, path parameters and query strings. Every refusal is a 4xx naming a code
 * and a message. Stored state = every offer row + row counts (revisions, sessions, instances, audit);
 * at the end Key Vault secrets and blob containers are checked against what was accepted.
 */
const RUNS = { putOffer: 600, rawBodies: 150, sessions: 350, packages: 250, headers: 250, paths: 450 };
export const FUZZ_CASES = Object.values(RUNS).reduce((a, b) => a + b, 0);
// FUZZ_SEED=<seed printed by a failure> replays a run (every property starts from that seed).
if (process.env.FUZZ_SEED) fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED) });

describe(`fuzzing the HTTP API (${FUZZ_CASES} cases)`, () => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: AuthedHttp;
  let market: AuthedHttp;
  let ds: DataSource;
  let validBody: Record<string, unknown>;
  let cases = 0;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure);
    pub = await svc.as({ roles: [Role.Publisher] });
    market = await svc.as('marketplace');
    ds = svc.app.get(DataSource);
    const p = await azure.emulator.createPublisher({});
    validBody = {
      alias: 'Fuzz',
      testDrive: { type: 'azure-resource-manager', durationHours: 2, regions: [{ name: 'westeurope', hot: 0, cold: 2 }], description: 'd', accessInformation: '<p>{{password}}</p>' },
      deployment: { subscriptionId: p.subscriptionId, tenantId: p.tenantId, clientId: p.clientId, clientSecret: p.clientSecret },
    };
    await pub.put('/api/v1/offers/fuzz-offer').send(validBody).expect(201);
  });

  afterAll(async () => {
    console.log(`fuzz: ${cases} HTTP cases`);
    await svc?.close();
    await azure?.stop();
  });

  const snapshot = async (): Promise<string> => {
    const offers = await ds.query('SELECT * FROM offer ORDER BY id');
    const counts = [];
    for (const t of ['package_revision', 'session', 'pool_instance', 'audit_event']) counts.push((await ds.query(`SELECT COUNT(*) AS n FROM ${t}`))[0].n);
    return JSON.stringify([offers, counts]);
  };

  /** Runs one request; asserts < 500, a 4xx error body, and no state change when refused. */
  const check = async (make: () => Test): Promise<Response> => {
    cases++;
    const before = await snapshot();
    let res: Response;
    try {
      res = await make();
    } catch (e) {
      // The client refused to send it (e.g. an invalid header character): nothing reached the service.
      if (/Invalid character|invalid header|ERR_INVALID|ERR_UNESCAPED/i.test(String((e as Error).message) + String((e as { code?: string }).code)) && !(e as { status?: number }).status) return { status: 0 } as Response;
      throw e;
    }
    expect({ status: res.status, body: res.status >= 500 ? res.body : undefined }).toEqual({ status: expect.any(Number), body: undefined });
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) {
      if (res.status !== 431) {
        expect(typeof res.body?.error?.code).toBe('string');
        expect(typeof res.body?.error?.message).toBe('string');
        if (res.body.error.code === 'ValidationFailed') expect(res.body.error.details?.length).toBeGreaterThan(0);
      }
      expect(await snapshot()).toBe(before);
    }
    return res;
  };

  // ---- arbitraries ---------------------------------------------------------------------------
  const hugeString = fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('x'.repeat(5000), 'é'.repeat(70_000), '\u0000\uFFFF\uD800', '<script>alert(1)</script>', '{{password}}'.repeat(200)));
  const weird: fc.Arbitrary<unknown> = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    hugeString,
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.constantFrom(null, true, false, 0, -1, 1e308, -0, 2 ** 53 + 1, [], {}, ''),
  );
  const paths = [
    ['alias'], ['testDrive'], ['testDrive', 'type'], ['testDrive', 'durationHours'], ['testDrive', 'regions'], ['testDrive', 'regions', 0],
    ['testDrive', 'regions', 0, 'name'], ['testDrive', 'regions', 0, 'hot'], ['testDrive', 'regions', 0, 'cold'], ['testDrive', 'accessInformation'],
    ['testDrive', 'description'], ['deployment'], ['deployment', 'subscriptionId'], ['deployment', 'tenantId'], ['deployment', 'clientId'],
    ['deployment', 'clientSecret'], ['extra'], ['testDrive', 'extra'], ['deployment', 'extra'], ['__proto__'], ['constructor'],
  ] as const;
  const mutated = fc.tuple(fc.array(fc.tuple(fc.constantFrom(...paths), weird, fc.boolean()), { minLength: 1, maxLength: 3 })).map(([muts]) => {
    const body = JSON.parse(JSON.stringify(validBody)) as Record<string, unknown>;
    for (const [p, v, del] of muts) {
      let o = body as Record<string | number, unknown>;
      for (const k of p.slice(0, -1) as Array<string | number>) {
        if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
        o = o[k] as Record<string | number, unknown>;
      }
      const last = p[p.length - 1] as string | number;
      if (del) delete o[last];
      // A copy: fc.constantFrom hands out the same [] and {} on every run, and a later mutation that walks
      // into one would write into that shared object (a run once built a cycle, and JSON.stringify threw).
      else Object.defineProperty(o, last, { value: structuredClone(v), enumerable: true, writable: true, configurable: true });
    }
    return body;
  });
  const offerId = fc.oneof(fc.constant('fuzz-offer'), fc.string({ maxLength: 80 }), fc.constantFrom('FUZZ', 'a'.repeat(51), '..', '%2e%2e', 'fuzz-offer/..', ' ', 'null', 'constructor', '__proto__'));
  const enc = (s: string) => encodeURIComponent(s) || '%20';

  it('PUT /offers/{id}: random and mutated JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(offerId, fc.oneof(mutated, fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<unknown>), async (id, body) => {
        await check(() => pub.put(`/api/v1/offers/${enc(id)}`).set('content-type', 'application/json').send(JSON.stringify(body)));
      }),
      { numRuns: RUNS.putOffer },
    );
  });

  it('malformed, deep, huge and mistyped raw bodies', async () => {
    const raw = fc.oneof(
      fc.string({ maxLength: 500 }),
      fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat({ max: 3000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
      fc.constantFrom('{"alias": ', '\uFEFF{}', 'null', '[]', '"str"', '{"alias":"x","alias":"y"}', '{"__proto__":{"polluted":1}}', 'x'.repeat(1_050_000)),
    );
    const ct = fc.constantFrom('application/json', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'application/zip', 'application/merge-patch+json');
    await fc.assert(
      fc.asyncProperty(raw, ct, fc.constantFrom('PUT /offers/fuzz-offer', 'POST /offers/fuzz-offer/sessions', 'PUT /offers/fuzz-offer/package'), async (body, type, route) => {
        const [m, p] = route.split(' ');
        const who = m === 'POST' ? market : pub;
        await check(() => (m === 'PUT' ? who.put(`/api/v1${p}`) : who.post(`/api/v1${p}`)).set('content-type', type).send(body));
      }),
      { numRuns: RUNS.rawBodies },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('POST /offers/{id}/sessions: random bodies and Idempotency-Keys', async () => {
    const customer = fc.record({ email: fc.oneof(fc.emailAddress(), hugeString), firstName: hugeString, lastName: hugeString, company: weird, country: fc.oneof(fc.constantFrom('GB', 'us', 'XXX'), hugeString) }, { requiredKeys: [] });
    const body = fc.oneof(fc.record({ customer, region: fc.oneof(fc.constantFrom('westeurope', 'mars'), hugeString) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 3 }));
    const key = fc.option(fc.oneof(fc.stringMatching(/^[\x21-\x7e]{0,300}$/), fc.constantFrom('', ' ', 'k'.repeat(256))), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(offerId, body, key, async (id, b, k) => {
        await check(() => {
          const t = market.post(`/api/v1/offers/${enc(id)}/sessions`).send(b as object);
          return k === undefined ? t : t.set('Idempotency-Key', k);
        });
      }),
      { numRuns: RUNS.sessions },
    );
  });

  it('PUT /offers/{id}/package: hostile zips', async () => {
    const hostileName = fc.oneof(
      fc.constantFrom('../evil.json', '/etc/passwd', 'C:\\\\x.json', 'a/../../b.json', 'nested/../../x', './main-template.json', 'main-template.json', 'a\\\\..\\\\..\\\\b', 'dir/', 'con.json', ' main-template.json', 'x\u0000y.json').map((s) => Buffer.from(s, 'utf8')),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
      fc.constant(Buffer.from([0x6d, 0xff, 0xfe, 0x2e, 0x6a])),
      fc.constant(Buffer.from('n'.repeat(1100))),
    );
    const templateJson = fc.oneof(
      fc.constant(Buffer.from(JSON.stringify({ $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#', contentVersion: '1.0.0.0', resources: [] }))),
      fc.nat({ max: 400 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))),
      fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    );
    const entry: fc.Arbitrary<RawEntry> = fc.record({
      name: fc.oneof(hostileName, fc.constant(Buffer.from('main-template.json'))),
      data: fc.oneof({ weight: 4, arbitrary: templateJson }, { weight: 1, arbitrary: fc.nat({ max: 3 }).map((n) => Buffer.alloc(n * 700 * 1024)) }),
      method: fc.constantFrom(0 as const, 8 as const),
      unixMode: fc.option(fc.constantFrom(0o120777, 0o100644, 0o040755, 0o010644), { nil: undefined }),
      utf8: fc.boolean(),
      declaredSize: fc.option(fc.constantFrom(0, 1, 0xffffffff, 200 * 1024 * 1024), { nil: undefined }),
    });
    const zip = fc.oneof(
      { weight: 6, arbitrary: fc.array(entry, { minLength: 0, maxLength: 6 }).map((e) => rawZip(e)) },
      { weight: 1, arbitrary: fc.nat({ max: 1500 }).map((n) => rawZip(Array.from({ length: n }, (_, i) => ({ name: Buffer.from(`f${i}.json`), data: Buffer.from('{}') })))) },
      { weight: 1, arbitrary: fc.tuple(fc.array(entry, { minLength: 1, maxLength: 3 }), fc.nat()).map(([e, cut]) => { const z = rawZip(e); return z.subarray(0, cut % z.length); }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)) },
    );
    await fc.assert(
      fc.asyncProperty(zip, fc.constantFrom('application/zip', 'application/x-zip-compressed'), async (z, type) => {
        await check(() => pub.put('/api/v1/offers/fuzz-offer/package').set('content-type', type).send(z));
      }),
      { numRuns: RUNS.packages },
    );
  });

  it('hostile headers: Authorization, Content-Type, Accept, Idempotency-Key', async () => {
    const headerValue = fc.oneof(fc.stringMatching(/^[\t\x20-\x7e]{0,400}$/), fc.constantFrom('Bearer ', 'Bearer a.b.c', `Bearer ${'A'.repeat(9000)}.e30.x`, 'Bearer eyJhbGciOiJub25lIn0.e30.', 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Ijx4PiJ9.e30.AAAA', 'Basic Og==', 'bearer  \t x'));
    await fc.assert(
      fc.asyncProperty(headerValue, headerValue, fc.constantFrom('authorization', 'content-type', 'accept', 'idempotency-key', 'x-forwarded-for'), fc.constantFrom('GET /offers', 'PUT /offers/fuzz-offer', 'POST /offers/fuzz-offer/sessions', 'PUT /offers/fuzz-offer/package'), async (v, v2, name, route) => {
        const [m, p] = route.split(' ');
        const who = route.includes('sessions') ? market : pub;
        await check(() => {
          const t = (who as unknown as Record<string, (u: string) => Test>)[m.toLowerCase()](`/api/v1${p}`).set(name, name === 'authorization' ? v : v2);
          return m === 'GET' ? t : t.send(name === 'content-type' ? '{"alias":"x"}' : { alias: v2 });
        });
      }),
      { numRuns: RUNS.headers },
    );
  });

  it('hostile path parameters and query strings on every route', async () => {
    const seg = fc.oneof(fc.string({ maxLength: 100 }).map(enc), fc.constantFrom('%', '%zz', '%00', '..%2f..%2f', '%2e%2e', '%c0%af', 'a%2Fb', '%E0%A4%A', 'x'.repeat(3000), '00000000-0000-0000-0000-000000000000', 'fuzz-offer'));
    const query = fc.oneof(fc.string({ maxLength: 60 }).map((s) => `?${s.replace(/[#\s]/g, '')}`), fc.constantFrom('?offerId=', '?offerId=fuzz-offer&offerId=x', '?limit=-1', '?limit=1e9', '?limit=abc', '?offerId[]=x', '?offerId[a]=1', '?__proto__[x]=1', '?limit=500&offerId=fuzz-offer', ''));
    const route = fc.constantFrom('GET /offers/:o', 'DELETE /offers/:o', 'POST /offers/:o/publish', 'POST /offers/:o/unpublish', 'GET /offers/:o/package', 'GET /offers/:o/sessions', 'GET /sessions/:o', 'DELETE /sessions/:o', 'GET /capacity', 'GET /audit', 'GET /offers');
    await fc.assert(
      fc.asyncProperty(route, seg, query, async (r, s, q) => {
        const [m, p] = r.split(' ');
        const url = `/api/v1${p.replace(':o', s)}${q}`;
        const res = await check(() => (svc.http as unknown as Record<string, (u: string) => Test>)[m.toLowerCase()](url));
        if (s === 'fuzz-offer' && m === 'DELETE' && res.status === 204) throw new Error('the fuzz offer was deleted');
      }),
      { numRuns: RUNS.paths },
    );
  });

  it('left Key Vault and blob storage consistent with what was accepted', async () => {
    const offers: Array<{ clientSecretName: string | null }> = await ds.query('SELECT "clientSecretName" FROM offer');
    const state = await control(azure.emulator, 'GET', '/_emulator/state');
    const withSecret = offers.filter((o) => o.clientSecretName).length;
    expect([withSecret, withSecret + 1 /* the data protection key, once created */]).toContain(state.json.secrets.active);
    const revisions = Number((await ds.query('SELECT COUNT(*) AS n FROM package_revision'))[0].n);
    const blobs = BlobServiceClient.fromConnectionString(azure.runtime.endpoints.storageConnectionString);
    let containers = 0;
    for await (const c of blobs.listContainers({ prefix: 'pkg-' })) containers += c ? 1 : 0;
    expect(containers).toBe(revisions);
    expect(cases).toBeGreaterThanOrEqual(2000);
  });
});
