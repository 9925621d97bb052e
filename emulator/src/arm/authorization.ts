/**
 * Azure RBAC reads (Microsoft.Authorization, api-version 2022-04-01 as `@azure/arm-authorization` 9 sends it):
 * role assignments of a subscription (or a resource group below it) with ARM's `$filter` forms, one assignment
 * by name, and the built-in role definitions Owner / Contributor / Reader with their real GUIDs. The
 * assignments are the subscription's `roleAssignments` that the RBAC check of every ARM request uses
 * (ArmService.authorize), so removing one through the control API makes ARM refuse that principal (403
 * AuthorizationFailed) at once. Writing assignments through ARM is not emulated (405).
 */
import { createHash, randomUUID } from 'node:crypto';
import { send } from '../http';
import { DirectoryError } from '../directory';
import type { EmulatorState, RoleAssignment, StateStore, Subscription } from '../state';
import { armError } from './errors';
import type { ArmRequest } from './routing';

/** A built-in Azure role definition (Azure docs "Azure built-in roles"). */
interface BuiltInRole {
  guid: string;
  roleName: RoleAssignment['roleDefinitionName'];
  description: string;
  actions: string[];
  notActions: string[];
  createdOn: string;
  updatedOn: string;
}

/** Owner, Contributor and Reader with their real role definition GUIDs and permissions. */
export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  {
    guid: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    roleName: 'Owner',
    description: 'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    actions: ['*'],
    notActions: [],
    createdOn: '2015-02-02T21:55:09.8806423Z',
    updatedOn: '2021-11-11T20:13:45.8978856Z',
  },
  {
    guid: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    roleName: 'Contributor',
    description: 'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.',
    actions: ['*'],
    notActions: [
      'Microsoft.Authorization/*/Delete',
      'Microsoft.Authorization/*/Write',
      'Microsoft.Authorization/elevateAccess/Action',
      'Microsoft.Blueprint/blueprintAssignments/write',
      'Microsoft.Blueprint/blueprintAssignments/delete',
      'Microsoft.Compute/galleries/share/action',
      'Microsoft.Purview/consents/write',
      'Microsoft.Purview/consents/delete',
      'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
      'Microsoft.Subscription/cancel/action',
      'Microsoft.Subscription/enable/action',
    ],
    createdOn: '2015-02-02T21:55:09.8806423Z',
    updatedOn: '2024-07-10T15:23:34.2370845Z',
  },
  {
    guid: 'acdd72a7-3b07-43c8-9a03-8bad6d8bc8a8',
    roleName: 'Reader',
    description: 'View all resources, but does not allow you to make any changes.',
    actions: ['*/read'],
    notActions: [],
    createdOn: '2015-02-02T21:55:09.8806423Z',
    updatedOn: '2021-11-11T20:13:47.8628684Z',
  },
];

const ROLE_NAMES = BUILT_IN_ROLES.map((r) => r.roleName);

function roleByName(name: string): BuiltInRole | undefined {
  return BUILT_IN_ROLES.find((r) => r.roleName.toLowerCase() === name.toLowerCase());
}

/** The ARM id of a role definition at a scope (`{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`). */
export function roleDefinitionId(scope: string, roleName: RoleAssignment['roleDefinitionName']): string {
  return `${scope}/providers/Microsoft.Authorization/roleDefinitions/${roleByName(roleName)!.guid}`;
}

/** The GUID name of an assignment: the stored one, or (older state) one derived from subscription, principal and role. */
export function assignmentName(sub: Subscription, a: RoleAssignment): string {
  if (a.name) return a.name;
  const h = createHash('sha256').update(`${sub.id}|${a.principalId}|${a.roleDefinitionName}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** ARM JSON of a subscription-scope role assignment (Authorization REST API `RoleAssignment`). */
export function roleAssignmentBody(sub: Subscription, a: RoleAssignment): Record<string, unknown> {
  const scope = `/subscriptions/${sub.id}`;
  const name = assignmentName(sub, a);
  const created = a.createdOn ?? null;
  return {
    properties: {
      roleDefinitionId: roleDefinitionId(scope, a.roleDefinitionName),
      principalId: a.principalId,
      principalType: 'ServicePrincipal',
      scope,
      condition: null,
      conditionVersion: null,
      createdOn: created,
      updatedOn: created,
      createdBy: null,
      updatedBy: null,
      delegatedManagedIdentityResourceId: null,
      description: null,
    },
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    type: 'Microsoft.Authorization/roleAssignments',
    name,
  };
}

/** ARM JSON of a built-in role definition as seen from `scope` (Authorization REST API `RoleDefinition`). */
function roleDefinitionBody(scope: string, role: BuiltInRole): Record<string, unknown> {
  return {
    properties: {
      roleName: role.roleName,
      type: 'BuiltInRole',
      description: role.description,
      assignableScopes: ['/'],
      permissions: [{ actions: role.actions, notActions: role.notActions, dataActions: [], notDataActions: [] }],
      createdOn: role.createdOn,
      updatedOn: role.updatedOn,
      createdBy: null,
      updatedBy: null,
    },
    id: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`,
    type: 'Microsoft.Authorization/roleDefinitions',
    name: role.guid,
  };
}

