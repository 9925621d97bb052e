import { randomInt, randomUUID } from 'node:crypto';
import { audienceFor, findApplication, hashSecret, jwks, listApplications, liveSigningKeys, newClientSecret, rotateSigningKeys, SERVICE_API, signAccessToken, signApiAccessToken, TOKEN_LIFETIME_SECONDS } from './entra';
import { normalizeLocation } from './arm/common';
import type { ApiApplication, AppClient, EmulatorState, PasswordCredentialInfo, StateStore, Tenant } from './state';
import type { Ctx } from './http';
import { controlRequest, isObject, send } from './http';

/** What POST /_emulator/publishers (and handle.createPublisher) returns. */
export interface PublisherInfo {
  tenantId: string;
  tenantName: string;
  subscriptionId: string;
  clientId: string;
  /** Shown once; only its SHA-256 is stored. */
  clientSecret: string;
  /** Object id of the service principal (the `oid` in its tokens). */
  principalId: string;
  location: string;
}

/** Options of createPublisher. */
export interface CreatePublisherOptions {
  /** Domain name of the new tenant, e.g. "contoso.onmicrosoft.com" (default contosoNNNN.onmicrosoft.com). */
  tenantName?: string;
  /** Reuse an existing tenant (a second subscription + app in it) instead of creating one. */
  tenantId?: string;
  /** Informational default location of the publisher (default "westeurope"). */
  location?: string;
}

/** What POST /_emulator/clients (and handle.createClient) returns. */
export interface ClientInfo {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  principalId: string;
  roles: string[];
  /** Redirect URIs registered for sign-in (empty unless given; see setRedirectUris). */
  redirectUris: string[];
  /** Whether the app may redeem codes without its secret (Entra's "Allow public client flows"). */
  publicClient: boolean;
}

/** Options of createClient. */
export interface CreateClientOptions {
  /** Existing tenant (default: the service tenant, which owns the emulated Key Vault). */
  tenantId?: string;
  /** Create the client in a brand-new tenant instead. */
  newTenant?: boolean;
  /** App roles placed in the `roles` claim of its tokens. */
  roles?: string[];
  /** Secret permissions on the emulated Key Vault (default true; only effective in the service tenant). */
  keyVaultAccess?: boolean;
  /** Role on existing subscriptions, e.g. to test RBAC: [{ subscriptionId, role: "Reader" }]. */
  subscriptionRoles?: Array<{ subscriptionId: string; role: 'Owner' | 'Contributor' | 'Reader' }>;
  /** Redirect URIs for interactive sign-in (rules: validateRedirectUris). Default none. */
  redirectUris?: string[];
  /** Allow public client flows: codes and refresh tokens redeemable without the secret, PKCE then required. Default false. */
  publicClient?: boolean;
  /** Name shown on the sign-in page ("to continue to ..."); default "testdrive-client". */
  displayName?: string;
  /**
   * Who may sign in to the app (Entra's signInAudience): 'AzureADMyOrg' (default) users of its own tenant;
   * 'AzureADMultipleOrgs' users of every tenant (a multi-tenant app; the emulator takes admin consent as given).
   */
  signInAudience?: 'AzureADMyOrg' | 'AzureADMultipleOrgs';
}

/** A caller error in the control API (400/404 with `{error:{code,message}}`). */
export class DirectoryError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

function newTenant(state: EmulatorState, name?: string): Tenant {
  const id = randomUUID();
  let tenantName = name?.toLowerCase();
  if (tenantName && !/^[a-z0-9][a-z0-9-]{0,62}(\.[a-z0-9-]{1,63})+$/.test(tenantName)) throw new DirectoryError(400, 'InvalidTenantName', `Tenant name '${tenantName.slice(0, 100)}' is not a valid domain name.`);
  if (tenantName && Object.values(state.tenants).some((t) => t.name === tenantName)) throw new DirectoryError(409, 'TenantNameInUse', `Tenant name '${tenantName}' is already used.`);
  while (!tenantName || Object.values(state.tenants).some((t) => t.name === tenantName)) tenantName = `contoso${randomInt(1000, 10000)}.onmicrosoft.com`;
  const t: Tenant = { id, name: tenantName, createdAt: new Date().toISOString() };
  state.tenants[id] = t;
  return t;
}

