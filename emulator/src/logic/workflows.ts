/**
 * Workflow resources: the ARM control plane of `Microsoft.Logic/workflows` (Logic REST API 2019-05-01
 * "Workflows", "Workflow Triggers"): list/get/createOrUpdate/update/delete, enable/disable, triggers,
 * listCallbackUrl, trigger run and histories (runs are delegated to WorkflowRuns), the workflow ARM JSON,
 * and what ARM deployments need (prepareDeployed, listCallbackUrl() in templates).
 */
import type { Ctx } from '../http';
import { isObject, jsonBody, send } from '../http';
import { armError, type ArmHttpError } from '../arm/errors';
import type { ResourceGroup, StoredResource, Subscription } from '../state';
import { WorkflowError } from './engine/errors';
import { isObj } from './engine/functions';
import { splitOnWithResponse } from './engine/split';
import { logicTime } from './engine/runner';
import { registerIdentity } from './identity';
import { ciEq, definitionOf, findTrigger, isEnabled, isRequestTrigger, isWorkflow, locateByName, newVersion, props, triggersOf } from './model';
import type { WorkflowRuns } from './runs';
import { LOGIC_PREFIX, type CallbackSigner } from './sas';
import type { LogicDeps } from './service';

function methodNotAllowed(m: string): ArmHttpError {
  return armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
}

/** Request body as a JSON object; 400 InvalidRequestContent otherwise (empty body included). */
function body(ctx: Ctx): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = jsonBody(ctx);
  } catch (e) {
    throw armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${String((e as Error).message).slice(0, 200)}'.`);
  }
  if (!isObject(parsed)) throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: a JSON object is expected.');
  return parsed;
}

/** Minimal definition checks: an object; `triggers`/`actions` objects; at most 10 triggers. 400 otherwise. */
function validateDefinition(def: unknown): Record<string, unknown> {
  if (!isObj(def)) throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'properties.definition' must be a workflow definition object.");
  if (def.triggers !== undefined && !isObj(def.triggers)) throw armError(400, 'InvalidWorkflowDefinition', "The workflow definition property 'triggers' must be an object.");
  if (def.actions !== undefined && !isObj(def.actions)) throw armError(400, 'InvalidWorkflowDefinition', "The workflow definition property 'actions' must be an object.");
  if (isObj(def.triggers) && Object.keys(def.triggers).length > 10) throw armError(400, 'WorkflowTriggersLimitExceeded', 'A workflow can have at most 10 triggers.');
  // Schema reference ("Split on an array"): a workflow with a splitOn trigger cannot use the Response action
  const conflict = splitOnWithResponse(def);
  if (conflict) throw armError(400, 'InvalidTemplate', `The workflow with 'Response' action type should not have triggers with 'splitOn' property: trigger '${conflict.trigger}' uses 'splitOn' and the workflow has the Response action '${conflict.action}'.`);
  return def;
}

/** Workflows stored as resources of their resource group (like every ARM resource). */
export class WorkflowResources {
  constructor(
    private readonly deps: LogicDeps,
    private readonly signer: CallbackSigner,
    private readonly runs: WorkflowRuns,
  ) {}

  // ---------------------------------------------------------------- ARM shapes

  /** ARM GET shape of a workflow (Logic REST API `Workflow`); secure parameter values are left out. */
  workflowBody(r: StoredResource, base: string): Record<string, unknown> {
    const p = props(r);
    const def = definitionOf(r);
    const declared = isObj(def.parameters) ? def.parameters : {};
    const params: Record<string, unknown> = {};
    if (isObj(p.parameters)) {
      for (const [k, v] of Object.entries(p.parameters)) {
        const d = declared[k];
        const secure = isObj(d) && /^secure/i.test(String(d.type ?? ''));
        params[k] = secure && isObj(v) ? { type: v.type ?? d.type } : v;
      }
    }
    return {
      id: r.id,
      name: r.name,
      type: 'Microsoft.Logic/workflows',
      ...(r.location ? { location: r.location } : {}),
      ...(r.tags ? { tags: r.tags } : {}),
      ...(r.identity ? { identity: r.identity } : {}),
      properties: {
        provisioningState: p.provisioningState ?? 'Succeeded',
        createdTime: p.createdTime,
        changedTime: p.changedTime,
        state: p.state ?? 'Enabled',
        version: p.version,
        accessEndpoint: `${base}/${LOGIC_PREFIX}/workflows/${this.signer.accessId(r)}`,
        endpointsConfiguration: {
          workflow: { outgoingIpAddresses: [{ address: '127.0.0.1' }], accessEndpointIpAddresses: [{ address: '127.0.0.1' }] },
          connector: { outgoingIpAddresses: [{ address: '127.0.0.1' }] },
        },
        ...(p.integrationAccount ? { integrationAccount: p.integrationAccount } : {}),
        ...(p.accessControl ? { accessControl: p.accessControl } : {}),
        definition: p.definition,
        parameters: params,
      },
    };
  }

