import { createHash, randomBytes, randomUUID, timingSafeEqual, type webcrypto } from 'node:crypto';
type CryptoKey = webcrypto.CryptoKey;
import { jose } from './jose';
import type { Ctx } from './http';
import { send } from './http';
import type { ApiApplication, AppClient, EmulatorState, Tenant } from './state';
import type { FaultStore } from './faults';
import { defaultFaultCode } from './faults';
import type { SignInService } from './signin';

/** Access-token lifetime in seconds (Entra's default for client-credential tokens is 60-90 min; we use 1 h). */
export const TOKEN_LIFETIME_SECONDS = 3600;

/** Well-known resources: what `aud` a token for `<resource>/.default` carries (Entra v1 tokens). */
const KNOWN_AUDIENCES: Record<string, string> = {
  'https://management.azure.com': 'https://management.azure.com/',
  'https://management.core.windows.net': 'https://management.core.windows.net/',
  'https://vault.azure.net': 'https://vault.azure.net',
};

/** Audience of ARM tokens accepted by the emulated ARM endpoint (what real ARM accepts). */
export const ARM_AUDIENCES = [
  'https://management.azure.com/',
  'https://management.azure.com',
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
];

/** Audience of Key Vault tokens. */
export const VAULT_AUDIENCES = ['https://vault.azure.net', 'https://vault.azure.net/'];

/** Claims of the emulator's access tokens (subset of Entra v1 access-token claims). */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  tid: string;
  oid: string;
  sub: string;
  appid: string;
  azp: string;
  appidacr: string;
  idtyp: string;
  roles?: string[];
  ver: string;
}

/** A verification-only key still published after a rotation. */
export interface RetiredKey {
  kid: string;
  publicKey: CryptoKey;
  publicJwk: Record<string, unknown>;
}

/**
 * The RS256 key that signs every new token (`kid` in the JWT header and in the JWKS), plus earlier
 * keys still published for verification after a rotation. The object is live: rotateSigningKeys
 * mutates it in place, so every handler holding it signs and verifies with the new key at once.
 */
export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: Record<string, unknown>;
  /** Earlier keys, newest first (published in the JWKS, accepted by verifyBearer). */
  previous: RetiredKey[];
}

/** Live SigningKeys of each running emulator's state (for the control API's rotation). */
const LIVE_KEYS = new WeakMap<EmulatorState, SigningKeys>();

/** How many earlier keys stay published after rotations (Entra publishes a handful). */
export const MAX_PREVIOUS_KEYS = 3;

function jwkOf(kid: string, publicJwk: Record<string, unknown>): Record<string, unknown> {
  return { kty: 'RSA', n: publicJwk.n, e: publicJwk.e, use: 'sig', kid, x5t: kid, alg: 'RS256' };
}

/**
 * Loads the signing key (and any earlier, still-published keys) from state, or generates one and
 * stores it in state. The result is registered as the live key set of `state`.
 */
export async function loadSigningKeys(state: EmulatorState): Promise<SigningKeys> {
  if (!state.signingKey) {
    const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    state.signingKey = { kid: randomBytes(16).toString('base64url'), privateJwk: (await jose.exportJWK(privateKey)) };
  }
  const { kid, privateJwk } = state.signingKey;
  const privateKey = (await jose.importJWK(privateJwk, 'RS256')) as CryptoKey;
  const publicJwk = { kty: 'RSA', n: privateJwk.n, e: privateJwk.e };
  const publicKey = (await jose.importJWK(publicJwk as JoseJwk, 'RS256')) as CryptoKey;
  const previous: RetiredKey[] = [];
  for (const p of state.previousSigningKeys ?? []) {
    previous.push({ kid: p.kid, publicJwk: jwkOf(p.kid, p.publicJwk), publicKey: (await jose.importJWK({ kty: 'RSA', n: p.publicJwk.n, e: p.publicJwk.e } as JoseJwk, 'RS256')) as CryptoKey });
  }
  const keys: SigningKeys = { kid, privateKey, publicKey, publicJwk: jwkOf(kid, publicJwk), previous };
  LIVE_KEYS.set(state, keys);
  return keys;
}
type JoseJwk = Parameters<typeof jose.importJWK>[0];