/**
 * Parses a role-assignment `$filter` as ARM accepts it: none, `atScope()`, `assignedTo('{id}')`,
 * `atScope() and assignedTo('{id}')`, `principalId eq '{id}'`. Anything else: 400 UnsupportedQuery with
 * ARM's message. Returns the principal to keep (undefined = all) and whether only at-or-above-scope ones count.
 */
export function parseRoleAssignmentFilter(filter: string | null): { principalId?: string; atScope: boolean } {
  const f = (filter ?? '').trim();
  if (!f) return { atScope: false };
  const atScope = /^atScope\(\s*\)$/i;
  const assignedTo = /^assignedTo\(\s*'([^']*)'\s*\)$/i;
  const principal = /^principalId\s+eq\s+'([^']*)'$/i;
  if (atScope.test(f)) return { atScope: true };
  let m = assignedTo.exec(f) ?? principal.exec(f);
  if (m) return { principalId: m[1].toLowerCase(), atScope: false };
  const both = /^(.+?)\s+and\s+(.+)$/i.exec(f);
  if (both) {
    const [a, b] = [both[1].trim(), both[2].trim()];
    const other = atScope.test(a) ? b : atScope.test(b) ? a : undefined;
    m = other !== undefined ? assignedTo.exec(other) : null;
    if (m) return { principalId: m[1].toLowerCase(), atScope: true };
  }
  throw armError(400, 'UnsupportedQuery', `The filter '${f.slice(0, 200)}' is not supported. Supported filters are either 'atScope()' or 'principalId eq '{value}'' or assignedTo('{value}')'.`);
}

/**
 * `GET /subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.Authorization/roleAssignments[?$filter=...]`
 * (roleAssignments.listForScope / listForSubscription / listForResourceGroup): `{value: [...]}`. The emulator keeps
 * subscription-scope assignments only; they apply at, and are listed for, the subscription and its groups.
 */
export function listRoleAssignments(r: ArmRequest): void {
  const { principalId } = parseRoleAssignmentFilter(r.ctx.query.get('$filter'));
  const value = r.sub.roleAssignments.filter((a) => principalId === undefined || a.principalId.toLowerCase() === principalId).map((a) => roleAssignmentBody(r.sub, a));
  send(r.ctx, 200, { value });
}

/** `GET /subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments/{name}` (roleAssignments.get): 404 RoleAssignmentNotFound. */
export function getRoleAssignment(r: ArmRequest): void {
  const name = r.params.roleAssignmentName.toLowerCase();
  const a = r.sub.roleAssignments.find((x) => assignmentName(r.sub, x).toLowerCase() === name);
  if (!a) throw armError(404, 'RoleAssignmentNotFound', `The role assignment '${r.params.roleAssignmentName.slice(0, 100)}' is not found.`);
  send(r.ctx, 200, roleAssignmentBody(r.sub, a));
}

/** The scope a role-definition request names: the subscription, or `.../resourceGroups/{rg}`. */
function definitionScope(r: ArmRequest): string {
  return r.params.resourceGroupName !== undefined ? `/subscriptions/${r.sub.id}/resourceGroups/${r.rg.name}` : `/subscriptions/${r.sub.id}`;
}

/** `GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}` (roleDefinitions.get): 404 RoleDefinitionDoesNotExist. */
export function getRoleDefinition(r: ArmRequest): void {
  const id = r.params.roleDefinitionId.toLowerCase();
  const role = BUILT_IN_ROLES.find((x) => x.guid === id);
  if (!role) throw armError(404, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${r.params.roleDefinitionId.slice(0, 100).replace(/-/g, '')}' does not exist.`);
  send(r.ctx, 200, roleDefinitionBody(definitionScope(r), role));
}

/** `GET {scope}/providers/Microsoft.Authorization/roleDefinitions[?$filter=roleName eq '...'|type eq 'BuiltInRole']` (roleDefinitions.list). */
export function listRoleDefinitions(r: ArmRequest): void {
  const f = (r.ctx.query.get('$filter') ?? '').trim();
  let roles = [...BUILT_IN_ROLES];
  if (f) {
    const byName = /^roleName\s+eq\s+'([^']*)'$/i.exec(f);
    const byType = /^type\s+eq\s+'([^']*)'$/i.exec(f);
    if (byName) roles = roles.filter((x) => x.roleName.toLowerCase() === byName[1].toLowerCase());
    else if (byType) roles = byType[1].toLowerCase() === 'builtinrole' ? roles : [];
    else throw armError(400, 'UnsupportedQuery', `The filter '${f.slice(0, 200)}' is not supported. Supported filters are either 'roleName eq '{value}'' or 'type eq 'BuiltInRole|CustomRole''.`);
  }
  send(r.ctx, 200, { value: roles.map((x) => roleDefinitionBody(definitionScope(r), x)) });
}

