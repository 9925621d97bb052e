/**
 * Identities of Logic Apps workflows: the system-assigned managed identity (a service principal in
 * `state.clients`) and the tokens Http actions authenticate with (ManagedServiceIdentity,
 * ActiveDirectoryOAuth through the emulator's own token endpoint).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { audienceFor, hashSecret, liveSigningKeys, signAccessToken, type SigningKeys } from '../entra';
import type { AppClient, EmulatorState, StateStore, StoredResource } from '../state';
import { WorkflowError } from './engine/errors';
import { isObj } from './engine/functions';
import { decodeBody, rawRequest } from './engine/http';

/** What the identity functions need from the emulator. */
export interface IdentityDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  caCertPem: string;
  /** Base URL the emulator can call itself on, e.g. https://localhost:8443. */
  selfUrl: () => string;
}

/** Client (app) id of a managed identity's service principal: a GUID derived from its principal id. */
function msiAppId(principalId: string): string {
  const h = createHash('sha256').update(`msi:${principalId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Registers a workflow's system-assigned identity: fills `identity.principalId`/`tenantId` (the
 * subscription's tenant) when missing and adds its service principal to `state.clients` (no roles, no
 * vault access) so tokens can be minted for it. No-op without `identity.type` SystemAssigned.
 */
export function registerIdentity(deps: Pick<IdentityDeps, 'state' | 'store'>, r: StoredResource): void {
  const id = isObj(r.identity) ? r.identity : undefined;
  if (!id || !String(id.type ?? '').toLowerCase().includes('systemassigned')) return;
  const sub = deps.state.subscriptions[r.subscriptionId.toLowerCase()];
  if (typeof id.principalId !== 'string') id.principalId = randomUUID();
  if (typeof id.tenantId !== 'string') id.tenantId = sub?.tenantId ?? deps.state.serviceTenantId;
  const principalId = String(id.principalId);
  const appId = msiAppId(principalId);
  if (!deps.state.clients[appId]) {
    const client: AppClient = { clientId: appId, objectId: principalId, tenantId: id.tenantId as string, displayName: r.name, kind: 'client', secretSha256: hashSecret(randomBytes(32).toString('base64')), roles: [], keyVaultAccess: false };
    deps.state.clients[appId] = client;
    deps.store.changed();
  }
}

/**
 * Access token of the workflow's system-assigned identity for `audience` (a resource, `/.default`
 * stripped). Throws WorkflowError BadRequest when the workflow has none (user-assigned identities are
 * not emulated).
 */
export async function managedIdentityToken(deps: IdentityDeps, r: StoredResource, audience: string): Promise<string> {
  const id = isObj(r.identity) ? r.identity : undefined;
  if (!id || !String(id.type ?? '').toLowerCase().includes('systemassigned') || typeof id.principalId !== 'string') {
    throw new WorkflowError('BadRequest', `The workflow '${r.name}' has no system-assigned managed identity: set "identity": {"type": "SystemAssigned"} to use ManagedServiceIdentity authentication (user-assigned identities are not supported by the local emulator).`);
  }
  registerIdentity(deps, r);
  const client = deps.state.clients[msiAppId(id.principalId)];
  const keys = liveSigningKeys(deps.state) ?? deps.keys;
  return signAccessToken(keys, client, audienceFor(audience.replace(/\/\.default$/, '')));
}

/**
 * Token for ActiveDirectoryOAuth: a client-credentials request (v1, `resource`) to the emulator's own
 * `/{tenant}/oauth2/token`. Throws WorkflowError BadGateway (transport) or Unauthorized (refused, with
 * Entra's error description).
 */
export async function clientCredentialsToken(deps: IdentityDeps, tenant: string, clientId: string, secret: string, audience: string): Promise<string> {
  const u = new URL(`${deps.selfUrl()}/${encodeURIComponent(tenant)}/oauth2/token`);
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, resource: audience }).toString();
  const ac = new AbortController();
  const res = await rawRequest(u, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form), 30_000, ac.signal, deps.caCertPem).catch((e: Error) => {
    throw new WorkflowError('BadGateway', `The token request to the emulator failed: ${e.message}`);
  });
  const body = decodeBody('application/json', res.body);
  if (res.status !== 200 || !isObj(body) || typeof body.access_token !== 'string') {
    const desc = isObj(body) && typeof body.error_description === 'string' ? body.error_description.split(' Trace ID')[0] : `HTTP ${res.status}`;
    throw new WorkflowError('Unauthorized', `Could not obtain a token for audience '${audience}' with ActiveDirectoryOAuth: ${desc}`);
  }
  return body.access_token;
}
