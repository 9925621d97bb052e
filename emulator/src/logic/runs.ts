/**
 * Run lifecycle of Logic Apps workflows: starting runs (the engine, engine/runner.ts, with the emulator's
 * HTTP, identity and nested-workflow services), the in-memory run history (settings.runsPerWorkflow per
 * workflow), waiting for a Response, cancel, and the ARM runs API (Logic REST API 2019-05-01 "Workflow
 * Runs", "Workflow Run Actions") with signed content links.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Ctx } from '../http';
import { send } from '../http';
import { armError } from '../arm/errors';
import type { StoredResource } from '../state';
import { WorkflowError } from './engine/errors';
import { isObj } from './engine/functions';
import { performHttp } from './engine/http';
import { splitTriggerOutputs } from './engine/split';
import { redactHeaders, responseMode, WorkflowRun, type ActionRecord, type HttpAnswer, type RunServices } from './engine/runner';
import { clientCredentialsToken, managedIdentityToken } from './identity';
import { ciEq, definitionOf, findTrigger, isEnabled, isRequestTrigger, locateByName, props, type Located } from './model';
import type { CallbackSigner } from './sas';
import type { LogicDeps, LogicSettings } from './service';

/** Nested Workflow-action calls deeper than this fail with WorkflowCallDepthExceeded. */
const MAX_CALL_DEPTH = 20;

/** A run with the workflow it belongs to (as it was when the run started). */
export interface StoredRun {
  run: WorkflowRun;
  subscriptionId: string;
  resourceGroup: string;
  workflowName: string;
  workflowResourceId: string;
  accessId: string;
  version: string;
  /** Nesting depth: 0 for trigger calls, +1 per Workflow action. */
  depth: number;
}

/** Run name like Logic Apps' (newest sort first): "08584" + reverse ticks + "CU" + 2 digits. */
function newRunName(): string {
  const rev = String(9_999_999_999_999 - Date.now()).padStart(13, '0');
  return `08584${rev}${randomBytes(3).readUIntBE(0, 3).toString().padStart(8, '0')}CU${String(Math.floor(Math.random() * 100)).padStart(2, '0')}`;
}

/**
 * Body of the 202 a debatched trigger call (splitOn) answers: the runs it started, as run references
 * (`{ id, name, type }` like the `run` of a trigger history).
 */
export function debatchedBody(loc: Located, runs: StoredRun[]): Record<string, unknown> {
  return { runs: runs.map((s) => ({ id: `${loc.r.id}/runs/${s.run.name}`, name: s.run.name, type: 'Microsoft.Logic/workflows/runs' })) };
}

/** Trigger outputs as shown in history: authorization-like headers redacted. */
export function sanitizeTriggerOutputs(o: unknown): unknown {
  if (!isObj(o)) return o;
  return { ...o, ...(isObj(o.headers) ? { headers: redactHeaders(o.headers as Record<string, string>) } : {}) };
}

