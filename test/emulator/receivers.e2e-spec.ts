jest.setTimeout(60_000);
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { httpsRequest, jsonOrText } from '../support/emulator-client';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src';
import { control, start } from './helpers';

/** A raw HTTPS request to a receiver URL (trusting the emulator CA), as the service's webhook client would send it. */
async function post(h: EmulatorHandle, url: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; headers: Record<string, unknown>; json: any }> {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const r = await httpsRequest(url, h.caCertPem, method, data, { ...(data ? { 'content-length': String(data.length) } : {}), ...headers });
  return { status: r.status, headers: r.headers, json: r.text ? jsonOrText(r.text) : undefined };
}

describe('emulator: HTTPS receivers', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  const logs: string[] = [];
  beforeAll(async () => {
    ({ h, cleanup } = await start({ logger: (msg, extra) => logs.push(`${msg} ${JSON.stringify(extra ?? {})}`) }));
  });
  afterAll(async () => cleanup());

  it('creates a receiver that records every request (headers, body) in arrival order', async () => {
    const c = await control(h, 'POST', '/_emulator/receivers', {});
    expect(c.status).toBe(201);
    const { id, url } = c.body as { id: string; url: string };
    expect(url).toBe(`${h.url}/_receivers/${id}`);
    const lead = { LeadSource: 'AzureTestDrive-StartTestDrive|contoso.offer1', FirstName: 'Ada', Email: 'ada@contoso.com' };
    const a = await post(h, url, JSON.stringify(lead), { 'content-type': 'application/json', authorization: 'Bearer top-secret-token' });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ received: true, receiver: id });
    const b = await post(h, `${url}/escalations?x=1`, 'plain text notice', { 'content-type': 'text/plain' }, 'PUT');
    expect(b.status).toBe(200);
    const g = await control(h, 'GET', `/_emulator/receivers/${id}`);
    expect(g.status).toBe(200);
    expect(g.body.received).toHaveLength(2);
    expect(g.body.received[0]).toMatchObject({ method: 'POST', body: lead, status: 200, headers: { 'content-type': 'application/json', authorization: 'Bearer top-secret-token' } });
    expect(g.body.received[0].refused).toBeUndefined();
    expect(g.body.received[1]).toMatchObject({ method: 'PUT', path: `/_receivers/${id}/escalations`, query: 'x=1', body: 'plain text notice' });
    // in-process helpers see the same
    expect(h.receivers.get(id)!.received.map((r) => r.method)).toEqual(['POST', 'PUT']);
    // secrets and bodies never reach the log
    expect(logs.join('\n')).not.toContain('top-secret-token');
    expect(logs.join('\n')).not.toContain('ada@contoso.com');
  });

  it('answers 202 when asked, 405 to other methods, 413 above 1 MB, 404 for unknown receivers', async () => {
    const { id, url } = h.receivers.create({ okStatus: 202 });
    expect((await post(h, url, '{}', { 'content-type': 'application/json' })).status).toBe(202);
    const get = await post(h, url, undefined, {}, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST, PUT');
    expect((await post(h, url, Buffer.alloc(1024 * 1024 + 1, 'a'), { 'content-type': 'text/plain' })).status).toBe(413);
    expect((await post(h, url, Buffer.alloc(1024 * 1024, 'a'), { 'content-type': 'text/plain' })).status).toBe(202);
    expect(h.receivers.get(id)!.received).toHaveLength(2);
    expect((await post(h, `${h.url}/_receivers/nope`, '{}')).status).toBe(404);
    expect((await control(h, 'GET', '/_emulator/receivers/nope')).status).toBe(404);
  });

  it('PATCH failWith/failForSeconds refuses for a while (Retry-After) and records the attempts as refused', async () => {
    const { id, url } = h.receivers.create();
    const p = await control(h, 'PATCH', `/_emulator/receivers/${id}`, { failWith: 503, failForSeconds: 120 });
    expect(p.status).toBe(200);
    expect(p.body.failUntil).toEqual(expect.any(String));
    const r1 = await post(h, url, '{"a":1}', { 'content-type': 'application/json' });
    expect(r1.status).toBe(503);
    expect(Number(r1.headers['retry-after'])).toBeGreaterThan(110);
    expect(Number(r1.headers['retry-after'])).toBeLessThanOrEqual(120);
    expect((await post(h, url, '{"a":2}', { 'content-type': 'application/json' })).status).toBe(503);
    expect((await control(h, 'PATCH', `/_emulator/receivers/${id}`, { failForSeconds: 0 })).status).toBe(200);
    expect((await post(h, url, '{"a":3}', { 'content-type': 'application/json' })).status).toBe(200);
    const rec = h.receivers.get(id)!.received;
    expect(rec.map((x) => [x.body, x.status, x.refused ?? false])).toEqual([
      [{ a: 1 }, 503, true],
      [{ a: 2 }, 503, true],
      [{ a: 3 }, 200, false],
    ]);
  });

  it('failCount refuses exactly the next N requests; 500 comes without Retry-After; bad settings are 400', async () => {
    const { id, url } = h.receivers.create();
    h.receivers.update(id, { failWith: 429, failCount: 2, retryAfterSeconds: 3 });
    const a = await post(h, url, 'x', { 'content-type': 'text/plain' });
    expect(a.status).toBe(429);
    expect(a.headers['retry-after']).toBe('3');
    expect((await post(h, url, 'x')).status).toBe(429);
    expect((await post(h, url, 'x')).status).toBe(200);
    h.receivers.update(id, { failWith: 500, failCount: 1 });
    const c = await post(h, url, 'x');
    expect(c.status).toBe(500);
    expect(c.headers['retry-after']).toBeUndefined();
    expect(h.receivers.get(id)!.received.filter((x) => x.refused)).toHaveLength(3);
    expect((await control(h, 'PATCH', `/_emulator/receivers/${id}`, { failWith: 200 })).status).toBe(400);
    expect((await control(h, 'PATCH', `/_emulator/receivers/${id}`, { failForSeconds: -1 })).status).toBe(400);
    expect((await control(h, 'DELETE', `/_emulator/receivers/${id}/received`)).status).toBe(204);
    expect(h.receivers.get(id)!.received).toHaveLength(0);
    expect((await control(h, 'DELETE', `/_emulator/receivers/${id}`)).status).toBe(204);
    expect((await post(h, url, 'x')).status).toBe(404);
  });

  it('persists receivers and their settings with the rest of the state; received requests stay in memory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'azemu-recv-'));
    try {
      const h1 = await startEmulator({ port: 0, dataDir, persist: true });
      const { id, url } = h1.receivers.create();
      h1.receivers.update(id, { failCount: 2 });
      expect((await post(h1, url, '{"n":1}', { 'content-type': 'application/json', authorization: 'Bearer persisted-secret' })).status).toBe(503);
      await h1.close();
      expect(readFileSync(join(dataDir, 'state.json'), 'utf8')).not.toContain('persisted-secret');
      const h2 = await startEmulator({ port: 0, dataDir, persist: true });
      try {
        const snap = h2.receivers.get(id)!;
        expect(snap).toMatchObject({ url: `${h2.url}/_receivers/${id}`, failCount: 1, received: [] });
        expect((await post(h2, snap.url, '{"n":2}', { 'content-type': 'application/json' })).status).toBe(503);
        expect((await post(h2, snap.url, '{"n":3}', { 'content-type': 'application/json' })).status).toBe(200);
        expect(h2.receivers.get(id)!.received.map((x) => x.body)).toEqual([{ n: 2 }, { n: 3 }]);
      } finally {
        await h2.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