function newApp(state: EmulatorState, tenantId: string, kind: AppClient['kind'], displayName: string, roles: string[], keyVaultAccess: boolean): { app: AppClient; secret: string } {
  const secret = newClientSecret();
  const now = new Date();
  const app: AppClient = {
    clientId: randomUUID(),
    objectId: randomUUID(),
    tenantId,
    displayName,
    kind,
    secretSha256: hashSecret(secret),
    roles,
    keyVaultAccess,
    applicationObjectId: randomUUID(),
    createdAt: now.toISOString(),
    secretCredential: newSecretCredential(now, secret.slice(0, 3)),
  };
  state.clients[app.clientId] = app;
  return { app, secret };
}

/**
 * Creates a publisher: a tenant (new, or `tenantId`), a subscription in it, and an app registration +
 * service principal with a client secret holding Contributor on that subscription (what a test-drive
 * publisher gives the marketplace). Publisher principals have no access to the emulated Key Vault.
 * Throws DirectoryError 400/404 for a bad tenantName / unknown tenantId.
 */
export function createPublisher(state: EmulatorState, store: StateStore, opts: CreatePublisherOptions = {}): PublisherInfo {
  let tenant: Tenant;
  if (opts.tenantId) {
    const t = state.tenants[opts.tenantId.toLowerCase()];
    if (!t) throw new DirectoryError(404, 'TenantNotFound', `Tenant '${opts.tenantId.slice(0, 100)}' does not exist.`);
    tenant = t;
  } else {
    tenant = newTenant(state, opts.tenantName);
  }
  const location = normalizeLocation(opts.location ?? 'westeurope');
  const subscriptionId = randomUUID();
  const { app, secret } = newApp(state, tenant.id, 'publisher', `testdrive-${tenant.name.split('.')[0]}`, [], false);
  state.subscriptions[subscriptionId] = {
    id: subscriptionId,
    tenantId: tenant.id,
    displayName: `Test Drive (${tenant.name})`,
    roleAssignments: [{ principalId: app.objectId, roleDefinitionName: 'Contributor', name: randomUUID(), createdOn: new Date().toISOString() }],
    resourceGroups: {},
  };
  store.changed();
  return { tenantId: tenant.id, tenantName: tenant.name, subscriptionId, clientId: app.clientId, clientSecret: secret, principalId: app.objectId, location };
}

/**
 * Creates an app registration + service principal + client secret in the service tenant (default),
 * a given tenant, or a new tenant; `roles` go into its tokens' `roles` claim. Throws DirectoryError
 * for an unknown tenant/subscription or malformed roles.
 */
export function createClient(state: EmulatorState, store: StateStore, opts: CreateClientOptions = {}): ClientInfo {
  const roles = opts.roles ?? [];
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || !r || r.length > 120)) throw new DirectoryError(400, 'InvalidRoles', 'roles must be an array of non-empty strings.');
  let tenantId: string;
  if (opts.newTenant) tenantId = newTenant(state).id;
  else if (opts.tenantId) {
    const t = state.tenants[opts.tenantId.toLowerCase()];
    if (!t) throw new DirectoryError(404, 'TenantNotFound', `Tenant '${opts.tenantId.slice(0, 100)}' does not exist.`);
    tenantId = t.id;
  } else tenantId = state.serviceTenantId;
  for (const sr of opts.subscriptionRoles ?? []) {
    const sub = state.subscriptions[String(sr.subscriptionId).toLowerCase()];
    if (!sub) throw new DirectoryError(404, 'SubscriptionNotFound', `Subscription '${String(sr.subscriptionId).slice(0, 100)}' does not exist.`);
    if (sub.tenantId !== tenantId) throw new DirectoryError(400, 'CrossTenantRoleAssignment', 'A role on a subscription can only be given to a principal of the same tenant.');
    if (!['Owner', 'Contributor', 'Reader'].includes(sr.role)) throw new DirectoryError(400, 'InvalidRole', 'role must be Owner, Contributor or Reader.');
  }
  const publicClient = opts.publicClient === true;
  const redirectUris = opts.redirectUris === undefined ? [] : validateRedirectUris(opts.redirectUris, publicClient);
  if (opts.displayName !== undefined && (typeof opts.displayName !== 'string' || !/^\S.{0,119}$/.test(opts.displayName))) throw new DirectoryError(400, 'InvalidDisplayName', 'displayName must be 1-120 characters, not starting with a space.');
  const { app, secret } = newApp(state, tenantId, 'client', opts.displayName ?? 'testdrive-client', [...roles], opts.keyVaultAccess ?? true);
  if (redirectUris.length) app.redirectUris = redirectUris;
  if (publicClient) app.publicClient = true;
  if (opts.signInAudience !== undefined && opts.signInAudience !== 'AzureADMyOrg' && opts.signInAudience !== 'AzureADMultipleOrgs') throw new DirectoryError(400, 'InvalidSignInAudience', "signInAudience must be 'AzureADMyOrg' or 'AzureADMultipleOrgs'.");
  if (opts.signInAudience === 'AzureADMultipleOrgs') app.signInAudience = 'AzureADMultipleOrgs';
  for (const sr of opts.subscriptionRoles ?? []) {
    state.subscriptions[sr.subscriptionId.toLowerCase()].roleAssignments.push({ principalId: app.objectId, roleDefinitionName: sr.role, name: randomUUID(), createdOn: new Date().toISOString() });
  }
  store.changed();
  return { tenantId, clientId: app.clientId, clientSecret: secret, principalId: app.objectId, roles: [...roles], redirectUris: [...redirectUris], publicClient };
}

