import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { useLocalService } from '../support/harness';

const MB = 1024 * 1024;

/** One raw HTTP request (the body written in 1 MB chunks, chunked encoding when `chunked`); resolves with the answer. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body: Buffer, chunked = false): Promise<{ status: number; text: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(chunked ? {} : { 'content-length': String(body.length) }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    let answered = false;
    req.on('response', () => (answered = true));
    (async () => {
      for (let i = 0; i < body.length; i += MB) {
        if (answered || req.destroyed) break;
        if (!req.write(body.subarray(i, i + MB))) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => undefined);
  });
}

/**
 * Issue 8, hole 1: one request, however large or mislabelled, cannot take the service down. The body of
 * each route is checked (Content-Type, size) before anything reads it; validation reports are bounded;
 * while 50 MB bodies arrive, /health/live keeps answering and memory stays within 100 MB.
 */
describe('request limits: no single request stops the service', () => {
  const local = useLocalService();
  let port: number;
  let token: string;

  beforeAll(async () => {
    const server = local.svc.app.getHttpServer() as http.Server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    token = local.svc.http.token;
  });

  it('refuses 50 MB mislabelled or oversized bodies at once, /health stays up, memory grows < 100 MB, nothing is stored', async () => {
    const big = Buffer.alloc(50 * MB, 0x41);
    const bigJson = Buffer.concat([Buffer.from('{"alias":"'), Buffer.alloc(50 * MB, 0x61), Buffer.from('"}')]);
    // Every body is allocated before the baseline: the bound is on the service's memory, and this process is
    // both client and service (a 60 MB body made inside the window counted against the service; CI saw 101 MB).
    const overPackageLimit = Buffer.concat([big, big.subarray(0, 10 * MB)]);
    const auth = { authorization: `Bearer ${token}` };
    (global as { gc?: () => void }).gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    let worstHealthMs = 0;
    let stop = false;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const health = (async () => {
      while (!stop) {
        const r = await send(port, 'GET', '/health/live', {}, Buffer.alloc(0));
        expect(r.status).toBe(200);
        worstHealthMs = Math.max(worstHealthMs, r.ms);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const cases: Array<[string, string, Record<string, string>, Buffer, boolean, number, string]> = [
      ['PUT', '/api/v1/offers/big-offer', { 'content-type': 'application/zip' }, big, false, 415, 'UnsupportedMediaType'],
      ['POST', '/api/v1/offers/big-offer/sessions', { 'content-type': 'application/zip' }, big, false, 415, 'UnsupportedMediaType'],
      ['PUT', '/api/v1/offers/big-offer', { 'content-type': 'text/plain' }, big, false, 415, 'UnsupportedMediaType'],
      ['PUT', '/api/v1/offers/big-offer', { 'content-type': 'application/json' }, bigJson, false, 413, 'PayloadTooLarge'],
      ['POST', '/api/v1/offers/big-offer/sessions', { 'content-type': 'application/json' }, bigJson, true, 413, 'PayloadTooLarge'],
      ['PUT', '/api/v1/offers/big-offer/package', { 'content-type': 'application/json' }, big, false, 415, 'UnsupportedMediaType'],
      ['PUT', '/api/v1/offers/big-offer/package', { 'content-type': 'application/zip' }, overPackageLimit, false, 413, 'PayloadTooLarge'],
    ];
    try {
      for (const [method, path, headers, body, chunked, status, code] of cases) {
        const r = await send(port, method, path, { ...auth, ...headers }, body, chunked);
        const what = `${method} ${path} ${headers['content-type']} ${body.length} bytes${chunked ? ' chunked' : ''}`;
        expect({ what, status: r.status, code: JSON.parse(r.text).error.code }).toEqual({ what, status, code });
        // Each refusal takes milliseconds (timings in the issue 8 note); the bound leaves room for a loaded 2-core CI run.
        expect(r.ms).toBeLessThan(3000);
        expect(r.text.length).toBeLessThan(2000);
      }
    } finally {
      stop = true;
      await health;
      clearInterval(sampler);
    }
    expect(worstHealthMs).toBeLessThan(3000);
    if (process.env.TEST_REPORT_MEMORY) console.log(`request-limits: rss grew ${((peak - baseline) / MB).toFixed(1)} MB`);
    expect((peak - baseline) / MB).toBeLessThan(100);
    expect((await local.svc.http.get('/api/v1/offers/big-offer')).status).toBe(404);
  });

  it('bounds a validation report: 80,000 unknown fields give at most 20 problems and no echo of long names', async () => {
    const fields: Record<string, number> = {};
    for (let i = 0; i < 80_000; i++) fields[`f${i}`] = 1;
    fields[`x${'y'.repeat(500)}`] = 1;
    const r = await local.svc.http.put('/api/v1/offers/many-fields').send({ ...fields });
    expect(r.status).toBe(400);
    expect(r.body.error.details.length).toBeLessThanOrEqual(20);
    expect(JSON.stringify(r.body).length).toBeLessThan(10_000);
    expect(JSON.stringify(r.body)).not.toContain('yyyyyyyyyy');
    const arr = await local.svc.http.post('/api/v1/offers/many-fields/sessions').send(Array.from({ length: 50_000 }, () => ({ a: 1 })));
    expect(arr.status).toBe(400);
    expect(JSON.stringify(arr.body).length).toBeLessThan(10_000);
  });
});
