import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Ctx } from '../http';
import { header, isObject, jsonBody, send } from '../http';
import { armError, ArmHttpError } from '../arm/errors';
import { audienceFor, hashSecret, liveSigningKeys, signAccessToken, type SigningKeys } from '../entra';
import type { AppClient, EmulatorState, ResourceGroup, StateStore, StoredResource, Subscription } from '../state';
import { WorkflowError } from './engine/errors';
import { decodeBody, performHttp, rawRequest } from './engine/http';
import { isObj } from './engine/functions';
import { logicTime, redactHeaders, responseMode, WorkflowRun, type ActionRecord, type HttpAnswer, type RunServices } from './engine/runner';
import { validateSchema } from './engine/schema';

/** Settings of the Logic Apps emulation (GET/PUT /_emulator/logic/settings). */
export interface LogicSettings {
  /** How long a callback caller waits for a synchronous Response, seconds (Azure: 120). */
  syncResponseTimeoutSeconds: number;
  /** Longest Wait action accepted, seconds (longer waits fail the action with UnsupportedByEmulator). */
  maxWaitSeconds: number;
  /** Let Http actions call non-loopback hosts (default false: only the emulator itself and localhost services). */
  allowExternalHttp: boolean;
  /** Runs kept per workflow (oldest finished ones are dropped). */
  runsPerWorkflow: number;
}

/** Defaults: 120 s sync timeout (Azure's), 60 s max Wait, loopback-only HTTP, 100 runs per workflow. */
export const DEFAULT_LOGIC_SETTINGS: LogicSettings = { syncResponseTimeoutSeconds: 120, maxWaitSeconds: 60, allowExternalHttp: false, runsPerWorkflow: 100 };

/** The callback API version the emulator signs URLs with (what Azure puts in callback URLs). */
export const CALLBACK_API_VERSION = '2016-10-01';

/** Path prefix of the emulated Logic Apps endpoint (real host: prod-NN.{region}.logic.azure.com). */
export const LOGIC_PREFIX = 'logicapps';

const WORKFLOW_TYPE = 'microsoft.logic/workflows';
const MAX_CALL_DEPTH = 20;

/** Dependencies of the Logic Apps emulation. */
export interface LogicDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  caCertPem: string;
  /** Base URL the emulator can call itself on, e.g. https://localhost:8443. */
  selfUrl: () => string;
  log: (msg: string, extra?: object) => void;
}

/** Persisted per-workflow access keys (state.logic), by lower-case workflow resource id. */
interface LogicState {
  accessKeys: Record<string, { key: string; boundTo?: string }>;
}

interface StoredRun {
  run: WorkflowRun;
  subscriptionId: string;
  resourceGroup: string;
  workflowName: string;
  workflowResourceId: string;
  accessId: string;
  version: string;
  depth: number;
}

interface Located {
  sub: Subscription;
  rg: ResourceGroup;
  r: StoredResource;
}

function ciEq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function isWorkflow(r: StoredResource): boolean {
  return r.type.toLowerCase() === WORKFLOW_TYPE;
}

function props(r: StoredResource): Record<string, unknown> {
  return r.properties;
}

function definitionOf(r: StoredResource): Record<string, unknown> {
  const d = props(r).definition;
  return isObj(d) ? d : {};
}

function triggersOf(r: StoredResource): Record<string, Record<string, unknown>> {
  const t = definitionOf(r).triggers;
  const out: Record<string, Record<string, unknown>> = {};
  if (isObj(t)) for (const [k, v] of Object.entries(t)) if (isObj(v)) out[k] = v;
  return out;
}

function findTrigger(r: StoredResource, name: string): [string, Record<string, unknown>] | undefined {
  return Object.entries(triggersOf(r)).find(([k]) => ciEq(k, name));
}

/** Workflow version id like Logic Apps' ("08584..." 20 digits, increasing). */
function newVersion(): string {
  return `0858${String(9_999_999_999_999 - Date.now()).padStart(13, '0')}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`.slice(0, 20);
}

/** Run name like Logic Apps' (newest sort first): "08584" + reverse ticks + "CU" + 2 digits. */
function newRunName(): string {
  const rev = String(9_999_999_999_999 - Date.now()).padStart(13, '0');
  return `08584${rev}${randomBytes(3).readUIntBE(0, 3).toString().padStart(8, '0')}CU${String(Math.floor(Math.random() * 100)).padStart(2, '0')}`;
}

function sendRaw(ctx: Ctx, status: number, headers: Record<string, string>, body: unknown): void {
  const { res } = ctx;
  if (res.headersSent || res.writableEnded) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const hasCt = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  let buf: Buffer | undefined;
  if (body === null || body === undefined) buf = undefined;
  else if (typeof body === 'string') {
    buf = Buffer.from(body, 'utf8');
    if (!hasCt) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  } else if (isObj(body) && typeof body.$content === 'string' && typeof body['$content-type'] === 'string') {
    buf = Buffer.from(body.$content, 'base64');
    if (!hasCt) res.setHeader('Content-Type', body['$content-type']);
  } else {
    buf = Buffer.from(JSON.stringify(body), 'utf8');
    if (!hasCt) res.setHeader('Content-Type', 'application/json; charset=utf-8');
  }
  res.statusCode = status;
  res.setHeader('Content-Length', String(buf?.length ?? 0));
  res.end(buf);
}

function logicError(ctx: Ctx, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendRaw(ctx, status, headers, { error: { code, message } });
}

/**
 * Azure Logic Apps (Consumption) emulation: `Microsoft.Logic/workflows` resources (stored in the
 * resource group like every ARM resource), the workflow REST API under ARM (triggers,
 * listCallbackUrl, runs, run actions, enable/disable), the signed callback endpoint
 * (`/logicapps/workflows/{id}/triggers/{t}/paths/invoke?api-version&sp&sv&sig`) with synchronous and
 * asynchronous Response, and the run engine (engine/runner.ts). Runs live in memory.
 * Sources: Logic Apps REST API 2019-05-01 (Workflows, Workflow Triggers, Workflow Runs, Workflow Run
 * Actions), "Call, trigger, or nest logic apps by using HTTPS endpoints" (callback URL, sync/async Response).
 */
