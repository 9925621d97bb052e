import { randomBytes, randomUUID } from 'node:crypto';
import type { EmulatorState } from '../state';
import { DYNAMICS_SKUS, consumedUnits, directoryOf, ensureSku, type GraphUser } from '../graph/model';

/** Dynamics 365 product of an environment. */
export type DynamicsProduct = 'customer-engagement' | 'business-central' | 'operations';

/** A security role (CE `role` in a business unit; F&O AOT role; BC permission set). */
export interface DynamicsRole {
  /** GUID (CE roleid; for F&O/BC an internal id). */
  id: string;
  /** CE role name / F&O SecurityRoleIdentifier (AOT name) / BC permission set id (roleId). */
  name: string;
  businessUnitId: string;
}

/** A role held by a user in an environment. */
export interface DynamicsRoleAssignment {
  /** GUID of the assignment (BC userPermission id). */
  id: string;
  /** Entra object id of the user. */
  userObjectId: string;
  roleId: string;
  /** F&O: legal entities the role is restricted to (empty = all); BC: company name ('' = all companies). */
  organizations: string[];
  assignedAt: string;
}

/** A hosted Dynamics 365 environment of a publisher tenant. */
export interface DynamicsEnvironment {
  name: string;
  product: DynamicsProduct;
  tenantId: string;
  skuId: string;
  skuPartNumber: string;
  createdAt: string;
  organizationId: string;
  /** Per-environment sync delay in seconds (else settings.dynamicsSyncSeconds, else 2). */
  syncSeconds?: number;
  /** Whether publisher apps of the tenant are application users (Dataverse) / registered Entra apps (F&O, BC). */
  applicationUser: boolean;
  /** Extra client ids registered as application users. */
  applicationUsers: string[];
  businessUnit: { id: string; name: string };
  roles: DynamicsRole[];
  /** Stable systemuserid / F&O / BC user id per Entra object id (assigned when first synced). */
  systemUserIds: Record<string, string>;
  roleAssignments: DynamicsRoleAssignment[];
  /** F&O trial legal entity (DataAreaId), e.g. "USMF". */
  legalEntity: string;
  /** Business Central company. */
  company: { id: string; name: string };
  /** Dataverse `leads` rows (customer-engagement only; see dataverse-leads.ts), in creation order. */
  leads?: DataverseLead[];
}

/** A Dataverse `lead` row as stored (column logical names; see dataverse-leads.ts for the columns). */
export type DataverseLead = Record<string, unknown> & { leadid: string; versionnumber: number };

/** Shape added to EmulatorState. */
export interface DynamicsStateExtension {
  /** Key: lower-case environment name. */
  dynamicsEnvironments?: Record<string, DynamicsEnvironment>;
}

/** Default sync delay (seconds) between license assignment and the user appearing in an environment. */
export const DEFAULT_SYNC_SECONDS = 2;

/** A caller error of the control API. */
export class DynamicsControlError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

/** Options of createDynamicsEnvironment (POST /_emulator/dynamics-environments). */
export interface CreateDynamicsEnvironmentOptions {
  tenantId: string;
  product: DynamicsProduct;
  /** Prepaid units of the product's SKU in the tenant (sets `prepaidUnits.enabled`). */
  licenses: number;
  /** CE role names / F&O AOT role identifiers / BC permission set ids. */
  roles: string[];
  /** Environment name (URL segment); default "org" + 8 hex chars. */
  name?: string;
  /** Sync delay for this environment, seconds (0 allowed). */
  syncSeconds?: number;
  /** Whether the tenant's publisher apps are application users (default true; false -> 403 for them). */
  applicationUser?: boolean;
  /** More client ids to register as application users. */
  applicationUsers?: string[];
  /** F&O legal entity (default "USMF"). */
  legalEntity?: string;
  /** BC company name (default "CRONUS USA, Inc."). */
  companyName?: string;
}

/** What createDynamicsEnvironment returns. */
export interface DynamicsEnvironmentInfo {
  name: string;
  product: DynamicsProduct;
  tenantId: string;
  tenantName: string;
  /** Resource URI and token audience (no trailing slash); scope = `${instanceUrl}/.default`. */
  instanceUrl: string;
  /** Base of the product's API, ending in "/". */
  instanceWebApiUrl: string;
  licenseSku: string;
  skuId: string;
  legalEntity?: string;
  companyId?: string;
  companyName?: string;
}

