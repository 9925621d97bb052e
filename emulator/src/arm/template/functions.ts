import { randomUUID } from 'node:crypto';
import { ArmTemplateError } from './types';
import { EvalEnv } from './context';
import { ExprNode } from './expression';
import { armGuid, uniqueString } from './hash';
import { resourceGroupResourceId, subscriptionLevelId, tenantLevelId, normalizeType } from './resource-id';
import { invalidTemplate } from './errors';
import { formatDateTime, addIsoDuration } from './datetime';
import { cidrHost, cidrSubnet, parseCidr } from './cidr';
import { normalizeRegion, providerInfo, zoneCount } from './catalog';

/** Evaluates one AST node in an environment (supplied by the evaluator to lazy functions). */
export type NodeEvaluator = (node: ExprNode, env: EvalEnv) => Promise<unknown>;

/** A function of the template language. `lazy` functions get the unevaluated argument nodes. */
export type TemplateFunction =
  | { lazy?: false; min: number; max: number; impl: (args: unknown[], env: EvalEnv, name: string) => unknown }
  | { lazy: true; min: number; max: number; impl: (nodes: ExprNode[], env: EvalEnv, evalNode: NodeEvaluator, name: string) => Promise<unknown> };

/** A lambda value produced by lambda('x', body). ARM docs: "Lambda functions for ARM templates". */
export interface LambdaValue {
  __lambda: true;
  params: string[];
  body: ExprNode;
  env: EvalEnv;
}

const INF = Number.POSITIVE_INFINITY;

/** Error for bad function arguments: InvalidTemplate "Unable to evaluate template language function '<fn>' ...". */
export function fnError(name: string, detail: string): ArmTemplateError {
  return new ArmTemplateError(
    'InvalidTemplate',
    `Unable to evaluate template language function '${name}': ${detail} Please see https://aka.ms/arm-functions for usage details.`,
  );
}

/** JSON kind names as ARM reports them in messages. */
export function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'Null';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Float';
  if (typeof v === 'boolean') return 'Boolean';
  if (Array.isArray(v)) return 'Array';
  if (isLambda(v)) return 'Lambda';
  return 'Object';
}

export function isLambda(v: unknown): v is LambdaValue {
  return typeof v === 'object' && v !== null && (v as LambdaValue).__lambda === true;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isLambda(v);
}

function str(name: string, v: unknown, i: number): string {
  if (typeof v !== 'string') throw fnError(name, `argument ${i + 1} must be of type 'String' but was '${kindOf(v)}'.`);
  return v;
}
function int(name: string, v: unknown, i: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  throw fnError(name, `argument ${i + 1} must be of type 'Integer' but was '${kindOf(v)}'.`);
}
function arr(name: string, v: unknown, i: number): unknown[] {
  if (!Array.isArray(v)) throw fnError(name, `argument ${i + 1} must be of type 'Array' but was '${kindOf(v)}'.`);
  return v;
}
function obj(name: string, v: unknown, i: number): Record<string, unknown> {
  if (!isPlainObject(v)) throw fnError(name, `argument ${i + 1} must be of type 'Object' but was '${kindOf(v)}'.`);
  return v;
}
function bool(name: string, v: unknown, i: number): boolean {
  if (typeof v !== 'boolean') throw fnError(name, `argument ${i + 1} must be of type 'Boolean' but was '${kindOf(v)}'.`);
  return v;
}

/** ARM's string conversion (string(), concat(), format()): bools as True/False, objects/arrays as compact JSON. */
export function toArmString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

/** Deep JSON equality (ARM equals(): case-sensitive strings, order-sensitive arrays, key-order-insensitive objects). */
export function deepEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEquals(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEquals(a[k], b[k]));
  }
  return false;
}

/** Case-insensitive own-property lookup (ARM property access is case-insensitive). */
export function getPropertyCI(o: Record<string, unknown>, key: string): { found: boolean; value?: unknown } {
  if (Object.prototype.hasOwnProperty.call(o, key)) return { found: true, value: o[key] };
  const lower = key.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return { found: true, value: o[k] };
  return { found: false };
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw fnError(name, `the arguments must both be integers or both be strings; got '${kindOf(a)}' and '${kindOf(b)}'.`);
}

/** ARM docs: union() — objects merge recursively (later wins), arrays concatenate without duplicates. */
function unionValues(name: string, args: unknown[]): unknown {
  if (args.every((a) => Array.isArray(a))) {
    const out: unknown[] = [];
    for (const a of args as unknown[][]) for (const x of a) if (!out.some((y) => deepEquals(x, y))) out.push(x);
    return out;
  }
  if (args.every((a) => isPlainObject(a) || a === null)) {
    const merge = (target: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> => {
      const out: Record<string, unknown> = { ...target };
      for (const [k, v] of Object.entries(src)) {
        out[k] = isPlainObject(out[k]) && isPlainObject(v) ? merge(out[k], v) : v;
      }
      return out;
    };
    return (args).reduce<Record<string, unknown>>((acc, a) => (a ? merge(acc, a) : acc), {});
  }
  throw fnError(name, 'the arguments must all be arrays or all be objects.');
}

function intersectionValues(name: string, args: unknown[]): unknown {
  if (args.every((a) => Array.isArray(a))) {
    const [first, ...rest] = args as unknown[][];
    const out: unknown[] = [];
    for (const x of first) if (rest.every((r) => r.some((y) => deepEquals(x, y))) && !out.some((y) => deepEquals(x, y))) out.push(x);
    return out;
  }
  if (args.every((a) => isPlainObject(a))) {
    const [first, ...rest] = args;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(first)) if (rest.every((r) => Object.prototype.hasOwnProperty.call(r, k) && deepEquals(r[k], v))) out[k] = v;
    return out;
  }
  throw fnError(name, 'the arguments must all be arrays or all be objects.');
}

