import type { Ctx } from '../http';
import type { AccessTokenClaims } from '../entra';
import type { Deployment, ResourceGroup, Subscription } from '../state';
import type { ArmDeps } from './arm';
import type { ArmCategory } from './throttle';

/** HTTP methods ARM routes name; `'*'` in a route = every method not claimed by an earlier route with the same pattern. */
export type ArmMethod = 'GET' | 'HEAD' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';

/** What route handlers may use of the ARM engine (implemented by ArmService). */
export interface ArmEngine {
  readonly deps: ArmDeps;
  /** Runs `fn` at epoch ms `atMs` (unref'd timer; dropped after close()); with `sub`, work of that subscription due then (ArmService.refresh). */
  schedule(atMs: number, fn: () => void, sub?: Subscription): void;
  /** Moves a deployment along its timeline (Accepted -> Running -> terminal). */
  advanceDeployment(sub: Subscription, rg: ResourceGroup, d: Deployment): void;
  /** Finishes a resource-group deletion whose time has come. */
  advanceRg(sub: Subscription, rg: ResourceGroup): void;
}

/** One matched ARM request as a handler sees it, after authentication, RBAC, throttling, api-version and faults. */
export class ArmRequest {
  /** The api-version query parameter (present: the pipeline refuses requests without it). */
  apiVersion = '';
  private resourceGroup?: ResourceGroup;

  constructor(
    readonly ctx: Ctx,
    /** Claims of the verified Bearer token. */
    readonly claims: AccessTokenClaims,
    /** Path parameters by name (`{resourceGroupName}` ...), percent-decoded, as the client spelled them. */
    readonly params: Readonly<Record<string, string>>,
    /** Segments matched by the pattern's trailing `{*name}` (empty when the pattern has none). */
    readonly rest: readonly string[],
    /** Throttle/RBAC category of the HTTP method: GET/HEAD reads, DELETE deletes, others writes. */
    readonly category: ArmCategory,
    readonly arm: ArmEngine,
    private readonly subscription: Subscription | undefined,
  ) {}

  /** The subscription of `{subscriptionId}` (every pattern below /subscriptions/{subscriptionId} has one). */
  get sub(): Subscription {
    if (!this.subscription) throw new Error('ARM route without {subscriptionId} asked for its subscription');
    return this.subscription;
  }

  /** The resource group, when the route preloads it (`preload: 'resourceGroup'`). */
  get rg(): ResourceGroup {
    if (!this.resourceGroup) throw new Error('ARM route did not preload its resource group');
    return this.resourceGroup;
  }

  set rg(rg: ResourceGroup) {
    this.resourceGroup = rg;
  }
}

/** RBAC requirement of a route: the action ARM names in AuthorizationFailed, at which scope, for which category. */
export interface ArmPermission {
  /** e.g. 'Microsoft.Resources/subscriptions/read', or computed from the request (method, path). */
  action: string | ((r: ArmRequest) => string);
  /** Scope path named in AuthorizationFailed, e.g. `/subscriptions/{id}/resourcegroups/{rg}`. */
  scope: (r: ArmRequest) => string;
  /** 'reads' = any role assignment suffices whatever the method; default: the method's category (writes/deletes need a non-Reader role). */
  category?: 'reads';
}

/**
 * One entry of the ARM route table. The pipeline (ArmService) runs, in this order: Bearer token,
 * subscription lookup (for patterns with `{subscriptionId}`), `permission` (RBAC), `throttle`,
 * api-version, `preload`, `fault`, then `handler`.
 */
export interface ArmRoute {
  /** Methods this entry answers; '*' = any method (used for 405 / 404 answers after the shared checks). */
  methods: readonly ArmMethod[] | '*';
  /**
   * Path pattern, matched segment by segment and case-insensitively (as ARM does): literal segments,
   * `{name}` (exactly one segment, possibly empty), and a last `{*name}` (zero or more segments).
   */
  pattern: string;
  /** Token bucket the request is charged to (throttle.ts); 'byMethod' = the method's category; 'none' = not throttled. */
  throttle: ArmCategory | 'byMethod' | 'none';
  /** Fault-injection operation name (faults.ts) consulted after the checks; none = no injection point. */
  fault?: string;
  /** RBAC check; none = any authenticated caller. */
  permission?: ArmPermission;
  /** 'resourceGroup' = resolve `{resourceGroupName}` (404 ResourceGroupNotFound) before the fault point; see ArmRequest.rg. */
  preload?: 'resourceGroup';
  /** Entry only exists when the emulator has that feature (ArmDeps.logic for 'logic'). */
  requires?: 'logic';
  /** Extra condition on the matched path (e.g. collection vs. single resource). */
  where?: (params: Readonly<Record<string, string>>, rest: readonly string[]) => boolean;
  handler: (r: ArmRequest) => void | Promise<void>;
}

type Segment = { kind: 'literal'; lower: string } | { kind: 'param'; name: string } | { kind: 'rest'; name: string };

/** A route with its pattern parsed once. */
export interface CompiledRoute {
  route: ArmRoute;
  segments: Segment[];
}

/** Parses every pattern of a table (throws on a malformed pattern: `{*x}` not last). */
export function compileRoutes(routes: readonly ArmRoute[]): CompiledRoute[] {
  return routes.map((route) => {
    const parts = route.pattern.split('/').filter((p) => p !== '');
    const segments = parts.map((p, i): Segment => {
      const m = /^\{(\*?)(\w+)\}$/.exec(p);
      if (!m) return { kind: 'literal', lower: p.toLowerCase() };
      if (m[1] && i !== parts.length - 1) throw new Error(`ARM route pattern ${route.pattern}: {*${m[2]}} must be last`);
      return m[1] ? { kind: 'rest', name: m[2] } : { kind: 'param', name: m[2] };
    });
    return { route, segments };
  });
}

/** Params and rest of `path` (percent-decoded segments) under a compiled pattern, or undefined. */
function matchSegments(pattern: Segment[], path: readonly string[]): { params: Record<string, string>; rest: string[] } | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.kind === 'rest') return { params, rest: path.slice(i) };
    if (i >= path.length) return undefined;
    if (p.kind === 'literal' && path[i].toLowerCase() !== p.lower) return undefined;
    if (p.kind === 'param') params[p.name] = path[i];
  }
  return path.length === pattern.length ? { params, rest: [] } : undefined;
}

/** The first route (table order) whose pattern, method, feature and condition fit the request. */
export function findRoute(
  table: readonly CompiledRoute[],
  method: string,
  path: readonly string[],
  features: { logic: boolean },
): { route: ArmRoute; params: Record<string, string>; rest: string[] } | undefined {
  for (const c of table) {
    const { route } = c;
    if (route.methods !== '*' && !(route.methods as readonly string[]).includes(method)) continue;
    if (route.requires === 'logic' && !features.logic) continue;
    const m = matchSegments(c.segments, path);
    if (!m) continue;
    if (route.where && !route.where(m.params, m.rest)) continue;
    return { route, ...m };
  }
  return undefined;
}

/** Category of an HTTP method: GET/HEAD reads, DELETE deletes, anything else writes. */
export function methodCategory(method: string): ArmCategory {
  return method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
}

/** The RBAC verb ARM puts in action names for a category: read, delete, or `write` (or e.g. 'cancel/action'). */
export function verbOf(category: ArmCategory, write = 'write'): string {
  return category === 'reads' ? 'read' : category === 'deletes' ? 'delete' : write;
}
