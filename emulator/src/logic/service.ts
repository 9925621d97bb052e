import type { Ctx } from '../http';
import { jsonBody, send } from '../http';
import type { LogicArmHooks } from '../arm/arm';
import type { SigningKeys } from '../entra';
import type { EmulatorState, ResourceGroup, StateStore, StoredResource, Subscription } from '../state';
import { isObj } from './engine/functions';
import { CallbackEndpoint } from './callback';
import { ciEq, locateByName } from './model';
import { runSnapshot, WorkflowRuns } from './runs';
import { CallbackSigner } from './sas';
import { WorkflowResources } from './workflows';

export { CALLBACK_API_VERSION, LOGIC_PREFIX } from './sas';

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

/**
 * Azure Logic Apps (Consumption) emulation, composed of: callback SAS signing (sas.ts), workflow
 * resources under ARM (workflows.ts: `Microsoft.Logic/workflows` stored in the resource group like every
 * ARM resource; triggers, listCallbackUrl, enable/disable), the run lifecycle (runs.ts: the engine in
 * engine/runner.ts, run history, cancel, runs API), and the callback data plane (callback.ts:
 * `/logicapps/workflows/{id}/triggers/{t}/paths/invoke?api-version&sp&sv&sig` with synchronous and
 * asynchronous Response). Runs live in memory; workflows and access keys persist with the state.
 * Sources: Logic Apps REST API 2019-05-01 (Workflows, Workflow Triggers, Workflow Runs, Workflow Run
 * Actions), "Call, trigger, or nest logic apps by using HTTPS endpoints" (callback URL, sync/async Response).
 */
export class LogicService implements LogicArmHooks {
  readonly settings: LogicSettings = { ...DEFAULT_LOGIC_SETTINGS };
  private readonly signer: CallbackSigner;
  private readonly runs: WorkflowRuns;
  private readonly workflows: WorkflowResources;
  private readonly callback: CallbackEndpoint;
  private closed = false;

  constructor(private readonly deps: LogicDeps) {
    this.signer = new CallbackSigner(deps.state, deps.store);
    this.runs = new WorkflowRuns(deps, this.settings, this.signer);
    this.workflows = new WorkflowResources(deps, this.signer, this.runs);
    this.callback = new CallbackEndpoint(deps, this.settings, this.signer, this.runs);
  }

  /** Cancels every running run (emulator shutdown). */
  close(): void {
    this.closed = true;
    this.runs.cancelAll();
  }

  /** True when the emulator is shutting down. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Public id of a workflow in callback URLs (32 hex; changes when the workflow is recreated). */
  accessId(r: StoredResource): string {
    return this.signer.accessId(r);
  }

  /** listCallbackUrl answer (`WorkflowTriggerCallbackUrl`) for a Request trigger. */
  callbackInfo(base: string, r: StoredResource, triggerName: string, tdef: Record<string, unknown>): Record<string, unknown> {
    return this.signer.callbackInfo(base, r, triggerName, tdef);
  }

  /** `listCallbackUrl(<trigger id>, api)` in ARM templates (see WorkflowResources.templateListAction); undefined for other list functions. */
  templateListAction(functionName: string, target: string, declared: (id: string) => StoredResource | undefined, baseUrl: string): unknown {
    return this.workflows.templateListAction(functionName, target, declared, baseUrl);
  }

  /** Before a deployment stores a workflow: keeps createdTime, sets version/changedTime/state, registers its identity. */
  prepareDeployed(prev: StoredResource | undefined, next: StoredResource): void {
    this.workflows.prepareDeployed(prev, next);
  }

  /** ARM GET shape of a workflow (Logic REST API `Workflow`); secure parameter values are left out. */
  workflowBody(r: StoredResource, base: string): Record<string, unknown> {
    return this.workflows.workflowBody(r, base);
  }

  /** `.../resourceGroups/{rg}/providers/Microsoft.Logic/workflows[/...]` after the ARM checks; throws ArmHttpError. */
  handleArm(ctx: Ctx, sub: Subscription, rg: ResourceGroup, rest: string[]): Promise<void> {
    return this.workflows.handleArm(ctx, sub, rg, rest);
  }

  /** `GET /subscriptions/{s}/providers/Microsoft.Logic/workflows`: every workflow of the subscription. */
  listBySubscription(ctx: Ctx, sub: Subscription): void {
    this.workflows.listBySubscription(ctx, sub);
  }

  /** The signed endpoint `/logicapps/...` (trigger invocation, async Response Location, content links). */
  handleCallback(ctx: Ctx): Promise<void> {
    return this.callback.handle(ctx);
  }

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
      for (const x of this.runs.all()) {
        if (f('subscriptionId') && !ciEq(x.subscriptionId, f('subscriptionId')!)) continue;
        if (f('resourceGroup') && !ciEq(x.resourceGroup, f('resourceGroup')!)) continue;
        if (f('workflow') && !ciEq(x.workflowName, f('workflow')!)) continue;
        if (f('status') && !ciEq(x.run.status, f('status')!)) continue;
        out.push(runSnapshot(x));
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
    const loc = locateByName(this.deps.state, subscriptionId, resourceGroup, workflow);
    return loc ? this.runs.list(loc.r).map(runSnapshot) : [];
  }
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