export class LogicService {
  readonly settings: LogicSettings = { ...DEFAULT_LOGIC_SETTINGS };
  private readonly runs = new Map<string, StoredRun[]>();
  private closed = false;

  constructor(private readonly deps: LogicDeps) {}

  /** Cancels every running run (emulator shutdown). */
  close(): void {
    this.closed = true;
    for (const list of this.runs.values()) for (const r of list) r.run.cancel();
  }

  // ---------------------------------------------------------------- keys and ids

  private logicState(): LogicState {
    const s = this.deps.state as EmulatorState & { logic?: LogicState };
    s.logic ??= { accessKeys: {} };
    return s.logic;
  }

  /** Public id of a workflow in callback URLs (32 hex; changes when the workflow is recreated). */
  accessId(r: StoredResource): string {
    return this.accessIdFor(r.id, this.accessKey(r.id, r));
  }

  private accessIdFor(resourceId: string, key: Buffer): string {
    return createHash('sha256').update(resourceId.toLowerCase()).update(key).digest('hex').slice(0, 32);
  }

  /**
   * The workflow's access key (HMAC key of callback signatures). Created on first use; bound to the
   * workflow's createdTime so a recreated workflow gets a new key (old callback URLs stop working).
   */
  private accessKey(resourceId: string, r: StoredResource | undefined): Buffer {
    const ks = this.logicState().accessKeys;
    const k = resourceId.toLowerCase();
    const ct = r ? String(props(r).createdTime ?? '') : undefined;
    let rec = ks[k];
    if (!rec || (ct && rec.boundTo && rec.boundTo !== ct) || (!r && rec.boundTo)) {
      rec = { key: randomBytes(32).toString('base64'), ...(ct ? { boundTo: ct } : {}) };
      ks[k] = rec;
      this.deps.store.changed();
    } else if (ct && !rec.boundTo) {
      rec.boundTo = ct;
      this.deps.store.changed();
    }
    return Buffer.from(rec.key, 'base64');
  }

  private sign(key: Buffer, accessId: string, sp: string, sv: string): string {
    return createHmac('sha256', key).update(`${accessId}\n${sp.toLowerCase()}\n${sv}`).digest('base64url');
  }

  private checkSig(ctx: Ctx, key: Buffer, accessId: string, expectedSp: string): boolean {
    const sp = ctx.query.get('sp');
    const sv = ctx.query.get('sv');
    const sig = ctx.query.get('sig');
    if (!sp || !sv || !sig) {
      logicError(ctx, 401, 'DirectApiAuthorizationRequired', 'The request must be authenticated only by Shared Access scheme.');
      return false;
    }
    const want = Buffer.from(this.sign(key, accessId, sp, sv));
    const got = Buffer.from(sig);
    if (!ciEq(sp, expectedSp) || want.length !== got.length || !timingSafeEqual(want, got)) {
      logicError(ctx, 401, 'DirectApiInvalidAuthorizationSignature', 'The provided authorization signature (sig) is not valid for this request. Get a new callback URL with listCallbackUrl.');
      return false;
    }
    return true;
  }

  private signedUrl(base: string, path: string, key: Buffer, accessId: string, sp: string): string {
    const sig = this.sign(key, accessId, sp, '1.0');
    return `${base}/${LOGIC_PREFIX}/workflows/${accessId}${path}?api-version=${CALLBACK_API_VERSION}&sp=${encodeURIComponent(sp)}&sv=1.0&sig=${sig}`;
  }