  private versionRef(r: StoredResource): Record<string, unknown> {
    const v = String(props(r).version ?? '');
    return { id: `${r.id}/versions/${v}`, name: v, type: 'Microsoft.Logic/workflows/versions' };
  }

  /** ARM shape of a trigger (Logic REST API `WorkflowTrigger`), with the status of its last run. */
  private triggerBody(r: StoredResource, name: string, tdef: Record<string, unknown>): Record<string, unknown> {
    const last = this.runs.list(r).find((x) => ciEq(x.run.trigger.name, name));
    return {
      id: `${r.id}/triggers/${name}`,
      name,
      type: 'Microsoft.Logic/workflows/triggers',
      properties: {
        provisioningState: 'Succeeded',
        createdTime: props(r).createdTime,
        changedTime: props(r).changedTime,
        state: 'Enabled',
        ...(last ? { status: last.run.trigger.status, lastExecutionTime: last.run.trigger.startTime } : {}),
        ...(isObj(tdef.recurrence) ? { recurrence: tdef.recurrence } : {}),
        workflow: this.versionRef(r),
      },
    };
  }

  // ---------------------------------------------------------------- ARM deployments

  /**
   * Called by the ARM engine before a deployment stores a workflow: keeps `createdTime` of an existing
   * workflow, sets `changedTime`/`version`, state `Enabled` by default, and registers a system-assigned
   * identity's service principal.
   */
  prepareDeployed(prev: StoredResource | undefined, next: StoredResource): void {
    const p = next.properties;
    const now = logicTime();
    p.createdTime = prev ? (prev.properties.createdTime ?? now) : now;
    p.changedTime = now;
    p.version = newVersion();
    p.provisioningState = 'Succeeded';
    p.state = typeof p.state === 'string' ? p.state : 'Enabled';
    p.parameters ??= {};
    delete p.accessEndpoint;
    if (prev && isObj(prev.identity) && isObj(next.identity) && prev.identity.principalId) next.identity = { ...next.identity, principalId: prev.identity.principalId, tenantId: prev.identity.tenantId };
    registerIdentity(this.deps, next);
    this.signer.accessKey(next.id, next);
  }

  /**
   * For ARM templates (TemplateDeploymentRequest.listActionOverride): answers
   * `listCallbackUrl(<trigger resource id>, api)`, also during the deployment that creates the
   * workflow (its access key is made now and adopted when the workflow is stored). `declared`
   * resolves resources of the running deployment. Returns undefined for anything else.
   */
  templateListAction(functionName: string, target: string, declared: (id: string) => StoredResource | undefined, baseUrl: string): unknown {
    if (functionName.toLowerCase() !== 'listcallbackurl') return undefined;
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Logic\/+workflows\/+([^/]+)\/triggers\/([^/]+)\/?$/i.exec(target);
    if (!m) return undefined;
    const [, subId, rgName, wfName, trig] = m;
    const id = `/subscriptions/${subId}/resourceGroups/${rgName}/providers/Microsoft.Logic/workflows/${wfName}`;
    const stored = locateByName(this.deps.state, subId, rgName, wfName)?.r;
    const decl = declared(id);
    const r: StoredResource = stored ?? { id, type: 'Microsoft.Logic/workflows', name: wfName, properties: { definition: decl ? definitionOf(decl) : {} }, resourceGroupName: rgName, subscriptionId: subId };
    const src = decl ?? r;
    const t = findTrigger(src, trig) ?? findTrigger(r, trig);
    return this.signer.callbackInfo(baseUrl, r, t?.[0] ?? trig, t?.[1] ?? {});
  }

  // ---------------------------------------------------------------- ARM API