/**
 * Rotates the signing key of a running emulator: a new RS256 key signs every token from now on and
 * is published at `jwks_uri`; the old one stays published (verification only) unless
 * `retirePrevious`, which unpublishes every earlier key (tokens signed with them then fail).
 * At most MAX_PREVIOUS_KEYS earlier keys are kept. Mutates the live SigningKeys and the state.
 * `privateJwk` (+ `kid`) installs a given RSA private key instead of a generated one, so a test can
 * sign arbitrary (expired, wrong-audience, ...) tokens with a key the authority publishes.
 * @returns the new `kid` and the kids still published besides it.
 * @throws Error when `state` belongs to no running emulator or the given JWK is not an RSA private key.
 */
export async function rotateSigningKeys(state: EmulatorState, opts: { retirePrevious?: boolean; privateJwk?: Record<string, unknown>; kid?: string } = {}): Promise<{ kid: string; previousKids: string[] }> {
  const keys = LIVE_KEYS.get(state);
  if (!keys) throw new Error('no running emulator for this state');
  let privateJwk: Record<string, unknown>;
  if (opts.privateJwk) {
    const j = opts.privateJwk;
    if (j.kty !== 'RSA' || typeof j.n !== 'string' || typeof j.d !== 'string') throw new Error('privateJwk must be an RSA private key JWK');
    privateJwk = { kty: 'RSA', n: j.n, e: j.e, d: j.d, p: j.p, q: j.q, dp: j.dp, dq: j.dq, qi: j.qi };
  } else {
    const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
    privateJwk = (await jose.exportJWK(privateKey));
  }
  const kid = typeof opts.kid === 'string' && /^[\w-]{1,64}$/.test(opts.kid) ? opts.kid : randomBytes(16).toString('base64url');
  const publicJwk = { kty: 'RSA', n: privateJwk.n, e: privateJwk.e };
  const previous: RetiredKey[] = opts.retirePrevious ? [] : [{ kid: keys.kid, publicKey: keys.publicKey, publicJwk: keys.publicJwk }, ...keys.previous].slice(0, MAX_PREVIOUS_KEYS);
  keys.kid = kid;
  keys.privateKey = (await jose.importJWK(privateJwk, 'RS256')) as CryptoKey;
  keys.publicKey = (await jose.importJWK(publicJwk as JoseJwk, 'RS256')) as CryptoKey;
  keys.publicJwk = jwkOf(kid, publicJwk);
  keys.previous = previous;
  state.signingKey = { kid, privateJwk };
  state.previousSigningKeys = previous.map((p) => ({ kid: p.kid, publicJwk: { n: p.publicJwk.n, e: p.publicJwk.e } }));
  return { kid, previousKids: previous.map((p) => p.kid) };
}

/** The live key set of a running emulator's state (undefined when none). */
export function liveSigningKeys(state: EmulatorState): SigningKeys | undefined {
  return LIVE_KEYS.get(state);
}

/** The JWKS document: the current key first, then the earlier ones still published. */
export function jwks(keys: SigningKeys): { keys: Array<Record<string, unknown>> } {
  return { keys: [keys.publicJwk, ...keys.previous.map((p) => p.publicJwk)] };
}

/** The test drive orchestrator's own API registration, present in every emulator (its app roles). */
export const SERVICE_API: Readonly<ApiApplication> = Object.freeze({
  appId: '5e7d71fe-0c2b-4a57-9a6e-7e5d0a11ce01',
  identifierUri: 'api://test-drive-orchestrator',
  displayName: 'Test drive orchestrator',
  appRoles: ['TestDrive.Marketplace', 'TestDrive.Publisher', 'TestDrive.Operator'],
  createdAt: '2026-01-01T00:00:00.000Z',
});

/** Every API registration: the built-in SERVICE_API (unless re-registered) and those registered. */
export function listApplications(state: EmulatorState): ApiApplication[] {
  const apps = { [SERVICE_API.identifierUri]: { ...SERVICE_API, appRoles: [...SERVICE_API.appRoles] }, ...(state.applications ?? {}) };
  return Object.values(apps);
}

/**
 * The API registration a token request names: `resource` (scope minus "/.default", or v1 resource)
 * equal to its identifier URI, its appId or `api://{appId}` (case-insensitive, trailing "/" ignored).
 */