  /** listCallbackUrl answer (`WorkflowTriggerCallbackUrl`) for a Request trigger. */
  callbackInfo(base: string, r: StoredResource, triggerName: string, tdef: Record<string, unknown>): Record<string, unknown> {
    const stored = this.locateByName(r.subscriptionId, r.resourceGroupName, r.name)?.r === r;
    const key = this.accessKey(r.id, stored ? r : undefined);
    const accessId = this.accessIdFor(r.id, key);
    const sp = `/triggers/${triggerName}/run`;
    const sig = this.sign(key, accessId, sp, '1.0');
    const inputs = isObj(tdef.inputs) ? tdef.inputs : {};
    const rel = typeof inputs.relativePath === 'string' ? inputs.relativePath.replace(/^\/+/, '') : '';
    const basePath = `${base}/${LOGIC_PREFIX}/workflows/${accessId}/triggers/${triggerName}/paths/invoke`;
    const query = `api-version=${CALLBACK_API_VERSION}&sp=${encodeURIComponent(sp)}&sv=1.0&sig=${sig}`;
    return {
      value: `${basePath}${rel ? `/${rel}` : ''}?${query}`,
      method: typeof inputs.method === 'string' ? inputs.method.toUpperCase() : 'POST',
      basePath,
      ...(rel ? { relativePath: rel, relativePathParameters: [...rel.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]) } : {}),
      queries: { 'api-version': CALLBACK_API_VERSION, sp, sv: '1.0', sig },
    };
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
    const stored = this.locateByName(subId, rgName, wfName)?.r;
    const decl = declared(id);
    const r: StoredResource = stored ?? { id, type: 'Microsoft.Logic/workflows', name: wfName, properties: { definition: decl ? definitionOf(decl) : {} }, resourceGroupName: rgName, subscriptionId: subId };
    const src = decl ?? r;
    const t = findTrigger(src, trig) ?? findTrigger(r, trig);
    return this.callbackInfo(baseUrl, r, t?.[0] ?? trig, t?.[1] ?? {});
  }

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
    this.registerIdentity(next);
    this.accessKey(next.id, next);
  }

  // ---------------------------------------------------------------- lookup

  private locateByName(subId: string, rgName: string, name: string): Located | undefined {
    const sub = this.deps.state.subscriptions[subId.toLowerCase()];
    const rg = sub?.resourceGroups[rgName.toLowerCase()];
    const r = rg?.resources.find((x) => isWorkflow(x) && ciEq(x.name, name));
    return sub && rg && r ? { sub, rg, r } : undefined;
  }

  private locateByAccessId(accessId: string): Located | undefined {
    for (const sub of Object.values(this.deps.state.subscriptions)) {
      for (const rg of Object.values(sub.resourceGroups)) {
        if (rg.provisioningState === 'Deleting') continue;
        for (const r of rg.resources) if (isWorkflow(r) && this.accessId(r) === accessId.toLowerCase()) return { sub, rg, r };
      }
    }
    return undefined;
  }

  /** Registers the system-assigned identity (a service principal in the subscription's tenant) so tokens can be minted for it. */
  private registerIdentity(r: StoredResource): void {
    const id = isObj(r.identity) ? r.identity : undefined;
    if (!id || !String(id.type ?? '').toLowerCase().includes('systemassigned')) return;
    const sub = this.deps.state.subscriptions[r.subscriptionId.toLowerCase()];
    if (typeof id.principalId !== 'string') id.principalId = randomUUID();
    if (typeof id.tenantId !== 'string') id.tenantId = sub?.tenantId ?? this.deps.state.serviceTenantId;
    const principalId = String(id.principalId);
    const appId = this.msiAppId(principalId);
    if (!this.deps.state.clients[appId]) {
      const client: AppClient = { clientId: appId, objectId: principalId, tenantId: id.tenantId as string, displayName: r.name, kind: 'client', secretSha256: hashSecret(randomBytes(32).toString('base64')), roles: [], keyVaultAccess: false };
      this.deps.state.clients[appId] = client;
      this.deps.store.changed();
    }
  }

  private msiAppId(principalId: string): string {
    const h = createHash('sha256').update(`msi:${principalId}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

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
        accessEndpoint: `${base}/${LOGIC_PREFIX}/workflows/${this.accessId(r)}`,
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

  private triggerBody(r: StoredResource, name: string, tdef: Record<string, unknown>): Record<string, unknown> {
    const last = this.listRuns(r).find((x) => ciEq(x.run.trigger.name, name));
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

  private contentLink(uri: string, content: unknown): Record<string, unknown> {
    const text = JSON.stringify(content ?? null);
    return { uri, contentVersion: createHash('md5').update(text).digest('base64'), contentSize: Buffer.byteLength(text), contentHash: { algorithm: 'md5', value: createHash('md5').update(text).digest('base64') } };
  }

  private runBody(s: StoredRun, r: StoredResource, base: string): Record<string, unknown> {
    const run = s.run;
    const key = this.accessKey(r.id, r);
    const link = (path: string, sp: string, content: unknown): Record<string, unknown> => this.contentLink(this.signedUrl(base, path, key, s.accessId, sp), content);
    const trig = run.trigger;
    return {
      id: `${s.workflowResourceId}/runs/${run.name}`,
      name: run.name,
      type: 'Microsoft.Logic/workflows/runs',
      properties: {
        waitEndTime: run.startTime,
        startTime: run.startTime,
        ...(run.endTime ? { endTime: run.endTime } : {}),
        status: run.status,
        ...(run.error ? { code: run.error.code, error: run.error } : {}),
        correlationId: run.correlationId,
        correlation: { clientTrackingId: run.clientTrackingId },
        workflow: { id: `${s.workflowResourceId}/versions/${s.version}`, name: s.version, type: 'Microsoft.Logic/workflows/versions' },
        trigger: {
          name: trig.name,
          outputsLink: link(`/runs/${run.name}/contents/TriggerOutputs`, `/runs/${run.name}/contents/TriggerOutputs/read`, trig.outputs),
          startTime: trig.startTime,
          endTime: trig.endTime,
          trackingId: trig.trackingId,
          correlation: { clientTrackingId: run.clientTrackingId },
          code: trig.code,
          status: trig.status,
        },
        outputs: run.outputs,
        ...(run.responseSent ? { response: { startTime: run.startTime, correlation: { clientTrackingId: run.clientTrackingId }, code: String(run.responseSent.statusCode), status: 'Succeeded' } } : {}),
      },
    };
  }

  private actionBody(s: StoredRun, r: StoredResource, a: ActionRecord, base: string): Record<string, unknown> {
    const key = this.accessKey(r.id, r);
    const link = (kind: string, content: unknown): Record<string, unknown> =>
      this.contentLink(this.signedUrl(base, `/runs/${s.run.name}/actions/${a.name}/contents/${kind}`, key, s.accessId, `/runs/${s.run.name}/actions/${a.name}/contents/${kind}/read`), content);
    return {
      id: `${s.workflowResourceId}/runs/${s.run.name}/actions/${a.name}`,
      name: a.name,
      type: 'Microsoft.Logic/workflows/runs/actions',
      properties: {
        startTime: a.startTime,
        ...(a.endTime ? { endTime: a.endTime } : {}),
        status: a.status,
        ...(a.code ? { code: a.code } : {}),
        ...(a.error ? { error: a.error } : {}),
        trackingId: a.trackingId,
        correlation: { actionTrackingId: a.trackingId, clientTrackingId: s.run.clientTrackingId },
        ...(a.inputs !== undefined ? { inputsLink: link('ActionInputs', a.inputs) } : {}),
        ...(a.outputs !== undefined ? { outputsLink: link('ActionOutputs', a.outputs) } : {}),
      },
    };
  }

  private listRuns(r: StoredResource): StoredRun[] {
    return this.runs.get(r.id.toLowerCase()) ?? [];
  }

  // ---------------------------------------------------------------- ARM API

  /**
   * Handles `.../resourceGroups/{rg}/providers/Microsoft.Logic/workflows[/{wf}[/...]]` after the ARM
   * engine authenticated, authorized and throttled the call. `rest` = path segments after "workflows".
   * Throws ArmHttpError (rendered by the ARM engine).
   */
  async handleArm(ctx: Ctx, sub: Subscription, rg: ResourceGroup, rest: string[]): Promise<void> {
    const m = ctx.method;
    const base = ctx.baseUrl;
    if (rest.length === 0) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
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
          delete this.logicState().accessKeys[r.id.toLowerCase()];
          for (const s of this.listRuns(r)) s.run.cancel();
          this.runs.delete(r.id.toLowerCase());
          this.deps.store.changed();
          this.deps.log('logic workflow deleted', { subscriptionId: sub.id, resourceGroup: rg.name, workflow: r.name });
          return send(ctx, 200);
        default:
          throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      }
    }
    if (!r) throw notFound();
    const sub1 = rest[1].toLowerCase();
    if (rest.length === 2 && (sub1 === 'disable' || sub1 === 'enable')) {
      if (m !== 'POST') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      props(r).state = sub1 === 'disable' ? 'Disabled' : 'Enabled';
      props(r).changedTime = logicTime();
      this.deps.store.changed();
      return send(ctx, 200);
    }
    if (sub1 === 'triggers') return this.armTriggers(ctx, sub, rg, r, rest.slice(2));
    if (sub1 === 'runs') return this.armRuns(ctx, r, rest.slice(2));
    throw armError(404, 'InvalidResourceType', `The resource type 'workflows/${rest.slice(1).join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Logic'.`);
  }

  /** `GET /subscriptions/{s}/providers/Microsoft.Logic/workflows`: every workflow of the subscription. */
  listBySubscription(ctx: Ctx, sub: Subscription): void {
    const value = Object.values(sub.resourceGroups).flatMap((rg) => rg.resources.filter(isWorkflow).map((r) => this.workflowBody(r, ctx.baseUrl)));
    send(ctx, 200, { value });
  }

  private body(ctx: Ctx): Record<string, unknown> {
    let parsed: unknown;
    try {
      parsed = jsonBody(ctx);
    } catch (e) {
      throw armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${String((e as Error).message).slice(0, 200)}'.`);
    }
    if (!isObject(parsed)) throw armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: a JSON object is expected.');
    return parsed;
  }

  private validateDefinition(def: unknown): Record<string, unknown> {
    if (!isObj(def)) throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'properties.definition' must be a workflow definition object.");
    if (def.triggers !== undefined && !isObj(def.triggers)) throw armError(400, 'InvalidWorkflowDefinition', "The workflow definition property 'triggers' must be an object.");
    if (def.actions !== undefined && !isObj(def.actions)) throw armError(400, 'InvalidWorkflowDefinition', "The workflow definition property 'actions' must be an object.");
    if (isObj(def.triggers) && Object.keys(def.triggers).length > 10) throw armError(400, 'WorkflowTriggersLimitExceeded', 'A workflow can have at most 10 triggers.');
    return def;
  }

  private putWorkflow(ctx: Ctx, sub: Subscription, rg: ResourceGroup, name: string, existing: StoredResource | undefined): void {
    const body = this.body(ctx);
    if (!/^[-\w._()]{1,80}$/.test(name)) throw armError(400, 'InvalidResourceName', `The resource name '${name.slice(0, 100)}' is invalid. It can contain letters, digits, '-', '.', '_', '(', ')' and be at most 80 characters long.`);
    if (typeof body.location !== 'string' || !body.location) throw armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const p = isObj(body.properties) ? body.properties : {};
    const def = this.validateDefinition(p.definition);
    const id = existing?.id ?? `/subscriptions/${sub.id}/resourceGroups/${rg.name}/providers/Microsoft.Logic/workflows/${name}`;
    const state = typeof p.state === 'string' ? p.state : 'Enabled';
    const r: StoredResource = {
      id,
      type: 'Microsoft.Logic/workflows',
      name: existing?.name ?? name,
      apiVersion: ctx.query.get('api-version') ?? '2019-05-01',
      location: body.location.replace(/\s+/g, '').toLowerCase(),
      ...(isObj(body.tags) ? { tags: body.tags as Record<string, string> } : {}),
      ...(isObj(body.identity) && !/^none$/i.test(String(body.identity.type ?? '')) ? { identity: { ...body.identity } } : {}),
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

  private patchWorkflow(ctx: Ctx, r: StoredResource): void {
    const body = this.body(ctx);
    const p = isObj(body.properties) ? body.properties : {};
    if (isObj(body.tags)) r.tags = body.tags as Record<string, string>;
    if (typeof p.state === 'string') props(r).state = p.state;
    if (p.definition !== undefined) props(r).definition = this.validateDefinition(p.definition);
    if (isObj(p.parameters)) props(r).parameters = p.parameters;
    if (isObj(body.identity)) {
      if (/^none$/i.test(String(body.identity.type ?? ''))) delete r.identity;
      else r.identity = { ...(isObj(r.identity) ? r.identity : {}), ...body.identity };
      this.registerIdentity(r);
    }
    props(r).changedTime = logicTime();
    props(r).version = newVersion();
    this.deps.store.changed();
    send(ctx, 200, this.workflowBody(r, ctx.baseUrl));
  }

  private armTriggers(ctx: Ctx, sub: Subscription, rg: ResourceGroup, r: StoredResource, rest: string[]): void {
    const m = ctx.method;
    if (rest.length === 0) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      return send(ctx, 200, { value: Object.entries(triggersOf(r)).map(([n, t]) => this.triggerBody(r, n, t)) });
    }
    const t = findTrigger(r, rest[0]);
    if (!t) throw armError(404, 'WorkflowTriggerNotFound', `The workflow '${r.name}' trigger '${rest[0].slice(0, 80)}' could not be found.`);
    const [tname, tdef] = t;
    if (rest.length === 1) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      return send(ctx, 200, this.triggerBody(r, tname, tdef));
    }
    const op = rest[1].toLowerCase();
    if (rest.length === 2 && op === 'listcallbackurl' && m === 'POST') {
      const type = String(tdef.type ?? '').toLowerCase();
      if (type !== 'request' && type !== 'manual') {
        throw armError(400, 'WorkflowTriggerListCallbackUrlNotSupported', `The 'ListCallbackUrl' API is not supported by triggers of type '${String(tdef.type)}'.`);
      }
      return send(ctx, 200, this.callbackInfo(ctx.baseUrl, r, tname, tdef));
    }
    if (rest.length === 2 && op === 'run' && m === 'POST') {
      if (String(props(r).state ?? 'Enabled').toLowerCase() !== 'enabled') throw armError(409, 'WorkflowDisabled', `The workflow '${r.name}' is disabled. Enable it before running its trigger.`);
      const s = this.startRun({ sub, rg, r }, tname, { headers: {}, body: null }, ctx.correlationId, 0);
      return send(ctx, 202, undefined, { 'x-ms-workflow-run-id': s.run.name, 'x-ms-correlation-id': s.run.correlationId, 'x-ms-workflow-name': r.name });
    }
    if (rest.length === 2 && op === 'histories' && m === 'GET') {
      const value = this.listRuns(r)
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

  private armRuns(ctx: Ctx, r: StoredResource, rest: string[]): void {
    const m = ctx.method;
    const base = ctx.baseUrl;
    if (rest.length === 0) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      let list = this.listRuns(r);
      const filter = ctx.query.get('$filter');
      if (filter) {
        const f = /^\s*status\s+eq\s+'(\w+)'\s*$/i.exec(filter);
        if (!f) throw armError(400, 'InvalidFilter', `The filter '${filter.slice(0, 100)}' is not supported by the emulator (supported: status eq 'X').`);
        list = list.filter((s) => ciEq(s.run.status, f[1]));
      }
      const top = Number(ctx.query.get('$top') ?? 0);
      if (top > 0) list = list.slice(0, top);
      return send(ctx, 200, { value: list.map((s) => this.runBody(s, r, base)) });
    }
    const s = this.listRuns(r).find((x) => ciEq(x.run.name, rest[0]));
    if (!s) throw armError(404, 'WorkflowRunNotFound', `The workflow '${r.name}' run '${rest[0].slice(0, 80)}' could not be found.`);
    if (rest.length === 1) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      return send(ctx, 200, this.runBody(s, r, base));
    }
    const op = rest[1].toLowerCase();
    if (rest.length === 2 && op === 'cancel' && m === 'POST') {
      if (!s.run.cancel()) throw armError(409, 'WorkflowRunNotInProgress', `The workflow run '${s.run.name}' cannot be cancelled because it is in state '${s.run.status}'.`);
      return send(ctx, 200);
    }
    if (op === 'actions' && m === 'GET') {
      if (rest.length === 2) return send(ctx, 200, { value: [...s.run.actions.values()].map((a) => this.actionBody(s, r, a, base)) });
      const a = [...s.run.actions.values()].find((x) => ciEq(x.name, rest[2]));
      if (!a || rest.length > 3) throw armError(404, 'WorkflowRunActionNotFound', `The workflow run action '${rest[2].slice(0, 80)}' could not be found.`);
      return send(ctx, 200, this.actionBody(s, r, a, base));
    }
    throw armError(404, 'InvalidResourceType', `The resource type 'workflows/runs/${rest.slice(1).join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Logic'.`);
  }

  // ---------------------------------------------------------------- runs

  private startRun(loc: Located, triggerName: string, triggerOutputs: Record<string, unknown>, correlationId: string, depth: number): StoredRun {
    const { sub, rg, r } = loc;
    const runName = newRunName();
    const services: RunServices = {
      http: (req, signal) =>
        performHttp(req, signal, {
          caCertPem: this.deps.caCertPem,
          allowExternal: () => this.settings.allowExternalHttp,
          managedIdentityToken: (audience) => this.managedIdentityToken(r, audience),
          clientCredentialsToken: (tenant, clientId, secret, audience) => this.clientCredentialsToken(tenant, clientId, secret, audience),
        }),
      invokeWorkflow: (workflowId, trig, body, headers) => this.invokeWorkflow(workflowId, trig, body, headers, depth + 1),
      callbackUrl: (t) => String(this.callbackInfo(this.deps.selfUrl(), r, t, findTrigger(r, t)?.[1] ?? {}).value),
      maxWaitMs: this.settings.maxWaitSeconds * 1000,
    };
    const run = new WorkflowRun(
      {
        workflow: { id: r.id, name: r.name, type: 'Microsoft.Logic/workflows', location: r.location, tags: r.tags },
        definition: definitionOf(r),
        parameters: isObj(props(r).parameters) ? (props(r).parameters as Record<string, unknown>) : {},
        triggerName,
        triggerOutputs,
        runName,
        correlationId,
      },
      services,
    );
    const stored: StoredRun = { run, subscriptionId: sub.id, resourceGroup: rg.name, workflowName: r.name, workflowResourceId: r.id, accessId: this.accessId(r), version: String(props(r).version ?? ''), depth };
    const k = r.id.toLowerCase();
    const list = [stored, ...(this.runs.get(k) ?? [])];
    while (list.length > this.settings.runsPerWorkflow) {
      const i = list.map((x) => x.run.isTerminal()).lastIndexOf(true);
      if (i < 0) break;
      list.splice(i, 1);
    }
    this.runs.set(k, list);
    this.deps.log('logic run started', { subscriptionId: sub.id, resourceGroup: rg.name, workflow: r.name, run: runName, trigger: triggerName });
    void run.done.then(() => this.deps.log('logic run finished', { workflow: r.name, run: runName, status: run.status, ...(run.error ? { error: run.error.code } : {}) }));
    return stored;
  }

  private async managedIdentityToken(r: StoredResource, audience: string): Promise<string> {
    const id = isObj(r.identity) ? r.identity : undefined;
    if (!id || !String(id.type ?? '').toLowerCase().includes('systemassigned') || typeof id.principalId !== 'string') {
      throw new WorkflowError('BadRequest', `The workflow '${r.name}' has no system-assigned managed identity: set "identity": {"type": "SystemAssigned"} to use ManagedServiceIdentity authentication (user-assigned identities are not supported by the local emulator).`);
    }
    this.registerIdentity(r);
    const client = this.deps.state.clients[this.msiAppId(id.principalId)];
    const keys = liveSigningKeys(this.deps.state) ?? this.deps.keys;
    return signAccessToken(keys, client, audienceFor(audience.replace(/\/\.default$/, '')));
  }

  private async clientCredentialsToken(tenant: string, clientId: string, secret: string, audience: string): Promise<string> {
    const u = new URL(`${this.deps.selfUrl()}/${encodeURIComponent(tenant)}/oauth2/token`);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, resource: audience }).toString();
    const ac = new AbortController();
    const res = await rawRequest(u, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form), 30_000, ac.signal, this.deps.caCertPem).catch((e: Error) => {
      throw new WorkflowError('BadGateway', `The token request to the emulator failed: ${e.message}`);
    });
    const body = decodeBody('application/json', res.body);
    if (res.status !== 200 || !isObj(body) || typeof body.access_token !== 'string') {
      const desc = isObj(body) && typeof body.error_description === 'string' ? body.error_description.split(' Trace ID')[0] : `HTTP ${res.status}`;
      throw new WorkflowError('Unauthorized', `Could not obtain a token for audience '${audience}' with ActiveDirectoryOAuth: ${desc}`);
    }
    return body.access_token;
  }

  private async invokeWorkflow(workflowId: string, triggerName: string, body: unknown, headers: Record<string, string>, depth: number): Promise<HttpAnswer> {
    if (depth > MAX_CALL_DEPTH) throw new WorkflowError('WorkflowCallDepthExceeded', `Workflows called each other more than ${MAX_CALL_DEPTH} levels deep (emulator limit).`);
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Logic\/workflows\/([^/]+)\/?$/i.exec(workflowId);
    const loc = m ? this.locateByName(m[1], m[2], m[3]) : undefined;
    if (!loc) throw new WorkflowError('WorkflowNotFound', `The workflow '${workflowId.slice(0, 300)}' could not be found.`);
    if (String(props(loc.r).state ?? 'Enabled').toLowerCase() !== 'enabled') return { statusCode: 409, headers: {}, body: { error: { code: 'WorkflowDisabled', message: `The workflow '${loc.r.name}' is disabled.` } } };
    const t = findTrigger(loc.r, triggerName);
    if (!t || !['request', 'manual'].includes(String(t[1].type ?? '').toLowerCase())) throw new WorkflowError('WorkflowTriggerNotFound', `The workflow '${loc.r.name}' has no Request trigger '${triggerName}'.`);
    const s = this.startRun(loc, t[0], { headers: { 'Content-Type': 'application/json', ...headers }, body }, randomUUID(), depth);
    const mode = responseMode(definitionOf(loc.r));
    const hdrs = { 'x-ms-workflow-run-id': s.run.name, 'x-ms-workflow-name': loc.r.name };
    if (mode !== 'sync') return { statusCode: 202, headers: hdrs, body: null };
    const answer = await this.awaitResponse(s);
    if (answer === 'timeout') return { statusCode: 504, headers: hdrs, body: { error: { code: 'GatewayTimeout', message: 'The called workflow did not respond in time.' } } };
    if (!answer) return { statusCode: 502, headers: hdrs, body: { error: { code: 'NoResponse', message: 'The called workflow ended without running a Response action.' } } };
    return { statusCode: answer.statusCode, headers: { ...answer.headers, ...hdrs }, body: answer.body };
  }

  private awaitResponse(s: StoredRun): Promise<HttpAnswer | undefined | 'timeout'> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        s.run.responseTimedOut = true;
        resolve('timeout');
      }, this.settings.syncResponseTimeoutSeconds * 1000);
      t.unref?.();
      void s.run.waitForResponse().then((a) => {
        clearTimeout(t);
        resolve(a);
      });
    });
  }

  // ---------------------------------------------------------------- callback endpoint

  /**
   * Handles the signed endpoints under `/logicapps/workflows/{accessId}/`:
   * - `triggers/{t}/paths/invoke[/{relative path}]` — fires a Request trigger (any method the trigger allows);
   * - `runs/{run}/operations/{op}` — Location of an asynchronous Response (202 until the Response ran);
   * - `runs/{run}/contents/TriggerOutputs`, `runs/{run}/actions/{a}/contents/ActionInputs|ActionOutputs` — run history content links.
   * Answers Logic Apps-style errors `{error: {code, message}}`; never logs the signature.
   */
  async handleCallback(ctx: Ctx): Promise<void> {
    const s = ctx.segments;
    ctx.res.setHeader('x-ms-request-id', ctx.requestId);
    if (s.length < 4 || s[1].toLowerCase() !== 'workflows') return logicError(ctx, 404, 'NotFound', 'The requested Logic Apps endpoint does not exist.');
    const accessId = s[2].toLowerCase();
    const loc = this.locateByAccessId(accessId);
    if (!loc) return logicError(ctx, 404, 'WorkflowNotFound', `The workflow '${accessId.slice(0, 40)}' could not be found.`);
    const key = this.accessKey(loc.r.id, loc.r);
    const kind = s[3].toLowerCase();
    if (kind === 'triggers' && s.length >= 7 && s[5].toLowerCase() === 'paths' && s[6].toLowerCase() === 'invoke') {
      if (!this.checkSig(ctx, key, accessId, `/triggers/${s[4]}/run`)) return;
      return this.invoke(ctx, loc, s[4], s.slice(7));
    }
    if (kind === 'runs' && s.length >= 5) {
      const stored = this.listRuns(loc.r).find((x) => ciEq(x.run.name, s[4]));
      const rest = s.slice(5).join('/');
      if (!this.checkSig(ctx, key, accessId, `/runs/${s[4]}/${rest}/read`)) return;
      if (!stored) return logicError(ctx, 404, 'WorkflowRunNotFound', `The workflow run '${s[4].slice(0, 80)}' could not be found.`);
      if (s[5]?.toLowerCase() === 'operations' && s.length === 7) return this.pollAsync(ctx, loc, stored, key);
      if (s[5]?.toLowerCase() === 'contents' && s[6]?.toLowerCase() === 'triggeroutputs') return sendRaw(ctx, 200, {}, sanitizeTriggerOutputs(stored.run.trigger.outputs));
      if (s[5]?.toLowerCase() === 'actions' && s[7]?.toLowerCase() === 'contents') {
        const a = [...stored.run.actions.values()].find((x) => ciEq(x.name, s[6]));
        if (!a) return logicError(ctx, 404, 'WorkflowRunActionNotFound', `The workflow run action '${s[6].slice(0, 80)}' could not be found.`);
        return sendRaw(ctx, 200, {}, (s[8] ?? '').toLowerCase() === 'actioninputs' ? (a.inputs ?? null) : (a.outputs ?? null));
      }
    }
    return logicError(ctx, 404, 'NotFound', 'The requested Logic Apps endpoint does not exist.');
  }

  private runHeaders(stored: StoredRun, loc: Located): Record<string, string> {
    return {
      'x-ms-workflow-run-id': stored.run.name,
      'x-ms-correlation-id': stored.run.correlationId,
      'x-ms-client-tracking-id': stored.run.clientTrackingId,
      'x-ms-trigger-history-name': stored.run.name,
      'x-ms-workflow-name': loc.r.name,
      'x-ms-workflow-version': stored.version,
      'x-ms-workflow-id': stored.accessId,
      'x-ms-workflow-system-id': `/locations/${loc.r.location ?? 'local'}/scaleunits/prod-00/workflows/${stored.accessId}`,
      'x-ms-tracking-id': stored.run.trigger.trackingId,
      'x-ms-execution-location': loc.r.location ?? 'local',
    };
  }

  private async invoke(ctx: Ctx, loc: Located, triggerSeg: string, relSegments: string[]): Promise<void> {
    const { r } = loc;
    if (String(props(r).state ?? 'Enabled').toLowerCase() !== 'enabled') {
      return logicError(ctx, 409, 'WorkflowDisabled', `The workflow '${r.name}' is disabled. Enable it before calling its trigger.`);
    }
    const t = findTrigger(r, triggerSeg);
    if (!t) return logicError(ctx, 404, 'WorkflowTriggerNotFound', `The workflow '${r.name}' trigger '${triggerSeg.slice(0, 80)}' could not be found.`);
    const [tname, tdef] = t;
    const ttype = String(tdef.type ?? '').toLowerCase();
    if (ttype !== 'request' && ttype !== 'manual') return logicError(ctx, 400, 'TriggerTypeNotSupported', `The trigger '${tname}' of type '${String(tdef.type)}' cannot be called through a callback URL.`);
    const inputs = isObj(tdef.inputs) ? tdef.inputs : {};
    if (typeof inputs.method === 'string' && inputs.method && !ciEq(inputs.method, ctx.method)) {
      return logicError(ctx, 405, 'TriggerRequestMethodNotValid', `The HTTP method for this request is not valid: expected '${inputs.method.toUpperCase()}' and actual '${ctx.method}'.`);
    }
    // relative path parameters
    const relativePathParameters: Record<string, string> = {};
    if (typeof inputs.relativePath === 'string' && inputs.relativePath) {
      const tpl = inputs.relativePath.replace(/^\/+|\/+$/g, '').split('/');
      if (tpl.length !== relSegments.length) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The request path does not match the trigger's relative path '${inputs.relativePath}'.`);
      for (let i = 0; i < tpl.length; i++) {
        const pm = /^\{([^}]+)\}$/.exec(tpl[i]);
        if (pm) relativePathParameters[pm[1]] = relSegments[i];
        else if (!ciEq(tpl[i], relSegments[i])) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The request path does not match the trigger's relative path '${inputs.relativePath}'.`);
      }
    } else if (relSegments.length) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The trigger '${tname}' has no relative path.`);
    const ct = header(ctx.req, 'content-type');
    const body = decodeBody(ct ?? (ctx.body.length ? 'application/octet-stream' : undefined), ctx.body);
    if (String(tdef.operationOptions ?? '').toLowerCase().includes('enableschemavalidation') && isObj(inputs.schema)) {
      const problems = validateSchema(body, inputs.schema);
      if (problems.length) return logicError(ctx, 400, 'TriggerInputSchemaMismatch', `The input body for trigger '${tname}' of type 'Request' did not match its schema definition. Error details: '${problems.slice(0, 5).join('; ')}'.`);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.req.headers)) if (v !== undefined) headers[k.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase())] = Array.isArray(v) ? v.join(', ') : v;
    const queries: Record<string, string> = {};
    for (const [k, v] of ctx.query) if (!['sig', 'sp', 'sv', 'api-version'].includes(k.toLowerCase())) queries[k] = v;
    const outputs: Record<string, unknown> = { headers, body, ...(Object.keys(queries).length ? { queries } : {}), ...(Object.keys(relativePathParameters).length ? { relativePathParameters } : {}) };
    const stored = this.startRun(loc, tname, outputs, ctx.correlationId, 0);
    const hdrs = this.runHeaders(stored, loc);
    const mode = responseMode(definitionOf(r));
    if (mode === 'none') return sendRaw(ctx, 202, hdrs, null);
    if (mode === 'async') {
      const key = this.accessKey(r.id, r);
      const op = randomUUID().replace(/-/g, '');
      const location = this.signedUrl(ctx.baseUrl, `/runs/${stored.run.name}/operations/${op}`, key, stored.accessId, `/runs/${stored.run.name}/operations/${op}/read`);
      return sendRaw(ctx, 202, { ...hdrs, Location: location, 'Retry-After': '1' }, null);
    }
    const answer = await this.awaitResponse(stored);
    if (answer === 'timeout') {
      return logicError(ctx, 504, 'GatewayTimeout', `The server did not receive a timely response from the workflow within ${this.settings.syncResponseTimeoutSeconds} seconds. Request tracking id '${stored.run.trigger.trackingId}'.`, hdrs);
    }
    if (!answer) return logicError(ctx, 502, 'NoResponse', `The server did not receive a response from an upstream server. Request tracking id '${stored.run.trigger.trackingId}'.`, hdrs);
    return sendRaw(ctx, answer.statusCode, { ...answer.headers, ...hdrs }, answer.body);
  }

  private pollAsync(ctx: Ctx, loc: Located, stored: StoredRun, _key: Buffer): void {
    const hdrs = this.runHeaders(stored, loc);
    const answer = stored.run.responseSent;
    if (answer) return sendRaw(ctx, answer.statusCode, { ...answer.headers, ...hdrs }, answer.body);
    if (stored.run.isTerminal()) return logicError(ctx, 502, 'NoResponse', `The workflow run '${stored.run.name}' ended (${stored.run.status}) without running a Response action.`, hdrs);
    return sendRaw(ctx, 202, { ...hdrs, Location: `${ctx.baseUrl}${ctx.path}?${ctx.query.toString()}`, 'Retry-After': '1' }, null);
  }

  // ---------------------------------------------------------------- control API

  /**
   * `/_emulator/logic/...` (operator only, no auth):
   * GET `runs?subscriptionId=&resourceGroup=&workflow=&status=` — run history with actions, outputs, errors (secrets redacted);
   * GET|PUT `settings` — LogicSettings. Returns false when the path is not a Logic control path.
   */
  handleControl(ctx: Ctx): boolean {
    const s = ctx.segments.slice(1).filter((x) => x !== '');
    if ((s[0] ?? '').toLowerCase() !== 'logic') return false;
    const what = (s[1] ?? '').toLowerCase();
    if (what === 'runs' && s.length === 2 && ctx.method === 'GET') {
      const q = ctx.query;
      const f = (k: string): string | null => q.get(k);
      const out: unknown[] = [];
      for (const list of this.runs.values()) {
        for (const x of list) {
          if (f('subscriptionId') && !ciEq(x.subscriptionId, f('subscriptionId')!)) continue;
          if (f('resourceGroup') && !ciEq(x.resourceGroup, f('resourceGroup')!)) continue;
          if (f('workflow') && !ciEq(x.workflowName, f('workflow')!)) continue;
          if (f('status') && !ciEq(x.run.status, f('status')!)) continue;
          out.push(runSnapshot(x));
        }
      }
      out.sort((a, b) => String((b as { startTime: string }).startTime).localeCompare(String((a as { startTime: string }).startTime)));
      send(ctx, 200, { value: out });
      return true;
    }
    if (what === 'settings' && s.length === 2) {
      if (ctx.method === 'GET') {
        send(ctx, 200, this.settings);
        return true;
      }
      if (ctx.method === 'PUT' || ctx.method === 'PATCH') {
        let body: unknown;
        try {
          body = jsonBody(ctx);
        } catch {
          send(ctx, 400, { error: { code: 'InvalidRequestContent', message: 'The request body is not valid JSON.' } });
          return true;
        }
        const err = applySettings(this.settings, body);
        if (err) send(ctx, 400, { error: { code: 'InvalidSettings', message: err } });
        else send(ctx, 200, this.settings);
        return true;
      }
    }
    send(ctx, 404, { error: { code: 'NotFound', message: `No control operation ${ctx.method} /_emulator/${s.join('/')}.` } });
    return true;
  }

  /** Runs of a workflow (newest first), for tests and the control API. */
  runsOf(subscriptionId: string, resourceGroup: string, workflow: string): Array<Record<string, unknown>> {
    const loc = this.locateByName(subscriptionId, resourceGroup, workflow);
    return loc ? this.listRuns(loc.r).map(runSnapshot) : [];
  }

  /** True when the emulator is shutting down. */
  get isClosed(): boolean {
    return this.closed;
  }
}

function sanitizeTriggerOutputs(o: unknown): unknown {
  if (!isObj(o)) return o;
  return { ...o, ...(isObj(o.headers) ? { headers: redactHeaders(o.headers as Record<string, string>) } : {}) };
}

function runSnapshot(x: StoredRun): Record<string, unknown> {
  const run = x.run;
  return {
    subscriptionId: x.subscriptionId,
    resourceGroup: x.resourceGroup,
    workflow: x.workflowName,
    runName: run.name,
    status: run.status,
    startTime: run.startTime,
    endTime: run.endTime ?? null,
    error: run.error ?? null,
    outputs: run.outputs,
    clientTrackingId: run.clientTrackingId,
    trigger: { name: run.trigger.name, outputs: sanitizeTriggerOutputs(run.trigger.outputs) },
    response: run.responseSent ?? null,
    actions: [...run.actions.values()].map((a) => ({ name: a.name, type: a.type, status: a.status, code: a.code ?? null, error: a.error ?? null, startTime: a.startTime, endTime: a.endTime ?? null, inputs: a.inputs ?? null, outputs: a.outputs ?? null, ...(a.iterations !== undefined ? { iterations: a.iterations } : {}) })),
  };
}

/** Validates and applies a settings patch; returns an error message or undefined. */
export function applySettings(target: LogicSettings, body: unknown): string | undefined {
  if (!isObj(body)) return 'The body must be a JSON object.';
  const numKey = (k: 'syncResponseTimeoutSeconds' | 'maxWaitSeconds' | 'runsPerWorkflow', min: number, max: number): string | undefined => {
    if (body[k] === undefined) return undefined;
    const v = body[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) return `${k} must be a number in [${min}, ${max}].`;
    return undefined;
  };
  const err = numKey('syncResponseTimeoutSeconds', 0.1, 3600) ?? numKey('maxWaitSeconds', 0, 86400) ?? numKey('runsPerWorkflow', 1, 10000);
  if (err) return err;
  if (body.allowExternalHttp !== undefined && typeof body.allowExternalHttp !== 'boolean') return 'allowExternalHttp must be a boolean.';
  for (const k of ['syncResponseTimeoutSeconds', 'maxWaitSeconds', 'runsPerWorkflow', 'allowExternalHttp'] as const) if (body[k] !== undefined) (target as unknown as Record<string, unknown>)[k] = body[k];
  return undefined;
}
