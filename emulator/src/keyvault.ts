import { randomBytes } from 'node:crypto';
import type { Ctx } from './http';
import { isObject, jsonBody, send, sleep } from './http';
import { VAULT_AUDIENCES, type SigningKeys, verifyBearer } from './entra';
import type { FaultStore } from './faults';
import { defaultFaultCode } from './faults';
import { key, type EmulatorState, type SecretVersion, type StateStore, type VaultSecret } from './state';

/** Soft-delete retention (days) of the emulated vault (Azure's default: 90). */
export const RECOVERABLE_DAYS = 90;
const RECOVERY_LEVEL = 'Recoverable+Purgeable';
const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_VALUE_CHARS = 25 * 1024;

/** Dependencies of the Key Vault handlers. */
export interface KeyVaultDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  faults: FaultStore;
  log: (msg: string, extra?: object) => void;
}

class KvError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly inner?: string) {
    super(message);
  }
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Key Vault secrets API at the host:port root (Key Vault REST 7.x / 2025-07-01; any api-version accepted,
 * but one is required). Authentication follows Key Vault's challenge protocol: a request without a
 * Bearer token gets 401 + `WWW-Authenticate: Bearer authorization="{emulator}/{serviceTenantId}",
 * resource="https://vault.azure.net"` (the SDK takes the tenant from that URL's path and asks the
 * credential for a token in that tenant). Tokens must be signed by the emulator, have audience
 * https://vault.azure.net, come from the service tenant (else 401 AKV10032) and belong to a principal
 * with vault access (clients made by /_emulator/clients in the service tenant; else 403 Forbidden).
 */
export async function handleKeyVault(ctx: Ctx, deps: KeyVaultDeps): Promise<void> {
  ctx.res.setHeader('x-ms-request-id', ctx.requestId);
  ctx.res.setHeader('x-ms-keyvault-service-version', '1.9.0.0');
  ctx.res.setHeader('x-ms-keyvault-region', 'local');
  ctx.res.setHeader('Cache-Control', 'no-cache');
  try {
    await route(ctx, deps);
  } catch (e) {
    if (e instanceof KvError) {
      return send(ctx, e.status, { error: { code: e.code, message: e.message, ...(e.inner ? { innererror: { code: e.inner } } : {}) } });
    }
    deps.log('keyvault handler error', { error: String(e) });
    send(ctx, 500, { error: { code: 'InternalServerError', message: 'An internal error occurred.' } });
  }
}

function challenge(ctx: Ctx, deps: KeyVaultDeps): string {
  return `Bearer authorization="${ctx.baseUrl}/${deps.state.serviceTenantId}", resource="https://vault.azure.net"`;
}

async function authenticate(ctx: Ctx, deps: KeyVaultDeps, permission: string): Promise<void> {
  const auth = ctx.req.headers.authorization;
  const unauthorized = (msg: string): KvError => {
    ctx.res.setHeader('WWW-Authenticate', challenge(ctx, deps));
    return new KvError(401, 'Unauthorized', msg);
  };
  const r = await verifyBearer(deps.keys, auth, VAULT_AUDIENCES);
  if (!('claims' in r)) {
    switch (r.failure) {
      case 'missing':
        throw unauthorized('AKV10000: Request is missing a Bearer or PoP token.');
      case 'audience':
        throw unauthorized(`AKV10022: Invalid audience. Expected https://vault.azure.net, found: ${String(r.aud ?? '').slice(0, 200)}.`);
      case 'expired':
        throw unauthorized('AKV10013: Token is expired.');
      default:
        throw unauthorized('AKV10005: Authorization token is invalid.');
    }
  }
  const { claims } = r;
  if (claims.tid !== deps.state.serviceTenantId) {
    throw unauthorized(`AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${deps.state.serviceTenantId}/, found https://sts.windows.net/${claims.tid}/.`);
  }
  const client = Object.values(deps.state.clients).find((c) => c.objectId === claims.oid);
  if (!client || !client.keyVaultAccess) {
    throw new KvError(
      403,
      'Forbidden',
      `The user, group or application 'appid=${claims.appid};oid=${claims.oid};iss=${claims.iss}' does not have secrets ${permission} permission on key vault 'emulator;location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287`,
      'AccessDenied',
    );
  }
}

async function applyFault(operation: string, deps: KeyVaultDeps, ctx: Ctx): Promise<void> {
  const f = deps.faults.take(operation);
  if (!f) return;
  if (f.latencyMs) await sleep(f.latencyMs);
  if (!f.status) return;
  if (f.retryAfterSeconds !== undefined || f.status === 429 || f.status === 503) ctx.res.setHeader('Retry-After', String(f.retryAfterSeconds ?? 1));
  const code = f.errorCode ?? (f.status === 429 ? 'Throttled' : defaultFaultCode(f.status));
  throw new KvError(f.status, code, f.status === 429 ? 'Operations per second is over the limit for this vault (injected fault).' : `The operation '${operation}' failed (injected fault).`);
}

function notFound(name: string, version?: string): KvError {
  return new KvError(404, 'SecretNotFound', `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`);
}

