import { invalidTemplate } from './errors';

/** Splits "Microsoft.Network/virtualNetworks/subnets/" into namespace + type segments (trailing "/" ignored). */
export function splitType(type: string): { namespace: string; types: string[] } {
  const parts = type.split('/').filter((s) => s.length > 0);
  if (parts.length < 2) throw invalidTemplate(`The resource type '${type}' is not valid. A resource type must have a namespace and at least one type segment.`);
  return { namespace: parts[0], types: parts.slice(1) };
}

/** Normalizes a type string: trims whitespace and trailing/duplicate slashes. */
export function normalizeType(type: string): string {
  return type.split('/').filter((s) => s.length > 0).join('/');
}

/**
 * Builds `/providers/{ns}/{t1}/{n1}/{t2}/{n2}...` from a full type and its names. Names may be
 * given as separate segments or as one "parent/child" string. ARM rule: the number of name
 * segments must equal the number of type segments, otherwise InvalidTemplate ("incorrect
 * segment lengths").
 */
export function providerPath(type: string, names: string[]): string {
  const { namespace, types } = splitType(type);
  const nameSegs = names.flatMap((n) => n.split('/'));
  if (nameSegs.length !== types.length) {
    throw invalidTemplate(
      `The template resource '${names.join('/')}' for type '${normalizeType(type)}' has incorrect segment lengths. A nested resource type must have identical number of segments as its resource name. A root resource type must have segment length one greater than its resource name.`,
    );
  }
  let out = `/providers/${namespace}`;
  types.forEach((t, i) => {
    out += `/${t}/${nameSegs[i]}`;
  });
  return out;
}

/** ARM docs: resource ids at resource-group scope: /subscriptions/{s}/resourceGroups/{rg}/providers/... */
export function resourceGroupResourceId(subscriptionId: string, resourceGroup: string, type: string, names: string[]): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}${providerPath(type, names)}`;
}

/** ARM docs: subscriptionResourceId -> /subscriptions/{s}/providers/... */
export function subscriptionLevelId(subscriptionId: string, type: string, names: string[]): string {
  return `/subscriptions/${subscriptionId}${providerPath(type, names)}`;
}

/** ARM docs: tenantResourceId -> /providers/... */
export function tenantLevelId(type: string, names: string[]): string {
  return providerPath(type, names);
}

/** Parsed form of a resource id. */
export interface ParsedResourceId {
  subscriptionId?: string;
  resourceGroup?: string;
  /** Full type, e.g. Microsoft.Sql/servers/databases */
  type: string;
  /** Joined names, e.g. server1/db1 */
  name: string;
}

/**
 * Parses an ARM resource id (resource-group, subscription or tenant level; extension resources use
 * the last /providers/ segment). Returns undefined when `id` is not a resource id.
 */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  if (!id.startsWith('/')) return undefined;
  const segs = id.split('/').filter((s) => s.length > 0);
  let sub: string | undefined;
  let rg: string | undefined;
  let i = 0;
  if (segs[i]?.toLowerCase() === 'subscriptions') {
    sub = segs[i + 1];
    i += 2;
  }
  if (segs[i]?.toLowerCase() === 'resourcegroups') {
    rg = segs[i + 1];
    i += 2;
  }
  let lastProviders = -1;
  for (let j = i; j < segs.length; j++) if (segs[j].toLowerCase() === 'providers') lastProviders = j;
  if (lastProviders < 0) {
    if (rg !== undefined && i === segs.length) return { subscriptionId: sub, type: 'Microsoft.Resources/resourceGroups', name: rg };
    return undefined;
  }
  const ns = segs[lastProviders + 1];
  const rest = segs.slice(lastProviders + 2);
  if (!ns || rest.length < 2 || rest.length % 2 !== 0) return undefined;
  const types: string[] = [];
  const names: string[] = [];
  for (let k = 0; k < rest.length; k += 2) {
    types.push(rest[k]);
    names.push(rest[k + 1]);
  }
  return { subscriptionId: sub, resourceGroup: rg, type: `${ns}/${types.join('/')}`, name: names.join('/') };
}
