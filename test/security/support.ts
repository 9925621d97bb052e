import * as https from 'node:https';
import type { webcrypto } from 'node:crypto';
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
  'POST /api/v1/sessions/:id/acknowledge-deprovisioning': ['publisher', 'operator'],
  'GET /api/v1/capacity': ['publisher', 'operator'],
  'GET /api/v1/audit': ['operator'],
  'GET /api/v1/offers/:offerId/leads': ['publisher', 'operator'],
  'POST /api/v1/offers/:offerId/leads/:leadId/redeliver': ['publisher'],
  'GET /api/v1/incidents': ['publisher', 'operator'],
  'GET /metrics': ['operator'],
  'PUT /api/v1/notifications': ['marketplace'],
  'GET /api/v1/notifications': ['marketplace'],
  'DELETE /api/v1/notifications': ['marketplace'],
  'POST /api/v1/notifications/rotate-secret': ['marketplace'],
};

/** Routes that need no token. */
export const PUBLIC_ROUTES = ['GET /health', 'GET /health/live'];

/**
 * The dashboard's HTML routes (issue 11): no bearer token (a signed session cookie after Entra ID
 * sign-in; test/operators/dashboard.e2e-spec.ts), not API operations, so not in the OpenAPI document.
 */
export const DASHBOARD_ROUTES = ['GET /', 'GET /ui/fleet', 'GET /ui/offers/:offerId', 'GET /ui/audit', 'GET /auth/signin', 'GET /auth/callback', 'POST /auth/signout', 'GET /assets/:name'];

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
