import { randomUUID } from 'node:crypto';
import { actionHandler, LIMITS, type ActionContext, type ActionResult, type Variable } from './actions';
import { invalidTemplate, unsupported, WorkflowError } from './errors';
import { evaluateValue, getProp, isObj, toWdlString, type ExpressionHost } from './functions';

export { LIMITS } from './actions';
export { isoDurationMs, redactHeaders, safeUri } from './http';

/** Terminal and non-terminal statuses of runs and actions (Logic Apps REST API `WorkflowStatus`). */
export type RunStatus = 'Running' | 'Waiting' | 'Succeeded' | 'Failed' | 'Cancelled' | 'TimedOut' | 'Skipped' | 'Aborted';

/** What the engine records for one action (and for the trigger). Times are ISO strings. */
export interface ActionRecord {
  name: string;
  type: string;
  status: RunStatus;
  /** Logic Apps' `code`: "OK", "BadRequest", "ActionFailed", "ActionSkipped", "Terminated"... */
  code?: string;
  startTime: string;
  endTime?: string;
  inputs?: unknown;
  outputs?: unknown;
  error?: { code: string; message: string };
  trackingId: string;
  /** Iterations run (Foreach / Until). */
  iterations?: number;
}

/** An HTTP answer (Response action, Http/Workflow action results, sync trigger replies). */
export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

/** An outbound HTTP call the Http action asks the host to make (authentication not yet applied). */
export interface OutboundRequest {
  method: string;
  uri: string;
  headers: Record<string, string>;
  queries?: Record<string, string>;
  body?: unknown;
  authentication?: Record<string, unknown>;
  /** ms */
  timeoutMs: number;
  disableAsyncPattern: boolean;
  retryPolicy?: Record<string, unknown>;
}

/** Services the engine needs from the emulator (HTTP, calling other workflows, limits). */
export interface RunServices {
  /** Performs an Http action call (with authentication). Rejects with WorkflowError on transport errors. */
  http(req: OutboundRequest, signal: AbortSignal): Promise<HttpAnswer>;
  /** Calls another workflow's trigger (the `Workflow` action); resolves with its (sync) response or 202. */
  invokeWorkflow(workflowId: string, triggerName: string, body: unknown, headers: Record<string, string>, parentRunId: string): Promise<HttpAnswer>;
  /** Callback URL of a trigger of the running workflow (listCallbackUrl()). */
  callbackUrl(triggerName: string): string;
  /** Longest accepted Wait, ms. */
  maxWaitMs: number;
}

/** Everything needed to start a run. */
export interface RunInput {
  /** workflow() value: `{ id, name, type, location, tags }` (run is added). */
  workflow: { id: string; name: string; type: string; location?: string; tags?: Record<string, string> };
  definition: Record<string, unknown>;
  /** Values of workflow parameters (properties.parameters `{ name: { value } }`). */
  parameters: Record<string, unknown>;
  triggerName: string;
  /** Trigger outputs: `{ headers, body, queries?, relativePathParameters? }` for Request triggers. */
  triggerOutputs: Record<string, unknown>;
  runName: string;
  correlationId: string;
}

const TERMINAL_FAIL = new Set(['failed', 'timedout', 'cancelled', 'aborted']);

class TerminateSignal {
  constructor(public readonly status: 'Failed' | 'Cancelled' | 'Succeeded', public readonly error?: { code: string; message: string }) {}
}

/** An enclosing Foreach/Until iteration (or Select/Query item): what item(), items() and iterationIndexes() read. */
export interface LoopFrame {
  name: string;
  item: unknown;
  index: number;
}

interface ActionInfo {
  name: string;
  def: Record<string, unknown>;
  /** Name of the container action (undefined = top level). */
  parent?: string;
}

