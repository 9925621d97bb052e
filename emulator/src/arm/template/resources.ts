import { EvalEnv, withCopy } from './context';
import { evaluateCopyCount, evaluateValue } from './evaluator';
import { invalidTemplate } from './errors';
import { isPlainObject } from './functions';
import { normalizeType, resourceGroupResourceId, splitType } from './resource-id';
import { EvaluatedResource } from './types';

/** A resource after copy/child expansion, before deployment. */
export interface ResourceInstance {
  /** The raw resource declaration (expressions unevaluated). */
  decl: Record<string, unknown>;
  /** Environment with this instance's copy-loop indexes. */
  env: EvalEnv;
  type: string;
  name: string;
  id: string;
  resourceGroupName: string;
  subscriptionId: string;
  /** Lower-case name of the resource copy loop that produced this instance, if any. */
  loopName?: string;
  symbolicName?: string;
  parent?: ResourceInstance;
  /** Resolved during validation: instances this one depends on (dependsOn + parent). */
  dependsOn: ResourceInstance[];
  state: 'pending' | 'deploying' | 'done' | 'skipped';
  /** Set once deployed. */
  result?: EvaluatedResource;
  /** 'Full' reference() view, set once deployed. */
  full?: Record<string, unknown>;
}

async function evalString(raw: unknown, env: EvalEnv, what: string): Promise<string> {
  const v = await evaluateValue(raw, env);
  if (typeof v !== 'string' || v.length === 0) throw invalidTemplate(`The template resource property '${what}' must be a non-empty string, but was '${JSON.stringify(v)}'.`);
  return v;
}

/**
 * Expands template `resources` into instances (ARM docs: "Resource iteration" — copy {name, count};
 * "child resources" — nested `resources` get the parent's type/name prepended when their type is
 * a short segment, and a full type gets the parent name prepended when the name has too few
 * segments). Microsoft.Resources/deployments may target another resource group via `resourceGroup`
 * (and `subscriptionId`). Evaluates names, types and copy counts; throws InvalidTemplate for
 * malformed declarations.
 */
export async function expandResources(
  resources: unknown,
  env: EvalEnv,
  scope: { subscriptionId: string; resourceGroupName: string },
  parent?: ResourceInstance,
  out: ResourceInstance[] = [],
  depth = 0,
): Promise<ResourceInstance[]> {
  if (depth > 20) throw invalidTemplate('Child resources are nested too deeply (more than 20 levels).');
  const entries: Array<[string | undefined, unknown]> = Array.isArray(resources)
    ? resources.map((r) => [undefined, r])
    : isPlainObject(resources)
      ? Object.entries(resources)
      : [];
  for (const [symbolicName, raw] of entries) {
    if (!isPlainObject(raw)) throw invalidTemplate('Each template resource must be a JSON object.');
    if (raw.existing === true) continue; // languageVersion 2.0 'existing' declarations deploy nothing
    const copy = raw.copy;
    if (copy !== undefined) {
      if (!isPlainObject(copy) || typeof copy.name !== 'string' || !copy.name) {
        throw invalidTemplate("The template resource copy must be an object with a non-empty 'name' and a 'count'.");
      }
      const count = await evaluateCopyCount(copy.count, env, copy.name);
      for (let i = 0; i < count; i++) {
        await makeInstance(raw, withCopy(env, copy.name, i, true), scope, parent, out, depth, symbolicName, copy.name.toLowerCase());
      }
    } else {
      await makeInstance(raw, env, scope, parent, out, depth, symbolicName, undefined);
    }
  }
  return out;
}

async function makeInstance(
  decl: Record<string, unknown>,
  env: EvalEnv,
  scope: { subscriptionId: string; resourceGroupName: string },
  parent: ResourceInstance | undefined,
  out: ResourceInstance[],
  depth: number,
  symbolicName: string | undefined,
  loopName: string | undefined,
): Promise<void> {
  let type = normalizeType(await evalString(decl.type, env, 'type'));
  let name = await evalString(decl.name, env, 'name');
  if (parent) {
    // A nested type is relative to its parent unless it starts with a namespace ("Microsoft.X/..."):
    // `blobServices/containers` inside a storage account, `providers/links` (an extension) inside a site.
    if (!type.split('/')[0].includes('.')) {
      type = `${parent.type}/${type}`;
      name = `${parent.name}/${name}`;
    } else if (name.split('/').length < splitType(type).types.length) {
      name = `${parent.name}/${name}`;
    }
  } else if (!type.includes('/')) {
    throw invalidTemplate(`The template resource '${name}' has an invalid type '${type}': a top-level resource type must be fully qualified (Namespace/type).`);
  }
  let rg = parent?.resourceGroupName ?? scope.resourceGroupName;
  let sub = parent?.subscriptionId ?? scope.subscriptionId;
  if (type.toLowerCase() === 'microsoft.resources/deployments') {
    if (decl.resourceGroup !== undefined) rg = await evalString(decl.resourceGroup, env, 'resourceGroup');
    if (decl.subscriptionId !== undefined) sub = await evalString(decl.subscriptionId, env, 'subscriptionId');
  }
  const id = resourceGroupResourceId(sub, rg, type, [name]);
  const inst: ResourceInstance = {
    decl,
    env,
    type,
    name,
    id,
    resourceGroupName: rg,
    subscriptionId: sub,
    loopName,
    symbolicName,
    parent,
    dependsOn: [],
    state: 'pending',
  };
  out.push(inst);
  if (decl.resources !== undefined) await expandResources(decl.resources, env, scope, inst, out, depth + 1);
}

/**
 * Finds the instances a dependsOn / reference target designates: a full resource id, a
 * "Namespace/type/name" string, a resource name, a copy loop name or a symbolic name
 * (ARM docs: "Define the order for deploying resources"). Case-insensitive.
 */
export function matchInstances(instances: ResourceInstance[], target: string): ResourceInstance[] {
  const t = target.trim().toLowerCase().replace(/\/+$/, '');
  if (t.startsWith('/')) {
    const exact = instances.filter((i) => i.id.toLowerCase() === t);
    if (exact.length) return exact;
    // An extension resource (e.g. a role assignment with `scope`) named by its full id
    // (extensionResourceId(scope, type, name)): its own provider segment is the last `/providers/`.
    const tail = t.slice(t.lastIndexOf('/providers/'));
    return t.indexOf('/providers/') !== t.lastIndexOf('/providers/') ? instances.filter((i) => i.id.toLowerCase().endsWith(tail)) : [];
  }
  const byName = instances.filter(
    (i) =>
      i.name.toLowerCase() === t ||
      i.loopName === t ||
      i.symbolicName?.toLowerCase() === t ||
      `${i.type}/${i.name}`.toLowerCase() === t ||
      i.id.toLowerCase().endsWith(`/providers/${t}`),
  );
  // A child resource declared inside its parent is also known by its own (last) name segment.
  return byName.length ? byName : instances.filter((i) => i.name.includes('/') && i.name.split('/').pop()!.toLowerCase() === t);
}