/** .NET numeric format strings used by format(): N, D, X, F, P with optional precision. */
function formatNumber(v: unknown, spec: string): string {
  if (typeof v !== 'number') return toArmString(v);
  const m = /^([NnDdXxFfPpGg])(\d*)$/.exec(spec);
  if (!m) return String(v);
  const prec = m[2] === '' ? undefined : Number(m[2]);
  switch (m[1]) {
    case 'N':
    case 'n':
      return v.toLocaleString('en-US', { minimumFractionDigits: prec ?? 2, maximumFractionDigits: prec ?? 2 });
    case 'D':
    case 'd': {
      const s = Math.abs(Math.trunc(v)).toString().padStart(prec ?? 0, '0');
      return v < 0 ? `-${s}` : s;
    }
    case 'X':
      return Math.trunc(v).toString(16).toUpperCase().padStart(prec ?? 0, '0');
    case 'x':
      return Math.trunc(v).toString(16).padStart(prec ?? 0, '0');
    case 'F':
    case 'f':
      return v.toFixed(prec ?? 2);
    case 'P':
    case 'p':
      return `${(v * 100).toLocaleString('en-US', { minimumFractionDigits: prec ?? 2, maximumFractionDigits: prec ?? 2 })} %`;
    default:
      return String(v);
  }
}

/**
 * ARM docs: format(formatString, arg0, ...) — .NET composite formatting: {index[,alignment][:format]},
 * "{{" / "}}" escape braces. Throws InvalidTemplate for an index without an argument.
 */
export function armFormat(fmt: string, args: unknown[]): string {
  let out = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c === '{') {
      if (fmt[i + 1] === '{') {
        out += '{';
        i++;
        continue;
      }
      const close = fmt.indexOf('}', i);
      if (close < 0) throw fnError('format', 'the format string is not valid (unbalanced braces).');
      const m = /^\s*(\d+)\s*(?:,\s*(-?\d+))?\s*(?::(.*))?$/.exec(fmt.slice(i + 1, close));
      if (!m) throw fnError('format', `the format item '${fmt.slice(i, close + 1)}' is not valid.`);
      const idx = Number(m[1]);
      if (idx >= args.length) throw fnError('format', `the format string references argument ${idx} but only ${args.length} were given.`);
      let s = m[3] !== undefined ? formatNumber(args[idx], m[3]) : toArmString(args[idx]);
      if (m[2] !== undefined) {
        const w = Number(m[2]);
        s = w < 0 ? s.padEnd(-w) : s.padStart(w);
      }
      out += s;
      i = close;
    } else if (c === '}') {
      if (fmt[i + 1] === '}') i++;
      out += '}';
    } else out += c;
  }
  return out;
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segs = path.split('/');
  segs.forEach((s, i) => {
    if (s === '.') {
      if (i === segs.length - 1) out.push('');
    } else if (s === '..') {
      if (out.length > 1) out.pop();
      if (i === segs.length - 1) out.push('');
    } else out.push(s);
  });
  return out.join('/');
}

/**
 * ARM docs: uri(baseUri, relativeUri). If baseUri ends with "/", the result is baseUri + relativeUri
 * (a leading "/" of relativeUri is merged); otherwise everything after the last "/" of baseUri (past
 * the scheme's "//") is dropped first. "./" and "../" segments are then resolved like .NET's Uri does.
 * uri('http://a/b/c','d') = 'http://a/b/d'; uri('http://a/b/','d') = 'http://a/b/d'.
 */
export function armUri(base: string, rel: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rel)) return rel;
  const schemeEnd = base.indexOf('://');
  const pathStart = schemeEnd >= 0 ? base.indexOf('/', schemeEnd + 3) : base.indexOf('/');
  let joined: string;
  if (rel.startsWith('/')) {
    // absolute path: replace the whole path of the base
    joined = (pathStart >= 0 ? base.slice(0, pathStart) : base) + rel;
  } else if (base.endsWith('/')) {
    joined = base + rel;
  } else if (pathStart < 0) {
    joined = `${base}/${rel}`;
  } else {
    joined = base.slice(0, base.lastIndexOf('/') + 1) + rel;
  }
  const ps = schemeEnd >= 0 ? joined.indexOf('/', schemeEnd + 3) : -1;
  if (ps < 0) return joined;
  const q = joined.slice(ps).search(/[?#]/);
  const pathEnd = q < 0 ? joined.length : ps + q;
  return joined.slice(0, ps) + removeDotSegments(joined.slice(ps, pathEnd)) + joined.slice(pathEnd);
}

/** .NET Uri.EscapeDataString: escapes everything but RFC 3986 unreserved characters. */
export function escapeDataString(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** ARM docs: environment() for AzureCloud, with the ARM endpoint of the emulator. */
export function environmentObject(armEndpoint: string): Record<string, unknown> {
  const rm = armEndpoint.endsWith('/') ? armEndpoint : `${armEndpoint}/`;
  return {
    name: 'AzureCloud',
    gallery: 'https://gallery.azure.com/',
    graph: 'https://graph.windows.net/',
    portal: 'https://portal.azure.com',
    graphAudience: 'https://graph.windows.net/',
    activeDirectoryDataLake: 'https://datalake.azure.net/',
    batch: 'https://batch.core.windows.net/',
    media: 'https://rest.media.azure.net',
    sqlManagement: 'https://management.core.windows.net:8443/',
    vmImageAliasDoc: 'https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json',
    resourceManager: rm,
    authentication: {
      loginEndpoint: 'https://login.microsoftonline.com/',
      audiences: ['https://management.core.windows.net/', 'https://management.azure.com/'],
      tenant: 'common',
      identityProvider: 'AAD',
    },
    suffixes: {
      acrLoginServer: '.azurecr.io',
      azureDatalakeAnalyticsCatalogAndJob: 'azuredatalakeanalytics.net',
      azureDatalakeStoreFileSystem: 'azuredatalakestore.net',
      azureFrontDoorEndpointSuffix: 'azurefd.net',
      keyvaultDns: '.vault.azure.net',
      sqlServerHostname: '.database.windows.net',
      storage: 'core.windows.net',
    },
  };
}

function typeAndNames(name: string, args: unknown[], first: number): { type: string; names: string[] } {
  const type = normalizeType(str(name, args[first], first));
  const names = args.slice(first + 1).map((a, i) => str(name, a, first + 1 + i));
  return { type, names };
}

function parseBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const l = v.trim().toLowerCase();
    if (l === 'true' || l === '1') return true;
    if (l === 'false' || l === '0') return false;
  }
  throw fnError(name, `the value '${toArmString(v)}' cannot be converted to a boolean.`);
}

