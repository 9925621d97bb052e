import { randomInt, randomUUID } from 'node:crypto';
import { hashSecret, newClientSecret } from './entra';
import { normalizeLocation } from './arm/arm';
import type { AppClient, EmulatorState, StateStore, Tenant } from './state';

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
  const app: AppClient = { clientId: randomUUID(), objectId: randomUUID(), tenantId, displayName, kind, secretSha256: hashSecret(secret), roles, keyVaultAccess };
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
    roleAssignments: [{ principalId: app.objectId, roleDefinitionName: 'Contributor' }],
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
  const { app, secret } = newApp(state, tenantId, 'client', 'testdrive-client', [...roles], opts.keyVaultAccess ?? true);
  for (const sr of opts.subscriptionRoles ?? []) {
    state.subscriptions[sr.subscriptionId.toLowerCase()].roleAssignments.push({ principalId: app.objectId, roleDefinitionName: sr.role });
  }
  store.changed();
  return { tenantId, clientId: app.clientId, clientSecret: secret, principalId: app.objectId, roles: [...roles] };
}