const PRODUCTS: DynamicsProduct[] = ['customer-engagement', 'business-central', 'operations'];

/** Environment base URL for a request base URL. */
export function instanceUrlOf(baseUrl: string, env: DynamicsEnvironment): string {
  return `${baseUrl}/dynamics/${env.name}`;
}

/** API base (ending in "/") of the environment's product. */
export function webApiUrlOf(baseUrl: string, env: DynamicsEnvironment): string {
  const i = instanceUrlOf(baseUrl, env);
  return env.product === 'customer-engagement' ? `${i}/api/data/v9.2/` : env.product === 'operations' ? `${i}/data/` : `${i}/api/microsoft/automation/v2.0/`;
}

/** Connection info of an environment. */
export function environmentInfo(state: EmulatorState, baseUrl: string, env: DynamicsEnvironment): DynamicsEnvironmentInfo {
  const info: DynamicsEnvironmentInfo = {
    name: env.name,
    product: env.product,
    tenantId: env.tenantId,
    tenantName: state.tenants[env.tenantId]?.name ?? '',
    instanceUrl: instanceUrlOf(baseUrl, env),
    instanceWebApiUrl: webApiUrlOf(baseUrl, env),
    licenseSku: env.skuPartNumber,
    skuId: env.skuId,
  };
  if (env.product === 'operations') info.legalEntity = env.legalEntity;
  if (env.product === 'business-central') Object.assign(info, { companyId: env.company.id, companyName: env.company.name });
  return info;
}

function validRoles(roles: unknown): string[] {
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || !r.trim() || r.length > 100)) throw new DynamicsControlError(400, 'InvalidRoles', 'roles must be an array of non-empty strings (at most 100 characters).');
  return [...new Set(roles as string[])];
}

function validLicenses(n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100000) throw new DynamicsControlError(400, 'InvalidLicenses', 'licenses must be an integer in [0, 100000].');
  return n;
}

function validSync(n: unknown): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 86400) throw new DynamicsControlError(400, 'InvalidSyncSeconds', 'syncSeconds must be a number of seconds in [0, 86400].');
  return n;
}

/**
 * Creates a Dynamics 365 environment in a tenant: subscribes the product's SKU with `licenses` prepaid units
 * (shared by environments of the same product in the tenant), one root business unit, the given roles.
 * Throws DynamicsControlError (400 bad input, 404 unknown tenant, 409 name taken).
 */
export function createEnvironment(state: EmulatorState, o: CreateDynamicsEnvironmentOptions): DynamicsEnvironment {
  const tenant = typeof o.tenantId === 'string' ? state.tenants[o.tenantId.toLowerCase()] : undefined;
  if (!tenant) throw new DynamicsControlError(404, 'TenantNotFound', `Tenant '${String(o.tenantId).slice(0, 100)}' does not exist.`);
  if (!PRODUCTS.includes(o.product)) throw new DynamicsControlError(400, 'InvalidProduct', `product must be one of ${PRODUCTS.join(', ')}.`);
  const licenses = validLicenses(o.licenses);
  const roles = validRoles(o.roles);
  const syncSeconds = o.syncSeconds === undefined ? undefined : validSync(o.syncSeconds);
  const all = (state.dynamicsEnvironments ??= {});
  let name = o.name;
  if (name !== undefined && (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/i.test(name))) throw new DynamicsControlError(400, 'InvalidName', 'name must be 1-63 letters, digits or hyphens.');
  if (name && all[name.toLowerCase()]) throw new DynamicsControlError(409, 'EnvironmentExists', `Environment '${name}' already exists.`);
  while (!name || all[name.toLowerCase()]) name = `org${randomBytes(4).toString('hex')}`;
  if (o.applicationUsers !== undefined && (!Array.isArray(o.applicationUsers) || o.applicationUsers.some((c) => typeof c !== 'string'))) throw new DynamicsControlError(400, 'InvalidApplicationUsers', 'applicationUsers must be an array of client ids.');
  const sku = DYNAMICS_SKUS[o.product];
  ensureSku(directoryOf(state, tenant.id), sku.skuId, sku.skuPartNumber, sku.plan, licenses);
  const bu = { id: randomUUID(), name: name };
  const env: DynamicsEnvironment = {
    name,
    product: o.product,
    tenantId: tenant.id,
    skuId: sku.skuId,
    skuPartNumber: sku.skuPartNumber,
    createdAt: new Date().toISOString(),
    organizationId: randomUUID(),
    syncSeconds,
    applicationUser: o.applicationUser ?? true,
    applicationUsers: (o.applicationUsers ?? []).map((c) => c.toLowerCase()),
    businessUnit: bu,
    roles: roles.map((r) => ({ id: randomUUID(), name: r, businessUnitId: bu.id })),
    systemUserIds: {},
    roleAssignments: [],
    legalEntity: (o.legalEntity ?? 'USMF').toUpperCase(),
    company: { id: randomUUID(), name: o.companyName ?? 'CRONUS USA, Inc.' },
  };
  all[name.toLowerCase()] = env;
  return env;
}