/** Default lifetime of a client secret in years (Graph addPassword's default end: start + 2 years). */
export const DEFAULT_SECRET_LIFETIME_YEARS = 2;

/** Metadata of a new client secret starting at `start`, ending DEFAULT_SECRET_LIFETIME_YEARS later (Entra's "Client secret" entry). */
function newSecretCredential(start: Date, hint: string | null): PasswordCredentialInfo {
  const end = new Date(start);
  end.setUTCFullYear(end.getUTCFullYear() + DEFAULT_SECRET_LIFETIME_YEARS);
  return { keyId: randomUUID(), displayName: 'Client secret', hint, startDateTime: start.toISOString(), endDateTime: end.toISOString() };
}

/**
 * The application object id and secret metadata of a client, filled in (and persisted) for clients
 * created before they existed: a new application object id, a secret starting now with the default
 * lifetime and an unknown hint (only the secret's hash was kept).
 */
export function ensureApplicationInfo(app: AppClient, store: StateStore): { applicationObjectId: string; secretCredential: PasswordCredentialInfo } {
  let changed = false;
  if (!app.applicationObjectId) {
    app.applicationObjectId = randomUUID();
    changed = true;
  }
  if (!app.secretCredential) {
    app.secretCredential = newSecretCredential(new Date(), null);
    changed = true;
  }
  if (changed) store.changed();
  return { applicationObjectId: app.applicationObjectId, secretCredential: app.secretCredential };
}

/**
 * Changes when a client's secret expires (PATCH /_emulator/clients/{clientId} `{secretEndDateTime}`); a past
 * date makes the token endpoint refuse the secret with AADSTS7000222, a future one makes it valid again.
 * @returns the client's secret metadata after the change.
 * An end before the secret's start moves the start to one second before it (so a secret can be made expired).
 * @throws DirectoryError 404 ClientNotFound; 400 InvalidSecretEndDateTime (not an ISO 8601 date-time).
 */
export function setClientSecretEndDateTime(state: EmulatorState, store: StateStore, clientId: string, endDateTime: unknown): PasswordCredentialInfo {
  const app = state.clients[String(clientId).toLowerCase()];
  if (!app) throw new DirectoryError(404, 'ClientNotFound', `Client '${String(clientId).slice(0, 100)}' does not exist.`);
  const ms = typeof endDateTime === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(endDateTime) ? Date.parse(endDateTime) : NaN;
  if (!Number.isFinite(ms)) throw new DirectoryError(400, 'InvalidSecretEndDateTime', 'secretEndDateTime must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z.');
  const { secretCredential } = ensureApplicationInfo(app, store);
  if (ms < Date.parse(secretCredential.startDateTime)) {
    // Entra refuses an end before the start; move the start back so a test can still make a secret expired.
    secretCredential.startDateTime = new Date(ms - 1000).toISOString();
  }
  secretCredential.endDateTime = new Date(ms).toISOString();
  store.changed();
  return { ...secretCredential };
}

/** Most redirect URIs an app registration holds (Entra's limit per app). */
export const MAX_REDIRECT_URIS = 256;

/**
 * Checks redirect URIs against Entra's restrictions (learn.microsoft.com, "Redirect URI (reply URL)
 * outline and restrictions"): an absolute URI of at most 256 characters, no fragment, no wildcard;
 * `https`, or `http` only on a loopback host (localhost, 127.0.0.1, [::1]); a custom scheme
 * (e.g. `myapp://auth`) only for a public client. At most 256 per app. Duplicates are dropped.
 * @returns the URIs as given (deduplicated).
 * @throws DirectoryError 400 InvalidRedirectUri naming the first offending URI.
 */
