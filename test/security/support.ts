import * as https from 'node:https';
import type { webcrypto } from 'node:crypto';
import * as zlib from 'node:zlib';
import { deflateRawSync } from 'node:zlib';
import type { INestApplication } from '@nestjs/common';
import { jose } from '../../src/auth/jose';

type CryptoKey = webcrypto.CryptoKey;

/** Route policy: which role names may call each route (the spec of issue 3). Every route must be here. */
export const ROUTE_POLICY: Record<string, Array<'marketplace' | 'publisher' | 'operator'>> = {
  'PUT /api/v1/offers/:offerId': ['publisher'],
  'GET /api/v1/offers': ['publisher', 'operator'],
  'GET /api/v1/offers/:offerId': ['publisher', 'operator'],
  'DELETE /api/v1/offers/:offerId': ['publisher'],
  'POST /api/v1/offers/:offerId/publish': ['publisher'],
  'POST /api/v1/offers/:offerId/unpublish': ['publisher', 'operator'],
  'PUT /api/v1/offers/:offerId/package': ['publisher'],
  'GET /api/v1/offers/:offerId/package': ['publisher', 'operator'],
  'POST /api/v1/offers/:offerId/sessions': ['marketplace'],
  'GET /api/v1/offers/:offerId/sessions': ['publisher', 'operator'],
  'GET /api/v1/sessions/:id': ['marketplace', 'publisher', 'operator'],
  'DELETE /api/v1/sessions/:id': ['marketplace', 'operator'],
  'GET /api/v1/capacity': ['publisher', 'operator'],
  'GET /api/v1/audit': ['operator'],
  'GET /api/v1/offers/:offerId/leads': ['publisher', 'operator'],
  'POST /api/v1/offers/:offerId/leads/:leadId/redeliver': ['publisher'],
};

/** Routes that need no token. */
export const PUBLIC_ROUTES = ['GET /health', 'GET /health/live'];

/** Every endpoint on the express router (Nest controllers), as "METHOD /path" (express 5 router stack). */
export function registeredRoutes(app: INestApplication): string[] {
  const express = app.getHttpAdapter().getInstance() as { router?: { stack: unknown[] }; _router?: { stack: unknown[] } };
  const stack = (express.router ?? express._router)?.stack ?? [];
  const out = new Set<string>();
  for (const layer of stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>) {
    if (!layer.route) continue;
    if (Object.keys(layer.route.methods).length > 3) continue; // app.all() middleware of the global prefix, not an endpoint
    if (layer.route.path.startsWith('/api/docs')) continue; // Swagger UI (express, public by design)
    for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') out.add(`${m.toUpperCase()} ${layer.route.path}`);
  }
  return [...out].sort();
}

/** JSON request to the emulator's control API (trusting its CA). */
export function control(emulator: { url: string; caCertPem: string }, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(`${emulator.url}${path}`, { method, ca: emulator.caCertPem, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: t ? JSON.parse(t) : undefined });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A key the test controls, installed as the emulator's signing key (published in its JWKS). */
export interface TestKey {
  kid: string;
  privateKey: CryptoKey;
}

/** Generates an RS256 key; with `install`, rotates the emulator to it (old keys stay published). */
export async function newTestKey(emulator?: { url: string; caCertPem: string }, kid = `test-${Math.random().toString(36).slice(2)}`): Promise<TestKey> {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  if (emulator) {
    const r = await control(emulator, 'POST', '/_emulator/keys/rotate', { privateJwk: await jose.exportJWK(privateKey), kid });
    if (r.status !== 200) throw new Error(`rotate: ${r.status} ${JSON.stringify(r.json)}`);
  }
  return { kid, privateKey: privateKey };
}

/** Signs `claims` (RS256 unless `alg`) with `key`. */
export async function mint(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header }).sign(key.privateKey);
}

/** Claims of a valid v2 app token for the service (tenant `tid`, client `azp`), `roles`, times relative to now (s). */
export function goodClaims(emulatorUrl: string, tid: string, azp: string, roles: string[], over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { aud: 'api://test-drive-orchestrator', iss: `${emulatorUrl}/${tid}/v2.0`, iat: now, nbf: now, exp: now + 600, tid, azp, oid: azp, sub: azp, roles, ver: '2.0', ...over };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zip): zlib.crc32 where Node has it (20.15+, 22.2+), else a table-driven one. */
export function crc32(b: Buffer): number {
  const native = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
  if (native) return native(b) >>> 0;
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One entry of a hand-built (possibly hostile) zip. */
export interface RawEntry {
  /** Raw name bytes (may be non-UTF-8, absolute, contain ".."). */
  name: Buffer;
  data: Buffer;
  /** 0 stored, 8 deflated. */
  method?: 0 | 8;
  /** Unix mode in the high 16 bits of the external attributes (e.g. 0o120777 for a symlink). */
  unixMode?: number;
  /** Sets the UTF-8 name flag (bit 11). */
  utf8?: boolean;
  /** Lies about the uncompressed size in the headers. */
  declaredSize?: number;
}

/** Builds a zip archive byte by byte (no validation: duplicates, symlinks, any names and sizes). */
export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const comp = method === 8 ? deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const flags = e.utf8 ? 0x0800 : 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(size >>> 0, 22);
    lh.writeUInt16LE(e.name.length, 26);
    locals.push(lh, e.name, comp);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(e.unixMode !== undefined ? 0x031e : 20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(size >>> 0, 24);
    ch.writeUInt16LE(e.name.length, 28);
    ch.writeUInt32LE(e.unixMode !== undefined ? (e.unixMode << 16) >>> 0 : 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, e.name);
    offset += 30 + e.name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