/** Finds an environment by name (case-insensitive). */
export function findEnvironment(state: EmulatorState, name: string): DynamicsEnvironment | undefined {
  return state.dynamicsEnvironments?.[name.toLowerCase()];
}

/** Effective sync delay (seconds) of an environment. */
export function syncSecondsOf(state: EmulatorState, env: DynamicsEnvironment): number {
  return env.syncSeconds ?? state.settings.dynamicsSyncSeconds ?? DEFAULT_SYNC_SECONDS;
}

/** A tenant user present in an environment, with the environment-side id. */
export interface EnvironmentUser {
  user: GraphUser;
  /** systemuserid (CE) / userSecurityId (BC) / internal id (F&O). */
  id: string;
  /** When the user appeared (license time + sync delay), ISO. */
  syncedAt: string;
}

/**
 * Users of the environment right now: tenant users holding the environment's SKU for at least the sync delay
 * (computed lazily; no timers). Assigns stable environment ids on first sight.
 */
export function environmentUsers(state: EmulatorState, env: DynamicsEnvironment, nowMs = Date.now()): EnvironmentUser[] {
  const dir = directoryOf(state, env.tenantId);
  const delayMs = syncSecondsOf(state, env) * 1000;
  const out: EnvironmentUser[] = [];
  for (const user of Object.values(dir.users)) {
    const lic = user.assignedLicenses.find((l) => l.skuId === env.skuId);
    if (!lic || lic.assignedAtMs + delayMs > nowMs) continue;
    const id = (env.systemUserIds[user.id] ??= randomUUID());
    out.push({ user, id, syncedAt: new Date(lic.assignedAtMs + delayMs).toISOString() });
  }
  return out.sort((a, b) => a.user.createdDateTime.localeCompare(b.user.createdDateTime) || a.id.localeCompare(b.id));
}

/**
 * Called by Graph when a user loses a license or is deleted: drops the user's role assignments in every
 * environment of the tenant whose SKU is gone (`skuId` undefined = all, on delete).
 */
export function purgeUserFromEnvironments(state: EmulatorState, tenantId: string, userObjectId: string, skuId?: string): void {
  for (const env of Object.values(state.dynamicsEnvironments ?? {})) {
    if (env.tenantId !== tenantId || (skuId && env.skuId !== skuId.toLowerCase())) continue;
    env.roleAssignments = env.roleAssignments.filter((a) => a.userObjectId !== userObjectId);
    if (!skuId) delete env.systemUserIds[userObjectId];
  }
}

