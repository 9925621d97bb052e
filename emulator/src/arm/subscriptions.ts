/**
 * Subscription-level ARM handlers: subscriptions, the operation results of asynchronous deletes
 * (`/subscriptions/{s}/operationresults/{id}`), and the 404s for unknown providers and resource types.
 */
import { send } from '../http';
import { key } from '../state';
import { ciEq, retryAfter, subscriptionBody } from './common';
import { armError } from './errors';
import type { ArmRequest } from './routing';

/** `GET /subscriptions`: the subscriptions of the token's tenant on which the caller holds a role. */
export function listSubscriptions(r: ArmRequest): void {
  const { claims } = r;
  const subs = Object.values(r.arm.deps.state.subscriptions).filter((x) => x.tenantId === claims.tid && x.roleAssignments.some((a) => a.principalId === claims.oid));
  send(r.ctx, 200, { value: subs.map(subscriptionBody) });
}

/** `GET /subscriptions/{s}`. */
export function getSubscription(r: ArmRequest): void {
  send(r.ctx, 200, subscriptionBody(r.sub));
}

/**
 * `GET /subscriptions/{s}/operationresults/{id}` (the Location of a resource-group DELETE): 202 with
 * Location + Retry-After while running, 200 without a body when done — never 204 (SDK v8 rejects it).
 * Unknown or foreign operation: 404 OperationNotFound.
 */
export function pollOperation(r: ArmRequest): void {
  const { ctx, sub } = r;
  const opId = r.params.operationId;
  const op = r.arm.deps.state.operations[opId];
  if (!op || !ciEq(op.subscriptionId, sub.id)) throw armError(404, 'OperationNotFound', `The operation '${opId.slice(0, 200)}' could not be found.`);
  if (op.status === 'InProgress') {
    const rg = sub.resourceGroups[key(op.resourceGroupName)];
    const at = rg?.deletion?.completesAtMs ?? Date.now();
    return send(ctx, 202, undefined, { Location: `${ctx.baseUrl}${ctx.path}?${ctx.query.toString()}`, 'Retry-After': retryAfter(at) });
  }
  send(ctx, 200);
}

/** `/subscriptions/{s}/providers/{namespace}[/...]` the emulator does not serve: 404 NoRegisteredProviderFound. */
export function providerNotFound(r: ArmRequest): void {
  const type = [r.params.namespace, ...r.rest].slice(0, 2).join('/');
  throw armError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location 'global' and API version '${r.apiVersion.slice(0, 40)}' for type '${type.slice(0, 200)}'.`);
}

/** Any other path below `/subscriptions/{s}/`: 404 InvalidResourceType naming its first segment. */
export function resourceTypeNotFound(r: ArmRequest): void {
  throw armError(404, 'InvalidResourceType', `The resource type '${r.params.resourceType.slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources' for api version '${r.apiVersion.slice(0, 40)}'.`);
}