export function findApplication(state: EmulatorState, resource: string): ApiApplication | undefined {
  const r = resource.replace(/\/+$/, '').toLowerCase();
  return listApplications(state).find((a) => a.identifierUri.toLowerCase() === r || a.appId === r || `api://${a.appId}` === r);
}

/** SHA-256 hex of a client secret (only the hash is stored). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** New client secret shaped like Entra's (40 chars, with the "~" marker Entra puts at position 4). */
export function newClientSecret(): string {
  const raw = randomBytes(32).toString('base64url').replace(/[-_]/g, 'x');
  return `${raw.slice(0, 3)}8Q~${raw.slice(3, 37)}`;
}

/** Finds a tenant by GUID or by domain name (case-insensitive). */
export function findTenant(state: EmulatorState, idOrName: string): Tenant | undefined {
  const k = idOrName.toLowerCase();
  return state.tenants[k] ?? Object.values(state.tenants).find((t) => t.id.toLowerCase() === k || t.name.toLowerCase() === k);
}

/** Entra's "2024-05-01 10:11:12Z" timestamp format. */
function aadTimestamp(d = new Date()): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/**
 * Sends an Entra ID (AADSTS) OAuth error: `{error, error_description, error_codes, timestamp,
 * trace_id, correlation_id, error_uri}`; the description ends with the Trace ID / Correlation ID /
 * Timestamp lines like login.microsoftonline.com does.
 */
