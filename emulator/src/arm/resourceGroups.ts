/**
 * Resource groups (`/subscriptions/{s}/resourcegroups[/{rg}]`, ARM REST API "Resource Groups"):
 * create/update, get, check existence, update (tags, managedBy), list with tag filter and paging,
 * and the asynchronous delete (202 + Location on /operationresults).
 */
import { randomUUID } from 'node:crypto';
import { isObject, send } from '../http';
import { key, type AsyncOperation, type ResourceGroup } from '../state';
import { armBody, ciEq, deploymentMs, getRg, normalizeLocation, nowIso, retryAfter, rgBeingDeleted, rgBody } from './common';
import { armError } from './errors';
import type { ArmRequest } from './routing';

const RG_NAME = /^[-\w._()]{1,90}$/u;

/**
 * ARM tag rules: an object of at most 50 tags, names 1-512 characters without `<>%&\?/`, values up to
 * 256 characters (non-strings are stringified, null becomes ''). Throws 400 InvalidRequestContent /
 * InvalidTag / InvalidTagNameCharacters.
 */
export function validateTags(tags: unknown): Record<string, string> {
  if (tags === undefined || tags === null) return {};
  if (!isObject(tags)) throw armError(400, 'InvalidRequestContent', "The request content was invalid and could not be deserialized: 'tags' must be an object.");
  const entries = Object.entries(tags);
  if (entries.length > 50) throw armError(400, 'InvalidTag', 'The number of tags exceeds the maximum of 50 tags per resource.');
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 512 || /[<>%&\\?/]/.test(k)) throw armError(400, 'InvalidTagNameCharacters', `The tag names '${k.slice(0, 100)}' have reserved characters '<,>,%,&,\\,?,/' or control characters.`);
    const sv = typeof v === 'string' ? v : v === null ? '' : String(v);
    if (sv.length > 256) throw armError(400, 'InvalidTag', `The tag value for tag '${k.slice(0, 100)}' exceeds the maximum length of 256 characters.`);
    out[k] = sv;
  }
  return out;
}

/**
 * `PUT .../resourcegroups/{rg}` `{location, tags?, managedBy?}`: 201 new, 200 existing (tags replaced).
 * 400 InvalidResourceGroup / LocationRequired / ResourceGroupQuotaExceeded (limits.resourceGroupsPerSubscription);
 * 409 ResourceGroupBeingDeleted / InvalidResourceGroupLocation (another location than the existing group's).
 */