  /**
   * Handles `.../resourceGroups/{rg}/providers/Microsoft.Logic/workflows[/{wf}[/...]]` after the ARM
   * engine authenticated, authorized and throttled the call. `rest` = path segments after "workflows".
   * Throws ArmHttpError (rendered by the ARM engine): 404 ResourceNotFound (the workflow itself),
   * WorkflowNotFound (below it), InvalidResourceType; 405 MethodNotAllowed.
   */
  async handleArm(ctx: Ctx, sub: Subscription, rg: ResourceGroup, rest: string[]): Promise<void> {
    const m = ctx.method;
    const base = ctx.baseUrl;
    if (rest.length === 0) {
      if (m !== 'GET') throw methodNotAllowed(m);
      const top = Number(ctx.query.get('$top') ?? 0);
      const list = rg.resources.filter(isWorkflow).map((r) => this.workflowBody(r, base));
      return send(ctx, 200, { value: top > 0 ? list.slice(0, top) : list });
    }
    const name = rest[0];
    const r = rg.resources.find((x) => isWorkflow(x) && ciEq(x.name, name));
    const notFound = (): ArmHttpError =>
      rest.length === 1
        ? armError(404, 'ResourceNotFound', `The Resource 'Microsoft.Logic/workflows/${name}' under resource group '${rg.name}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`)
        : armError(404, 'WorkflowNotFound', `The workflow '${name}' could not be found.`);
    if (rest.length === 1) {
      switch (m) {
        case 'GET':
        case 'HEAD':
          if (!r) throw notFound();
          return send(ctx, m === 'HEAD' ? 204 : 200, m === 'HEAD' ? undefined : this.workflowBody(r, base));
        case 'PUT':
          return this.putWorkflow(ctx, sub, rg, name, r);
        case 'PATCH':
          if (!r) throw notFound();
          return this.patchWorkflow(ctx, r);
        case 'DELETE':
          if (!r) return send(ctx, 204);
          rg.resources.splice(rg.resources.indexOf(r), 1);
          this.signer.forget(r.id);
          this.runs.forget(r);
          this.deps.store.changed();
          this.deps.log('logic workflow deleted', { subscriptionId: sub.id, resourceGroup: rg.name, workflow: r.name });
          return send(ctx, 200);
        default:
          throw methodNotAllowed(m);
      }
    }
    if (!r) throw notFound();
    const sub1 = rest[1].toLowerCase();
    if (rest.length === 2 && (sub1 === 'disable' || sub1 === 'enable')) {
      if (m !== 'POST') throw methodNotAllowed(m);
      props(r).state = sub1 === 'disable' ? 'Disabled' : 'Enabled';
      props(r).changedTime = logicTime();
      this.deps.store.changed();
      return send(ctx, 200);
    }
    if (sub1 === 'triggers') return this.armTriggers(ctx, sub, rg, r, rest.slice(2));
    if (sub1 === 'runs') return this.runs.handleArm(ctx, r, rest.slice(2));
    throw armError(404, 'InvalidResourceType', `The resource type 'workflows/${rest.slice(1).join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Logic'.`);
  }

  /** `GET /subscriptions/{s}/providers/Microsoft.Logic/workflows`: every workflow of the subscription. */
  listBySubscription(ctx: Ctx, sub: Subscription): void {
    const value = Object.values(sub.resourceGroups).flatMap((rg) => rg.resources.filter(isWorkflow).map((r) => this.workflowBody(r, ctx.baseUrl)));
    send(ctx, 200, { value });
  }