// ---------------------------------------------------------------- control API

function controlSubscription(state: EmulatorState, subscriptionId: string): Subscription {
  const sub = state.subscriptions[String(subscriptionId).toLowerCase()];
  if (!sub) throw new DirectoryError(404, 'SubscriptionNotFound', `The subscription '${String(subscriptionId).slice(0, 100)}' could not be found.`);
  return sub;
}

/** The principal object id `idOrClientId` names: a service principal's object id, or an app's client id (same tenant as `sub`). */
function resolvePrincipal(state: EmulatorState, sub: Subscription, idOrClientId: string): string {
  const k = String(idOrClientId).toLowerCase();
  const client = state.clients[k] ?? Object.values(state.clients).find((c) => c.objectId.toLowerCase() === k);
  if (!client) {
    // An assignment may still exist for a principal the emulator does not know (kept as given).
    if (sub.roleAssignments.some((a) => a.principalId.toLowerCase() === k)) return sub.roleAssignments.find((a) => a.principalId.toLowerCase() === k)!.principalId;
    throw new DirectoryError(404, 'PrincipalNotFound', `No service principal or app '${String(idOrClientId).slice(0, 100)}' exists.`);
  }
  if (client.tenantId !== sub.tenantId) throw new DirectoryError(400, 'CrossTenantRoleAssignment', 'A role on a subscription can only be given to a principal of the same tenant.');
  return client.objectId;
}

/**
 * Removes every role assignment of a principal on a subscription (DELETE
 * /_emulator/subscriptions/{s}/role-assignments/{principalId|clientId}). From then on ARM refuses the principal
 * on that subscription (403 AuthorizationFailed) and no longer lists the subscription for it.
 * @returns the removed assignments (ARM JSON).
 * @throws DirectoryError 404 SubscriptionNotFound / PrincipalNotFound / RoleAssignmentNotFound (it held none).
 */
export function removeRoleAssignments(state: EmulatorState, store: StateStore, subscriptionId: string, principal: string): Array<Record<string, unknown>> {
  const sub = controlSubscription(state, subscriptionId);
  const principalId = resolvePrincipal(state, sub, principal);
  const removed = sub.roleAssignments.filter((a) => a.principalId === principalId);
  if (removed.length === 0) throw new DirectoryError(404, 'RoleAssignmentNotFound', `The principal '${principalId}' holds no role on subscription '${sub.id}'.`);
  sub.roleAssignments = sub.roleAssignments.filter((a) => a.principalId !== principalId);
  store.changed();
  return removed.map((a) => roleAssignmentBody(sub, a));
}

/**
 * Gives a principal exactly one role on a subscription (PUT /_emulator/subscriptions/{s}/role-assignments/{principalId|clientId}
 * `{role: Owner|Contributor|Reader}`), replacing any role it held; a new assignment gets a new GUID name.
 * @returns the assignment (ARM JSON).
 * @throws DirectoryError 400 InvalidRole / CrossTenantRoleAssignment; 404 SubscriptionNotFound / PrincipalNotFound.
 */
export function setRoleAssignment(state: EmulatorState, store: StateStore, subscriptionId: string, principal: string, role: unknown): Record<string, unknown> {
  const sub = controlSubscription(state, subscriptionId);
  const def = typeof role === 'string' ? roleByName(role) : undefined;
  if (!def) throw new DirectoryError(400, 'InvalidRole', `role must be one of ${ROLE_NAMES.join(', ')}.`);
  const principalId = resolvePrincipal(state, sub, principal);
  const existing = sub.roleAssignments.find((a) => a.principalId === principalId && a.roleDefinitionName === def.roleName);
  const assignment: RoleAssignment = existing ?? { principalId, roleDefinitionName: def.roleName, name: randomUUID(), createdOn: new Date().toISOString() };
  sub.roleAssignments = [...sub.roleAssignments.filter((a) => a.principalId !== principalId), assignment];
  store.changed();
  return roleAssignmentBody(sub, assignment);
}
