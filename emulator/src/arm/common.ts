import type { Ctx } from '../http';
import { isObject, jsonBody } from '../http';
import { key, type Deployment, type EmulatorState, type ResourceGroup, type StoredResource, type Subscription } from '../state';
import { armError, type ArmHttpError } from './errors';

/** ISO-8601 UTC time (milliseconds) for `ms` epoch milliseconds (default now). */
export function nowIso(ms = Date.now()): string {
  return new Date(ms).toISOString();
}

/** Normalises an Azure location like ARM does ("West Europe" -> "westeurope"). */
export function normalizeLocation(loc: string): string {
  return loc.replace(/\s+/g, '').toLowerCase();
}

/** Case-insensitive string equality (ARM names and ids compare case-insensitively). */
export function ciEq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Resource id of a resource group as ARM writes it (`/subscriptions/{s}/resourceGroups/{rg}`). */
export function rgId(subId: string, rgName: string): string {
  return `/subscriptions/${subId}/resourceGroups/${rgName}`;
}

/** Resource id of a deployment (`.../providers/Microsoft.Resources/deployments/{name}`). */
export function deploymentId(subId: string, rgName: string, name: string): string {
  return `${rgId(subId, rgName)}/providers/Microsoft.Resources/deployments/${name}`;
}

/** ARM JSON for a subscription (Subscriptions REST API `Subscription`). */
export function subscriptionBody(sub: Subscription): Record<string, unknown> {
  return {
    id: `/subscriptions/${sub.id}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: sub.id,
    tenantId: sub.tenantId,
    displayName: sub.displayName,
    state: 'Enabled',
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
  };
}

/** ARM JSON for a resource group. */
export function rgBody(sub: Subscription, rg: ResourceGroup): Record<string, unknown> {
  return {
    id: rgId(sub.id, rg.name),
    name: rg.name,
    type: 'Microsoft.Resources/resourceGroups',
    location: rg.location,
    ...(rg.managedBy ? { managedBy: rg.managedBy } : {}),
    tags: rg.tags,
    properties: { provisioningState: rg.provisioningState },
  };
}

/** ISO-8601 duration like ARM's "PT1.2345S" for `ms` milliseconds (negative counts as 0). */
function isoDuration(ms: number): string {
  return `PT${(Math.max(0, ms) / 1000).toFixed(3).replace(/\.?0+$/, '')}S`;
}

/** ARM JSON for a deployment (`duration` runs until now while the deployment is not terminal). */
export function deploymentBody(sub: Subscription, rg: ResourceGroup, d: Deployment): Record<string, unknown> {
  const terminal = d.provisioningState === 'Succeeded' || d.provisioningState === 'Failed' || d.provisioningState === 'Canceled';
  const end = terminal ? Date.parse(d.timestamp) : Date.now();
  return {
    id: deploymentId(sub.id, rg.name, d.name),
    name: d.name,
    type: 'Microsoft.Resources/deployments',
    location: undefined,
    properties: {
      templateHash: d.templateHash,
      ...(d.templateLink ? { templateLink: d.templateLink } : {}),
      parameters: d.parameters,
      ...(d.parametersLink ? { parametersLink: d.parametersLink } : {}),
      mode: d.mode,
      provisioningState: d.provisioningState,
      timestamp: d.timestamp,
      duration: isoDuration(end - Date.parse(d.createdAt)),
      correlationId: d.correlationId,
      providers: [],
      dependencies: [],
      ...(d.outputs ? { outputs: d.outputs } : {}),
      ...(d.outputResources ? { outputResources: d.outputResources } : {}),
      ...(d.error ? { error: d.error } : {}),
    },
  };
}

/** Public view of a stored resource (ARM GET shape). */
export function resourceBody(r: StoredResource): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    ...(r.location ? { location: r.location } : {}),
    ...(r.kind ? { kind: r.kind } : {}),
    ...(r.sku ? { sku: r.sku } : {}),
    ...(r.identity ? { identity: r.identity } : {}),
    ...(r.tags ? { tags: r.tags } : {}),
    properties: r.properties,
  };
}

/** The resource group named `rgName` (case-insensitive); throws 404 ResourceGroupNotFound. */
export function getRg(sub: Subscription, rgName: string): ResourceGroup {
  const rg = sub.resourceGroups[key(rgName)];
  if (!rg) throw armError(404, 'ResourceGroupNotFound', `Resource group '${rgName.slice(0, 100)}' could not be found.`);
  return rg;
}

/** 409 ResourceGroupBeingDeleted: what ARM answers for writes into a group that is being deleted. */
export function rgBeingDeleted(rgName: string): ArmHttpError {
  return armError(409, 'ResourceGroupBeingDeleted', `The resource group '${rgName}' is in deprovisioning state and cannot perform this operation.`);
}

/** 405 MethodNotAllowed for the request's method. */
export function methodNotAllowed(ctx: Ctx): ArmHttpError {
  return armError(405, 'MethodNotAllowed', `The requested method '${ctx.method}' is not allowed for this resource.`);
}

/**
 * The request body as a JSON object. Throws 400 InvalidRequestContent when it is malformed JSON,
 * empty, or not an object (ARM's deserialisation errors).
 */
export function armBody(ctx: Ctx): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = jsonBody(ctx);
  } catch (e) {
    throw armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${String((e as Error).message).slice(0, 200)}'.`);
  }
  if (parsed === undefined) throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: the request body is empty.');
  if (!isObject(parsed)) throw armError(400, 'InvalidRequestContent', "The request content was invalid and could not be deserialized: 'Error converting value to type 'Object''.");
  return parsed;
}

/** How long a deployment runs, in milliseconds (settings.deploymentSeconds; a group deletion takes half). */
export function deploymentMs(state: EmulatorState): number {
  return Math.max(0, state.settings.deploymentSeconds * 1000);
}

/** Retry-After seconds for an operation completing at `atMs`: whole seconds left (0 = poll at your own interval), at most 15. */
export function retryAfter(atMs: number): number {
  return Math.min(15, Math.max(0, Math.floor((atMs - Date.now()) / 1000)));
}