  /**
   * `PUT .../workflows/{wf}` `{location, tags?, identity?, properties: {definition, state?, parameters?,
   * integrationAccount?, accessControl?}}`: 201 new, 200 replaced (createdTime kept). 400
   * InvalidResourceName / LocationRequired / definition errors.
   */
  private putWorkflow(ctx: Ctx, sub: Subscription, rg: ResourceGroup, name: string, existing: StoredResource | undefined): void {
    const b = body(ctx);
    if (!/^[-\w._()]{1,80}$/.test(name)) throw armError(400, 'InvalidResourceName', `The resource name '${name.slice(0, 100)}' is invalid. It can contain letters, digits, '-', '.', '_', '(', ')' and be at most 80 characters long.`);
    if (typeof b.location !== 'string' || !b.location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const p = isObj(b.properties) ? b.properties : {};
    const def = validateDefinition(p.definition);
    const id = existing?.id ?? `/subscriptions/${sub.id}/resourceGroups/${rg.name}/providers/Microsoft.Logic/workflows/${name}`;
    const state = typeof p.state === 'string' ? p.state : 'Enabled';
    const r: StoredResource = {
      id,
      type: 'Microsoft.Logic/workflows',
      name: existing?.name ?? name,
      apiVersion: ctx.query.get('api-version') ?? '2019-05-01',
      location: b.location.replace(/\s+/g, '').toLowerCase(),
      ...(isObj(b.tags) ? { tags: b.tags as Record<string, string> } : {}),
      ...(isObj(b.identity) && !/^none$/i.test(String(b.identity.type ?? '')) ? { identity: { ...b.identity } } : {}),
      properties: {
        state,
        definition: def,
        parameters: isObj(p.parameters) ? p.parameters : {},
        ...(isObj(p.integrationAccount) ? { integrationAccount: p.integrationAccount } : {}),
        ...(isObj(p.accessControl) ? { accessControl: p.accessControl } : {}),
      },
      resourceGroupName: rg.name,
      subscriptionId: sub.id,
    };
    this.prepareDeployed(existing, r);
    if (existing) rg.resources[rg.resources.indexOf(existing)] = r;
    else rg.resources.push(r);
    this.deps.store.changed();
    this.deps.log('logic workflow saved', { subscriptionId: sub.id, resourceGroup: rg.name, workflow: r.name, created: !existing });
    send(ctx, existing ? 200 : 201, this.workflowBody(r, ctx.baseUrl));
  }

  /** `PATCH .../workflows/{wf}`: tags, state, definition, parameters, identity (`None` removes it); new version. */
  private patchWorkflow(ctx: Ctx, r: StoredResource): void {
    const b = body(ctx);
    const p = isObj(b.properties) ? b.properties : {};
    if (isObj(b.tags)) r.tags = b.tags as Record<string, string>;
    if (typeof p.state === 'string') props(r).state = p.state;
    if (p.definition !== undefined) props(r).definition = validateDefinition(p.definition);
    if (isObj(p.parameters)) props(r).parameters = p.parameters;
    if (isObj(b.identity)) {
      if (/^none$/i.test(String(b.identity.type ?? ''))) delete r.identity;
      else r.identity = { ...(isObj(r.identity) ? r.identity : {}), ...b.identity };
      registerIdentity(this.deps, r);
    }
    props(r).changedTime = logicTime();
    props(r).version = newVersion();
    this.deps.store.changed();
    send(ctx, 200, this.workflowBody(r, ctx.baseUrl));
  }

  /**
   * `.../workflows/{wf}/triggers[/{t}[/listCallbackUrl|run|histories]]` (`rest` = segments after "triggers").
   * listCallbackUrl: Request triggers only (400 WorkflowTriggerListCallbackUrlNotSupported); run: any
   * trigger, 202 + x-ms-workflow-run-id (409 WorkflowDisabled); 404 WorkflowTriggerNotFound.
   */
  private armTriggers(ctx: Ctx, sub: Subscription, rg: ResourceGroup, r: StoredResource, rest: string[]): void {
    const m = ctx.method;
    if (rest.length === 0) {
      if (m !== 'GET') throw methodNotAllowed(m);
      return send(ctx, 200, { value: Object.entries(triggersOf(r)).map(([n, t]) => this.triggerBody(r, n, t)) });
    }
    const t = findTrigger(r, rest[0]);
    if (!t) throw armError(404, 'WorkflowTriggerNotFound', `The workflow '${r.name}' trigger '${rest[0].slice(0, 80)}' could not be found.`);
    const [tname, tdef] = t;
    if (rest.length === 1) {
      if (m !== 'GET') throw methodNotAllowed(m);
      return send(ctx, 200, this.triggerBody(r, tname, tdef));
    }
    const op = rest[1].toLowerCase();
    if (rest.length === 2 && op === 'listcallbackurl' && m === 'POST') {
      if (!isRequestTrigger(tdef)) {
        throw armError(400, 'WorkflowTriggerListCallbackUrlNotSupported', `The 'ListCallbackUrl' API is not supported by triggers of type '${String(tdef.type)}'.`);
      }
      return send(ctx, 200, this.signer.callbackInfo(ctx.baseUrl, r, tname, tdef));
    }
    if (rest.length === 2 && op === 'run' && m === 'POST') {
      if (!isEnabled(r)) throw armError(409, 'WorkflowDisabled', `The workflow '${r.name}' is disabled. Enable it before running its trigger.`);
      let fired: { runs: Array<{ run: { name: string; correlationId: string } }>; split: boolean };
      try {
        fired = this.runs.fire({ sub, rg, r }, tname, { headers: {}, body: null }, ctx.correlationId, 0);
      } catch (e) {
        if (e instanceof WorkflowError) throw armError(400, e.code, e.message);
        throw e;
      }
      const s = fired.runs[0];
      return send(ctx, 202, undefined, { ...(s ? { 'x-ms-workflow-run-id': s.run.name } : {}), 'x-ms-correlation-id': ctx.correlationId, 'x-ms-workflow-name': r.name });
    }
    if (rest.length === 2 && op === 'histories' && m === 'GET') {
      const value = this.runs
        .list(r)
        .filter((s) => ciEq(s.run.trigger.name, tname))
        .map((s) => ({
          id: `${r.id}/triggers/${tname}/histories/${s.run.name}`,
          name: s.run.name,
          type: 'Microsoft.Logic/workflows/triggers/histories',
          properties: { startTime: s.run.trigger.startTime, endTime: s.run.trigger.endTime, status: s.run.trigger.status, code: s.run.trigger.code, trackingId: s.run.trigger.trackingId, correlation: { clientTrackingId: s.run.clientTrackingId }, fired: true, run: { id: `${r.id}/runs/${s.run.name}`, name: s.run.name, type: 'Microsoft.Logic/workflows/runs' } },
        }));
      return send(ctx, 200, { value });
    }
    throw armError(404, 'InvalidResourceType', `The resource type 'workflows/triggers/${rest.slice(1).join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Logic'.`);
  }
}
