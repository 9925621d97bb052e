import type { Ctx } from '../http';
import { sleep } from '../http';
import type { ActiveFault, FaultStore } from '../faults';
import { defaultFaultCode } from '../faults';
import { ARM_AUDIENCES, type AccessTokenClaims, type SigningKeys, verifyBearer } from '../entra';
import { key, type Deployment, type EmulatorState, type ResourceGroup, type StateStore, type StoredResource, type Subscription } from '../state';
import { ArmThrottle, type ArmCategory } from './throttle';
import { ArmHttpError, armError, sendArmError } from './errors';
import type { TemplateDeploymentRequest, TemplateDeploymentResult } from './template/types';
import { getRg, nowIso } from './common';
import { completeDeployment } from './deployments';
import { advanceComputeOperations, resumeComputeOperations } from './compute';
import { ARM_ROUTES } from './routes';
import { ArmRequest, compileRoutes, findRoute, methodCategory, type ArmEngine } from './routing';

export { deploymentBody, normalizeLocation, resourceBody, rgBody } from './common';
export { DEPLOYMENT_FAILED_MESSAGE, echoParameters } from './deployments';

/** Limits of the emulated subscription (ARM documented limits by default). */
export interface ArmLimits {
  /** Resource groups per subscription (Azure: 980). */
  resourceGroupsPerSubscription: number;
  /** Deployment history per resource group (Azure: 800; ARM auto-deletes the oldest above that). */
  deploymentsPerResourceGroup: number;
}

/** Everything the ARM handlers need. */
export interface ArmDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  faults: FaultStore;
  throttle: ArmThrottle;
  limits: ArmLimits;
  evaluate: (req: TemplateDeploymentRequest) => Promise<TemplateDeploymentResult>;
  fetchTemplate: (uri: string) => Promise<unknown>;
  log: (msg: string, extra?: object) => void;
  /** Microsoft.Logic/workflows (emulator/src/logic): workflow REST API and deployed-workflow preparation. Optional. */
  logic?: LogicArmHooks;
}

/** What the ARM engine needs from the Logic Apps emulation (implemented by LogicService). */
export interface LogicArmHooks {
  /** Handles `.../providers/Microsoft.Logic/workflows[/...]`; `rest` = segments after "workflows". Throws ArmHttpError. */
  handleArm(ctx: Ctx, sub: Subscription, rg: ResourceGroup, rest: string[]): Promise<void>;
  /** Called before a deployment stores a workflow (keeps createdTime, sets version/changedTime, identity). */
  prepareDeployed(prev: StoredResource | undefined, next: StoredResource): void;
  /** `GET /subscriptions/{s}/providers/Microsoft.Logic/workflows` (workflows.listBySubscription). */
  listBySubscription(ctx: Ctx, sub: Subscription): void;
}

/** The route table with its patterns parsed (once per process). */
const ROUTES = compileRoutes(ARM_ROUTES);

/**
 * The ARM engine: resource groups, deployments (with their asynchronous execution), generic resources,
 * token verification, RBAC, throttling and fault injection. Requests are dispatched through the route
 * table (routes.ts); handlers live in resourceGroups.ts, deployments.ts, resources.ts, subscriptions.ts
 * and workflows.ts. Timers drive deployments and RG deletions; every request also advances its
 * subscription's state lazily, so the answer is right even if a timer is late.
 */
export class ArmService implements ArmEngine {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /**
   * Per subscription: the earliest epoch ms at which one of its deployments, resource group deletions or VM
   * operations is due (Infinity: none). refresh() scans the subscription only from then on; work scheduled
   * for it lowers the time (schedule with `sub`). Absent (a subscription not scanned yet, or replaced): scan.
   * In memory only: after a restart resume() scans everything.
   */
  private readonly nextDueMs = new WeakMap<Subscription, number>();

  constructor(readonly deps: ArmDeps) {}

  private get state(): EmulatorState {
    return this.deps.state;
  }