function secretId(ctx: Ctx, name: string, version: string): string {
  return `${ctx.baseUrl}/secrets/${name}/${version}`;
}

function attributes(v: SecretVersion): Record<string, unknown> {
  return {
    enabled: v.enabled,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.exp !== undefined ? { exp: v.exp } : {}),
    created: v.created,
    updated: v.updated,
    recoveryLevel: RECOVERY_LEVEL,
    recoverableDays: RECOVERABLE_DAYS,
  };
}

/** SecretBundle (with value) or SecretItem (without) for one version. */
function bundle(ctx: Ctx, s: VaultSecret, v: SecretVersion, withValue: boolean): Record<string, unknown> {
  return {
    ...(withValue ? { value: v.value } : {}),
    id: secretId(ctx, s.name, v.version),
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    attributes: attributes(v),
  };
}

function deletedBundle(ctx: Ctx, s: VaultSecret, item: boolean): Record<string, unknown> {
  const v = latest(s);
  const b = bundle(ctx, s, v, false);
  if (item) b.id = `${ctx.baseUrl}/secrets/${s.name}`;
  return { recoveryId: `${ctx.baseUrl}/deletedsecrets/${s.name}`, deletedDate: s.deleted?.deletedDate, scheduledPurgeDate: s.deleted?.scheduledPurgeDate, ...b };
}

function latest(s: VaultSecret): SecretVersion {
  return s.versions[s.versions.length - 1];
}

function parseAttrs(raw: unknown): Partial<Pick<SecretVersion, 'enabled' | 'nbf' | 'exp'>> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new KvError(400, 'BadParameter', "Property 'attributes' must be an object.");
  const out: Partial<Pick<SecretVersion, 'enabled' | 'nbf' | 'exp'>> = {};
  if (raw.enabled !== undefined && raw.enabled !== null) {
    if (typeof raw.enabled !== 'boolean') throw new KvError(400, 'BadParameter', "Property 'attributes.enabled' must be a boolean.");
    out.enabled = raw.enabled;
  }
  for (const k of ['nbf', 'exp'] as const) {
    if (raw[k] !== undefined && raw[k] !== null) {
      if (typeof raw[k] !== 'number' || !Number.isFinite(raw[k])) throw new KvError(400, 'BadParameter', `Property 'attributes.${k}' must be a Unix time in seconds.`);
      out[k] = Math.floor(raw[k]);
    }
  }
  return out;
}

function parseTags(raw: unknown): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObject(raw)) throw new KvError(400, 'BadParameter', "Property 'tags' must be an object.");
  const entries = Object.entries(raw);
  if (entries.length > 15) throw new KvError(400, 'BadParameter', 'The number of tags exceeds the maximum of 15.');
  return Object.fromEntries(entries.map(([k, v]) => [k, typeof v === 'string' ? v : String(v)]));
}

function body(ctx: Ctx): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = jsonBody(ctx);
  } catch {
    throw new KvError(400, 'BadParameter', 'The request body is not valid JSON.');
  }
  if (!isObject(parsed)) throw new KvError(400, 'BadParameter', 'The request body must be a JSON object.');
  return parsed;
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new KvError(400, 'BadParameter', `The request URI contains an invalid name: ${name.slice(0, 130)}`);
}

function live(deps: KeyVaultDeps, name: string): VaultSecret | undefined {
  const s = deps.state.secrets[key(name)];
  return s && !s.deleted ? s : undefined;
}

