import { createHash, randomUUID } from 'node:crypto';
import type { Ctx } from '../http';
import { isObject, jsonBody, send, sleep } from '../http';
import type { ActiveFault, FaultStore } from '../faults';
import { defaultFaultCode } from '../faults';
import { ARM_AUDIENCES, type AccessTokenClaims, type SigningKeys, verifyBearer } from '../entra';
import { key, type ArmErrorInfo, type Deployment, type EmulatorState, type ResourceGroup, type StateStore, type StoredResource, type Subscription } from '../state';
import { ArmThrottle, type ArmCategory } from './throttle';
import { ArmHttpError, armError, sendArmError } from './errors';
import { ArmTemplateError, type TemplateDeploymentRequest, type TemplateDeploymentResult } from './template/types';

/** Message ARM puts in a DeploymentFailed error (ARM REST: deployment error). */
export const DEPLOYMENT_FAILED_MESSAGE =
  'At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.';

/** Validation-phase evaluator codes: ARM refuses the PUT synchronously with 400 for these. */
const VALIDATION_CODES = new Set(['InvalidTemplate', 'InvalidTemplateDeployment', 'InvalidContentLink', 'InvalidDeploymentParameterKey', 'InvalidDeploymentParameterValue', 'MissingParameterValue', 'InvalidRequestContent', 'InvalidParameter']);

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

/** Caller identity from a verified ARM token. */
interface Caller {
  claims: AccessTokenClaims;
}

const RG_NAME = /^[-\w._()]{1,90}$/u;
const DEPLOYMENT_NAME = /^[-\w._()]{1,64}$/;

function nowIso(ms = Date.now()): string {
  return new Date(ms).toISOString();
}

/** Normalises an Azure location like ARM does ("West Europe" -> "westeurope"). */
export function normalizeLocation(loc: string): string {
  return loc.replace(/\s+/g, '').toLowerCase();
}

/** Resource id of a resource group as ARM writes it. */
function rgId(subId: string, rgName: string): string {
  return `/subscriptions/${subId}/resourceGroups/${rgName}`;
}

function deploymentId(subId: string, rgName: string, name: string): string {
  return `${rgId(subId, rgName)}/providers/Microsoft.Resources/deployments/${name}`;
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

/** ISO-8601 duration like ARM's "PT1.2345S". */
function isoDuration(ms: number): string {
  return `PT${(Math.max(0, ms) / 1000).toFixed(3).replace(/\.?0+$/, '')}S`;
}

/** ARM JSON for a deployment. */
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

function ciEq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** A stable numeric template hash (ARM returns a decimal string). */
function templateHash(template: unknown, link: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(template ?? link ?? null)).digest();
  return h.readBigUInt64BE(0).toString();
}

/**
 * The ARM engine: resource groups, deployments (with their asynchronous execution), generic resources,
 * token verification, RBAC, throttling and fault injection. Timers drive deployments and RG deletions;
 * every read also advances state lazily, so the answer is right even if a timer is late.
 */
