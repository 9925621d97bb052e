import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ensureTlsMaterial } from '../../emulator/src/tls';
import type { AppConfig } from '../config/app-config';
import type { AzureRuntime } from '../azure/azure-runtime';
import { jose } from './jose';
import { AuthenticationError, AuthorityUnavailableError, TokenVerifier } from './token-verifier';

const TID = '11111111-2222-4333-8444-555555555555';
const AUD = 'api://test-drive-orchestrator';

/** A local HTTPS authority: discovery + JWKS, counting key fetches; `fail` makes it answer 503. */
describe('TokenVerifier keys (jose remote JWKS through the service HTTP client)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'token-verifier-'));
  let server: https.Server;
  let base: string;
  let ca: string;
  const state = { fail: false, keyFetches: 0, jwks: [] as object[] };
  const keys: Record<string, CryptoKeyLike> = {};
  type CryptoKeyLike = Parameters<typeof jose.SignJWT.prototype.sign>[0];

  async function addKey(kid: string): Promise<void> {
    const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    keys[kid] = privateKey;
    state.jwks.push({ ...(await jose.exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' });
  }
  const mint = (kid: string) =>
    new jose.SignJWT({ tid: TID, azp: 'client', roles: [] })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(`${base}/${TID}/v2.0`)
      .setAudience(AUD)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(keys[kid]);
  const verifier = () =>
    new TokenVerifier(
      { auth: { audience: AUD, tenantId: 'organizations', clockSkewSeconds: 60 } } as AppConfig,
      { endpoints: { emulated: true, authorityHost: base, extraCaPem: ca }, serviceIdentity: { tenantId: TID } } as unknown as AzureRuntime,
    );

  beforeAll(async () => {
    const m = ensureTlsMaterial(dir);
    ca = m.caCertPem;
    server = https.createServer({ cert: m.serverCertPem, key: m.serverKeyPem }, (req, res) => {
      if (state.fail) return res.writeHead(503).end();
      if (req.url === '/organizations/v2.0/.well-known/openid-configuration') {
        return res.end(JSON.stringify({ issuer: `${base}/{tenantid}/v2.0`, jwks_uri: `${base}/organizations/discovery/v2.0/keys` }));
      }
      if (req.url === '/organizations/discovery/v2.0/keys') {
        state.keyFetches++;
        return res.end(JSON.stringify({ keys: state.jwks }));
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://localhost:${(server.address() as AddressInfo).port}`;
    await addKey('k1');
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an unreachable authority is AuthorityUnavailableError (503), and is tried again on the next request', async () => {
    const v = verifier();
    try {
      state.fail = true;
      await expect(v.authenticate(`Bearer ${await mint('k1')}`)).rejects.toBeInstanceOf(AuthorityUnavailableError);
      state.fail = false;
      await expect(v.authenticate(`Bearer ${await mint('k1')}`)).resolves.toMatchObject({ tenantId: TID, clientId: 'client' });
    } finally {
      await v.onApplicationShutdown();
    }
  });

  it('keys are cached; an unknown kid refetches at once, at most once per cooldown (1 s)', async () => {
    const v = verifier();
    try {
      state.keyFetches = 0;
      await v.authenticate(`Bearer ${await mint('k1')}`);
      await v.authenticate(`Bearer ${await mint('k1')}`);
      expect(state.keyFetches).toBe(1);
      await new Promise((r) => setTimeout(r, 1100));
      await addKey('k2'); // rotation
      await expect(v.authenticate(`Bearer ${await mint('k2')}`)).resolves.toMatchObject({ tenantId: TID });
      expect(state.keyFetches).toBe(2);
      await addKey('k3');
      const unknown = await v.authenticate(`Bearer ${await mint('k3')}`).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(AuthenticationError);
      expect((unknown as Error).message).toMatch(/key the authority does not publish/);
      expect(state.keyFetches).toBe(2); // within the cooldown: no refetch
      await new Promise((r) => setTimeout(r, 1100));
      await expect(v.authenticate(`Bearer ${await mint('k3')}`)).resolves.toMatchObject({ tenantId: TID });
      expect(state.keyFetches).toBe(3);
    } finally {
      await v.onApplicationShutdown();
    }
  });

  it('keys that cannot be refetched: the key set loaded before is used; an unknown kid stays refused', async () => {
    const v = verifier();
    try {
      await v.authenticate(`Bearer ${await mint('k1')}`);
      await new Promise((r) => setTimeout(r, 1100));
      await addKey('k4');
      state.fail = true;
      await expect(v.authenticate(`Bearer ${await mint('k4')}`)).rejects.toMatchObject({ code: 'InvalidToken' });
      await expect(v.authenticate(`Bearer ${await mint('k1')}`)).resolves.toMatchObject({ tenantId: TID });
    } finally {
      state.fail = false;
      await v.onApplicationShutdown();
    }
  });

  it('a verified token is not verified again while it is valid, and is refused once it expires (issue 14)', async () => {
    const v = new TokenVerifier(
      { auth: { audience: AUD, tenantId: 'organizations', clockSkewSeconds: 0 } } as AppConfig,
      { endpoints: { emulated: true, authorityHost: base, extraCaPem: ca }, serviceIdentity: { tenantId: TID } } as unknown as AzureRuntime,
    );
    try {
      const token = await new jose.SignJWT({ tid: TID, azp: 'client', roles: [] })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(`${base}/${TID}/v2.0`)
        .setAudience(AUD)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
        .sign(keys.k1);
      const first = await v.authenticate(`Bearer ${token}`);
      const again = await v.authenticate(`Bearer ${token}`);
      expect(again).toBe(first); // the same Caller: not verified (nor built) again
      // Another token (even of the same client) is verified in full.
      await expect(v.authenticate(`Bearer ${token.slice(0, -2)}AA`)).rejects.toMatchObject({ code: 'InvalidToken' });
      await new Promise((r) => setTimeout(r, 2100));
      await expect(v.authenticate(`Bearer ${token}`)).rejects.toMatchObject({ code: 'TokenExpired' });
    } finally {
      await v.onApplicationShutdown();
    }
  });
});