async function route(ctx: Ctx, deps: KeyVaultDeps): Promise<void> {
  const [col, rawName, third, ...more] = ctx.segments;
  const collection = col.toLowerCase();
  const m = ctx.method;
  const name = rawName ?? '';
  const sub = (third ?? '').toLowerCase();
  const perm = m === 'GET' ? (sub === 'versions' || !name ? 'list' : 'get') : m === 'PUT' ? 'set' : m === 'DELETE' ? (collection === 'deletedsecrets' ? 'purge' : 'delete') : m === 'PATCH' ? 'set' : 'recover';
  await authenticate(ctx, deps, perm);
  if (!ctx.query.get('api-version')) throw new KvError(400, 'BadParameter', "The 'api-version' query parameter is missing.");
  if (more.length > 0 && !(more.length === 1 && more[0] === '')) throw new KvError(404, 'NotFound', 'The requested resource was not found.');

  if (collection === 'secrets') {
    if (!name) {
      if (m !== 'GET') throw new KvError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed.`);
      await applyFault('keyvault.listSecrets', deps, ctx);
      const value = Object.values(deps.state.secrets).filter((s) => !s.deleted).map((s) => ({ ...bundle(ctx, s, latest(s), false), id: `${ctx.baseUrl}/secrets/${s.name}` }));
      return send(ctx, 200, { value, nextLink: null });
    }
    checkName(name);
    if (m === 'PUT' && (third === undefined || third === '')) {
      await applyFault('keyvault.setSecret', deps, ctx);
      const b = body(ctx);
      if (typeof b.value !== 'string') throw new KvError(400, 'BadParameter', "Property 'value' is required and must be a string.");
      if (b.value.length > MAX_VALUE_CHARS) throw new KvError(400, 'BadParameter', 'The secret value exceeds the maximum allowed size of 25 KB.');
      if (b.contentType !== undefined && b.contentType !== null && typeof b.contentType !== 'string') throw new KvError(400, 'BadParameter', "Property 'contentType' must be a string.");
      const existing = deps.state.secrets[key(name)];
      if (existing?.deleted) {
        throw new KvError(409, 'Conflict', `Secret ${existing.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, 'ObjectIsDeletedButRecoverable');
      }
      const attrs = parseAttrs(b.attributes);
      const t = nowSec();
      const v: SecretVersion = {
        version: randomBytes(16).toString('hex'),
        value: b.value,
        ...(typeof b.contentType === 'string' ? { contentType: b.contentType } : {}),
        ...(parseTags(b.tags) ? { tags: parseTags(b.tags) } : {}),
        enabled: attrs.enabled ?? true,
        ...(attrs.nbf !== undefined ? { nbf: attrs.nbf } : {}),
        ...(attrs.exp !== undefined ? { exp: attrs.exp } : {}),
        created: t,
        updated: t,
      };
      const s: VaultSecret = existing ?? { name, versions: [] };
      s.versions.push(v);
      deps.state.secrets[key(name)] = s;
      deps.store.changed();
      deps.log('secret set', { name: s.name, version: v.version });
      return send(ctx, 200, bundle(ctx, s, v, true));
    }
    if (m === 'GET' && sub === 'versions' && (more.length === 0 || more[0] === '')) {
      await applyFault('keyvault.getSecretVersions', deps, ctx);
      const s = live(deps, name);
      if (!s) throw notFound(name);
      return send(ctx, 200, { value: s.versions.map((v) => bundle(ctx, s, v, false)), nextLink: null });
    }
    if (m === 'GET') {
      await applyFault('keyvault.getSecret', deps, ctx);
      const s = live(deps, name);
      if (!s) throw notFound(name);
      const v = third ? s.versions.find((x) => x.version === third.toLowerCase()) : latest(s);
      if (!v) throw notFound(name, third);
      if (!v.enabled) throw new KvError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
      return send(ctx, 200, bundle(ctx, s, v, true));
    }
    if (m === 'PATCH') {
      await applyFault('keyvault.updateSecret', deps, ctx);
      const b = body(ctx);
      const s = live(deps, name);
      if (!s) throw notFound(name);
      const v = third ? s.versions.find((x) => x.version === third.toLowerCase()) : latest(s);
      if (!v) throw notFound(name, third);
      const attrs = parseAttrs(b.attributes);
      if (attrs.enabled !== undefined) v.enabled = attrs.enabled;
      if (attrs.nbf !== undefined) v.nbf = attrs.nbf;
      if (attrs.exp !== undefined) v.exp = attrs.exp;
      if (typeof b.contentType === 'string') v.contentType = b.contentType;
      const tags = parseTags(b.tags);
      if (tags) v.tags = tags;
      v.updated = nowSec();
      deps.store.changed();
      return send(ctx, 200, bundle(ctx, s, v, false));
    }
    if (m === 'DELETE' && !third) {
      await applyFault('keyvault.deleteSecret', deps, ctx);
      const s = live(deps, name);
      if (!s) throw notFound(name);
      const t = nowSec();
      s.deleted = { deletedDate: t, scheduledPurgeDate: t + RECOVERABLE_DAYS * 86400 };
      deps.store.changed();
      deps.log('secret deleted', { name: s.name });
      return send(ctx, 200, deletedBundle(ctx, s, false));
    }
    throw new KvError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
  }

  // deletedsecrets
  if (!name) {
    if (m !== 'GET') throw new KvError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed.`);
    await applyFault('keyvault.listDeletedSecrets', deps, ctx);
    return send(ctx, 200, { value: Object.values(deps.state.secrets).filter((s) => s.deleted).map((s) => deletedBundle(ctx, s, true)), nextLink: null });
  }
  checkName(name);
  const s = deps.state.secrets[key(name)];
  const deleted = s?.deleted ? s : undefined;
  const deletedNotFound = (): KvError => new KvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
  if (m === 'GET' && !third) {
    await applyFault('keyvault.getDeletedSecret', deps, ctx);
    if (!deleted) throw deletedNotFound();
    return send(ctx, 200, deletedBundle(ctx, deleted, false));
  }
  if (m === 'DELETE' && !third) {
    await applyFault('keyvault.purgeDeletedSecret', deps, ctx);
    if (!deleted) throw deletedNotFound();
    delete deps.state.secrets[key(name)];
    deps.store.changed();
    deps.log('secret purged', { name });
    return send(ctx, 204);
  }
  if (m === 'POST' && sub === 'recover') {
    await applyFault('keyvault.recoverDeletedSecret', deps, ctx);
    if (!deleted) throw deletedNotFound();
    delete deleted.deleted;
    deps.store.changed();
    deps.log('secret recovered', { name });
    return send(ctx, 200, bundle(ctx, deleted, latest(deleted), false));
  }
  throw new KvError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
}
