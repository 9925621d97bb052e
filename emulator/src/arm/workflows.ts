/**
 * Microsoft.Logic/workflows under ARM: the ARM side (RBAC action and scope, resource-group checks) of the
 * routes that the Logic Apps emulation (LogicArmHooks, emulator/src/logic) answers.
 */
import { getRg, rgBeingDeleted } from './common';
import type { ArmRequest } from './routing';

/** Path below `.../providers/Microsoft.Logic/workflows` (`[]` for the collection). */
function workflowPath(r: ArmRequest): string[] {
  const { workflowName, child } = r.params;
  if (workflowName === undefined) return [];
  return child === undefined ? [workflowName] : [workflowName, child, ...r.rest];
}

/**
 * RBAC action: `Microsoft.Logic/workflows/read|delete`, `write` on the collection or a workflow, and
 * `{last segment}/action` for writes below a workflow (e.g. `run/action`, `cancel/action`).
 */
export function workflowAction(r: ArmRequest): string {
  const path = workflowPath(r);
  const verb = r.category === 'reads' ? 'read' : r.category === 'deletes' ? 'delete' : path.length > 1 ? `${path[path.length - 1]}/action` : 'write';
  return `Microsoft.Logic/workflows/${verb}`;
}

/** RBAC scope: the request path with the canonical subscription id and `Microsoft.Logic/workflows` spelling. */
export function workflowScope(r: ArmRequest): string {
  const path = workflowPath(r);
  return `/subscriptions/${r.sub.id}/resourcegroups/${r.params.resourceGroupName}/providers/Microsoft.Logic/workflows${path.length ? `/${path.join('/')}` : ''}`;
}

/**
 * Every `.../resourcegroups/{rg}/providers/Microsoft.Logic/workflows[/...]` request after the ARM checks:
 * 404 ResourceGroupNotFound, 409 ResourceGroupBeingDeleted (except GET), then LogicArmHooks.handleArm.
 */
export async function workflowRequest(r: ArmRequest): Promise<void> {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  if (rg.provisioningState === 'Deleting' && r.ctx.method !== 'GET') throw rgBeingDeleted(rg.name);
  return r.arm.deps.logic!.handleArm(r.ctx, r.sub, rg, workflowPath(r));
}

/** `GET /subscriptions/{s}/providers/Microsoft.Logic/workflows` (workflows.listBySubscription). */
export function listWorkflowsBySubscription(r: ArmRequest): void {
  r.arm.deps.logic!.listBySubscription(r.ctx, r.sub);
}