/** Operator view of an environment (GET /_emulator/dynamics-environments/{name}). */
export function environmentSnapshot(state: EmulatorState, baseUrl: string, env: DynamicsEnvironment): Record<string, unknown> {
  const dir = directoryOf(state, env.tenantId);
  const present = new Map(environmentUsers(state, env).map((u) => [u.user.id, u]));
  const roleName = (id: string): string => env.roles.find((r) => r.id === id)?.name ?? id;
  const sku = dir.skus[env.skuId];
  const upnOf = (oid: string): string => dir.users[oid]?.userPrincipalName ?? oid;
  return {
    ...environmentInfo(state, baseUrl, env),
    syncSeconds: syncSecondsOf(state, env),
    applicationUser: env.applicationUser,
    businessUnit: env.businessUnit,
    roles: env.roles.map((r) => ({ id: r.id, name: r.name })),
    licenses: { skuId: env.skuId, skuPartNumber: env.skuPartNumber, total: sku?.prepaidUnits.enabled ?? 0, inUse: consumedUnits(dir, env.skuId) },
    users: Object.values(dir.users).map((u) => ({
      id: u.id,
      upn: u.userPrincipalName,
      licensed: u.assignedLicenses.some((l) => l.skuId === env.skuId),
      inEnvironment: present.has(u.id),
      environmentUserId: present.get(u.id)?.id ?? null,
      roles: env.roleAssignments.filter((a) => a.userObjectId === u.id).map((a) => roleName(a.roleId)),
    })),
    roleAssignments: env.roleAssignments.map((a) => ({ id: a.id, userId: a.userObjectId, upn: upnOf(a.userObjectId), role: roleName(a.roleId), organizations: a.organizations, assignedAt: a.assignedAt })),
    ...(env.product === 'customer-engagement' ? { leads: (env.leads ?? []).map((l) => ({ ...l })) } : {}),
  };
}

/** Changes of PATCH /_emulator/dynamics-environments/{name}. */
export interface UpdateDynamicsEnvironmentOptions {
  /** New prepaid unit count of the SKU (may go below consumedUnits, like a lapsed subscription). */
  licenses?: number;
  addRoles?: string[];
  /** Role names to delete (their assignments go too). */
  deleteRoles?: string[];
  /** Per-environment sync delay; null = use the global setting. */
  syncSeconds?: number | null;
  applicationUser?: boolean;
  applicationUsers?: string[];
}

/** Applies an operator PATCH. Throws DynamicsControlError on bad input or unknown roles. */
export function updateEnvironment(state: EmulatorState, env: DynamicsEnvironment, o: UpdateDynamicsEnvironmentOptions): void {
  if (o.licenses !== undefined) {
    const n = validLicenses(o.licenses);
    const sku = DYNAMICS_SKUS[env.product];
    ensureSku(directoryOf(state, env.tenantId), env.skuId, env.skuPartNumber, sku.plan, n);
  }
  if (o.deleteRoles !== undefined) {
    const names = validRoles(o.deleteRoles).map((x) => x.toLowerCase());
    for (const n of names) if (!env.roles.some((r) => r.name.toLowerCase() === n)) throw new DynamicsControlError(404, 'RoleNotFound', `Role '${n}' does not exist in environment '${env.name}'.`);
    const gone = new Set(env.roles.filter((r) => names.includes(r.name.toLowerCase())).map((r) => r.id));
    env.roles = env.roles.filter((r) => !gone.has(r.id));
    env.roleAssignments = env.roleAssignments.filter((a) => !gone.has(a.roleId));
  }
  if (o.addRoles !== undefined) {
    for (const n of validRoles(o.addRoles)) {
      if (!env.roles.some((r) => r.name.toLowerCase() === n.toLowerCase())) env.roles.push({ id: randomUUID(), name: n, businessUnitId: env.businessUnit.id });
    }
  }
  if (o.syncSeconds !== undefined) env.syncSeconds = o.syncSeconds === null ? undefined : validSync(o.syncSeconds);
  if (o.applicationUser !== undefined) {
    if (typeof o.applicationUser !== 'boolean') throw new DynamicsControlError(400, 'InvalidApplicationUser', 'applicationUser must be a boolean.');
    env.applicationUser = o.applicationUser;
  }
  if (o.applicationUsers !== undefined) {
    if (!Array.isArray(o.applicationUsers) || o.applicationUsers.some((c) => typeof c !== 'string')) throw new DynamicsControlError(400, 'InvalidApplicationUsers', 'applicationUsers must be an array of client ids.');
    env.applicationUsers = o.applicationUsers.map((c) => c.toLowerCase());
  }
}