/** ISO time with 7 fractional digits like Logic Apps. */
export function logicTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** Indexes every action of a definition by name (Logic Apps action names are unique per workflow). */
export function indexActions(definition: Record<string, unknown>): Map<string, ActionInfo> {
  const out = new Map<string, ActionInfo>();
  const walk = (actions: unknown, parent?: string): void => {
    if (!isObj(actions)) return;
    for (const [name, def] of Object.entries(actions)) {
      if (!isObj(def)) continue;
      out.set(name, { name, def, parent });
      walk(def.actions, name);
      if (isObj(def.else)) walk(def.else.actions, name);
      if (isObj(def.cases)) for (const c of Object.values(def.cases)) if (isObj(c)) walk(c.actions, name);
      if (isObj(def.default)) walk(def.default.actions, name);
    }
  };
  walk(definition.actions);
  return out;
}

/** Whether the definition contains a Response action; `async` when one asks for `operationOptions: Asynchronous`. */
export function responseMode(definition: Record<string, unknown>): 'none' | 'sync' | 'async' {
  let mode: 'none' | 'sync' | 'async' = 'none';
  for (const a of indexActions(definition).values()) {
    if (String(a.def.type ?? '').toLowerCase() !== 'response') continue;
    if (String(a.def.operationOptions ?? '').toLowerCase().split(',').map((x) => x.trim()).includes('asynchronous')) return 'async';
    mode = 'sync';
  }
  return mode;
}

/**
 * One workflow run: executes the definition's actions by `runAfter` (sequentially: one action at a
 * time, ready actions in definition order), records every action, resolves `response` when a
 * Response action runs (or with undefined when the run ends without one).
 * Rules (Logic Apps docs "Handle errors and exceptions", WDL schema reference):
 * - an action runs when every `runAfter` predecessor is terminal and its status is listed
 *   (statuses compare case-insensitively; `[]` means Succeeded); otherwise it is Skipped;
 * - a scope (Scope/If/Switch/Foreach/Until) fails when one of its actions failed and no action
 *   that ran after it (not Skipped) handled it; the run status follows the same rule at top level;
 * - Terminate ends the run at once with its runStatus/runError;
 * - an unsupported action type or function fails the action and the run with UnsupportedByEmulator.
 */
export class WorkflowRun {
  readonly actions = new Map<string, ActionRecord>();
  readonly variables = new Map<string, Variable>();
  status: RunStatus = 'Running';
  error?: { code: string; message: string };
  outputs: Record<string, { type: string; value: unknown }> = {};
  readonly startTime = logicTime();
  endTime?: string;
  trigger: ActionRecord & { clientTrackingId?: string };
  clientTrackingId: string;
  /** Set when a Response action ran. */
  responseSent?: HttpAnswer;
  private responseWaiters: Array<(r: HttpAnswer | undefined) => void> = [];
  private readonly abort = new AbortController();
  private readonly index: Map<string, ActionInfo>;
  private executed = 0;
  /** Resolves when the run ends. */
  readonly done: Promise<void>;
  /** Set by the caller when a synchronous caller gave up waiting (later Response actions fail). */
  responseTimedOut = false;

  constructor(private readonly input: RunInput, private readonly services: RunServices) {
    this.index = indexActions(input.definition);
    const triggers = isObj(input.definition.triggers) ? input.definition.triggers : {};
    const tdef = isObj(triggers[input.triggerName]) ? (triggers[input.triggerName] as Record<string, unknown>) : {};
    this.trigger = {
      name: input.triggerName,
      type: String(tdef.type ?? 'Request'),
      status: 'Succeeded',
      code: 'OK',
      startTime: this.startTime,
      endTime: this.startTime,
      outputs: input.triggerOutputs,
      trackingId: randomUUID(),
    };
    this.clientTrackingId = input.runName;
    const corr = isObj(tdef.correlation) ? tdef.correlation.clientTrackingId : undefined;
    if (corr !== undefined) {
      try {
        const v = evaluateValue(corr, this.host([]));
        if (v !== null && v !== undefined && toWdlString(v)) this.clientTrackingId = toWdlString(v).slice(0, 100);
      } catch {
        // Logic Apps ignores an unusable clientTrackingId
      }
    }
    this.trigger.clientTrackingId = this.clientTrackingId;
    this.done = this.execute();
  }

  get name(): string {
    return this.input.runName;
  }