export function sendAadError(ctx: Ctx, status: number, error: string, aadsts: number, message: string): void {
  const ts = aadTimestamp();
  const traceId = randomUUID();
  const correlationId = ctx.correlationId;
  send(ctx, status, {
    error,
    error_description: `AADSTS${aadsts}: ${message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${ts}`,
    error_codes: [aadsts],
    timestamp: ts,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${ctx.baseUrl}/error?code=${aadsts}`,
  }, { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' });
}

/** True when the client's secret has an end date (Graph `passwordCredentials[].endDateTime`) that has passed. */
export function clientSecretExpired(client: AppClient, nowMs = Date.now()): boolean {
  const end = client.secretCredential?.endDateTime;
  return !!end && Date.parse(end) <= nowMs;
}

/** 401 `invalid_client` AADSTS7000222: what Entra answers when the (correct) client secret has expired. */
export function sendExpiredSecret(ctx: Ctx, client: AppClient): void {
  sendAadError(ctx, 401, 'invalid_client', 7000222, `The provided client secret keys for app '${client.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`);
}

/** Context the Entra handlers need. */
export interface EntraDeps {
  state: EmulatorState;
  keys: SigningKeys;
  faults: FaultStore;
  log: (msg: string, extra?: object) => void;
  /** Interactive sign-in (authorize, logout, code and refresh-token grants); without it those routes are not served. */
  signIn?: SignInService;
}

/**
 * Handles Entra ID routes (path-based like login.microsoftonline.com); returns false when the path is
 * not an Entra route:
 * - GET /{tenant}/v2.0/.well-known/openid-configuration and GET /{tenant}/.well-known/openid-configuration (v1)
 * - GET /{tenant}/discovery/v2.0/keys, /{tenant}/discovery/keys, /common/discovery/keys (JWKS)
 * - POST /{tenant}/oauth2/v2.0/token (scope) and POST /{tenant}/oauth2/token (v1, `resource`); the v2 endpoint
 *   also takes grant_type=authorization_code|refresh_token (signin.ts)
 * - GET|POST /{tenant}/oauth2/v2.0/authorize and /{tenant}/oauth2/v2.0/logout (signin.ts)
 * {tenant} is a tenant GUID or its domain name (or organizations/common for sign-in and discovery).
 */
export async function handleEntra(ctx: Ctx, deps: EntraDeps): Promise<boolean> {
  const s = ctx.segments;
  if (s.length < 2) return false;
  const tenantSeg = s[0];
  const rest = s.slice(1).join('/').toLowerCase();
  const isV2Config = rest === 'v2.0/.well-known/openid-configuration';
  const isV1Config = rest === '.well-known/openid-configuration';
  const isKeys = rest === 'discovery/v2.0/keys' || rest === 'discovery/keys';
  const isTokenV2 = rest === 'oauth2/v2.0/token';
  const isTokenV1 = rest === 'oauth2/token';
  if (deps.signIn && rest === 'oauth2/v2.0/authorize') return deps.signIn.handleAuthorize(ctx, tenantSeg), true;
  if (deps.signIn && rest === 'oauth2/v2.0/logout') return await deps.signIn.handleLogout(ctx), true;
  if (!isV2Config && !isV1Config && !isKeys && !isTokenV2 && !isTokenV1) return false;

  if (isKeys) {
    if (ctx.method !== 'GET') return methodNotAllowed(ctx), true;
    send(ctx, 200, jwks(deps.keys));
    return true;
  }
  const tenant = findTenant(deps.state, tenantSeg);
  if (isV1Config || isV2Config) {
    if (ctx.method !== 'GET') return methodNotAllowed(ctx), true;
    if (!tenant && MULTI_TENANT_SEGMENTS.includes(tenantSeg.toLowerCase())) {
      // Like login.microsoftonline.com/organizations: the issuer holds the literal "{tenantid}" placeholder.
      send(ctx, 200, openIdConfiguration(ctx.baseUrl, tenantSeg.toLowerCase(), isV2Config));
      return true;
    }
    if (!tenant) {
      sendAadError(ctx, 400, 'invalid_tenant', 90002, `Tenant '${tenantSeg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
      return true;
    }
    send(ctx, 200, openIdConfiguration(ctx.baseUrl, tenant.id, isV2Config));
    return true;
  }
  // token endpoint
  if (ctx.method !== 'POST') return methodNotAllowed(ctx), true;
  const fault = deps.faults.take('token');
  if (fault) {
    if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.status) {
      const headers: Record<string, string | number> = {};
      if (fault.status === 429 || fault.status === 503 || fault.retryAfterSeconds !== undefined) headers['Retry-After'] = fault.retryAfterSeconds ?? 1;
      const err = fault.status === 429 ? 'temporarily_unavailable' : fault.status >= 500 ? 'temporarily_unavailable' : (fault.errorCode ?? 'invalid_request');
      const code = fault.errorCode ?? defaultFaultCode(fault.status);
      for (const [k, v] of Object.entries(headers)) ctx.res.setHeader(k, String(v));
      sendAadError(ctx, fault.status, err, fault.status === 429 ? 50196 : 90033, `Injected fault (${code}): the service is temporarily unavailable.`);
      return true;
    }
  }
  await issueToken(ctx, deps, tenantSeg, tenant, isTokenV1);
  return true;
}

/** Multi-tenant authority segments whose discovery documents exist (not tenants themselves). */
export const MULTI_TENANT_SEGMENTS = ['organizations', 'common', 'consumers'];

function methodNotAllowed(ctx: Ctx): void {
  sendAadError(ctx, 405, 'invalid_request', 900561, `The endpoint only accepts ${ctx.segments.join('/').includes('token') ? 'POST' : 'GET'} requests. Received a ${ctx.method} request.`);
}

/** OpenID Connect discovery document for `tenantId` (v2 or v1 flavour), with the emulator as authority. */
export function openIdConfiguration(baseUrl: string, tenantId: string, v2: boolean): Record<string, unknown> {
  const a = `${baseUrl}/${tenantId}`;
  return {
    token_endpoint: v2 ? `${a}/oauth2/v2.0/token` : `${a}/oauth2/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: v2 ? `${a}/discovery/v2.0/keys` : `${a}/discovery/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: MULTI_TENANT_SEGMENTS.includes(tenantId)
      ? v2 ? `${baseUrl}/{tenantid}/v2.0` : 'https://sts.windows.net/{tenantid}/'
      : v2 ? `${a}/v2.0` : `https://sts.windows.net/${tenantId}/`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${baseUrl}/oidc/userinfo`,
    authorization_endpoint: v2 ? `${a}/oauth2/v2.0/authorize` : `${a}/oauth2/authorize`,
    device_authorization_endpoint: `${a}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: v2 ? `${a}/oauth2/v2.0/logout` : `${a}/oauth2/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles', 'appid', 'azp', 'ver', 'nonce', 'name', 'preferred_username', 'email', 'sid'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    code_challenge_methods_supported: ['S256'],
    tenant_region_scope: 'EU',
    cloud_instance_name: 'localhost',
    cloud_graph_host_name: 'localhost',
    msgraph_host: 'localhost',
    rbac_url: baseUrl,
  };
}

/** Resource (audience) for a v2 `scope` ("<resource>/.default") or a v1 `resource` parameter. */
export function audienceFor(resource: string): string {
  const trimmed = resource.replace(/\/+$/, '');
  return KNOWN_AUDIENCES[trimmed.toLowerCase()] ?? resource;
}

async function issueToken(ctx: Ctx, deps: EntraDeps, tenantSeg: string, tenant: Tenant | undefined, v1: boolean): Promise<void> {
  const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
  if (!ct.includes('application/x-www-form-urlencoded')) {
    sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    return;
  }
  const form = new URLSearchParams(ctx.body.toString('utf8'));
  let clientId = form.get('client_id') ?? '';
  let clientSecret = form.get('client_secret') ?? '';
  const basic = /^Basic\s+(.+)$/i.exec(String(ctx.req.headers.authorization ?? ''));
  if (basic) {
    const dec = Buffer.from(basic[1], 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i > 0) {
      clientId = clientId || decodeURIComponent(dec.slice(0, i));
      clientSecret = clientSecret || decodeURIComponent(dec.slice(i + 1));
    }
  }
  const grantType = form.get('grant_type');
  if (!grantType) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
  if (!v1 && deps.signIn && (grantType === 'authorization_code' || grantType === 'refresh_token')) return deps.signIn.tokenGrant(ctx, form, grantType, clientId, clientSecret, tenantSeg, tenant);
  if (grantType !== 'client_credentials') return sendAadError(ctx, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType.slice(0, 100)}'.`);
  if (!tenant) return sendAadError(ctx, 400, 'invalid_request', 90002, `Tenant '${tenantSeg.slice(0, 100)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
  if (!clientId) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
  let resource: string;
  if (v1) {
    const r = form.get('resource');
    if (!r) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'resource'.");
    resource = r;
  } else {
    const scopes = (form.get('scope') ?? '').split(/\s+/).filter((x) => x && !['openid', 'profile', 'offline_access', 'email'].includes(x));
    if (scopes.length === 0) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
    const scope = scopes[0];
    if (scopes.length > 1 || !scope.endsWith('/.default')) {
      return sendAadError(ctx, 400, 'invalid_scope', 1002012, `The provided value for scope ${scopes.join(' ').slice(0, 200)} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    resource = scope.slice(0, -'/.default'.length);
  }
  const client: AppClient | undefined = deps.state.clients[clientId.toLowerCase()];
  if (!client || client.tenantId !== tenant.id) {
    return sendAadError(ctx, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId.slice(0, 100)}' was not found in the directory '${tenant.name}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
  }
  if (!clientSecret) return sendAadError(ctx, 401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  const a = Buffer.from(hashSecret(clientSecret), 'hex');
  const b = Buffer.from(client.secretSha256, 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    deps.log('token: invalid client secret', { tenantId: tenant.id, clientId: client.clientId });
    return sendAadError(ctx, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`);
  }
  if (clientSecretExpired(client)) {
    deps.log('token: client secret expired', { tenantId: tenant.id, clientId: client.clientId });
    return sendExpiredSecret(ctx, client);
  }
  const api = findApplication(deps.state, resource);
  const aud = api ? api.identifierUri : audienceFor(resource);
  const token = api ? await signApiAccessToken(deps.keys, client, api, ctx.baseUrl) : await signAccessToken(deps.keys, client, aud);
  deps.log('token issued', { tenantId: tenant.id, clientId: client.clientId, aud });
  const body: Record<string, unknown> = { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, ext_expires_in: TOKEN_LIFETIME_SECONDS, access_token: token };
  if (v1) {
    const now = Math.floor(Date.now() / 1000);
    Object.assign(body, { expires_in: String(TOKEN_LIFETIME_SECONDS), ext_expires_in: String(TOKEN_LIFETIME_SECONDS), expires_on: String(now + TOKEN_LIFETIME_SECONDS), not_before: String(now), resource });
  }
  send(ctx, 200, body, { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' });
}

/**
 * The time claims of a token issued at `nowSeconds` (epoch seconds): `iat` and `nbf` = now, `exp` = now +
 * `lifetimeSeconds` (default TOKEN_LIFETIME_SECONDS). Spread into a claims object at the claims' place.
 */
export function tokenTimeClaims(nowSeconds: number, lifetimeSeconds = TOKEN_LIFETIME_SECONDS): { iat: number; nbf: number; exp: number } {
  return { iat: nowSeconds, nbf: nowSeconds, exp: nowSeconds + lifetimeSeconds };
}

/**
 * Signs an Entra-v1-style app-only access token (RS256, `kid` header) valid TOKEN_LIFETIME_SECONDS.
 * Issuer `https://sts.windows.net/{tid}/`: Entra issues v1 tokens for resources whose manifest does not
 * ask for v2 — ARM and Key Vault among them — whatever endpoint (v1 or v2) the client used.
 * `roles` is omitted when the app holds no app roles (as Entra does).
 */
export async function signAccessToken(keys: SigningKeys, client: AppClient, aud: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const iss = `https://sts.windows.net/${client.tenantId}/`;
  const claims: Record<string, unknown> = {
    aud,
    iss,
    ...tokenTimeClaims(nowSeconds),
    appid: client.clientId,
    azp: client.clientId,
    appidacr: '1',
    idp: iss,
    idtyp: 'app',
    oid: client.objectId,
    sub: client.objectId,
    tid: client.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
  };
  if (client.roles.length) claims.roles = client.roles;
  return new jose.SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: keys.kid, x5t: keys.kid }).sign(keys.privateKey);
}

/**
 * Signs an Entra-v2-style app-only access token for a registered API (`accessTokenAcceptedVersion: 2`):
 * `iss = {baseUrl}/{tid}/v2.0`, `ver = 2.0`, `azp` (no `appid`), `aud` = the API's identifier URI
 * (real Entra puts the API's appId there for v2 tokens; the service accepts both), and `roles` = the
 * client's assigned roles (omitted when none, like Entra). Lifetime TOKEN_LIFETIME_SECONDS.
 */
export async function signApiAccessToken(keys: SigningKeys, client: AppClient, api: ApiApplication, baseUrl: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const claims: Record<string, unknown> = {
    aud: api.identifierUri,
    iss: `${baseUrl}/${client.tenantId}/v2.0`,
    ...tokenTimeClaims(nowSeconds),
    azp: client.clientId,
    azpacr: '1',
    idtyp: 'app',
    oid: client.objectId,
    sub: client.objectId,
    tid: client.tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '2.0',
  };
  // Every role assigned to the client (the emulator keeps one assignment list per client, not per API);
  // a consumer ignores roles it does not define.
  if (client.roles.length) claims.roles = [...client.roles];
  return new jose.SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: keys.kid }).sign(keys.privateKey);
}

/** Why a token was refused. */
export type TokenFailure = 'missing' | 'malformed' | 'expired' | 'audience' | 'signature';

/**
 * Verifies a Bearer token from an Authorization header value: RS256 signature with the emulator's key,
 * `exp`/`nbf` (60 s skew), and audience in `audiences`. Returns the claims or the failure reason.
 */
export async function verifyBearer(keys: SigningKeys, authorization: string | undefined, audiences: string[]): Promise<{ claims: AccessTokenClaims } | { failure: TokenFailure; aud?: string }> {
  if (!authorization) return { failure: 'missing' };
  const m = /^Bearer\s+([A-Za-z0-9_\-.]+)\s*$/i.exec(authorization);
  if (!m) return { failure: 'malformed' };
  try {
    const kid = jose.decodeProtectedHeader(m[1]).kid;
    const key = !kid || kid === keys.kid ? keys.publicKey : keys.previous.find((p) => p.kid === kid)?.publicKey;
    if (!key) return { failure: 'signature' };
    const { payload } = await jose.jwtVerify(m[1], key, { algorithms: ['RS256'], clockTolerance: 60 });
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    if (!aud || !audiences.includes(aud)) return { failure: 'audience', aud };
    return { claims: payload as unknown as AccessTokenClaims };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') return { failure: 'expired' };
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return { failure: 'signature' };
    return { failure: 'malformed' };
  }
}
