import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { ensureTlsMaterial } from '../../emulator/src/tls';
import { guardedLookup, STRICT_OUTBOUND_POLICY } from '../security/outbound-url';
import { httpsJson, RemoteHttp, trustedCas, urlForMessages } from './http';
import { classifyRemoteError } from './remote-error';

describe('RemoteHttp (undici, one dispatcher per remote)', () => {
  let server: https.Server;
  let base: string;
  let ca: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remote-http-'));

  beforeAll(async () => {
    const m = ensureTlsMaterial(dir);
    ca = m.caCertPem;
    server = https.createServer({ cert: m.serverCertPem, key: m.serverKeyPem }, (req, res) => {
      const u = new URL(req.url ?? '/', 'https://localhost');
      if (u.pathname === '/json') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          res.writeHead(201, { 'content-type': 'application/json', 'x-echo': req.headers['content-type'] ?? '' });
          res.end(`\uFEFF${JSON.stringify({ method: req.method, body })}`);
        });
        return;
      }
      if (u.pathname === '/big') return res.end('x'.repeat(2048));
      if (u.pathname === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
      if (u.pathname === '/throttled') return res.writeHead(429, { 'retry-after': '3' }).end('{"error":{"code":"TooManyRequests"}}');
      res.end('plain');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('trusts the CA list of the runtime: the emulator CA alone when emulated, system roots + extra CA otherwise', () => {
    expect(trustedCas({ emulated: true, extraCaPem: 'PEM' })).toEqual(['PEM']);
    expect(trustedCas({ emulated: false, extraCaPem: 'PEM' })).toEqual([...tls.rootCertificates, 'PEM']);
    expect(trustedCas({ emulated: false })).toBeUndefined();
  });

  it('sends JSON, reads status, headers and body (JSON parsed, BOM dropped, text kept)', async () => {
    const http = new RemoteHttp({ service: 'logicApp', ca: [ca] });
    try {
      const a = await http.send('POST', `${base}/json`, { body: { a: 1 } });
      expect(a.status).toBe(201);
      expect(a.headers['x-echo']).toBe('application/json');
      expect(a.body).toEqual({ method: 'POST', body: '{"a":1}' });
      const t = await http.send('GET', `${base}/text`);
      expect(t).toMatchObject({ status: 200, body: 'plain', text: 'plain' });
      const throttled = await http.send('GET', `${base}/throttled`);
      expect(throttled).toMatchObject({ status: 429, headers: expect.objectContaining({ 'retry-after': '3' }) });
      const f = await http.fetch(`${base}/json`, { method: 'POST', body: 'x' });
      expect(await f.json()).toEqual({ method: 'POST', body: 'x' });
    } finally {
      await http.close();
    }
  });

  it('refuses what it does not trust, non-https URLs, oversized answers and slow servers, classified', async () => {
    const untrusting = new RemoteHttp({ service: 'graph' });
    const http = new RemoteHttp({ service: 'logicApp', ca: [ca], maxResponseBytes: 1024, headersTimeoutMs: 300 });
    try {
      await expect(untrusting.send('GET', `${base}/text`)).rejects.toMatchObject({ name: 'RemoteError', kind: 'transient' });
      await expect(http.send('GET', base.replace('https:', 'http:'))).rejects.toMatchObject({ kind: 'invalid', code: 'InsecureUrl' });
      await expect(http.fetch(base.replace('https:', 'http:'))).rejects.toMatchObject({ kind: 'invalid', code: 'InsecureUrl' });
      await expect(http.send('GET', `${base}/big?sig=secret`)).rejects.toMatchObject({ kind: 'invalid', code: 'AnswerTooLarge', message: expect.not.stringContaining('secret') });
      const big = await http.fetch(`${base}/big`).then((r) => r.text()).catch((e: unknown) => e);
      expect(classifyRemoteError(big, 'logicApp')).toMatchObject({ kind: 'invalid', code: 'AnswerTooLarge' });
      await expect(http.send('GET', `${base}/slow`)).rejects.toMatchObject({ kind: 'transient', code: 'UND_ERR_HEADERS_TIMEOUT' });
      await expect(http.send('GET', `${base}/slow`, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    } finally {
      await untrusting.close();
      await http.close();
    }
  });

  it('connects through the guarded lookup: a host resolving to a non-public address is OutboundUrlRefused (send and fetch)', async () => {
    const port = (server.address() as AddressInfo).port;
    const loopback = ((_h: string, _o: dns.LookupOptions, cb: (e: NodeJS.ErrnoException | null, a: dns.LookupAddress[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as typeof dns.lookup;
    const http = new RemoteHttp({ service: 'fno', ca: [ca], lookup: guardedLookup(STRICT_OUTBOUND_POLICY, loopback) });
    try {
      await expect(http.send('GET', `https://rebind.operations.dynamics.com:${port}/`)).rejects.toMatchObject({ kind: 'invalid', code: 'OutboundUrlRefused', message: expect.stringContaining('loopback') });
      await expect(http.fetch(`https://rebind.operations.dynamics.com:${port}/`)).rejects.toThrow(/fetch failed/);
    } finally {
      await http.close();
    }
  });

  it('httpsJson: one JSON request trusting an extra CA, closed afterwards', async () => {
    expect(await httpsJson(`${base}/json`, { method: 'POST', extraCaPem: ca, headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual({ status: 201, json: { method: 'POST', body: '{}' } });
    expect((await httpsJson(`${base}/text`, { extraCaPem: ca })).json).toBeUndefined();
    expect(urlForMessages('https://h.example/p?sig=x')).toBe('https://h.example/p');
  });
});
