jest.setTimeout(60_000);
import { PassThrough } from 'node:stream';
import { useLocalService } from '../support/harness';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };
const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11&autoAuth=true';

/**
 * Issue 14: a start wrote two info lines, the service's "session started" and pino-http's "request completed";
 * each line costs a serialisation and its redaction on the hot path. Now one line per request: the completion
 * line of a start that created a session says "session started" and carries the session's fields.
 * And every request has its line: one that matched no route never reached pino-http (found by trying it).
 */
describe('one log line per request', () => {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new PassThrough();
  let buffered = '';
  stream.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const local = useLocalService({ service: { logStream: stream, env: { LOG_LEVEL: 'info' } } });

  it('is one line per request: a created session on the completion line, a replay and a refusal as plain completions', async () => {
    const svc = local.svc;
    await svc.http.put('/api/v1/offers/bi-log').send({ alias: 'Dashboard', testDrive: { type: 'power-bi', embedUrl: EMBED } }).expect(201);
    await svc.http.post('/api/v1/offers/bi-log/publish').expect(200);

    const started = (await svc.http.post('/api/v1/offers/bi-log/sessions').set('Idempotency-Key', 'k-1').send({ customer }).expect(201)).body as { id: string };
    const replay = await svc.http.post('/api/v1/offers/bi-log/sessions').set('Idempotency-Key', 'k-1').send({ customer }).expect(200);
    expect(replay.body.id).toBe(started.id);
    await svc.http.post('/api/v1/offers/no-such-offer/sessions').send({ customer }).expect(404);
    await new Promise((r) => setImmediate(r));

    const mine = lines.filter((l) => JSON.stringify(l).includes(started.id));
    expect(mine).toHaveLength(1); // before: "session started" and "request completed"
    expect(mine[0]).toMatchObject({
      level: 30,
      msg: 'session started',
      sessionId: started.id,
      offerId: 'bi-log',
      state: 'ready',
      region: null,
      kind: null,
      req: { method: 'POST', url: '/api/v1/offers/bi-log/sessions' },
      res: { statusCode: 201 },
      responseTime: expect.any(Number),
    });
    const starts = lines.filter((l) => (l.req as { url?: string } | undefined)?.url?.endsWith('/sessions'));
    expect(starts.map((l) => [l.msg, (l.res as { statusCode: number }).statusCode])).toEqual([
      ['session started', 201],
      ['request completed', 200],
      ['request completed', 404],
    ]);
    expect(starts[1]).not.toHaveProperty('sessionId');
  });

  it('logs a request that matched no route, which pino-http (mounted on the routes) never saw, without its query string', async () => {
    const before = lines.length;
    await local.svc.http.get('/api/offers?sig=not-for-the-logs').expect(404); // no /v1: a misconfigured client
    await new Promise((r) => setImmediate(r));
    const line = lines.slice(before).find((l) => (l.req as { url?: string } | undefined)?.url?.startsWith('/api/offers'));
    expect(line).toMatchObject({ level: 30, msg: 'request completed', req: { method: 'GET', url: '/api/offers?[redacted]' }, res: { statusCode: 404 } });
    expect(JSON.stringify(lines.slice(before))).not.toContain('not-for-the-logs');
  });
});
