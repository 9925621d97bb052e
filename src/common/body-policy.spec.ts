import express from 'express';
import type { AddressInfo } from 'node:net';
import { bodyPolicy, invalidJsonMessage, nulFields } from './body-policy';

/** The error express.json gives for `text` (the parser of the body policy). */
async function parseError(text: string): Promise<unknown> {
  const app = express();
  let error: unknown;
  app.use(express.json({ type: () => true }));
  app.use(((err: unknown, _req, res, _next) => {
    error = err;
    res.status(400).end();
  }) as express.ErrorRequestHandler);
  const server = app.listen(0);
  try {
    await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  } finally {
    server.close();
  }
  return error;
}

describe('invalidJsonMessage', () => {
  // Defect (2026-12-05): the body "null" is JSON, and the answer said "The request body is not valid JSON.";
  // a syntax error in a large offer body did not say where.
  it.each([
    ['null', 'The request body must be a JSON object, not null.'],
    ['42', 'The request body must be a JSON object, not a number.'],
    ['"x"', 'The request body must be a JSON object, not a string.'],
    ['true', 'The request body must be a JSON object, not a boolean.'],
  ])('says that %s is JSON but not an object', async (text, message) => {
    expect(invalidJsonMessage(await parseError(text))).toBe(message);
  });

  it('gives the line and column where parsing stopped, without echoing the body', async () => {
    const text = '{\n  "alias": "x",\n  "secret": "hunter2",\n}';
    const message = invalidJsonMessage(await parseError(text));
    expect(message).toBe('The request body is not valid JSON: parsing stopped at line 4, column 1.');
    expect(message).not.toContain('hunter2');
  });

  it('says when the body ends too early', async () => {
    expect(invalidJsonMessage(await parseError('{"alias": '))).toMatch(/^The request body is not valid JSON: (it ends before the JSON is complete|parsing stopped at line 1, column 11)\.$/);
  });

  it('answers a body that is not JSON at all', async () => {
    const message = invalidJsonMessage(await parseError('alias=x&secret=hunter2'));
    expect(message).toMatch(/^The request body is not valid JSON/);
    expect(message).not.toContain('hunter2');
  });

  it('is what the body policy answers', async () => {
    const app = express();
    app.use(bodyPolicy({ jsonLimitBytes: 1024, rawRoutes: [] }));
    app.use((_req, res) => res.status(204).end());
    const server = app.listen(0);
    try {
      const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: 'null' });
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({ error: { code: 'InvalidJson', message: 'The request body must be a JSON object, not null.' } });
    } finally {
      server.close();
    }
  });
});

describe('nulFields', () => {
  it('names each string and key holding U+0000 by its JSON path; an escaped backslash before u0000 is text', () => {
    expect(nulFields({ a: 'x\u0000', b: ['ok', { c: '\u0000' }], d: 'C:\\u0000' })).toEqual([
      { code: 'InvalidField', target: 'a', message: 'a must not contain U+0000 (the NUL character).' },
      { code: 'InvalidField', target: 'b[1].c', message: 'b[1].c must not contain U+0000 (the NUL character).' },
    ]);
    // A key with it is not echoed: the path ends with "…".
    expect(nulFields({ outer: { 'k\u0000': 1 } }).map((d) => d.target)).toEqual(['outer.…']);
    expect(nulFields('\u0000')[0].message).toBe('The body must not contain U+0000 (the NUL character).');
    expect(nulFields({ a: 1, b: null, c: [true] })).toEqual([]);
  });

  it('is bounded: at most 20 problems, and a body nested 200,000 levels deep is walked without recursion (and without copying a path per level)', () => {
    expect(nulFields(Array.from({ length: 50 }, () => '\u0000'))).toHaveLength(20);
    let deep: unknown = '\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const found = nulFields(deep);
    expect(found).toHaveLength(1);
    expect(found[0].target).toMatch(/^\[0\](\[0\]){15}$/); // safePath keeps 16 segments
  });
});