function parseJson(name: string, s: string): unknown {
  try {
    return JSON.parse(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
  } catch {
    throw fnError(name, `the argument is not valid JSON: '${s.length > 100 ? s.slice(0, 100) + '...' : s}'.`);
  }
}

function takeOrSkip(name: string, v: unknown, n: number, take: boolean): unknown {
  const k = Math.max(0, n);
  if (typeof v === 'string') return take ? v.slice(0, k) : v.slice(k);
  if (Array.isArray(v)) return take ? v.slice(0, k) : v.slice(k);
  throw fnError(name, `the first argument must be an array or a string but was '${kindOf(v)}'.`);
}

/**
 * Calls a lambda with `values`. ARM docs ("Lambda functions for ARM templates"): filter, map, groupBy,
 * mapValues, reduce, sort and toObject lambdas may declare one more parameter, the item's index
 * (`index` is passed for it when given).
 */
async function callLambda(fn: string, lam: unknown, values: unknown[], evalNode: NodeEvaluator, index?: number): Promise<unknown> {
  if (!isLambda(lam)) throw fnError(fn, `the last argument must be a lambda expression.`);
  const withIndex = index !== undefined && lam.params.length === values.length + 1;
  if (lam.params.length !== values.length && !withIndex) throw fnError(fn, `the lambda must take ${values.length} parameter(s).`);
  const lambdas = new Map(lam.env.lambdas ?? []);
  const args = withIndex ? [...values, index] : values;
  lam.params.forEach((p, i) => lambdas.set(p.toLowerCase(), args[i]));
  return evalNode(lam.body, { ...lam.env, lambdas });
}

/** Stable async merge sort with a "comes before" lambda (ARM docs: sort(inputArray, lambda(a, b))). */
async function sortWith(fn: string, xs: unknown[], lam: unknown, evalNode: NodeEvaluator): Promise<unknown[]> {
  if (xs.length <= 1) return [...xs];
  const mid = Math.floor(xs.length / 2);
  const left = await sortWith(fn, xs.slice(0, mid), lam, evalNode);
  const right = await sortWith(fn, xs.slice(mid), lam, evalNode);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    // take from the right only when right[j] must come before left[i] (keeps equal items in order)
    if (bool(fn, await callLambda(fn, lam, [right[j], left[i]], evalNode), 1)) out.push(right[j++]);
    else out.push(left[i++]);
  }
  return [...out, ...left.slice(i), ...right.slice(j)];
}

/** ARM docs: indexFromEnd / tryIndexFromEnd — 1-based index counted from the end of an array. */
function fromEnd(name: string, a: unknown[], tryMode: boolean): unknown {
  if (tryMode && !Array.isArray(a[0])) return null;
  const xs = arr(name, a[0], 0);
  const n = int(name, a[1], 1);
  if (n < 1 || n > xs.length) {
    if (tryMode) return null;
    throw fnError(name, `the index '${n}' is out of range: it must be between 1 and the array length '${xs.length}'.`);
  }
  return xs[xs.length - n];
}

/** Physical zone name of a logical zone: "<location>-az<n>" (ARM docs: toPhysicalZone). The emulator maps logical n to az<n>. */
function toPhysical(name: string, location: string, zone: unknown): string {
  const z = str(name, zone, 2);
  if (!/^[123]$/.test(z)) throw fnError(name, `the logical zone '${z}' is not valid; it must be '1', '2' or '3'.`);
  return `${normalizeRegion(location)}-az${z}`;
}
function toLogical(name: string, location: string, zone: unknown): string {
  const z = str(name, zone, 2);
  const m = /^(.+)-az([123])$/i.exec(z);
  if (!m || normalizeRegion(m[1]) !== normalizeRegion(location)) {
    throw fnError(name, `the physical zone '${z}' is not valid for location '${location}'; it must be '${normalizeRegion(location)}-az1', '-az2' or '-az3'.`);
  }
  return m[2];
}

function sync(min: number, max: number, impl: (args: unknown[], env: EvalEnv, name: string) => unknown): TemplateFunction {
  return { min, max, impl };
}
function lazy(min: number, max: number, impl: (nodes: ExprNode[], env: EvalEnv, evalNode: NodeEvaluator, name: string) => Promise<unknown>): TemplateFunction {
  return { lazy: true, min, max, impl };
}

/**
 * The template function library, keyed by lower-case name (ARM function names are case-insensitive).
 * Sources: ARM docs "Template functions" (array, comparison, date, deployment, logical, numeric,
 * object, resource, scope, string, lambda). list*() functions are dispatched by the evaluator.
 */