export class ArmService {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly deps: ArmDeps) {}

  private get state(): EmulatorState {
    return this.deps.state;
  }

  /** Stops all timers (emulator shutdown). */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(atMs: number, fn: () => void): void {
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
          this.schedule(d.completesAtMs, () => this.advanceRg(sub, rg));
        }
        for (const d of Object.values(rg.deployments)) {
          if (d.provisioningState === 'Accepted' || d.provisioningState === 'Running') {
            this.schedule(d.runningAtMs, () => this.advanceDeployment(sub, rg, d));
            this.schedule(d.completesAtMs, () => this.advanceDeployment(sub, rg, d));
          }
        }
      }
      for (const rg of Object.values(sub.resourceGroups)) this.advanceRg(sub, rg);
    }
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
      this.completeDeployment(sub, rg, d);
    }
  }

  private completeDeployment(sub: Subscription, rg: ResourceGroup, d: Deployment): void {
    const pending = d.pending;
    delete d.pending;
    d.timestamp = nowIso(d.completesAtMs);
    const fault = this.deps.faults.take('deployments.execute');
    if (fault && (fault.status === undefined || fault.status >= 400)) {
      d.provisioningState = 'Failed';
      d.error = {
        code: 'DeploymentFailed',
        message: DEPLOYMENT_FAILED_MESSAGE,
        details: [
          {
            code: fault.errorCode ?? 'ResourceDeploymentFailure',
            message: fault.errorCode
              ? `The resource operation failed with error code '${fault.errorCode}' (injected by the emulator).`
              : "The resource write operation failed to complete successfully, because it reached terminal provisioning state 'Failed'.",
          },
        ],
      };
    } else if (!pending) {
      d.provisioningState = 'Failed';
      d.error = { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [{ code: 'InternalServerError', message: 'The deployment result was lost.' }] };
    } else if ('error' in pending) {
      d.provisioningState = 'Failed';
      d.error = pending.error;
    } else {
      // Incremental mode: upsert resources (by id, case-insensitive) into the target resource groups.
      for (const r of pending.resources) {
        const targetSub = this.state.subscriptions[r.subscriptionId] ?? sub;
        const target = targetSub.resourceGroups[key(r.resourceGroupName)] ?? rg;
        const i = target.resources.findIndex((x) => ciEq(x.id, r.id));
        if (this.deps.logic && r.type.toLowerCase() === 'microsoft.logic/workflows') this.deps.logic.prepareDeployed(i >= 0 ? target.resources[i] : undefined, r);
        if (i >= 0) target.resources[i] = r;
        else target.resources.push(r);
      }
      if (d.mode === 'Complete') {
        const ids = new Set(pending.resources.map((r) => r.id.toLowerCase()));
        rg.resources = rg.resources.filter((r) => ids.has(r.id.toLowerCase()));
      }
      d.outputs = pending.outputs;
      d.outputResources = pending.resources.map((r) => ({ id: r.id }));
      d.provisioningState = 'Succeeded';
    }
    this.deps.log('deployment finished', { subscriptionId: sub.id, resourceGroup: rg.name, deployment: d.name, state: d.provisioningState });
    this.deps.store.changed();
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

  /** Brings a subscription's deployments and deletions up to date (used before reads and snapshots). */
  refresh(sub: Subscription): void {
    this.advanceAll(sub);
  }

  private advanceAll(sub: Subscription): void {
    for (const rg of Object.values(sub.resourceGroups)) {
      this.advanceRg(sub, rg);
      for (const d of Object.values(rg.deployments)) this.advanceDeployment(sub, rg, d);
    }
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

  private async authenticate(ctx: Ctx): Promise<Caller> {
    const r = await verifyBearer(this.deps.keys, ctx.req.headers.authorization, ARM_AUDIENCES);
    if ('claims' in r) return { claims: r.claims };
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

  private authorize(ctx: Ctx, caller: Caller, sub: Subscription, action: string, scope: string, category: ArmCategory): void {
    if (caller.claims.tid !== sub.tenantId) {
      throw armError(401, 'InvalidAuthenticationTokenTenant', `The access token is from the wrong issuer 'https://sts.windows.net/${caller.claims.tid}/'. It must match the tenant 'https://sts.windows.net/${sub.tenantId}/' associated with this subscription. Please use the authority (URL) '${ctx.baseUrl}/${sub.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`);
    }
    const assignments = sub.roleAssignments.filter((a) => a.principalId === caller.claims.oid);
    const allowed = category === 'reads' ? assignments.length > 0 : assignments.some((a) => a.roleDefinitionName !== 'Reader');
    if (!allowed) {
      const oid = caller.claims.oid;
      throw armError(403, 'AuthorizationFailed', `The client '${oid}' with object id '${oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
    }
  }

  private throttle(ctx: Ctx, sub: Subscription, caller: Caller, category: ArmCategory): void {
    const r = this.deps.throttle.take(sub.id, caller.claims.oid, category);
    ctx.res.setHeader(`x-ms-ratelimit-remaining-subscription-${category}`, String(r.remaining));
    if ('retryAfterSeconds' in r) {
      const kind = category === 'reads' ? 'read' : category === 'writes' ? 'write' : 'delete';
      throw armError(429, 'TooManyRequests', `Number of '${kind}' requests for subscription '${sub.id}' actor '${caller.claims.oid}' exceeded. Please try again after '${r.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`, {}, { 'Retry-After': r.retryAfterSeconds });
    }
  }

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

  private apiVersion(ctx: Ctx): string {
    const v = ctx.query.get('api-version');
    if (!v) throw armError(400, 'MissingApiVersionParameter', "The api-version query parameter (?api-version=) is required for all requests.");
    return v;
  }

  private body(ctx: Ctx): Record<string, unknown> {
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

  private async route(ctx: Ctx): Promise<void> {
    const s = ctx.segments;
    const m = ctx.method;
    const category: ArmCategory = m === 'GET' || m === 'HEAD' ? 'reads' : m === 'DELETE' ? 'deletes' : 'writes';
    const caller = await this.authenticate(ctx);
    if (s.length === 1) {
      // GET /subscriptions
      this.apiVersion(ctx);
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      const subs = Object.values(this.state.subscriptions).filter((x) => x.tenantId === caller.claims.tid && x.roleAssignments.some((a) => a.principalId === caller.claims.oid));
      return send(ctx, 200, { value: subs.map((x) => this.subscriptionBody(x)) });
    }
    const sub = this.findSubscription(s[1]);
    const lower = s.map((x) => x.toLowerCase());
    const scope = `/subscriptions/${sub.id}`;
    this.advanceAll(sub);

    // /subscriptions/{s}
    if (s.length === 2) {
      this.authorize(ctx, caller, sub, 'Microsoft.Resources/subscriptions/read', scope, 'reads');
      this.throttle(ctx, sub, caller, category);
      this.apiVersion(ctx);
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      return send(ctx, 200, this.subscriptionBody(sub));
    }
    // /subscriptions/{s}/operationresults/{id}
    if (lower[2] === 'operationresults' && s.length === 4) {
      this.authorize(ctx, caller, sub, 'Microsoft.Resources/subscriptions/operationresults/read', scope, 'reads');
      this.throttle(ctx, sub, caller, 'reads');
      this.apiVersion(ctx);
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      await this.applyFault(ctx, 'operations.poll');
      return this.pollOperation(ctx, sub, s[3]);
    }
    if (lower[2] === 'resourcegroups') {
      if (s.length === 3) {
        this.authorize(ctx, caller, sub, 'Microsoft.Resources/subscriptions/resourceGroups/read', scope, 'reads');
        this.throttle(ctx, sub, caller, category);
        this.apiVersion(ctx);
        if (m !== 'GET') throw this.methodNotAllowed(ctx);
        await this.applyFault(ctx, 'resourceGroups.list');
        return this.listResourceGroups(ctx, sub);
      }
      const rgName = s[3];
      const rgScope = `${scope}/resourcegroups/${rgName}`;
      if (s.length === 4) {
        const action = `Microsoft.Resources/subscriptions/resourcegroups/${category === 'reads' ? 'read' : category === 'deletes' ? 'delete' : 'write'}`;
        this.authorize(ctx, caller, sub, action, rgScope, category);
        this.throttle(ctx, sub, caller, category);
        this.apiVersion(ctx);
        switch (m) {
          case 'PUT':
            await this.applyFault(ctx, 'resourceGroups.createOrUpdate');
            return this.putResourceGroup(ctx, sub, rgName);
          case 'GET':
            await this.applyFault(ctx, 'resourceGroups.get');
            return send(ctx, 200, rgBody(sub, this.getRg(sub, rgName)));
          case 'HEAD':
            await this.applyFault(ctx, 'resourceGroups.checkExistence');
            return send(ctx, sub.resourceGroups[key(rgName)] ? 204 : 404);
          case 'PATCH':
            await this.applyFault(ctx, 'resourceGroups.update');
            return this.patchResourceGroup(ctx, sub, rgName);
          case 'DELETE':
            await this.applyFault(ctx, 'resourceGroups.delete');
            return this.deleteResourceGroup(ctx, sub, rgName);
          default:
            throw this.methodNotAllowed(ctx);
        }
      }
      if (s.length === 5 && lower[4] === 'resources') {
        this.authorize(ctx, caller, sub, 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', rgScope, 'reads');
        this.throttle(ctx, sub, caller, category);
        this.apiVersion(ctx);
        if (m !== 'GET') throw this.methodNotAllowed(ctx);
        await this.applyFault(ctx, 'resources.list');
        const rg = this.getRg(sub, rgName);
        return send(ctx, 200, { value: rg.resources.map(resourceBody) });
      }
      if (lower[4] === 'providers' && s.length >= 7) {
        const ns = s[5];
        if (ns.toLowerCase() === 'microsoft.resources' && lower[6] === 'deployments') {
          return this.routeDeployments(ctx, caller, sub, rgName, s.slice(7), category);
        }
        if (ns.toLowerCase() === 'microsoft.logic' && lower[6] === 'workflows' && this.deps.logic) {
          return this.routeLogic(ctx, caller, sub, rgName, s.slice(7), category);
        }
        return this.routeGenericResource(ctx, caller, sub, rgName, s.slice(5), category);
      }
    }
    this.authorize(ctx, caller, sub, 'Microsoft.Resources/subscriptions/read', scope, 'reads');
    this.throttle(ctx, sub, caller, category);
    const apiVersion = this.apiVersion(ctx);
    if (this.deps.logic && s.length === 5 && lower[2] === 'providers' && lower[3] === 'microsoft.logic' && lower[4] === 'workflows' && m === 'GET') {
      return this.deps.logic.listBySubscription(ctx, sub);
    }
    if (lower[2] === 'providers' && s.length >= 4) {
      throw armError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location 'global' and API version '${apiVersion.slice(0, 40)}' for type '${s.slice(3, 5).join('/').slice(0, 200)}'.`);
    }
    throw armError(404, 'InvalidResourceType', `The resource type '${(s[2] ?? '').slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources' for api version '${apiVersion.slice(0, 40)}'.`);
  }

  private methodNotAllowed(ctx: Ctx): ArmHttpError {
    return armError(405, 'MethodNotAllowed', `The requested method '${ctx.method}' is not allowed for this resource.`);
  }

  private subscriptionBody(sub: Subscription): Record<string, unknown> {
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

  // ---------------------------------------------------------------- resource groups

  private getRg(sub: Subscription, rgName: string): ResourceGroup {
    const rg = sub.resourceGroups[key(rgName)];
    if (!rg) throw armError(404, 'ResourceGroupNotFound', `Resource group '${rgName.slice(0, 100)}' could not be found.`);
    return rg;
  }

  private validateTags(tags: unknown): Record<string, string> {
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

  private putResourceGroup(ctx: Ctx, sub: Subscription, rgName: string): void {
    const body = this.body(ctx);
    if (!RG_NAME.test(rgName) || rgName.endsWith('.')) {
      throw armError(400, 'InvalidResourceGroup', `The provided resource group name '${rgName.slice(0, 100)}' has these invalid characters or is too long. The name can only be a letter, digit, '-', '.', '_', '(', ')' and must not end with '.'; at most 90 characters.`);
    }
    if (typeof body.location !== 'string' || !body.location.trim()) {
      throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    }
    const location = normalizeLocation(body.location);
    const tags = this.validateTags(body.tags);
    const existing = sub.resourceGroups[key(rgName)];
    if (existing) {
      if (existing.provisioningState === 'Deleting') {
        throw armError(409, 'ResourceGroupBeingDeleted', `The resource group '${existing.name}' is in deprovisioning state and cannot perform this operation.`);
      }
      if (existing.location !== location) {
        throw armError(409, 'InvalidResourceGroupLocation', `Invalid resource group location '${location}'. The Resource group already exists in location '${existing.location}'.`);
      }
      existing.tags = tags;
      if (typeof body.managedBy === 'string') existing.managedBy = body.managedBy;
      this.deps.store.changed();
      return send(ctx, 200, rgBody(sub, existing));
    }
    const count = Object.keys(sub.resourceGroups).length;
    const limit = this.deps.limits.resourceGroupsPerSubscription;
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
    this.deps.log('resource group created', { subscriptionId: sub.id, resourceGroup: rgName });
    this.deps.store.changed();
    send(ctx, 201, rgBody(sub, rg));
  }

  private patchResourceGroup(ctx: Ctx, sub: Subscription, rgName: string): void {
    const body = this.body(ctx);
    const rg = this.getRg(sub, rgName);
    if (rg.provisioningState === 'Deleting') throw armError(409, 'ResourceGroupBeingDeleted', `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`);
    if (body.tags !== undefined) rg.tags = this.validateTags(body.tags);
    if (typeof body.managedBy === 'string') rg.managedBy = body.managedBy;
    this.deps.store.changed();
    send(ctx, 200, rgBody(sub, rg));
  }

  private listResourceGroups(ctx: Ctx, sub: Subscription): void {
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

  private deleteResourceGroup(ctx: Ctx, sub: Subscription, rgName: string): void {
    const rg = this.getRg(sub, rgName); // ARM answers 404 ResourceGroupNotFound for a missing group
    const apiVersion = ctx.query.get('api-version') ?? '';
    let opId = rg.deletion?.operationId;
    if (!rg.deletion) {
      opId = Buffer.from(`RESOURCEGROUPDELETIONJOB-${rg.name.toUpperCase()}-${randomUUID()}`).toString('base64url').toUpperCase();
      const completesAtMs = Date.now() + this.deploymentMs() / 2;
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
      this.state.operations[opId] = { id: opId, kind: 'resourceGroupDelete', subscriptionId: sub.id, resourceGroupName: rg.name, status: 'InProgress', createdAt: nowIso() };
      this.schedule(completesAtMs, () => this.advanceRg(sub, rg));
      this.deps.log('resource group deleting', { subscriptionId: sub.id, resourceGroup: rg.name });
      this.deps.store.changed();
    }
    const location = `${ctx.baseUrl}/subscriptions/${sub.id}/operationresults/${opId}?api-version=${encodeURIComponent(apiVersion)}`;
    send(ctx, 202, undefined, { Location: location, 'Retry-After': this.retryAfter(rg.deletion?.completesAtMs ?? Date.now()) });
  }

  private deploymentMs(): number {
    return Math.max(0, this.state.settings.deploymentSeconds * 1000);
  }

  /** Retry-After seconds for an operation completing at `atMs`: whole seconds left (0 = poll at your own interval), at most 15. */
  private retryAfter(atMs: number): number {
    return Math.min(15, Math.max(0, Math.floor((atMs - Date.now()) / 1000)));
  }

  /** GET of a Location from DELETE: 202 while running, 200 (no body) when done — never 204 (SDK v8 rejects it). */
  private pollOperation(ctx: Ctx, sub: Subscription, opId: string): void {
    const op = this.state.operations[opId];
    if (!op || !ciEq(op.subscriptionId, sub.id)) throw armError(404, 'OperationNotFound', `The operation '${opId.slice(0, 200)}' could not be found.`);
    if (op.status === 'InProgress') {
      const rg = sub.resourceGroups[key(op.resourceGroupName)];
      const at = rg?.deletion?.completesAtMs ?? Date.now();
      return send(ctx, 202, undefined, { Location: `${ctx.baseUrl}${ctx.path}?${ctx.query.toString()}`, 'Retry-After': this.retryAfter(at) });
    }
    send(ctx, 200);
  }

  // ---------------------------------------------------------------- deployments

  private async routeDeployments(ctx: Ctx, caller: Caller, sub: Subscription, rgName: string, rest: string[], category: ArmCategory): Promise<void> {
    const m = ctx.method;
    const rgScope = `/subscriptions/${sub.id}/resourcegroups/${rgName}`;
    const name = rest[0];
    const depScope = name ? `${rgScope}/providers/Microsoft.Resources/deployments/${name}` : rgScope;
    const verb = category === 'reads' ? 'read' : category === 'deletes' ? 'delete' : rest[1]?.toLowerCase() === 'cancel' ? 'cancel/action' : 'write';
    this.authorize(ctx, caller, sub, `Microsoft.Resources/deployments/${verb}`, depScope, category);
    this.throttle(ctx, sub, caller, category);
    const apiVersion = this.apiVersion(ctx);
    if (rest.length === 0) {
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      await this.applyFault(ctx, 'deployments.list');
      const rg = this.getRg(sub, rgName);
      return send(ctx, 200, { value: Object.values(rg.deployments).map((d) => deploymentBody(sub, rg, d)) });
    }
    if (rest.length === 1) {
      switch (m) {
        case 'PUT':
          await this.applyFault(ctx, 'deployments.createOrUpdate');
          return this.putDeployment(ctx, sub, rgName, name, apiVersion);
        case 'GET': {
          await this.applyFault(ctx, 'deployments.get');
          const rg = this.getRg(sub, rgName);
          return send(ctx, 200, deploymentBody(sub, rg, this.getDeployment(rg, name)));
        }
        case 'HEAD': {
          const rg = this.getRg(sub, rgName);
          return send(ctx, rg.deployments[key(name)] ? 204 : 404);
        }
        case 'DELETE':
          await this.applyFault(ctx, 'deployments.delete');
          return this.deleteDeployment(ctx, sub, rgName, name);
        default:
          throw this.methodNotAllowed(ctx);
      }
    }
    const sub2 = rest[1].toLowerCase();
    if (rest.length === 2 && sub2 === 'cancel') {
      if (m !== 'POST') throw this.methodNotAllowed(ctx);
      await this.applyFault(ctx, 'deployments.cancel');
      const rg = this.getRg(sub, rgName);
      const d = this.getDeployment(rg, name);
      if (d.provisioningState !== 'Accepted' && d.provisioningState !== 'Running') {
        throw armError(409, 'DeploymentCannotBeCancelled', `The deployment '${d.name}' cannot be cancelled because it is in terminal provisioning state '${d.provisioningState}'.`);
      }
      d.provisioningState = 'Canceled';
      d.timestamp = nowIso();
      delete d.pending;
      this.deps.store.changed();
      return send(ctx, 204);
    }
    if (rest.length === 3 && sub2 === 'operationstatuses') {
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      await this.applyFault(ctx, 'operations.poll');
      const rg = this.getRg(sub, rgName);
      const d = this.getDeployment(rg, name);
      if (d.operationId !== rest[2]) throw armError(404, 'OperationNotFound', `The operation '${rest[2].slice(0, 100)}' could not be found.`);
      const status = d.provisioningState === 'Accepted' ? 'Running' : d.provisioningState;
      const body: Record<string, unknown> = { status };
      if (d.error) body.error = d.error;
      const headers: Record<string, string | number> = {};
      if (status === 'Running') headers['Retry-After'] = this.retryAfter(d.completesAtMs);
      return send(ctx, 200, body, headers);
    }
    if (rest.length === 2 && sub2 === 'operations') {
      if (m !== 'GET') throw this.methodNotAllowed(ctx);
      const rg = this.getRg(sub, rgName);
      const d = this.getDeployment(rg, name);
      return send(ctx, 200, { value: this.deploymentOperations(sub, rg, d) });
    }
    throw armError(404, 'InvalidResourceType', `The resource type 'deployments/${rest.slice(1).join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources' for api version '${apiVersion.slice(0, 40)}'.`);
  }

  /** Minimal deployment operations list (one entry per created resource, or the failure). */
  private deploymentOperations(sub: Subscription, rg: ResourceGroup, d: Deployment): unknown[] {
    const base = deploymentId(sub.id, rg.name, d.name);
    if (d.provisioningState === 'Failed' && d.error) {
      const details = d.error.details?.length ? d.error.details : [d.error];
      return details.map((e, i) => ({
        id: `${base}/operations/${i}`,
        operationId: String(i),
        properties: { provisioningOperation: 'Create', provisioningState: 'Failed', timestamp: d.timestamp, statusCode: 'BadRequest', statusMessage: { error: e } },
      }));
    }
    return (d.outputResources ?? []).map((r, i) => ({
      id: `${base}/operations/${i}`,
      operationId: String(i),
      properties: { provisioningOperation: 'Create', provisioningState: 'Succeeded', timestamp: d.timestamp, statusCode: 'OK', targetResource: { id: r.id } },
    }));
  }

  private getDeployment(rg: ResourceGroup, name: string): Deployment {
    const d = rg.deployments[key(name)];
    if (!d) throw armError(404, 'DeploymentNotFound', `Deployment '${name.slice(0, 100)}' could not be found.`);
    return d;
  }

  private deleteDeployment(ctx: Ctx, sub: Subscription, rgName: string, name: string): void {
    const rg = this.getRg(sub, rgName);
    const d = rg.deployments[key(name)];
    if (!d) return send(ctx, 204);
    if (d.provisioningState === 'Accepted' || d.provisioningState === 'Running') {
      throw armError(409, 'DeploymentActive', `Unable to delete deployment '${d.name}': the deployment is still active. Cancel it first. Please see https://aka.ms/arm-deploy for usage details.`);
    }
    delete rg.deployments[key(name)];
    this.deps.store.changed();
    send(ctx, 204);
  }

  private async putDeployment(ctx: Ctx, sub: Subscription, rgName: string, name: string, apiVersion: string): Promise<void> {
    const body = this.body(ctx);
    if (!DEPLOYMENT_NAME.test(name)) {
      throw armError(400, 'InvalidDeploymentName', `The deployment name '${name.slice(0, 100)}' is invalid. It can contain letters, digits, '-', '.', '_', '(', ')' and be at most 64 characters long.`);
    }
    const rg = this.getRg(sub, rgName);
    if (rg.provisioningState === 'Deleting') throw armError(409, 'ResourceGroupBeingDeleted', `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`);
    const props = body.properties;
    if (!isObject(props)) throw armError(400, 'InvalidRequestContent', "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'.");
    const mode = typeof props.mode === 'string' ? props.mode : '';
    const modeNorm = mode.toLowerCase() === 'incremental' ? 'Incremental' : mode.toLowerCase() === 'complete' ? 'Complete' : '';
    if (!modeNorm) throw armError(400, 'InvalidDeploymentMode', `The deployment mode '${mode.slice(0, 40)}' is not valid. Allowed values are 'Incremental' and 'Complete'.`);
    const hasTemplate = props.template !== undefined && props.template !== null;
    const hasLink = isObject(props.templateLink);
    if (hasTemplate === hasLink) throw armError(400, 'InvalidRequestContent', "The request content was invalid: exactly one of 'template' or 'templateLink' must be specified.");
    if (props.parameters !== undefined && props.parameters !== null && !isObject(props.parameters)) throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'parameters' must be an object.");
    if (props.parametersLink !== undefined && props.parametersLink !== null && !(isObject(props.parametersLink) && typeof props.parametersLink.uri === 'string')) {
      throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'parametersLink.uri' must be a string.");
    }
    const existing = rg.deployments[key(name)];
    if (existing) {
      this.advanceDeployment(sub, rg, existing);
      if (existing.provisioningState === 'Accepted' || existing.provisioningState === 'Running') {
        throw armError(409, 'DeploymentActive', `Unable to edit or replace deployment '${existing.name}': previous deployment from '${existing.createdAt}' is still active (expiration time is '${nowIso(Date.parse(existing.createdAt) + 7 * 86400_000)}'). Please see https://aka.ms/arm-deploy for usage details.`);
      }
    }
    // Validation (synchronous): the evaluator runs now; validation-phase errors refuse the PUT with 400.
    const fetched = new Map<string, unknown>();
    const fetchTemplate = async (uri: string): Promise<unknown> => {
      const doc = await this.deps.fetchTemplate(uri);
      fetched.set(uri, doc);
      return doc;
    };
    const templateLink = hasLink ? (props.templateLink as Record<string, unknown>) : undefined;
    const parametersLink = isObject(props.parametersLink) ? (props.parametersLink as { uri: string }) : undefined;
    const req: TemplateDeploymentRequest = {
      scope: { tenantId: sub.tenantId, subscriptionId: sub.id, resourceGroupName: rg.name, location: rg.location, resourceGroupTags: rg.tags, deploymentName: name, armEndpoint: ctx.baseUrl },
      ...(hasTemplate ? { template: props.template } : {}),
      ...(templateLink ? { templateLink: { uri: typeof templateLink.uri === 'string' ? templateLink.uri : undefined, relativePath: typeof templateLink.relativePath === 'string' ? templateLink.relativePath : undefined } } : {}),
      ...(isObject(props.parameters) ? { parameters: props.parameters as TemplateDeploymentRequest['parameters'] } : {}),
      ...(parametersLink ? { parametersLink: { uri: parametersLink.uri } } : {}),
      fetchTemplate,
      existingResources: Object.values(sub.resourceGroups).flatMap((g) => g.resources),
    };
    let pending: Deployment['pending'];
    try {
      const result = await this.deps.evaluate(req);
      pending = { resources: result.resources, outputs: result.outputs };
    } catch (e) {
      if (e instanceof ArmTemplateError) {
        if (VALIDATION_CODES.has(e.code)) throw new ArmHttpError(400, e.toErrorBody().error as ArmErrorInfo);
        const info = e.toErrorBody().error as ArmErrorInfo;
        pending = { error: e.code === 'DeploymentFailed' ? info : { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [info] } };
      } else {
        this.deps.log('evaluator crashed', { error: String(e) });
        pending = { error: { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [{ code: 'InternalServerError', message: 'The template evaluation failed unexpectedly.' }] } };
      }
    }
    // The RG may have been deleted while the evaluator ran.
    if (sub.resourceGroups[key(rgName)] !== rg || (rg.provisioningState as string) === 'Deleting') {
      throw armError(409, 'ResourceGroupBeingDeleted', `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`);
    }
    const template = hasTemplate ? props.template : templateLink?.uri ? fetched.get(templateLink.uri as string) : undefined;
    const paramsDoc = parametersLink ? fetched.get(parametersLink.uri) : undefined;
    const now = Date.now();
    const total = this.deploymentMs();
    const d: Deployment = {
      name: existing?.name ?? name,
      operationId: String(BigInt('0x' + randomUUID().replace(/-/g, '').slice(0, 15))),
      correlationId: ctx.correlationId,
      provisioningState: 'Accepted',
      mode: modeNorm,
      parameters: echoParameters(template, isObject(paramsDoc) && isObject(paramsDoc.parameters) ? paramsDoc.parameters : undefined, isObject(props.parameters) ? props.parameters : undefined),
      ...(templateLink ? { templateLink: { ...templateLink, contentVersion: (isObject(template) && typeof template.contentVersion === 'string' ? template.contentVersion : '1.0.0.0') } } : {}),
      ...(parametersLink ? { parametersLink: { uri: parametersLink.uri, contentVersion: '1.0.0.0' } } : {}),
      templateHash: templateHash(props.template, templateLink),
      createdAt: nowIso(now),
      timestamp: nowIso(now),
      runningAtMs: now + Math.min(total * 0.1, 1000),
      completesAtMs: now + total,
      pending,
    };
    rg.deployments[key(name)] = d;
    this.pruneHistory(rg);
    this.schedule(d.runningAtMs, () => this.advanceDeployment(sub, rg, d));
    this.schedule(d.completesAtMs, () => this.advanceDeployment(sub, rg, d));
    this.deps.log('deployment accepted', { subscriptionId: sub.id, resourceGroup: rg.name, deployment: name });
    this.deps.store.changed();
    const asyncOp = `${ctx.baseUrl}/subscriptions/${sub.id}/resourcegroups/${rg.name}/providers/Microsoft.Resources/deployments/${d.name}/operationStatuses/${d.operationId}?api-version=${encodeURIComponent(apiVersion)}`;
    send(ctx, existing ? 200 : 201, deploymentBody(sub, rg, d), { 'Azure-AsyncOperation': asyncOp, 'Retry-After': this.retryAfter(d.completesAtMs) });
  }

  /** ARM keeps at most `deploymentsPerResourceGroup` deployments; it deletes the oldest finished ones above that. */
  private pruneHistory(rg: ResourceGroup): void {
    const limit = this.deps.limits.deploymentsPerResourceGroup;
    const all = Object.entries(rg.deployments);
    if (all.length <= limit) return;
    const done = all
      .filter(([, d]) => d.provisioningState !== 'Accepted' && d.provisioningState !== 'Running')
      .sort((a, b) => Date.parse(a[1].createdAt) - Date.parse(b[1].createdAt));
    let excess = all.length - limit;
    for (const [k] of done) {
      if (excess-- <= 0) break;
      delete rg.deployments[k];
    }
  }

  // ---------------------------------------------------------------- Microsoft.Logic/workflows

  /**
   * Logic Apps workflow API under ARM (auth, RBAC, throttling and faults as for every ARM call; fault
   * operation names `logic.{get,list,createOrUpdate,update,delete,action}`), then LogicService.
   */
  private async routeLogic(ctx: Ctx, caller: Caller, sub: Subscription, rgName: string, rest: string[], category: ArmCategory): Promise<void> {
    const scope = `/subscriptions/${sub.id}/resourcegroups/${rgName}/providers/Microsoft.Logic/workflows${rest.length ? `/${rest.join('/')}` : ''}`;
    const verb = category === 'reads' ? 'read' : category === 'deletes' ? 'delete' : rest.length > 1 ? `${rest[rest.length - 1]}/action` : 'write';
    this.authorize(ctx, caller, sub, `Microsoft.Logic/workflows/${verb}`, scope, category);
    this.throttle(ctx, sub, caller, category);
    this.apiVersion(ctx);
    const m = ctx.method;
    const op = rest.length === 0 ? 'list' : rest.length > 1 ? (m === 'GET' ? 'get' : 'action') : m === 'GET' || m === 'HEAD' ? 'get' : m === 'PUT' ? 'createOrUpdate' : m === 'PATCH' ? 'update' : m === 'DELETE' ? 'delete' : 'action';
    await this.applyFault(ctx, `logic.${op}`);
    const rg = this.getRg(sub, rgName);
    if (rg.provisioningState === 'Deleting' && m !== 'GET') throw armError(409, 'ResourceGroupBeingDeleted', `The resource group '${rg.name}' is in deprovisioning state and cannot perform this operation.`);
    return this.deps.logic!.handleArm(ctx, sub, rg, rest);
  }

  // ---------------------------------------------------------------- generic resources

  private async routeGenericResource(ctx: Ctx, caller: Caller, sub: Subscription, rgName: string, parts: string[], category: ArmCategory): Promise<void> {
    // parts: [ns, type, name, (childType, childName)*]
    const ns = parts[0];
    const typeParts: string[] = [];
    const nameParts: string[] = [];
    for (let i = 1; i < parts.length; i += 2) {
      typeParts.push(parts[i]);
      if (parts[i + 1] !== undefined) nameParts.push(parts[i + 1]);
    }
    const type = [ns, ...typeParts].join('/');
    const rgScope = `/subscriptions/${sub.id}/resourcegroups/${rgName}`;
    const scope = `${rgScope}/providers/${parts.join('/')}`;
    this.authorize(ctx, caller, sub, `${type}/${category === 'reads' ? 'read' : category === 'deletes' ? 'delete' : 'write'}`, scope, category);
    this.throttle(ctx, sub, caller, category);
    const apiVersion = this.apiVersion(ctx);
    const rg = this.getRg(sub, rgName);
    if (nameParts.length !== typeParts.length) {
      // A collection: list the resources of that type.
      if (ctx.method !== 'GET') throw this.methodNotAllowed(ctx);
      await this.applyFault(ctx, 'resources.list');
      const wanted = [ns, ...typeParts].join('/').toLowerCase();
      return send(ctx, 200, { value: rg.resources.filter((r) => r.type.toLowerCase() === wanted).map(resourceBody) });
    }
    const name = nameParts.join('/');
    const idx = rg.resources.findIndex((r) => ciEq(r.type, type) && ciEq(r.name, name));
    switch (ctx.method) {
      case 'GET':
      case 'HEAD': {
        await this.applyFault(ctx, 'resources.get');
        if (idx < 0) throw armError(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg.name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
        return send(ctx, ctx.method === 'HEAD' ? 204 : 200, ctx.method === 'HEAD' ? undefined : resourceBody(rg.resources[idx]));
      }
      case 'DELETE':
        await this.applyFault(ctx, 'resources.delete');
        if (idx < 0) return send(ctx, 204);
        rg.resources.splice(idx, 1);
        this.deps.store.changed();
        return send(ctx, 200);
      default:
        throw armError(400, 'NoRegisteredProviderFound', `No registered resource provider found for location '${rg.location}' and API version '${apiVersion.slice(0, 40)}' for type '${type.slice(0, 200)}'. The emulator creates resources through template deployments only.`);
    }
  }
}

const SECURE_TYPES = new Set(['securestring', 'secureobject']);

function armTypeName(t: string): string {
  switch (t.toLowerCase()) {
    case 'string': return 'String';
    case 'securestring': return 'SecureString';
    case 'int': return 'Int';
    case 'bool': return 'Bool';
    case 'object': return 'Object';
    case 'secureobject': return 'SecureObject';
    case 'array': return 'Array';
    default: return t;
  }
}

/**
 * Parameters as ARM echoes them in a deployment: `{ name: { type, value } }` for every template
 * parameter that has a value (given, or a literal default); secure ones as `{ type }` only.
 */
export function echoParameters(template: unknown, fromLink: Record<string, unknown> | undefined, given: Record<string, unknown> | undefined): Record<string, unknown> {
  const declared = isObject(template) && isObject(template.parameters) ? template.parameters : {};
  const values: Record<string, unknown> = { ...(fromLink ?? {}), ...(given ?? {}) };
  const out: Record<string, unknown> = {};
  const names = new Set([...Object.keys(declared), ...Object.keys(values)]);
  for (const n of names) {
    const decl = isObject(declared[n]) ? (declared[n] as Record<string, unknown>) : {};
    const type = typeof decl.type === 'string' ? decl.type : 'String';
    const givenEntry = Object.entries(values).find(([k]) => ciEq(k, n))?.[1];
    let value: unknown;
    let has = false;
    if (isObject(givenEntry) && 'value' in givenEntry) {
      value = givenEntry.value;
      has = true;
    } else if (isObject(givenEntry) && 'reference' in givenEntry) {
      has = true;
    } else if ('defaultValue' in decl && !(typeof decl.defaultValue === 'string' && decl.defaultValue.startsWith('[') && !decl.defaultValue.startsWith('[['))) {
      value = decl.defaultValue;
      has = true;
    }
    if (!has) continue;
    out[n] = SECURE_TYPES.has(type.toLowerCase()) || (isObject(givenEntry) && 'reference' in givenEntry) ? { type: armTypeName(type) } : { type: armTypeName(type), value };
  }
  return out;
}