export function putResourceGroup(r: ArmRequest): void {
  const { ctx, sub } = r;
  const { deps } = r.arm;
  const rgName = r.params.resourceGroupName;
  const body = armBody(ctx);
  if (!RG_NAME.test(rgName) || rgName.endsWith('.')) {
    throw armError(400, 'InvalidResourceGroup', `The provided resource group name '${rgName.slice(0, 100)}' has these invalid characters or is too long. The name can only be a letter, digit, '-', '.', '_', '(', ')' and must not end with '.'; at most 90 characters.`);
  }
  if (typeof body.location !== 'string' || !body.location.trim()) {
    throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
  }
  const location = normalizeLocation(body.location);
  const tags = validateTags(body.tags);
  const existing = sub.resourceGroups[key(rgName)];
  if (existing) {
    if (existing.provisioningState === 'Deleting') throw rgBeingDeleted(existing.name);
    if (existing.location !== location) {
      throw armError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`);
    }
    existing.tags = tags;
    if (typeof body.managedBy === 'string') existing.managedBy = body.managedBy;
    deps.store.changed();
    return send(ctx, 200, rgBody(sub, existing));
  }
  const count = Object.keys(sub.resourceGroups).length;
  const limit = deps.limits.resourceGroupsPerSubscription;
  if (count >= limit) {
    throw armError(400, 'ResourceGroupQuotaExceeded', `Creating the resource group '${rgName}' would exceed the quota of '${limit}'. The current resource group count is '${count}'. Please delete some resource groups before creating a new one in the subscription '${sub.id}'.`);
  }
  const rg: ResourceGroup = {
    name: rgName,
    location,
    tags,
    ...(typeof body.managedBy === 'string' ? { managedBy: body.managedBy } : {}),
    provisioningState: 'Succeeded',
    createdAt: nowIso(),
    deployments: {},
    resources: [],
  };
  sub.resourceGroups[key(rgName)] = rg;
  deps.log('resource group created', { subscriptionId: sub.id, resourceGroup: rgName });
  deps.store.changed();
  send(ctx, 201, rgBody(sub, rg));
}

/** `GET .../resourcegroups/{rg}`: 200, or 404 ResourceGroupNotFound. */
export function getResourceGroup(r: ArmRequest): void {
  send(r.ctx, 200, rgBody(r.sub, getRg(r.sub, r.params.resourceGroupName)));
}

/** `HEAD .../resourcegroups/{rg}` (checkExistence): 204 when it exists, else 404 (no body). */
export function checkResourceGroupExistence(r: ArmRequest): void {
  send(r.ctx, r.sub.resourceGroups[key(r.params.resourceGroupName)] ? 204 : 404);
}

/** `PATCH .../resourcegroups/{rg}` `{tags?, managedBy?}`: 200; 404 ResourceGroupNotFound; 409 while deleting. */
export function patchResourceGroup(r: ArmRequest): void {
  const { ctx, sub } = r;
  const body = armBody(ctx);
  const rg = getRg(sub, r.params.resourceGroupName);
  if (rg.provisioningState === 'Deleting') throw rgBeingDeleted(rg.name);
  if (body.tags !== undefined) rg.tags = validateTags(body.tags);
  if (typeof body.managedBy === 'string') rg.managedBy = body.managedBy;
  r.arm.deps.store.changed();
  send(ctx, 200, rgBody(sub, rg));
}

/**
 * `GET .../resourcegroups?$filter=tagName eq 'k' [and tagValue eq 'v']&$top=N`: `{value, nextLink?}`;
 * paging with `$skiptoken` (an offset). 400 InvalidFilterInQueryString / InvalidTopInQueryString (1..1000).
 */
export function listResourceGroups(r: ArmRequest): void {
  const { ctx, sub } = r;
  let rgs = Object.values(sub.resourceGroups);
  const filter = ctx.query.get('$filter');
  if (filter) {
    const m = /^\s*tagName\s+eq\s+'((?:[^']|'')*)'(?:\s+and\s+tagValue\s+eq\s+'((?:[^']|'')*)')?\s*$/i.exec(filter);
    if (!m) throw armError(400, 'InvalidFilterInQueryString', `Invalid $filter '${filter.slice(0, 200)}' specified in the query string. Supported: tagName eq 'name' [and tagValue eq 'value'].`);
    const tagName = m[1].replace(/''/g, "'");
    const tagValue = m[2]?.replace(/''/g, "'");
    rgs = rgs.filter((rg) => Object.entries(rg.tags).some(([k, v]) => ciEq(k, tagName) && (tagValue === undefined || v === tagValue)));
  }
  const skip = Math.max(0, parseInt(ctx.query.get('$skiptoken') ?? '0', 10) || 0);
  const topRaw = ctx.query.get('$top');
  let top = rgs.length;
  if (topRaw !== null) {
    top = parseInt(topRaw, 10);
    if (!Number.isFinite(top) || top < 1 || top > 1000) throw armError(400, 'InvalidTopInQueryString', `The value '${topRaw.slice(0, 20)}' of query parameter '$top' is out of range. The value must be greater than 0 and less than or equal to 1000.`);
  }
  const page = rgs.slice(skip, skip + top);
  const out: Record<string, unknown> = { value: page.map((rg) => rgBody(sub, rg)) };
  if (skip + top < rgs.length) {
    const q = new URLSearchParams();
    q.set('api-version', ctx.query.get('api-version') ?? '');
    if (filter) q.set('$filter', filter);
    if (topRaw) q.set('$top', topRaw);
    q.set('$skiptoken', String(skip + top));
    out.nextLink = `${ctx.baseUrl}/subscriptions/${sub.id}/resourcegroups?${q.toString().replace(/\+/g, '%20')}`;
  }
  send(ctx, 200, out);
}

/**
 * `DELETE .../resourcegroups/{rg}`: 202 + `Location: /subscriptions/{s}/operationresults/{id}` +
 * Retry-After (repeated DELETEs answer the same operation). The group is `Deleting` for
 * deploymentSeconds/2, its running deployments are Canceled, then it disappears with its resources.
 * A missing group is 404 ResourceGroupNotFound (as ARM answers).
 */
export function deleteResourceGroup(r: ArmRequest): void {
  const { ctx, sub, arm } = r;
  const { state } = arm.deps;
  const rg = getRg(sub, r.params.resourceGroupName);
  const apiVersion = ctx.query.get('api-version') ?? '';
  let opId = rg.deletion?.operationId;
  if (!rg.deletion) {
    opId = Buffer.from(`RESOURCEGROUPDELETIONJOB-${rg.name.toUpperCase()}-${randomUUID()}`).toString('base64url').toUpperCase();
    const completesAtMs = Date.now() + deploymentMs(state) / 2;
    rg.deletion = { operationId: opId, completesAtMs };
    rg.provisioningState = 'Deleting';
    // Deleting a group cancels its running deployments and removes its resources.
    for (const d of Object.values(rg.deployments)) {
      if (d.provisioningState === 'Accepted' || d.provisioningState === 'Running') {
        d.provisioningState = 'Canceled';
        d.timestamp = nowIso();
        delete d.pending;
      }
    }
    state.operations[opId] = { id: opId, kind: 'resourceGroupDelete', subscriptionId: sub.id, resourceGroupName: rg.name, status: 'InProgress', createdAt: nowIso() };
    pruneFinishedOperations(state.operations);
    arm.schedule(completesAtMs, () => arm.advanceRg(sub, rg), sub);
    arm.deps.log('resource group deleting', { subscriptionId: sub.id, resourceGroup: rg.name });
    arm.deps.store.changed();
  }
  const location = `${ctx.baseUrl}/subscriptions/${sub.id}/operationresults/${opId}?api-version=${encodeURIComponent(apiVersion)}`;
  send(ctx, 202, undefined, { Location: location, 'Retry-After': retryAfter(rg.deletion?.completesAtMs ?? Date.now()) });
}

/** Finished resource group deletions whose status can still be polled (the oldest beyond this are forgotten: 404 OperationNotFound). */
export const MAX_FINISHED_DELETIONS = 1000;

/**
 * Forgets the oldest finished deletions beyond MAX_FINISHED_DELETIONS (as compute.ts does with VM
 * operations): their records grew the saved state by ~500 bytes per deleted resource group, forever.
 * Records are kept in creation order (string keys), so the first finished ones are the oldest.
 */
export function pruneFinishedOperations(ops: Record<string, AsyncOperation>): void {
  let finished = 0;
  for (const op of Object.values(ops)) if (op.status !== 'InProgress') finished++;
  for (const [id, op] of Object.entries(ops)) {
    if (finished <= MAX_FINISHED_DELETIONS) return;
    if (op.status === 'InProgress') continue;
    delete ops[id];
    finished--;
  }
}