  get correlationId(): string {
    return this.input.correlationId;
  }

  /** Resolves with the Response action's answer, or undefined when the run ended without one. */
  waitForResponse(): Promise<HttpAnswer | undefined> {
    if (this.responseSent) return Promise.resolve(this.responseSent);
    if (this.isTerminal()) return Promise.resolve(undefined);
    return new Promise((resolve) => this.responseWaiters.push(resolve));
  }

  isTerminal(): boolean {
    return this.status !== 'Running' && this.status !== 'Waiting';
  }

  /** Cancels a running run (status Cancelled). Returns false when it already ended. */
  cancel(): boolean {
    if (this.isTerminal()) return false;
    this.abort.abort();
    this.finish('Cancelled', { code: 'Cancelled', message: 'The workflow run was cancelled.' });
    return true;
  }

  private finish(status: RunStatus, error?: { code: string; message: string }): void {
    if (this.isTerminal()) return;
    this.status = status;
    if (error) this.error = error;
    this.endTime = logicTime();
    const waiters = this.responseWaiters;
    this.responseWaiters = [];
    for (const w of waiters) w(this.responseSent);
  }

  private async execute(): Promise<void> {
    try {
      const failed = await this.runScope(this.input.definition.actions, []);
      if (this.isTerminal()) return;
      this.evaluateOutputs();
      if (failed) this.finish('Failed', this.runError());
      else this.finish('Succeeded');
    } catch (e) {
      if (e instanceof TerminateSignal) {
        this.evaluateOutputs();
        this.finish(e.status, e.error);
        return;
      }
      if (this.isTerminal()) return;
      const err = e instanceof WorkflowError ? e.toJSON() : { code: 'InternalServerError', message: `The emulator's workflow engine failed: ${(e as Error).message}` };
      this.finish('Failed', err);
    }
  }

  /** Run-level error: UnsupportedByEmulator when an action hit one, else ActionFailed (Logic Apps' message). */
  private runError(): { code: string; message: string } {
    for (const a of this.actions.values()) if (a.error?.code === 'UnsupportedByEmulator') return a.error;
    return { code: 'ActionFailed', message: 'An action failed. No dependent actions succeeded.' };
  }

  private evaluateOutputs(): void {
    const outs = isObj(this.input.definition.outputs) ? this.input.definition.outputs : {};
    for (const [k, o] of Object.entries(outs)) {
      if (!isObj(o)) continue;
      try {
        this.outputs[k] = { type: String(o.type ?? 'Object'), value: evaluateValue(o.value, this.host([])) };
      } catch {
        // outputs that cannot be evaluated are left out
      }
    }
  }

  // ---------------------------------------------------------------- expressions

