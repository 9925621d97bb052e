/**
 * Generic resources (ARM REST API "Resources"): the resources of a group, and
 * `.../resourcegroups/{rg}/providers/{namespace}/{type}/{name}[/{childType}/{childName}]...` for any type
 * a deployment stored. The emulator creates resources through template deployments only.
 */
import { send } from '../http';
import { ciEq, getRg, resourceBody } from './common';
import { armError } from './errors';
import { verbOf, type ArmRequest } from './routing';

/** `{namespace}/{type}/{name}/{childType}/{childName}...` split into the resource type and name. */
function typeAndName(r: ArmRequest): { type: string; name: string; parts: string[] } {
  const parts = [r.params.namespace, r.params.resourceType, ...r.rest];
  const typeParts: string[] = [];
  const nameParts: string[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    typeParts.push(parts[i]);
    if (parts[i + 1] !== undefined) nameParts.push(parts[i + 1]);
  }
  return { type: [parts[0], ...typeParts].join('/'), name: nameParts.join('/'), parts };
}

/**
 * True when the path after `providers/` names a collection (`{ns}/{type}`, `{ns}/{type}/{name}/{childType}`):
 * a type without a name. Route condition for the generic resource routes.
 */
export function isCollection(_params: Readonly<Record<string, string>>, rest: readonly string[]): boolean {
  return rest.length % 2 === 0;
}

/** RBAC action of a generic resource request: `{namespace}/{type}[/{childType}]/read|write|delete`. */
export function resourceAction(r: ArmRequest): string {
  return `${typeAndName(r).type}/${verbOf(r.category)}`;
}

/** RBAC scope of a generic resource request: the request path (canonical subscription id). */
export function resourceScope(r: ArmRequest): string {
  return `/subscriptions/${r.sub.id}/resourcegroups/${r.params.resourceGroupName}/providers/${typeAndName(r).parts.join('/')}`;
}

/** `GET .../resourcegroups/{rg}/resources`: every resource of the group. */
export function listGroupResources(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  send(r.ctx, 200, { value: rg.resources.map(resourceBody) });
}

/** `GET .../providers/{ns}/{type}` (a collection): the group's resources of that type. */
export function listResourcesOfType(r: ArmRequest): void {
  const { type } = typeAndName(r);
  const wanted = type.toLowerCase();
  send(r.ctx, 200, { value: r.rg.resources.filter((x) => x.type.toLowerCase() === wanted).map(resourceBody) });
}

/** `GET|HEAD .../providers/{ns}/{type}/{name}`: 200 (HEAD 204); 404 ResourceNotFound. */
export function getResource(r: ArmRequest): void {
  const { type, name } = typeAndName(r);
  const { rg, ctx } = r;
  const found = rg.resources.find((x) => ciEq(x.type, type) && ciEq(x.name, name));
  if (!found) throw armError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg.name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
  send(ctx, ctx.method === 'HEAD' ? 204 : 200, ctx.method === 'HEAD' ? undefined : resourceBody(found));
}

/** `DELETE .../providers/{ns}/{type}/{name}`: 200 when removed, 204 when it did not exist (synchronous). */
export function deleteResource(r: ArmRequest): void {
  const { type, name } = typeAndName(r);
  const { rg } = r;
  const idx = rg.resources.findIndex((x) => ciEq(x.type, type) && ciEq(x.name, name));
  if (idx < 0) return send(r.ctx, 204);
  rg.resources.splice(idx, 1);
  r.arm.deps.store.changed();
  send(r.ctx, 200);
}

/** Other methods on a single resource (PUT, PATCH, POST...): 400 NoRegisteredProviderFound, as resources are created by deployments only. */
export function resourceWriteNotSupported(r: ArmRequest): void {
  const { type } = typeAndName(r);
  throw armError(400, 'NoRegisteredProviderFound', `No registered resource provider found for location '${r.rg.location}' and API version '${r.apiVersion.slice(0, 40)}' for type '${type.slice(0, 200)}'. The emulator creates resources through template deployments only.`);
}