export const FUNCTIONS: Record<string, TemplateFunction> = {
  // ---- deployment / scope ----------------------------------------------------------------------
  parameters: lazy(1, 1, async (nodes, env, ev, n) => env.host.getParameter(str(n, await ev(nodes[0], env), 0))),
  variables: lazy(1, 1, async (nodes, env, ev, n) => env.host.getVariable(str(n, await ev(nodes[0], env), 0))),
  deployment: sync(0, 0, (_a, env) => env.host.deploymentInfo()),
  environment: sync(0, 0, (_a, env) => environmentObject(env.host.scope.armEndpoint)),
  /** ARM docs: deployer() — the principal deploying: {objectId, tenantId, userPrincipalName}. */
  deployer: sync(0, 0, (_a, env) => {
    const s = env.host.scope;
    const d = s.deployer;
    return {
      objectId: d?.objectId ?? '00000000-0000-0000-0000-000000000000',
      tenantId: d?.tenantId ?? s.tenantId,
      userPrincipalName: d?.userPrincipalName ?? '',
    };
  }),
  resourcegroup: sync(0, 0, (_a, env) => {
    const s = env.host.scope;
    return {
      id: `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroupName}`,
      name: s.resourceGroupName,
      type: 'Microsoft.Resources/resourceGroups',
      location: s.location,
      tags: { ...s.resourceGroupTags },
      properties: { provisioningState: 'Succeeded' },
    };
  }),
  subscription: sync(0, 0, (_a, env) => {
    const s = env.host.scope;
    return {
      id: `/subscriptions/${s.subscriptionId}`,
      subscriptionId: s.subscriptionId,
      tenantId: s.tenantId,
      displayName: 'Azure Emulator Subscription',
    };
  }),
  tenant: sync(0, 0, (_a, env) => ({
    id: `/tenants/${env.host.scope.tenantId}`,
    tenantId: env.host.scope.tenantId,
    countryCode: 'US',
    displayName: 'Azure Emulator Tenant',
  })),
  managementgroup: sync(0, 1, (_a, _env, n) => {
    throw fnError(n, 'the function is not supported for resource group deployments.');
  }),
  copyindex: sync(0, 2, (a, env, n) => {
    let loop: string | undefined;
    let offset = 0;
    if (a.length === 1) {
      if (typeof a[0] === 'string') loop = a[0];
      else offset = int(n, a[0], 0);
    } else if (a.length === 2) {
      loop = str(n, a[0], 0);
      offset = int(n, a[1], 1);
    }
    const copy = env.copy;
    const key = loop !== undefined ? loop.toLowerCase() : copy?.current;
    if (!copy || key === undefined || !copy.loops.has(key)) {
      throw invalidTemplate(
        loop !== undefined
          ? `The template function 'copyIndex' is not expected at this location. The copy loop '${loop}' is not in scope.`
          : `The template function 'copyIndex' is not expected at this location. The function can only be used in a resource, property, variable or output with a copy element.`,
      );
    }
    return copy.loops.get(key)! + offset;
  }),
  // ---- resource ids ----------------------------------------------------------------------------
  resourceid: sync(2, INF, (a, env, n) => {
    const typeIdx = a.findIndex((x, i) => i < 3 && typeof x === 'string' && x.includes('/'));
    if (typeIdx < 0) {
      // ARM's wording (e.g. resourceId('hpn-', resourceGroup().name): no argument is a namespace/type)
      throw new ArmTemplateError(
        'InvalidTemplate',
        `Unable to evaluate template language function '${n}': function requires exactly one multi-segmented argument which must be resource type including resource provider namespace. Current function arguments '${a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',')}'. Please see https://aka.ms/arm-template-expressions/#resourceid for usage details.`,
      );
    }
    const pre = a.slice(0, typeIdx).map((x, i) => str(n, x, i));
    if (pre.length > 2) throw fnError(n, 'too many arguments before the resource type.');
    const sub = pre.length === 2 ? pre[0] : env.host.scope.subscriptionId;
    const rg = pre.length >= 1 ? pre[pre.length - 1] : env.host.scope.resourceGroupName;
    const { type, names } = typeAndNames(n, a, typeIdx);
    if (names.length === 0) throw fnError(n, 'at least one resource name is required.');
    return resourceGroupResourceId(sub, rg, type, names);
  }),
  subscriptionresourceid: sync(2, INF, (a, env, n) => {
    const typeIdx = a.findIndex((x, i) => i < 2 && typeof x === 'string' && x.includes('/'));
    if (typeIdx < 0) throw fnError(n, 'no resource type argument was found.');
    const sub = typeIdx === 1 ? str(n, a[0], 0) : env.host.scope.subscriptionId;
    const { type, names } = typeAndNames(n, a, typeIdx);
    return subscriptionLevelId(sub, type, names);
  }),
  tenantresourceid: sync(2, INF, (a, _env, n) => {
    const { type, names } = typeAndNames(n, a, 0);
    return tenantLevelId(type, names);
  }),
  extensionresourceid: sync(3, INF, (a, _env, n) => {
    const base = str(n, a[0], 0).replace(/\/+$/, '');
    const { type, names } = typeAndNames(n, a, 1);
    return base + tenantLevelId(type, names);
  }),
  reference: lazy(1, 3, async (nodes, env, ev, n) => {
    const args: unknown[] = [];
    for (const node of nodes) args.push(await ev(node, env));
    const target = str(n, args[0], 0);
    const apiVersion = args.length > 1 && args[1] !== null ? str(n, args[1], 1) : undefined;
    const full = args.length > 2 && typeof args[2] === 'string' && args[2].toLowerCase() === 'full';
    return env.host.reference(target, apiVersion, full);
  }),
  /**
   * ARM docs: references(symbolicNameOfCollection [, 'Full']) — languageVersion 2.0: the reference()
   * values of every instance of a resource collection (copy loop), in index order.
   */
  references: lazy(1, 2, async (nodes, env, ev, n) => {
    const target = str(n, await ev(nodes[0], env), 0);
    const mode = nodes[1] ? str(n, await ev(nodes[1], env), 1) : undefined;
    return env.host.references(target, mode?.toLowerCase() === 'full');
  }),
  /**
   * ARM docs: pickZones(providerNamespace, resourceType, location, numberOfZones = 1, offset = 0) —
   * logical zones ('1'..'3') of a zonal type in a zonal region, [] otherwise.
   */
  pickzones: sync(3, 5, (a, _e, n) => {
    const zones = zoneCount(str(n, a[0], 0), str(n, a[1], 1), str(n, a[2], 2));
    const count = a.length > 3 ? int(n, a[3], 3) : 1;
    const offset = a.length > 4 ? int(n, a[4], 4) : 0;
    if (zones === 0 || count <= 0) return [];
    const out: string[] = [];
    for (let i = 0; i < Math.min(count, zones); i++) out.push(String(((offset + i) % zones) + 1));
    return out;
  }),
  /**
   * ARM docs: providers(providerNamespace [, resourceType]) (deprecated) — the namespace with its
   * resource types, or one type: {resourceType, locations, apiVersions}. Data: the emulator's
   * provider catalog (the one GET .../providers serves).
   */
  providers: sync(1, 2, (a, _e, n) => {
    const ns = str(n, a[0], 0);
    const info = providerInfo(ns);
    if (!info) throw fnError(n, `the resource namespace '${ns}' is invalid.`);
    if (a.length === 1) return info;
    const type = str(n, a[1], 1);
    const t = info.resourceTypes.find((x) => x.resourceType.toLowerCase() === type.toLowerCase());
    if (!t) throw fnError(n, `the resource type '${type}' could not be found in the namespace '${info.namespace}'.`);
    return t;
  }),
  /**
   * ARM docs: managementGroupResourceId([managementGroupId,] resourceType, resourceName1, ...) ->
   * /providers/Microsoft.Management/managementGroups/{mg}/providers/{type}/{names}. Outside a
   * management group deployment the management group must be given.
   */
  managementgroupresourceid: sync(2, INF, (a, _e, n) => {
    const typeIdx = typeof a[0] === 'string' && a[0].includes('/') ? 0 : 1;
    if (typeIdx === 0) {
      throw fnError(n, 'the management group id must be given as the first argument when the deployment is not at management group scope.');
    }
    const mg = str(n, a[0], 0);
    const { type, names } = typeAndNames(n, a, 1);
    if (names.length === 0) throw fnError(n, 'at least one resource name is required.');
    return `/providers/Microsoft.Management/managementGroups/${mg}${tenantLevelId(type, names)}`;
  }),
  /** ARM docs: toPhysicalZone(subscriptionId, location, logicalZone) -> "<location>-az<n>". */
  tophysicalzone: sync(3, 3, (a, _e, n) => toPhysical(n, str(n, a[1], 1), a[2])),
  tophysicalzones: sync(3, 3, (a, _e, n) => arr(n, a[2], 2).map((z) => toPhysical(n, str(n, a[1], 1), z))),
  /** ARM docs: toLogicalZone(subscriptionId, location, physicalZone) -> '1' | '2' | '3'. */
  tologicalzone: sync(3, 3, (a, _e, n) => toLogical(n, str(n, a[1], 1), a[2])),
  tologicalzones: sync(3, 3, (a, _e, n) => arr(n, a[2], 2).map((z) => toLogical(n, str(n, a[1], 1), z))),
  // ---- logical ---------------------------------------------------------------------------------
  if: lazy(3, 3, async (nodes, env, ev, n) => {
    const c = await ev(nodes[0], env);
    return bool(n, c, 0) ? ev(nodes[1], env) : ev(nodes[2], env);
  }),
  and: lazy(2, INF, async (nodes, env, ev, n) => {
    for (let i = 0; i < nodes.length; i++) if (!bool(n, await ev(nodes[i], env), i)) return false;
    return true;
  }),
  or: lazy(2, INF, async (nodes, env, ev, n) => {
    for (let i = 0; i < nodes.length; i++) if (bool(n, await ev(nodes[i], env), i)) return true;
    return false;
  }),
  not: sync(1, 1, (a, _e, n) => !bool(n, a[0], 0)),
  true: sync(0, 0, () => true),
  false: sync(0, 0, () => false),
  null: sync(0, 0, () => null),
  bool: sync(1, 1, (a, _e, n) => parseBool(n, a[0])),
  // ---- comparison ------------------------------------------------------------------------------
  equals: sync(2, 2, (a) => deepEquals(a[0], a[1])),
  less: sync(2, 2, (a, _e, n) => compare(n, a[0], a[1]) < 0),
  lessorequals: sync(2, 2, (a, _e, n) => compare(n, a[0], a[1]) <= 0),
  greater: sync(2, 2, (a, _e, n) => compare(n, a[0], a[1]) > 0),
  greaterorequals: sync(2, 2, (a, _e, n) => compare(n, a[0], a[1]) >= 0),
  coalesce: sync(1, INF, (a) => a.find((x) => x !== null && x !== undefined) ?? null),
  // ---- numeric ---------------------------------------------------------------------------------
  add: sync(2, 2, (a, _e, n) => int(n, a[0], 0) + int(n, a[1], 1)),
  sub: sync(2, 2, (a, _e, n) => int(n, a[0], 0) - int(n, a[1], 1)),
  mul: sync(2, 2, (a, _e, n) => int(n, a[0], 0) * int(n, a[1], 1)),
  div: sync(2, 2, (a, _e, n) => {
    const d = int(n, a[1], 1);
    if (d === 0) throw fnError(n, 'the divisor must not be zero.');
    return Math.trunc(int(n, a[0], 0) / d);
  }),
  mod: sync(2, 2, (a, _e, n) => {
    const d = int(n, a[1], 1);
    if (d === 0) throw fnError(n, 'the divisor must not be zero.');
    return int(n, a[0], 0) % d;
  }),
  int: sync(1, 1, (a, _e, n) => {
    const v = a[0];
    if (typeof v === 'number') return Math.trunc(v);
    if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return parseInt(v, 10);
    throw fnError(n, `the value '${toArmString(v)}' cannot be converted to an integer.`);
  }),
  float: sync(1, 1, (a, _e, n) => {
    const v = a[0];
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    throw fnError(n, `the value '${toArmString(v)}' cannot be converted to a float.`);
  }),
  min: sync(1, INF, (a, _e, n) => {
    const xs = a.length === 1 && Array.isArray(a[0]) ? (a[0] as unknown[]) : a;
    if (xs.length === 0) throw fnError(n, 'the array must not be empty.');
    return Math.min(...xs.map((x, i) => int(n, x, i)));
  }),
  max: sync(1, INF, (a, _e, n) => {
    const xs = a.length === 1 && Array.isArray(a[0]) ? (a[0] as unknown[]) : a;
    if (xs.length === 0) throw fnError(n, 'the array must not be empty.');
    return Math.max(...xs.map((x, i) => int(n, x, i)));
  }),
  range: sync(2, 2, (a, _e, n) => {
    const start = int(n, a[0], 0);
    const count = int(n, a[1], 1);
    if (count < 0 || count > 10000) throw fnError(n, 'the count must be between 0 and 10000.');
    return Array.from({ length: count }, (_x, i) => start + i);
  }),
  // ---- arrays / objects ------------------------------------------------------------------------
  array: sync(1, 1, (a) => (Array.isArray(a[0]) ? a[0] : [a[0]])),
  createarray: sync(0, INF, (a) => [...a]),
  createobject: sync(0, INF, (a, _e, n) => {
    if (a.length % 2 !== 0) throw fnError(n, 'the number of arguments must be even (key, value pairs).');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < a.length; i += 2) out[str(n, a[i], i)] = a[i + 1];
    return out;
  }),
  json: sync(1, 1, (a, _e, n) => parseJson(n, str(n, a[0], 0))),
  string: sync(1, 1, (a) => toArmString(a[0])),
  concat: sync(0, INF, (a, _e, n) => {
    if (a.length > 0 && a.some((x) => Array.isArray(x))) {
      const out: unknown[] = [];
      a.forEach((x, i) => {
        if (x === null) return;
        out.push(...arr(n, x, i));
      });
      return out;
    }
    return a
      .map((x, i) => {
        if (isPlainObject(x)) throw fnError(n, `argument ${i + 1} of type 'Object' cannot be concatenated.`);
        return toArmString(x);
      })
      .join('');
  }),
  contains: sync(2, 2, (a, _e, n) => {
    const [c, item] = a;
    if (typeof c === 'string') return c.includes(toArmString(item));
    if (Array.isArray(c)) return c.some((x) => deepEquals(x, item));
    if (isPlainObject(c)) return getPropertyCI(c, str(n, item, 1)).found;
    throw fnError(n, `the first argument must be a string, array or object but was '${kindOf(c)}'.`);
  }),
  empty: sync(1, 1, (a) => {
    const v = a[0];
    if (v === null || v === undefined) return true;
    if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
    if (isPlainObject(v)) return Object.keys(v).length === 0;
    return false;
  }),
  length: sync(1, 1, (a, _e, n) => {
    const v = a[0];
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (isPlainObject(v)) return Object.keys(v).length;
    throw fnError(n, `the argument must be a string, array or object but was '${kindOf(v)}'.`);
  }),
  first: sync(1, 1, (a, _e, n) => {
    const v = a[0];
    if (typeof v === 'string') return v.slice(0, 1);
    return arr(n, v, 0)[0] ?? null;
  }),
  last: sync(1, 1, (a, _e, n) => {
    const v = a[0];
    if (typeof v === 'string') return v.slice(-1);
    const xs = arr(n, v, 0);
    return xs.length ? xs[xs.length - 1] : null;
  }),
  take: sync(2, 2, (a, _e, n) => takeOrSkip(n, a[0], int(n, a[1], 1), true)),
  skip: sync(2, 2, (a, _e, n) => takeOrSkip(n, a[0], int(n, a[1], 1), false)),
  union: sync(1, INF, (a, _e, n) => unionValues(n, a)),
  intersection: sync(2, INF, (a, _e, n) => intersectionValues(n, a)),
  items: sync(1, 1, (a, _e, n) =>
    Object.entries(obj(n, a[0], 0))
      .sort(([x], [y]) => (x.toLowerCase() < y.toLowerCase() ? -1 : x.toLowerCase() > y.toLowerCase() ? 1 : 0))
      .map(([key, value]) => ({ key, value })),
  ),
  objectkeys: sync(1, 1, (a, _e, n) => Object.keys(obj(n, a[0], 0))),
  shallowmerge: sync(1, 1, (a, _e, n) => Object.assign({}, ...arr(n, a[0], 0).map((x, i) => obj(n, x, i)))),
  flatten: sync(1, 1, (a, _e, n) => arr(n, a[0], 0).flatMap((x, i) => arr(n, x, i))),
  indexof: sync(2, 2, (a, _e, n) => {
    if (Array.isArray(a[0])) return a[0].findIndex((x) => deepEquals(x, a[1]));
    return str(n, a[0], 0).toLowerCase().indexOf(str(n, a[1], 1).toLowerCase());
  }),
  lastindexof: sync(2, 2, (a, _e, n) => {
    if (Array.isArray(a[0])) {
      for (let i = a[0].length - 1; i >= 0; i--) if (deepEquals(a[0][i], a[1])) return i;
      return -1;
    }
    return str(n, a[0], 0).toLowerCase().lastIndexOf(str(n, a[1], 1).toLowerCase());
  }),
  /**
   * ARM docs: tryGet(itemToTest, keyOrIndex, ...) — null instead of an error when a key or index is
   * missing. An array index may be given as {value, fromEnd: true} (counted from the end, 1-based).
   */
  tryget: sync(2, INF, (a) => {
    let cur: unknown = a[0];
    for (const k of a.slice(1)) {
      if (isPlainObject(cur) && typeof k === 'string') {
        const r = getPropertyCI(cur, k);
        if (!r.found) return null;
        cur = r.value;
      } else if (Array.isArray(cur) && typeof k === 'number') {
        if (k < 0 || k >= cur.length) return null;
        cur = cur[k];
      } else if (Array.isArray(cur) && isPlainObject(k) && typeof k.value === 'number') {
        const i = k.fromEnd === true ? cur.length - k.value : k.value;
        if (i < 0 || i >= cur.length || (k.fromEnd === true && k.value < 1)) return null;
        cur = cur[i];
      } else return null;
    }
    return cur ?? null;
  }),
  indexfromend: sync(2, 2, (a, _e, n) => fromEnd(n, a, false)),
  tryindexfromend: sync(2, 2, (a, _e, n) => fromEnd(n, a, true)),
  // ---- CIDR (ARM docs: "CIDR functions for ARM templates") -------------------------------------
  parsecidr: sync(1, 1, (a, _e, n) => parseCidr(n, a[0])),
  cidrsubnet: sync(3, 3, (a, _e, n) => cidrSubnet(n, a[0], a[1], a[2])),
  cidrhost: sync(2, 2, (a, _e, n) => cidrHost(n, a[0], a[1])),
  // ---- lambdas ---------------------------------------------------------------------------------
  lambda: lazy(2, INF, async (nodes, env, ev, n) => {
    const params: string[] = [];
    for (let i = 0; i < nodes.length - 1; i++) params.push(str(n, await ev(nodes[i], env), i));
    const value: LambdaValue = { __lambda: true, params, body: nodes[nodes.length - 1], env };
    return value;
  }),
  lambdavariables: sync(1, 1, (a, env, n) => {
    const key = str(n, a[0], 0).toLowerCase();
    if (!env.lambdas?.has(key)) throw fnError(n, `the lambda variable '${a[0]}' is not defined.`);
    return env.lambdas.get(key);
  }),
  filter: lazy(2, 2, async (nodes, env, ev, n) => {
    const xs = arr(n, await ev(nodes[0], env), 0);
    const lam = await ev(nodes[1], env);
    const out: unknown[] = [];
    for (let i = 0; i < xs.length; i++) if (bool(n, await callLambda(n, lam, [xs[i]], ev, i), 1)) out.push(xs[i]);
    return out;
  }),
  map: lazy(2, 2, async (nodes, env, ev, n) => {
    const xs = arr(n, await ev(nodes[0], env), 0);
    const lam = await ev(nodes[1], env);
    const out: unknown[] = [];
    for (let i = 0; i < xs.length; i++) out.push(await callLambda(n, lam, [xs[i]], ev, i));
    return out;
  }),
  /** ARM docs: sort(inputArray, lambda(a, b)) — the lambda tells whether a comes before b; stable. */
  sort: lazy(2, 2, async (nodes, env, ev, n) => sortWith(n, arr(n, await ev(nodes[0], env), 0), await ev(nodes[1], env), ev)),
  /** ARM docs: groupBy(inputArray, lambda(item)) — object of key (string) -> items with that key, in order. */
  groupby: lazy(2, 2, async (nodes, env, ev, n) => {
    const xs = arr(n, await ev(nodes[0], env), 0);
    const lam = await ev(nodes[1], env);
    const out: Record<string, unknown[]> = {};
    for (let i = 0; i < xs.length; i++) {
      const k = await callLambda(n, lam, [xs[i]], ev, i);
      if (typeof k !== 'string') throw fnError(n, `the lambda must return a string key but returned '${kindOf(k)}'.`);
      const existing = Object.keys(out).find((x) => x.toLowerCase() === k.toLowerCase());
      (out[existing ?? k] ??= []).push(xs[i]);
    }
    return out;
  }),
  /** ARM docs: mapValues(inputObject, lambda(value)) — same keys, values mapped. */
  mapvalues: lazy(2, 2, async (nodes, env, ev, n) => {
    const o = obj(n, await ev(nodes[0], env), 0);
    const lam = await ev(nodes[1], env);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = await callLambda(n, lam, [v], ev);
    return out;
  }),
  reduce: lazy(3, 3, async (nodes, env, ev, n) => {
    const xs = arr(n, await ev(nodes[0], env), 0);
    let acc = await ev(nodes[1], env);
    const lam = await ev(nodes[2], env);
    for (let i = 0; i < xs.length; i++) acc = await callLambda(n, lam, [acc, xs[i]], ev, i);
    return acc;
  }),
  toobject: lazy(2, 3, async (nodes, env, ev, n) => {
    const xs = arr(n, await ev(nodes[0], env), 0);
    const keyLam = await ev(nodes[1], env);
    const valLam = nodes[2] ? await ev(nodes[2], env) : undefined;
    const out: Record<string, unknown> = {};
    for (const x of xs) out[str(n, await callLambda(n, keyLam, [x], ev), 1)] = valLam ? await callLambda(n, valLam, [x], ev) : x;
    return out;
  }),
  // ---- strings ---------------------------------------------------------------------------------
  format: sync(1, INF, (a, _e, n) => armFormat(str(n, a[0], 0), a.slice(1))),
  uniquestring: sync(1, INF, (a, _e, n) => uniqueString(a.map((x, i) => str(n, x, i)))),
  guid: sync(1, INF, (a, _e, n) => armGuid(a.map((x, i) => str(n, x, i)))),
  newguid: sync(0, 0, (_a, env) => {
    if (!env.host.generatorsAllowed) {
      throw invalidTemplate("The template function 'newGuid' is not expected at this location. The function can only be used within the default value of a parameter.");
    }
    return randomUUID();
  }),
  utcnow: sync(0, 1, (a, env, n) => {
    if (!env.host.generatorsAllowed) {
      throw invalidTemplate("The template function 'utcNow' is not expected at this location. The function can only be used within the default value of a parameter.");
    }
    return formatDateTime(env.host.now, a.length ? str(n, a[0], 0) : 'yyyyMMddTHHmmssZ');
  }),
  datetimeadd: sync(2, 3, (a, _e, n) => {
    const base = new Date(str(n, a[0], 0));
    if (Number.isNaN(base.getTime())) throw fnError(n, `the base time '${a[0]}' is not a valid date time.`);
    const res = addIsoDuration(base, str(n, a[1], 1));
    if (!res) throw fnError(n, `the duration '${a[1]}' is not a valid ISO 8601 duration.`);
    return formatDateTime(res, a.length > 2 ? str(n, a[2], 2) : 'yyyy-MM-ddTHH:mm:ssZ');
  }),
  datetimefromepoch: sync(1, 1, (a, _e, n) => formatDateTime(new Date(int(n, a[0], 0) * 1000), 'yyyy-MM-ddTHH:mm:ssZ')),
  datetimetoepoch: sync(1, 1, (a, _e, n) => {
    const d = new Date(str(n, a[0], 0));
    if (Number.isNaN(d.getTime())) throw fnError(n, `'${a[0]}' is not a valid date time.`);
    return Math.floor(d.getTime() / 1000);
  }),
  split: sync(2, 2, (a, _e, n) => {
    const s = str(n, a[0], 0);
    const delims = Array.isArray(a[1]) ? a[1].map((d, i) => str(n, d, i)) : [str(n, a[1], 1)];
    if (delims.length === 0) return [s];
    const re = new RegExp(delims.map((d) => d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
    return s.split(re);
  }),
  join: sync(2, 2, (a, _e, n) => arr(n, a[0], 0).map((x) => toArmString(x)).join(str(n, a[1], 1))),
  replace: sync(3, 3, (a, _e, n) => {
    const s = str(n, a[0], 0);
    const from = str(n, a[1], 1);
    const to = str(n, a[2], 2);
    return from === '' ? s : s.split(from).join(to);
  }),
  tolower: sync(1, 1, (a, _e, n) => str(n, a[0], 0).toLowerCase()),
  toupper: sync(1, 1, (a, _e, n) => str(n, a[0], 0).toUpperCase()),
  trim: sync(1, 1, (a, _e, n) => str(n, a[0], 0).trim()),
  substring: sync(2, 3, (a, _e, n) => {
    const s = str(n, a[0], 0);
    const start = int(n, a[1], 1);
    const len = a.length > 2 ? int(n, a[2], 2) : s.length - start;
    if (start < 0 || len < 0 || start + len > s.length) {
      throw fnError(n, `The index and length parameters must refer to a location within the string. The index parameter: '${start}', the length parameter: '${len}', the length of the string parameter: '${s.length}'.`);
    }
    return s.substr(start, len);
  }),
  startswith: sync(2, 2, (a, _e, n) => str(n, a[0], 0).toLowerCase().startsWith(str(n, a[1], 1).toLowerCase())),
  endswith: sync(2, 2, (a, _e, n) => str(n, a[0], 0).toLowerCase().endsWith(str(n, a[1], 1).toLowerCase())),
  padleft: sync(2, 3, (a, _e, n) => {
    const s = toArmString(a[0]);
    const total = int(n, a[1], 1);
    const ch = a.length > 2 ? str(n, a[2], 2) : ' ';
    if (ch.length !== 1) throw fnError(n, 'the padding character must be a single character.');
    return s.padStart(total, ch);
  }),
  base64: sync(1, 1, (a, _e, n) => Buffer.from(str(n, a[0], 0), 'utf8').toString('base64')),
  base64tostring: sync(1, 1, (a, _e, n) => Buffer.from(str(n, a[0], 0), 'base64').toString('utf8')),
  base64tojson: sync(1, 1, (a, _e, n) => parseJson(n, Buffer.from(str(n, a[0], 0), 'base64').toString('utf8'))),
  datauri: sync(1, 1, (a) => `data:text/plain;charset=utf8;base64,${Buffer.from(toArmString(a[0]), 'utf8').toString('base64')}`),
  datauritostring: sync(1, 1, (a, _e, n) => {
    const s = str(n, a[0], 0);
    const m = /^data:[^,]*?(;base64)?,(.*)$/s.exec(s);
    if (!m) throw fnError(n, 'the argument is not a data URI.');
    return m[1] ? Buffer.from(m[2], 'base64').toString('utf8') : decodeURIComponent(m[2]);
  }),
  uri: sync(2, 2, (a, _e, n) => armUri(str(n, a[0], 0), str(n, a[1], 1))),
  uricomponent: sync(1, 1, (a, _e, n) => escapeDataString(str(n, a[0], 0))),
  uricomponenttostring: sync(1, 1, (a, _e, n) => {
    try {
      return decodeURIComponent(str(n, a[0], 0));
    } catch {
      throw fnError(n, 'the argument is not a valid URI-encoded string.');
    }
  }),
};

/** True when `lowerName` is an ARM list function (listKeys, listSecrets, listAccountSas, ...). */
export function isListFunction(lowerName: string): boolean {
  return lowerName.startsWith('list') && lowerName.length > 4;
}