export function validateRedirectUris(uris: unknown, publicClient: boolean): string[] {
  const bad = (msg: string): never => {
    throw new DirectoryError(400, 'InvalidRedirectUri', msg);
  };
  if (!Array.isArray(uris)) bad('redirectUris must be an array of URIs.');
  const list = uris as unknown[];
  if (list.length > MAX_REDIRECT_URIS) bad(`An app holds at most ${MAX_REDIRECT_URIS} redirect URIs.`);
  const out: string[] = [];
  for (const u of list) {
    if (typeof u !== 'string' || !u || u.length > 256) bad('Each redirect URI must be a string of 1-256 characters.');
    const uri = u as string;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return bad(`'${uri.slice(0, 100)}' is not an absolute URI.`);
    }
    if (uri.includes('#')) bad(`'${uri.slice(0, 100)}': a redirect URI cannot contain a fragment.`);
    if (uri.includes('*')) bad(`'${uri.slice(0, 100)}': wildcard redirect URIs are not supported.`);
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) bad(`'${uri.slice(0, 100)}': http is allowed only for localhost; use https.`);
    if (url.protocol !== 'https:' && url.protocol !== 'http:' && !publicClient) bad(`'${uri.slice(0, 100)}': a custom scheme is allowed only for a public client (publicClient: true).`);
    if (!out.includes(uri)) out.push(uri);
  }
  return out;
}

/** True for localhost, 127.0.0.1 (any 127/8 address) and [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '[::1]' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Whether `requested` matches one of `registered` the way Entra matches reply URLs: the same URI
 * (scheme and host case-insensitive, the rest exact) — except that for `http` loopback URIs the port
 * is ignored (RFC 8252 7.3, which Entra follows for native apps' ephemeral ports).
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  let req: URL;
  try {
    req = new URL(requested);
  } catch {
    return false;
  }
  if (requested.includes('#')) return false;
  return registered.some((r) => {
    let reg: URL;
    try {
      reg = new URL(r);
    } catch {
      return false;
    }
    if (reg.protocol === 'http:' && req.protocol === 'http:' && isLoopbackHost(reg.hostname)) {
      return reg.hostname === req.hostname && reg.pathname === req.pathname && reg.search === req.search && reg.username === req.username;
    }
    return reg.href === req.href;
  });
}

/**
 * Replaces the redirect URIs of an app registration (PUT /_emulator/clients/{clientId}/redirect-uris).
 * @returns `{clientId, redirectUris}`.
 * @throws DirectoryError 404 ClientNotFound; 400 InvalidRedirectUri (validateRedirectUris).
 */
export function setRedirectUris(state: EmulatorState, store: StateStore, clientId: string, uris: unknown): { clientId: string; redirectUris: string[] } {
  const app = state.clients[String(clientId).toLowerCase()];
  if (!app) throw new DirectoryError(404, 'ClientNotFound', `Client '${String(clientId).slice(0, 100)}' does not exist.`);
  app.redirectUris = validateRedirectUris(uris, app.publicClient === true);
  store.changed();
  return { clientId: app.clientId, redirectUris: [...app.redirectUris] };
}

/** Options of registerApplication (POST /_emulator/applications). */
export interface RegisterApplicationOptions {
  /** Application ID URI, e.g. "api://test-drive-orchestrator" (a URI: scheme ":" rest, at most 200 characters). */
  identifierUri: string;
  /** App role values, e.g. ["TestDrive.Publisher"] (each 1-120 characters, no whitespace). */
  appRoles: string[];
  displayName?: string;
}

/**
 * Registers (or updates, by identifier URI) an API app registration with its app roles, so tokens
 * requested for `{identifierUri}/.default` are v2 access tokens carrying the client's roles the API
 * defines. The orchestrator's own `api://test-drive-orchestrator` exists from the first start.
 * @throws DirectoryError 400 InvalidApplication for a malformed URI or roles.
 */