/** Control-API view of a run: status, error, outputs, trigger outputs, response and every action's record. */
export function runSnapshot(x: StoredRun): Record<string, unknown> {
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

/** Runs of every workflow, newest first per workflow, kept in memory. */
export class WorkflowRuns {
  private readonly runs = new Map<string, StoredRun[]>();

  constructor(
    private readonly deps: LogicDeps,
    private readonly settings: LogicSettings,
    private readonly signer: CallbackSigner,
  ) {}

  /** Runs of a workflow, newest first. */
  list(r: StoredResource): StoredRun[] {
    return this.runs.get(r.id.toLowerCase()) ?? [];
  }

  /** Every stored run (control API). */
  *all(): Iterable<StoredRun> {
    for (const list of this.runs.values()) yield* list;
  }

  /** Cancels and forgets the runs of a deleted workflow. */
  forget(r: StoredResource): void {
    for (const s of this.list(r)) s.run.cancel();
    this.runs.delete(r.id.toLowerCase());
  }

  /** Cancels every running run (emulator shutdown). */
  cancelAll(): void {
    for (const list of this.runs.values()) for (const r of list) r.run.cancel();
  }

  /**
   * Starts a run of a stored workflow fired by `triggerName` with `triggerOutputs` (`{headers, body, ...}`);
   * drops the oldest finished runs above settings.runsPerWorkflow. The run proceeds in the background.
   */
  start(loc: Located, triggerName: string, triggerOutputs: Record<string, unknown>, correlationId: string, depth: number): StoredRun {
    const { sub, rg, r } = loc;
    const runName = newRunName();
    const services: RunServices = {
      http: (req, signal) =>
        performHttp(req, signal, {
          caCertPem: this.deps.caCertPem,
          allowExternal: () => this.settings.allowExternalHttp,
          managedIdentityToken: (audience) => managedIdentityToken(this.deps, r, audience),
          clientCredentialsToken: (tenant, clientId, secret, audience) => clientCredentialsToken(this.deps, tenant, clientId, secret, audience),
        }),
      invokeWorkflow: (workflowId, trig, body, headers) => this.invokeWorkflow(loc, workflowId, trig, body, headers, depth + 1),
      callbackUrl: (t) => String(this.signer.callbackInfo(this.deps.selfUrl(), r, t, findTrigger(r, t)?.[1] ?? {}).value),
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
    const stored: StoredRun = { run, subscriptionId: sub.id, resourceGroup: rg.name, workflowName: r.name, workflowResourceId: r.id, accessId: this.signer.accessId(r), version: String(props(r).version ?? ''), depth };
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

  /**
   * Fires a trigger: one run, or with the trigger's `splitOn` one run per array item (debatching,
   * engine/split.ts; `split` true, possibly no run at all). Throws WorkflowError (InvalidTemplate,
   * IterationLimitExceeded) when splitOn cannot be applied; no run is started then.
   */
  fire(loc: Located, triggerName: string, triggerOutputs: Record<string, unknown>, correlationId: string, depth: number): { runs: StoredRun[]; split: boolean } {
    const t = findTrigger(loc.r, triggerName);
    const tdef = t?.[1] ?? {};
    const split = tdef.splitOn !== undefined && tdef.splitOn !== null;
    const outputs = splitTriggerOutputs(t?.[0] ?? triggerName, tdef, triggerOutputs);
    return { runs: outputs.map((o) => this.start(loc, t?.[0] ?? triggerName, o, correlationId, depth)), split };
  }

  /**
   * Waits for the run's Response: its answer, undefined when the run ended without one, or 'timeout'
   * after settings.syncResponseTimeoutSeconds (later Response actions then fail).
   */
  awaitResponse(s: StoredRun): Promise<HttpAnswer | undefined | 'timeout'> {
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

  /**
   * The Workflow action's target: `host.workflow.id` as a full resource id of a Consumption workflow
   * (`/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Logic/workflows/{name}`), a Standard
   * workflow id (`.../providers/Microsoft.Web/sites/{app}/workflows/{name}`), or a bare workflow name
   * (Standard: a workflow of the same logic app — for the emulator, a workflow in the caller's resource
   * group). Undefined when no such workflow is stored.
   */
  resolveWorkflow(caller: Located, workflowId: string): Located | undefined {
    const id = workflowId.trim();
    const consumption = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Logic\/workflows\/([^/]+)\/?$/i.exec(id);
    if (consumption) return locateByName(this.deps.state, consumption[1], consumption[2], consumption[3]);
    const standard = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/sites\/[^/]+\/workflows\/([^/]+)\/?$/i.exec(id);
    if (standard) return locateByName(this.deps.state, standard[1], standard[2], standard[3]);
    if (id && !id.includes('/')) return locateByName(this.deps.state, caller.sub.id, caller.rg.name, id);
    return undefined;
  }

  /**
   * The Workflow action: calls another workflow's Request trigger in process (the workflow named by
   * resolveWorkflow, relative to the calling workflow `caller`). Answers 202 at once when the callee has
   * no synchronous Response or debatches (splitOn), else its Response (504 GatewayTimeout / 502
   * NoResponse as the callback endpoint does); 409 WorkflowDisabled. Throws WorkflowError
   * WorkflowNotFound, WorkflowTriggerNotFound, WorkflowCallDepthExceeded.
   */
  private async invokeWorkflow(caller: Located, workflowId: string, triggerName: string, body: unknown, headers: Record<string, string>, depth: number): Promise<HttpAnswer> {
    if (depth > MAX_CALL_DEPTH) throw new WorkflowError('WorkflowCallDepthExceeded', `Workflows called each other more than ${MAX_CALL_DEPTH} levels deep (emulator limit).`);
    const loc = this.resolveWorkflow(caller, workflowId);
    if (!loc) throw new WorkflowError('WorkflowNotFound', `The workflow '${workflowId.slice(0, 300)}' could not be found.`);
    if (!isEnabled(loc.r)) return { statusCode: 409, headers: {}, body: { error: { code: 'WorkflowDisabled', message: `The workflow '${loc.r.name}' is disabled.` } } };
    const t = findTrigger(loc.r, triggerName);
    if (!t || !isRequestTrigger(t[1])) throw new WorkflowError('WorkflowTriggerNotFound', `The workflow '${loc.r.name}' has no Request trigger '${triggerName}'.`);
    const fired = this.fire(loc, t[0], { headers: { 'Content-Type': 'application/json', ...headers }, body }, randomUUID(), depth);
    if (fired.split) return { statusCode: 202, headers: { 'x-ms-workflow-name': loc.r.name }, body: debatchedBody(loc, fired.runs) };
    const s = fired.runs[0];
    const mode = responseMode(definitionOf(loc.r));
    const hdrs = { 'x-ms-workflow-run-id': s.run.name, 'x-ms-workflow-name': loc.r.name };
    if (mode !== 'sync') return { statusCode: 202, headers: hdrs, body: null };
    const answer = await this.awaitResponse(s);
    if (answer === 'timeout') return { statusCode: 504, headers: hdrs, body: { error: { code: 'GatewayTimeout', message: 'The called workflow did not respond in time.' } } };
    if (!answer) return { statusCode: 502, headers: hdrs, body: { error: { code: 'NoResponse', message: 'The called workflow ended without running a Response action.' } } };
    return { statusCode: answer.statusCode, headers: { ...answer.headers, ...hdrs }, body: answer.body };
  }

  // ---------------------------------------------------------------- ARM API

  /**
   * `.../workflows/{wf}/runs[/...]` (`rest` = segments after "runs"): `GET runs?$top&$filter=status eq 'X'`,
   * `GET runs/{run}`, `POST runs/{run}/cancel` (409 WorkflowRunNotInProgress), `GET runs/{run}/actions[/{a}]`.
   * 404 WorkflowRunNotFound / WorkflowRunActionNotFound / InvalidResourceType; 405 MethodNotAllowed.
   */
  handleArm(ctx: Ctx, r: StoredResource, rest: string[]): void {
    const m = ctx.method;
    const base = ctx.baseUrl;
    if (rest.length === 0) {
      if (m !== 'GET') throw armError(405, 'MethodNotAllowed', `The requested method '${m}' is not allowed for this resource.`);
      let list = this.list(r);
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
    const s = this.list(r).find((x) => ciEq(x.run.name, rest[0]));
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

  /** `ContentLink` with a signed URL of the callback endpoint that returns `content`; md5 hash and size of its JSON. */
  private contentLink(uri: string, content: unknown): Record<string, unknown> {
    const text = JSON.stringify(content ?? null);
    return { uri, contentVersion: createHash('md5').update(text).digest('base64'), contentSize: Buffer.byteLength(text), contentHash: { algorithm: 'md5', value: createHash('md5').update(text).digest('base64') } };
  }

  /** ARM shape of a run (Logic REST API `WorkflowRun`). */
  private runBody(s: StoredRun, r: StoredResource, base: string): Record<string, unknown> {
    const run = s.run;
    const key = this.signer.accessKey(r.id, r);
    const link = (path: string, sp: string, content: unknown): Record<string, unknown> => this.contentLink(this.signer.signedUrl(base, path, key, s.accessId, sp), content);
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

  /** ARM shape of a run action (Logic REST API `WorkflowRunAction`), inputs/outputs as signed links. */
  private actionBody(s: StoredRun, r: StoredResource, a: ActionRecord, base: string): Record<string, unknown> {
    const key = this.signer.accessKey(r.id, r);
    const link = (kind: string, content: unknown): Record<string, unknown> =>
      this.contentLink(this.signer.signedUrl(base, `/runs/${s.run.name}/actions/${a.name}/contents/${kind}`, key, s.accessId, `/runs/${s.run.name}/actions/${a.name}/contents/${kind}/read`), content);
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
}