  private host(loops: readonly LoopFrame[]): ExpressionHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the expression host's methods are closures over this run
    const run = this;
    const params = this.input.parameters;
    const defParams = isObj(this.input.definition.parameters) ? this.input.definition.parameters : {};
    const record = (a: ActionRecord): Record<string, unknown> => ({
      name: a.name,
      inputs: a.inputs ?? null,
      outputs: a.outputs ?? null,
      startTime: a.startTime,
      endTime: a.endTime ?? null,
      status: a.status,
      code: a.code ?? null,
      ...(a.error ? { error: a.error } : {}),
      trackingId: a.trackingId,
      clientTrackingId: run.clientTrackingId,
    });
    return {
      workflow: () => ({ ...this.input.workflow, run: { id: `${this.input.workflow.id}/runs/${this.input.runName}`, name: this.input.runName, type: 'Microsoft.Logic/workflows/runs' } }),
      trigger: () => record(this.trigger),
      action: (name) => {
        if (!this.index.has(name) && !this.actions.has(name)) throw invalidTemplate(`The action '${name}' referenced in the expression is not defined in the template.`);
        const a = this.actions.get(name);
        if (!a) throw invalidTemplate(`The template language expression cannot be evaluated because the action '${name}' has not run yet (add it to 'runAfter').`);
        return record(a);
      },
      variable: (name) => {
        const v = this.variables.get(name.toLowerCase());
        if (!v) throw invalidTemplate(`The variable '${name}' does not exist. Initialize it with an 'InitializeVariable' action first.`);
        return v.value;
      },
      parameter: (name) => {
        const given = getProp(params, name);
        if (given.found) return isObj(given.value) && 'value' in given.value ? given.value.value : given.value;
        const decl = getProp(defParams, name);
        if (decl.found && isObj(decl.value) && 'defaultValue' in decl.value) return decl.value.defaultValue;
        if (decl.found) throw invalidTemplate(`The workflow parameter '${name}' has no value: supply it in properties.parameters.`);
        throw invalidTemplate(`The workflow parameter '${name}' is not found.`);
      },
      item: () => {
        const f = loops[loops.length - 1];
        if (!f) throw invalidTemplate("The template language function 'item' can only be used inside a 'Foreach' loop or a 'Select'/'Query' action.");
        return f.item;
      },
      items: (name) => {
        const f = [...loops].reverse().find((x) => x.name.toLowerCase() === name.toLowerCase());
        if (!f) throw invalidTemplate(`The template language function 'items' expects a 'Foreach' action name that contains the current action; '${name}' is not one.`);
        return f.item;
      },
      iterationIndexes: (name) => {
        const f = [...loops].reverse().find((x) => x.name.toLowerCase() === name.toLowerCase());
        if (!f) throw invalidTemplate(`The template language function 'iterationIndexes' expects an enclosing 'Foreach' or 'Until' action name; '${name}' is not one.`);
        return f.index;
      },
      result: (scope) => {
        if (!this.index.has(scope)) throw invalidTemplate(`The action '${scope}' referenced by 'result' is not defined in the template.`);
        return [...this.index.values()].filter((a) => a.parent === scope && this.actions.has(a.name)).map((a) => record(this.actions.get(a.name)!));
      },
      appsetting: (name) => {
        const s = getProp(params, 'appsettings');
        const v = s.found ? (isObj(s.value) && 'value' in s.value ? s.value.value : s.value) : getProp(defParams, 'appsettings').found ? (getProp(defParams, 'appsettings').value as Record<string, unknown>).defaultValue : undefined;
        if (isObj(v)) {
          const r = getProp(v, name);
          if (r.found) return r.value;
        }
        throw unsupported(`appsetting('${name}') is a Logic Apps Standard function; the emulator (Consumption) reads it from an Object workflow parameter named 'appsettings', which does not define '${name}'.`);
      },
      listCallbackUrl: () => this.services.callbackUrl(this.input.triggerName),
    };
  }

  // ---------------------------------------------------------------- scopes

  /**
   * Runs the actions of one container in runAfter order. Returns true when the container failed
   * (an unhandled Failed/TimedOut/Cancelled action). Throws TerminateSignal.
   */
  private async runScope(actions: unknown, loops: readonly LoopFrame[]): Promise<boolean> {
    if (actions === undefined || actions === null) return false;
    if (!isObj(actions)) throw invalidTemplate("The 'actions' property must be an object.");
    const names = Object.keys(actions);
    const pending = new Set(names);
    const status = new Map<string, string>();
    for (const n of names) {
      const ra = (actions[n] as Record<string, unknown>).runAfter;
      if (isObj(ra)) for (const p of Object.keys(ra)) if (!Object.prototype.hasOwnProperty.call(actions, p)) {
        throw invalidTemplate(`The 'runAfter' property of template action '${n}' contains non-existent action: '${p}'.`);
      }
    }
    while (pending.size) {
      if (this.isTerminal()) throw new TerminateSignal(this.status as 'Cancelled');
      let picked: string | undefined;
      for (const n of names) {
        if (!pending.has(n)) continue;
        const ra = (actions[n] as Record<string, unknown>).runAfter;
        const preds = isObj(ra) ? Object.keys(ra) : [];
        if (preds.every((p) => status.has(p))) {
          picked = n;
          break;
        }
      }
      if (!picked) throw invalidTemplate(`The workflow has a 'runAfter' cycle among actions '${[...pending].join(', ').slice(0, 300)}'.`);
      pending.delete(picked);
      const def = actions[picked] as Record<string, unknown>;
      const ra = isObj(def.runAfter) ? def.runAfter : {};
      let skipReason: string | undefined;
      for (const [p, allowedRaw] of Object.entries(ra)) {
        const allowed = (Array.isArray(allowedRaw) && allowedRaw.length ? allowedRaw : ['Succeeded']).map((x) => String(x).toLowerCase());
        const actual = status.get(p)!;
        if (!allowed.includes(actual.toLowerCase())) {
          skipReason = `The execution of template action '${picked}' is skipped: the 'runAfter' condition for action '${p}' is not satisfied. Expected status values '${(Array.isArray(allowedRaw) ? allowedRaw : ['Succeeded']).join(', ')}' and actual value '${actual}'.`;
          break;
        }
      }
      if (skipReason) {
        this.markSkipped(picked, def, skipReason);
        status.set(picked, 'Skipped');
        continue;
      }
      const rec = await this.runAction(picked, def, loops);
      status.set(picked, rec.status);
    }
    // failure rule: a failed action is handled when an action that runs after it actually ran
    for (const n of names) {
      const st = status.get(n)!.toLowerCase();
      if (!TERMINAL_FAIL.has(st)) continue;
      const handled = names.some((m) => {
        const ra = (actions[m] as Record<string, unknown>).runAfter;
        return isObj(ra) && n in ra && status.get(m) !== 'Skipped';
      });
      if (!handled) return true;
    }
    return false;
  }

  /** Marks an action (and everything inside it) Skipped. */
  private markSkipped(name: string, def: Record<string, unknown>, message?: string): void {
    const now = logicTime();
    this.actions.set(name, {
      name,
      type: String(def.type ?? ''),
      status: 'Skipped',
      code: 'ActionSkipped',
      startTime: now,
      endTime: now,
      trackingId: randomUUID(),
      ...(message ? { error: { code: 'ActionConditionFailed', message } } : {}),
    });
    for (const inner of this.index.values()) if (inner.parent === name && !this.actions.has(inner.name)) this.markSkipped(inner.name, inner.def);
  }

  private async runAction(name: string, def: Record<string, unknown>, loops: readonly LoopFrame[]): Promise<ActionRecord> {
    const type = String(def.type ?? '');
    const rec: ActionRecord = { name, type, status: 'Running', startTime: logicTime(), trackingId: randomUUID() };
    this.actions.set(name, rec);
    if (++this.executed > LIMITS.actionsPerRun) {
      throw new TerminateSignal('Failed', { code: 'ActionLimitExceeded', message: `The run executed more than ${LIMITS.actionsPerRun} actions (emulator limit).` });
    }
    const host = this.host(loops);
    const fail = (err: { code: string; message: string }, code = err.code): ActionRecord => {
      rec.status = 'Failed';
      rec.code = code;
      rec.error = err;
      rec.endTime = logicTime();
      return rec;
    };
    try {
      const result = await this.dispatch(type, name, def, rec, host, loops);
      if (this.isTerminal() && this.status === 'Cancelled') {
        rec.status = 'Cancelled';
        rec.endTime = logicTime();
        return rec;
      }
      rec.status = result.status ?? 'Succeeded';
      rec.code ??= rec.status === 'Succeeded' ? 'OK' : rec.status === 'Failed' ? 'ActionFailed' : rec.status;
      if (result.error) rec.error = result.error;
      rec.endTime = logicTime();
      return rec;
    } catch (e) {
      if (e instanceof TerminateSignal) {
        if (!rec.endTime) {
          rec.status = rec.status === 'Running' ? (type.toLowerCase() === 'terminate' ? 'Succeeded' : 'Cancelled') : rec.status;
          rec.code ??= rec.status === 'Succeeded' ? 'OK' : 'Terminated';
          rec.endTime = logicTime();
        }
        throw e;
      }
      if (e instanceof WorkflowError) {
        const msg = e.code === 'InvalidTemplate' ? `Unable to process template language expressions in action '${name}' inputs at line '0' and column '0': '${e.message}'.` : e.message;
        return fail({ code: e.code, message: msg });
      }
      return fail({ code: 'InternalServerError', message: `The emulator failed to run action '${name}': ${(e as Error).message}` });
    }
  }

  // ---------------------------------------------------------------- actions

  /**
   * Runs one action through its handler (actions.ts, by type, case-insensitive); a type without a
   * handler throws UnsupportedByEmulator naming it.
   */
  private async dispatch(type: string, name: string, def: Record<string, unknown>, rec: ActionRecord, host: ExpressionHost, loops: readonly LoopFrame[]): Promise<ActionResult> {
    const handler = actionHandler(type);
    if (!handler) throw unsupported(`Action type '${type || '(none)'}' is not supported by the local emulator (action '${name}').`);
    return handler(this.actionContext(type, name, def, rec, host, loops));
  }

  /** The ActionContext of one action: its definition and record plus the run's facilities, bound to this run. */
  private actionContext(type: string, name: string, def: Record<string, unknown>, rec: ActionRecord, host: ExpressionHost, loops: readonly LoopFrame[]): ActionContext {
    return {
      name,
      type,
      def,
      rec,
      host,
      loops,
      services: this.services,
      signal: this.abort.signal,
      runName: this.input.runName,
      variables: this.variables,
      inputs: () => {
        const v = evaluateValue(def.inputs ?? {}, host);
        return isObj(v) ? v : {};
      },
      hostFor: (l) => this.host(l),
      getVar: (n) => this.getVar(n),
      runActions: (actions, l) => this.runScope(actions, l),
      skipActions: (actions) => {
        if (isObj(actions)) for (const [n, d] of Object.entries(actions)) if (isObj(d)) this.markSkipped(n, d);
      },
      clearInner: () => this.clearInner(name),
      scopeResult: (failed) => (failed ? { status: 'Failed', error: this.innerError(name) } : {}),
      respond: (answer) => this.respond(name, answer),
      terminate: (status, error) => {
        rec.status = 'Succeeded';
        rec.code = 'OK';
        rec.endTime = logicTime();
        throw new TerminateSignal(status, error);
      },
    };
  }

  /** The Response action: answers waiting callers once; later Responses (or after the caller timed out) fail. */
  private respond(name: string, answer: HttpAnswer): ActionResult {
    if (this.responseSent) {
      return { status: 'Failed', error: { code: 'ActionResponseSkipped', message: `The execution of template action '${name}' is skipped: the client request was already answered by another Response action.` } };
    }
    if (this.responseTimedOut) {
      return { status: 'Failed', error: { code: 'ActionResponseTimedOut', message: `The execution of template action '${name}' failed: the client request timed out before the Response action ran.` } };
    }
    this.responseSent = answer;
    const waiters = this.responseWaiters;
    this.responseWaiters = [];
    for (const w of waiters) w(answer);
    return {};
  }

  /** The error of a failed container: UnsupportedByEmulator from inside when present, else ActionFailed. */
  private innerError(container: string): { code: string; message: string } {
    for (const a of this.index.values()) {
      if (!this.isInside(a.name, container)) continue;
      const r = this.actions.get(a.name);
      if (r?.error?.code === 'UnsupportedByEmulator') return r.error;
    }
    return { code: 'ActionFailed', message: 'An action failed. No dependent actions succeeded.' };
  }

  private isInside(name: string, container: string): boolean {
    let p = this.index.get(name)?.parent;
    while (p) {
      if (p === container) return true;
      p = this.index.get(p)?.parent;
    }
    return false;
  }

  /** Forgets the records of a loop's inner actions before the next iteration. */
  private clearInner(loop: string): void {
    for (const a of this.index.values()) if (this.isInside(a.name, loop)) this.actions.delete(a.name);
  }

  private getVar(name: unknown): Variable {
    const v = this.variables.get(String(name ?? '').toLowerCase());
    if (!v) throw invalidTemplate(`The variable '${String(name)}' does not exist. Initialize it with an 'InitializeVariable' action first.`);
    return v;
  }
}