export function registerApplication(state: EmulatorState, store: StateStore, opts: RegisterApplicationOptions): ApiApplication {
  const uri = typeof opts.identifierUri === 'string' ? opts.identifierUri.replace(/\/+$/, '') : '';
  if (!/^[a-z][a-z0-9+.-]*:\S{1,190}$/i.test(uri)) throw new DirectoryError(400, 'InvalidApplication', 'identifierUri must be a URI such as api://my-api (at most 200 characters).');
  const roles = opts.appRoles;
  if (!Array.isArray(roles) || roles.length > 50 || roles.some((r) => typeof r !== 'string' || !/^\S{1,120}$/.test(r))) {
    throw new DirectoryError(400, 'InvalidApplication', 'appRoles must be an array of at most 50 role values (1-120 characters, no whitespace).');
  }
  const existing = findApplication(state, uri);
  const app: ApiApplication = {
    appId: existing?.appId ?? randomUUID(),
    identifierUri: existing?.identifierUri ?? uri,
    displayName: typeof opts.displayName === 'string' && opts.displayName ? opts.displayName.slice(0, 120) : (existing?.displayName ?? uri),
    appRoles: [...new Set(roles)],
    createdAt: existing?.createdAt ?? new Date().toISOString(),
  };
  state.applications = { ...(state.applications ?? {}), [app.identifierUri.toLowerCase()]: app };
  store.changed();
  return app;
}

/**
 * Control API routes of the directory's identity parts (called from control.ts):
 * - GET /_emulator/applications: every API registration;
 * - POST /_emulator/applications `{identifierUri, appRoles, displayName?}`: register or update (201);
 * - GET /_emulator/keys: the published JWKS and the current kid;
 * - POST /_emulator/keys/rotate `{retirePrevious?, privateJwk?, kid?}`: new (or the given RSA) signing key,
 *   200 `{kid, previousKids}`; 400 InvalidKey for a JWK that is not an RSA private key;
 * - POST /_emulator/tokens `{clientId, audience?}`: an access token for an existing client without its
 *   secret (operator shortcut for local tools; audience default api://test-drive-orchestrator), 200
 *   `{token_type, expires_in, access_token}`; 404 ClientNotFound.
 * Errors: `{ error: { code, message } }` 400/404.
 */
export async function handleIdentityControl(ctx: Ctx, state: EmulatorState, store: StateStore): Promise<void> {
  const s = ctx.segments.slice(1).filter((x) => x !== '');
  const req = controlRequest(ctx);
  if (!req) return;
  const { fail, body: obj } = req;
  try {
    if (s[0] === 'applications' && s.length === 1) {
      if (ctx.method === 'GET') return send(ctx, 200, { value: listApplications(state) });
      if (ctx.method === 'POST') return send(ctx, 201, registerApplication(state, store, obj as unknown as RegisterApplicationOptions));
    }
    if (s[0] === 'keys') {
      const keys = liveSigningKeys(state);
      if (s.length === 1 && ctx.method === 'GET' && keys) return send(ctx, 200, { kid: keys.kid, ...jwks(keys) });
      if (s.length === 2 && s[1] === 'rotate' && ctx.method === 'POST') {
        const privateJwk = isObject(obj.privateJwk) ? obj.privateJwk : undefined;
        if (obj.privateJwk !== undefined && (!privateJwk || privateJwk.kty !== 'RSA' || typeof privateJwk.d !== 'string')) return void fail(400, 'InvalidKey', 'privateJwk must be an RSA private key JWK.');
        const r = await rotateSigningKeys(state, { retirePrevious: obj.retirePrevious === true, privateJwk, kid: typeof obj.kid === 'string' ? obj.kid : undefined });
        store.changed();
        return send(ctx, 200, r);
      }
    }
    if (s[0] === 'tokens' && s.length === 1 && ctx.method === 'POST') {
      const clientId = typeof obj.clientId === 'string' ? obj.clientId.toLowerCase() : '';
      const client = clientId ? state.clients[clientId] : undefined;
      if (!client) return void fail(404, 'ClientNotFound', `Client '${clientId.slice(0, 100)}' does not exist.`);
      const audience = typeof obj.audience === 'string' && obj.audience ? obj.audience : SERVICE_API.identifierUri;
      const keys = liveSigningKeys(state);
      if (!keys) return void fail(500, 'InternalServerError', 'No signing key.');
      const api = findApplication(state, audience);
      const token = api ? await signApiAccessToken(keys, client, api, ctx.baseUrl) : await signAccessToken(keys, client, audienceFor(audience));
      return send(ctx, 200, { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, access_token: token }, { 'Cache-Control': 'no-store' });
    }
    return void fail(404, 'NotFound', `No control operation ${ctx.method} /_emulator/${s.join('/')}.`);
  } catch (e) {
    if (e instanceof DirectoryError) return void fail(e.status, e.code, e.message);
    throw e;
  }
}