  /** Stops all timers (emulator shutdown). */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * Runs `fn` at epoch ms `atMs` (unref'd timer; errors are logged; nothing runs after close()). With
   * `sub`, the work is that subscription's: its requests advance it from `atMs` on even if the timer is late.
   */
  schedule(atMs: number, fn: () => void, sub?: Subscription): void {
    if (sub) this.dueAt(sub, atMs);
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      try {
        fn();
      } catch (e) {
        this.deps.log('arm timer failed', { error: String(e) });
      }
    }, Math.max(0, atMs - Date.now()));
    t.unref();
    this.timers.add(t);
  }

  /**
   * Resumes work after a restart (state reloaded from disk): deployments whose time has passed complete
   * at once; others get timers again. Same for resource-group deletions.
   */
  resume(): void {
    for (const sub of Object.values(this.state.subscriptions)) {
      for (const rg of Object.values(sub.resourceGroups)) {
        if (rg.deletion) {
          const d = rg.deletion;
          this.schedule(d.completesAtMs, () => this.advanceRg(sub, rg), sub);
        }
        for (const d of Object.values(rg.deployments)) {
          if (d.provisioningState === 'Accepted' || d.provisioningState === 'Running') {
            this.schedule(d.runningAtMs, () => this.advanceDeployment(sub, rg, d), sub);
            this.schedule(d.completesAtMs, () => this.advanceDeployment(sub, rg, d), sub);
          }
        }
      }
      for (const rg of Object.values(sub.resourceGroups)) this.advanceRg(sub, rg);
    }
    resumeComputeOperations(this);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Moves a deployment along its timeline (Accepted -> Running -> terminal) and applies its result. */
  advanceDeployment(sub: Subscription, rg: ResourceGroup, d: Deployment, nowMs = Date.now()): void {
    if (d.provisioningState === 'Accepted' && nowMs >= d.runningAtMs) {
      d.provisioningState = 'Running';
      d.timestamp = nowIso(d.runningAtMs);
      this.deps.store.changed();
    }
    if (d.provisioningState === 'Running' && nowMs >= d.completesAtMs) {
      completeDeployment(this.deps, sub, rg, d);
    }
  }

  /** Finishes a resource-group deletion when its time has come (removes the RG, marks the operation done). */
  advanceRg(sub: Subscription, rg: ResourceGroup, nowMs = Date.now()): void {
    if (!rg.deletion || nowMs < rg.deletion.completesAtMs) return;
    const op = this.state.operations[rg.deletion.operationId];
    if (op) op.status = 'Succeeded';
    if (sub.resourceGroups[key(rg.name)] === rg) delete sub.resourceGroups[key(rg.name)];
    this.deps.log('resource group deleted', { subscriptionId: sub.id, resourceGroup: rg.name });
    this.deps.store.changed();
  }

  /** Lowers the time at which `sub` has work due to `atMs` (see nextDueMs). */
  private dueAt(sub: Subscription, atMs: number): void {
    const due = this.nextDueMs.get(sub);
    if (due !== undefined && atMs < due) this.nextDueMs.set(sub, atMs);
  }

  /**
   * Brings a subscription's deployments, deletions and VM operations up to date (used before every ARM
   * request on it, and before snapshots). Scans the subscription only when something in it is due (issue
   * 14: a scan of every resource group and deployment per request cost the emulator 0.4 ms per call with
   * 320 resource groups), then notes when the next thing is.
   */
  refresh(sub: Subscription): void {
    const now = Date.now();
    const due = this.nextDueMs.get(sub);
    if (due !== undefined && now < due) return;
    let next = Infinity;
    for (const rg of Object.values(sub.resourceGroups)) {
      this.advanceRg(sub, rg, now);
      if (rg.deletion && sub.resourceGroups[key(rg.name)] === rg) next = Math.min(next, rg.deletion.completesAtMs);
      for (const d of Object.values(rg.deployments)) {
        this.advanceDeployment(sub, rg, d, now);
        if (d.provisioningState === 'Accepted') next = Math.min(next, d.runningAtMs);
        else if (d.provisioningState === 'Running') next = Math.min(next, d.completesAtMs);
      }
    }
    advanceComputeOperations(this.deps, sub, now);
    for (const op of Object.values(this.state.computeOperations ?? {})) {
      if (op.status === 'InProgress' && op.subscriptionId.toLowerCase() === sub.id.toLowerCase()) next = Math.min(next, op.completesAtMs);
    }
    this.nextDueMs.set(sub, next);
  }

  // ---------------------------------------------------------------- HTTP entry

  /**
   * Handles `/subscriptions/...` (ARM). Order of checks (as ARM): Bearer token (401), subscription exists
   * (404 SubscriptionNotFound), token tenant matches the subscription's tenant (401
   * InvalidAuthenticationTokenTenant), RBAC role (403 AuthorizationFailed), throttling (429),
   * api-version (400 MissingApiVersionParameter), injected faults, then the operation.
   * Every response carries x-ms-request-id, x-ms-correlation-request-id and x-ms-ratelimit-remaining-*.
   */
  async handle(ctx: Ctx): Promise<void> {
    const { res } = ctx;
    res.setHeader('x-ms-request-id', ctx.requestId);
    res.setHeader('x-ms-correlation-request-id', ctx.correlationId);
    res.setHeader('x-ms-routing-request-id', `LOCAL:${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}Z:${ctx.requestId}`);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('Expires', '-1');
    try {
      await this.route(ctx);
    } catch (e) {
      if (e instanceof ArmHttpError) return sendArmError(ctx, e);
      this.deps.log('arm handler error', { error: String(e) });
      sendArmError(ctx, armError(500, 'InternalServerError', 'Encountered internal server error. Diagnostic information: timestamp ' + new Date().toISOString() + '.'));
    }
  }

  /** Finds the route (routes.ts) and runs the pipeline documented on ArmRoute. */
  private async route(ctx: Ctx): Promise<void> {
    const claims = await this.authenticate(ctx);
    const found = findRoute(ROUTES, ctx.method, ctx.segments, { logic: !!this.deps.logic });
    // Unreachable while the table ends with catch-all routes; kept as ARM's answer for an unknown path.
    if (!found) throw armError(404, 'InvalidResourceType', `The resource type '${(ctx.segments[2] ?? '').slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources'.`);
    const { route, params, rest } = found;
    let sub: Subscription | undefined;
    if (params.subscriptionId !== undefined) {
      sub = this.findSubscription(params.subscriptionId);
      this.refresh(sub);
    }
    const category = methodCategory(ctx.method);
    const r = new ArmRequest(ctx, claims, params, rest, category, this, sub);
    if (route.permission) {
      const p = route.permission;
      this.authorize(ctx, claims, r.sub, typeof p.action === 'string' ? p.action : p.action(r), p.scope(r), p.category ?? category);
    }
    if (route.throttle !== 'none') this.throttle(ctx, r.sub, claims, route.throttle === 'byMethod' ? category : route.throttle);
    r.apiVersion = this.apiVersion(ctx);
    if (route.preload === 'resourceGroup') r.rg = getRg(r.sub, params.resourceGroupName);
    if (route.fault) await this.applyFault(ctx, route.fault);
    await route.handler(r);
  }

  /** Verifies the Bearer token for ARM's audiences; 401 AuthenticationFailed / *AuthenticationToken* with WWW-Authenticate. */
  private async authenticate(ctx: Ctx): Promise<AccessTokenClaims> {
    const r = await verifyBearer(this.deps.keys, ctx.req.headers.authorization, ARM_AUDIENCES);
    if ('claims' in r) return r.claims;
    const www = (desc: string): Record<string, string> => ({
      'WWW-Authenticate': `Bearer authorization_uri="${ctx.baseUrl}/", error="invalid_token", error_description="${desc}"`,
    });
    switch (r.failure) {
      case 'missing':
        throw armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", {}, www("The authentication failed because of missing 'Authorization' header."));
      case 'expired':
        throw armError(401, 'ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.', {}, www('The access token has expired.'));
      case 'audience':
        throw armError(401, 'InvalidAuthenticationTokenAudience', `The access token has been obtained for wrong audience or resource '${String(r.aud ?? '').slice(0, 200)}'. It should exactly match with one of the allowed audiences '${ARM_AUDIENCES.join("','")}'.`, {}, www('The access token has an invalid audience.'));
      case 'malformed':
        throw armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', {}, www('The access token is invalid.'));
      default:
        throw armError(401, 'InvalidAuthenticationToken', 'The received access token is not valid: at least one of the claims \'puid\' or \'altsecid\' or \'oid\' should be present. If you are accessing as application please make sure service principal is properly created in the tenant.', {}, www('The access token signature is invalid.'));
    }
  }

  private findSubscription(subId: string): Subscription {
    const sub = this.state.subscriptions[subId.toLowerCase()];
    if (!sub) throw armError(404, 'SubscriptionNotFound', `The subscription '${subId.slice(0, 100)}' could not be found.`);
    return sub;
  }

  /** 401 InvalidAuthenticationTokenTenant (token of another tenant), 403 AuthorizationFailed (no role; Reader for writes/deletes). */
  private authorize(ctx: Ctx, claims: AccessTokenClaims, sub: Subscription, action: string, scope: string, category: ArmCategory): void {
    if (claims.tid !== sub.tenantId) {
      throw armError(401, 'InvalidAuthenticationTokenTenant', `The access token is from the wrong issuer 'https://sts.windows.net/${claims.tid}/'. It must match the tenant 'https://sts.windows.net/${sub.tenantId}/' associated with this subscription. Please use the authority (URL) '${ctx.baseUrl}/${sub.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`);
    }
    const assignments = sub.roleAssignments.filter((a) => a.principalId === claims.oid);
    const allowed = category === 'reads' ? assignments.length > 0 : assignments.some((a) => a.roleDefinitionName !== 'Reader');
    if (!allowed) {
      const oid = claims.oid;
      throw armError(403, 'AuthorizationFailed', `The client '${oid}' with object id '${oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
    }
  }

  /** Takes a token from the (subscription, principal, category) bucket; sets x-ms-ratelimit-remaining-subscription-*; 429 TooManyRequests + Retry-After when empty. */
  private throttle(ctx: Ctx, sub: Subscription, claims: AccessTokenClaims, category: ArmCategory): void {
    const r = this.deps.throttle.take(sub.id, claims.oid, category);
    ctx.res.setHeader(`x-ms-ratelimit-remaining-subscription-${category}`, String(r.remaining));
    if ('retryAfterSeconds' in r) {
      const kind = category === 'reads' ? 'read' : category === 'writes' ? 'write' : 'delete';
      throw armError(429, 'TooManyRequests', `Number of '${kind}' requests for subscription '${sub.id}' actor '${claims.oid}' exceeded. Please try again after '${r.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`, {}, { 'Retry-After': r.retryAfterSeconds });
    }
  }

  /** Consults the fault rules for `operation`: optional latency, then the injected status as an ARM error. */
  private async applyFault(ctx: Ctx, operation: string): Promise<void> {
    const f: ActiveFault | undefined = this.deps.faults.take(operation);
    if (!f) return;
    this.deps.log('fault injected', { operation, status: f.status });
    if (f.latencyMs) await sleep(f.latencyMs);
    if (!f.status) return;
    const headers: Record<string, string | number> = {};
    if (f.retryAfterSeconds !== undefined || f.status === 429 || f.status === 503) headers['Retry-After'] = f.retryAfterSeconds ?? 1;
    const code = f.errorCode ?? defaultFaultCode(f.status);
    const message =
      f.status === 429
        ? `The request was throttled (injected fault on '${operation}'). Please try again after '${headers['Retry-After']}' seconds. Refer to https://aka.ms/arm-throttling`
        : f.status >= 500
          ? `The server encountered an error processing '${operation}' (injected fault). Please retry the request later.`
          : `The request '${operation}' failed (injected fault).`;
    throw armError(f.status, code, message, {}, headers);
  }

  /** The api-version query parameter; 400 MissingApiVersionParameter without it (any value is accepted). */
  private apiVersion(ctx: Ctx): string {
    const v = ctx.query.get('api-version');
    if (!v) throw armError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    return v;
  }
}
