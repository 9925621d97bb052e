/**
 * The action types the engine runs, as a table: lower-case action type -> handler. A handler gets the
 * action's ActionContext (its definition, record, expression host and the run's facilities) and returns
 * the action's status (default Succeeded) and error; it fills `rec.inputs`/`rec.outputs`/`rec.code` as
 * Logic Apps shows them in run history. Expression errors are WorkflowError InvalidTemplate (thrown).
 * Types missing from the table fail the action with UnsupportedByEmulator (WorkflowRun).
 * Source: Workflow Definition Language, "Schema reference guide for trigger and action types".
 */
import { STATUS_CODES } from 'node:http';
import { evaluateCondition } from './conditions';
import { invalidTemplate, WorkflowError } from './errors';
import { evaluateValue, isObj, toWdlString, typeName, type ExpressionHost } from './functions';
import { isoDurationMs, redactHeaders, safeUri } from './http';
import type { ActionRecord, HttpAnswer, LoopFrame, RunServices, RunStatus } from './runner';

/** Upper bounds that keep a runaway workflow from hanging the emulator. */
export const LIMITS = {
  /** Iterations per Foreach (Logic Apps: 100,000). */
  foreachItems: 5000,
  /** Iterations per Until (Logic Apps: limit.count default 60, max 5000). */
  untilCount: 5000,
  /** Actions executed per run (all iterations included). */
  actionsPerRun: 100_000,
  /** Default Http action timeout (Logic Apps: 120 s for synchronous requests). */
  httpTimeoutMs: 120_000,
};

/** A run variable (InitializeVariable): lower-case type name and current value. */
export interface Variable {
  type: string;
  value: unknown;
}

/** What an action handler returns: its status (undefined = Succeeded) and error. */
export interface ActionResult {
  status?: RunStatus;
  error?: { code: string; message: string };
}

/** One action as its handler sees it, with the facilities of the run it belongs to (built by WorkflowRun). */
export interface ActionContext {
  /** Action name (unique per workflow). */
  readonly name: string;
  /** Action type as written in the definition. */
  readonly type: string;
  readonly def: Record<string, unknown>;
  /** The action's history record (status and times are set by the run). */
  readonly rec: ActionRecord;
  /** Expressions at the action's position (enclosing loops included). */
  readonly host: ExpressionHost;
  readonly loops: readonly LoopFrame[];
  readonly services: RunServices;
  /** Aborted when the run is cancelled. */
  readonly signal: AbortSignal;
  /** Name of the run (the Workflow action passes it as the parent run). */
  readonly runName: string;
  /** Run variables by lower-case name. */
  readonly variables: Map<string, Variable>;
  /** `def.inputs` evaluated; `{}` unless it evaluates to an object. */
  inputs(): Record<string, unknown>;
  /** Expression host for other loop frames (Select/Query items, loop iterations). */
  hostFor(loops: readonly LoopFrame[]): ExpressionHost;
  /** The variable `name` (case-insensitive); InvalidTemplate when not initialized. */
  getVar(name: unknown): Variable;
  /** Runs an `actions` object in runAfter order; true when it failed (an unhandled failure). */
  runActions(actions: unknown, loops: readonly LoopFrame[]): Promise<boolean>;
  /** Marks every action of an `actions` object (and their inner actions) Skipped. */
  skipActions(actions: unknown): void;
  /** Forgets the records of this loop's inner actions (before the next iteration). */
  clearInner(): void;
  /** Result of a container: Failed with the inner UnsupportedByEmulator or ActionFailed error when `failed`. */
  scopeResult(failed: boolean): ActionResult;
  /** Answers the run's caller with `answer` (the Response action); Failed when already answered or timed out. */
  respond(answer: HttpAnswer): ActionResult;
  /** Ends the run at once with `status` (the Terminate action); the action itself Succeeded. */
  terminate(status: 'Failed' | 'Cancelled' | 'Succeeded', error?: { code: string; message: string }): never;
}

/** An action type's implementation. */
export type ActionHandler = (a: ActionContext) => ActionResult | Promise<ActionResult>;

// ---------------------------------------------------------------- helpers

function httpCode(status: number): string {
  return (STATUS_CODES[status] ?? `Status${status}`).replace(/[^A-Za-z]/g, '');
}

function defaultFor(t: string): unknown {
  switch (t) {
    case 'array': return [];
    case 'object': return {};
    case 'string': return '';
    case 'integer':
    case 'float': return 0;
    case 'boolean': return false;
    default: return null;
  }
}

/** Checks a variable value against its declared type (null allowed; numbers for Float; 'true'/'false' not coerced). */
function coerceVariable(name: string, t: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const ok =
    (t === 'string' && typeof value === 'string') ||
    (t === 'integer' && typeof value === 'number' && Number.isInteger(value)) ||
    (t === 'float' && typeof value === 'number') ||
    (t === 'boolean' && typeof value === 'boolean') ||
    (t === 'array' && Array.isArray(value)) ||
    (t === 'object' && isObj(value));
  if (!['string', 'integer', 'float', 'boolean', 'array', 'object'].includes(t)) throw invalidTemplate(`The variable '${name}' has an unknown type '${t}'. Allowed: String, Integer, Float, Boolean, Array, Object.`);
  if (!ok) throw invalidTemplate(`The variable '${name}' of type '${t}' cannot be initialized or updated with a value of type '${typeName(value)}'.`);
  return value;
}

function switchEquals(caseValue: unknown, value: unknown): boolean {
  if (typeof caseValue === 'string' && typeof value === 'string') return caseValue === value;
  return caseValue === value;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    t.unref?.();
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Header-like object of an evaluated input (`headers`, `queries`) with every value as a string. */
function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) out[k] = toWdlString(x);
  return out;
}

/**
 * Select and Query: evaluates `inputs.from` (InvalidTemplate unless an array), then `apply`s `inputs.{key}`
 * to the items, each with its own expression host (item() = the element); records `{from}` and `{body}`.
 */
function overItems(a: ActionContext, key: 'select' | 'where', apply: (from: unknown[], expr: unknown, hostAt: (item: unknown, index: number) => ExpressionHost) => unknown[]): ActionResult {
  const from = evaluateValue(isObj(a.def.inputs) ? a.def.inputs.from : undefined, a.host);
  if (!Array.isArray(from)) throw invalidTemplate(`The 'from' property of action '${a.name}' must evaluate to an array, not '${typeName(from)}'.`);
  const expr = isObj(a.def.inputs) ? a.def.inputs[key] : undefined;
  const body = apply(from, expr, (item, index) => a.hostFor([...a.loops, { name: a.name, item, index }]));
  a.rec.inputs = { from };
  a.rec.outputs = { body };
  return {};
}

// ---------------------------------------------------------------- data and variables

const compose: ActionHandler = ({ def, host, rec }) => {
  const v = evaluateValue(def.inputs ?? null, host);
  rec.inputs = v;
  rec.outputs = v;
  return {};
};

const initializeVariable: ActionHandler = (a) => {
  const inp = a.inputs();
  a.rec.inputs = inp;
  const vars = Array.isArray(inp.variables) ? inp.variables : [];
  for (const v of vars) {
    if (!isObj(v) || typeof v.name !== 'string') throw invalidTemplate("InitializeVariable expects 'inputs.variables' items with a 'name'.");
    const t = String(v.type ?? 'string').toLowerCase();
    if (a.variables.has(v.name.toLowerCase())) throw invalidTemplate(`The variable '${v.name}' has already been initialized.`);
    const value = 'value' in v ? v.value : defaultFor(t);
    a.variables.set(v.name.toLowerCase(), { type: t, value: coerceVariable(v.name, t, value) });
  }
  return {};
};

const setVariable: ActionHandler = (a) => {
  const inp = a.inputs();
  a.rec.inputs = inp;
  const v = a.getVar(inp.name);
  v.value = coerceVariable(String(inp.name), v.type, inp.value);
  a.rec.outputs = { body: { name: inp.name, value: v.value } };
  return {};
};

/** Increment/DecrementVariable: adds or subtracts `inputs.value` (default 1) on an Integer or Float variable. */
function changeNumber(increment: boolean): ActionHandler {
  return (a) => {
    const inp = a.inputs();
    a.rec.inputs = inp;
    const v = a.getVar(inp.name);
    if (v.type !== 'integer' && v.type !== 'float') throw invalidTemplate(`The variable '${String(inp.name)}' of type '${v.type}' cannot be incremented; only Integer and Float variables can.`);
    const by = inp.value === undefined || inp.value === null ? 1 : inp.value;
    if (typeof by !== 'number') throw invalidTemplate(`The increment value of variable '${String(inp.name)}' must be a number, not '${typeName(by)}'.`);
    v.value = (typeof v.value === 'number' ? v.value : 0) + (increment ? by : -by);
    a.rec.outputs = { body: { name: inp.name, value: v.value } };
    return {};
  };
}

/** AppendToArrayVariable / AppendToStringVariable: `append`s `inputs.value` to an Array / String variable. */
function appendTo(kind: 'array' | 'string', append: (current: unknown, value: unknown) => unknown): ActionHandler {
  return (a) => {
    const inp = a.inputs();
    a.rec.inputs = inp;
    const v = a.getVar(inp.name);
    if (v.type !== kind) throw invalidTemplate(`The variable '${String(inp.name)}' of type '${v.type}' is not ${kind === 'array' ? 'an array' : 'a string'}.`);
    v.value = append(v.value, inp.value);
    return {};
  };
}

const appendToArrayVariable = appendTo('array', (current, value) => [...(Array.isArray(current) ? current : []), value ?? null]);

const appendToStringVariable = appendTo('string', (current, value) => `${typeof current === 'string' ? current : ''}${toWdlString(value)}`);

const parseJson: ActionHandler = (a) => {
  const inp = a.inputs();
  a.rec.inputs = { content: inp.content, schema: inp.schema };
  let content = inp.content;
  if (typeof content === 'string') {
    try {
      content = JSON.parse(content) as unknown;
    } catch {
      throw new WorkflowError('InvalidJSON', `The 'content' property of action '${a.name}' is not valid JSON.`);
    }
  }
  a.rec.outputs = { body: content ?? null };
  return {};
};

const select: ActionHandler = (a) => overItems(a, 'select', (from, expr, hostAt) => from.map((item, i) => evaluateValue(expr, hostAt(item, i))));

const query: ActionHandler = (a) => overItems(a, 'where', (from, expr, hostAt) => from.filter((item, i) => evaluateCondition(expr, hostAt(item, i))));

const join: ActionHandler = (a) => {
  const inp = a.inputs();
  a.rec.inputs = inp;
  if (!Array.isArray(inp.from)) throw invalidTemplate(`The 'from' property of action '${a.name}' must evaluate to an array.`);
  a.rec.outputs = { body: inp.from.map(toWdlString).join(toWdlString(inp.joinWith)) };
  return {};
};

// ---------------------------------------------------------------- run control

const response: ActionHandler = (a) => {
  const inp = a.inputs();
  const statusCode = typeof inp.statusCode === 'string' && /^\d+$/.test(inp.statusCode) ? Number(inp.statusCode) : inp.statusCode ?? 200;
  if (typeof statusCode !== 'number' || statusCode < 100 || statusCode > 599) throw invalidTemplate(`The response status code '${toWdlString(statusCode)}' of action '${a.name}' is not valid.`);
  const answer: HttpAnswer = { statusCode, headers: stringMap(inp.headers), body: inp.body === undefined ? null : inp.body };
  a.rec.inputs = answer;
  a.rec.outputs = answer;
  return a.respond(answer);
};

const terminate: ActionHandler = (a) => {
  const inp = a.inputs();
  a.rec.inputs = inp;
  const st = String(inp.runStatus ?? 'Failed').toLowerCase();
  const status = st === 'succeeded' ? 'Succeeded' : st === 'cancelled' ? 'Cancelled' : 'Failed';
  const re = isObj(inp.runError) ? inp.runError : {};
  const error = status === 'Failed' ? { code: typeof re.code === 'string' && re.code ? re.code : 'Terminated', message: typeof re.message === 'string' ? re.message : 'The workflow run was terminated.' } : undefined;
  return a.terminate(status, error);
};

const wait: ActionHandler = async (a) => {
  const inp = a.inputs();
  a.rec.inputs = inp;
  let ms = 0;
  if (isObj(inp.interval)) {
    const unit = String(inp.interval.unit ?? 'second').toLowerCase().replace(/s$/, '');
    const n = Number(inp.interval.count ?? 0);
    const per: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 604_800_000, month: 2_592_000_000 };
    if (!per[unit] || !Number.isFinite(n)) throw invalidTemplate(`The 'interval' of Wait action '${a.name}' is not valid.`);
    ms = n * per[unit];
  } else if (isObj(inp.until)) {
    const t = Date.parse(String(inp.until.timestamp ?? ''));
    if (Number.isNaN(t)) throw invalidTemplate(`The 'until.timestamp' of Wait action '${a.name}' is not a valid timestamp.`);
    ms = t - Date.now();
  } else throw invalidTemplate(`The Wait action '${a.name}' needs 'inputs.interval' or 'inputs.until'.`);
  if (ms > a.services.maxWaitMs) {
    throw new WorkflowError('UnsupportedByEmulator', `The Wait action '${a.name}' would wait ${Math.round(ms / 1000)} s; the local emulator waits at most ${a.services.maxWaitMs / 1000} s (setting maxWaitSeconds).`);
  }
  if (ms > 0) await abortableSleep(ms, a.signal);
  return {};
};

// ---------------------------------------------------------------- containers

const scope: ActionHandler = async (a) => a.scopeResult(await a.runActions(a.def.actions, a.loops));

const ifAction: ActionHandler = async (a) => {
  const { def } = a;
  const ok = evaluateCondition(def.expression, a.host);
  a.rec.inputs = { expressionResult: ok };
  a.rec.outputs = { expression: ok };
  const elseActions = isObj(def.else) ? def.else.actions : undefined;
  a.skipActions(ok ? elseActions : def.actions);
  return a.scopeResult(await a.runActions(ok ? def.actions : elseActions, a.loops));
};

const switchAction: ActionHandler = async (a) => {
  const { def } = a;
  const value = evaluateValue(def.expression, a.host);
  a.rec.inputs = { expressionValue: value };
  const cases = isObj(def.cases) ? def.cases : {};
  let chosen: unknown;
  let matched = false;
  for (const c of Object.values(cases)) {
    if (!isObj(c)) continue;
    if (!matched && switchEquals(c.case, value)) {
      chosen = c.actions;
      matched = true;
    } else a.skipActions(c.actions);
  }
  const dflt = isObj(def.default) ? def.default.actions : undefined;
  if (!matched) chosen = dflt;
  else a.skipActions(dflt);
  return a.scopeResult(await a.runActions(chosen, a.loops));
};

const foreach: ActionHandler = async (a) => {
  const list = evaluateValue(a.def.foreach, a.host);
  if (!Array.isArray(list)) throw invalidTemplate(`The 'foreach' expression of action '${a.name}' must evaluate to an array, not '${typeName(list)}'.`);
  if (list.length > LIMITS.foreachItems) throw new WorkflowError('IterationLimitExceeded', `The 'foreach' of action '${a.name}' has ${list.length} items; the emulator runs at most ${LIMITS.foreachItems}.`);
  let failed = false;
  for (let i = 0; i < list.length; i++) {
    a.clearInner();
    if (await a.runActions(a.def.actions, [...a.loops, { name: a.name, item: list[i], index: i }])) failed = true;
    a.rec.iterations = i + 1;
  }
  a.rec.inputs = { count: list.length };
  return a.scopeResult(failed);
};

const until: ActionHandler = async (a) => {
  const limit = isObj(a.def.limit) ? a.def.limit : {};
  const count = Math.min(typeof limit.count === 'number' ? limit.count : 60, LIMITS.untilCount);
  const timeoutMs = typeof limit.timeout === 'string' ? isoDurationMs(limit.timeout) ?? 3_600_000 : 3_600_000;
  const started = Date.now();
  let failed = false;
  for (let i = 0; i < count; i++) {
    const loops = [...a.loops, { name: a.name, item: null, index: i }];
    a.clearInner();
    if (await a.runActions(a.def.actions, loops)) failed = true;
    a.rec.iterations = i + 1;
    if (failed) break;
    if (evaluateCondition(a.def.expression, a.hostFor(loops))) break;
    if (Date.now() - started > timeoutMs) {
      return { status: 'TimedOut', error: { code: 'ActionTimedOut', message: `The 'Until' action '${a.name}' exceeded its timeout.` } };
    }
  }
  return a.scopeResult(failed);
};

// ---------------------------------------------------------------- outbound calls

const http: ActionHandler = async (a) => {
  const { def, rec } = a;
  const inp = a.inputs();
  const method = String(inp.method ?? 'GET').toUpperCase();
  if (typeof inp.uri !== 'string' || !inp.uri) throw invalidTemplate(`The 'uri' of Http action '${a.name}' must be a non-empty string.`);
  const headers = stringMap(inp.headers);
  const queries = stringMap(inp.queries);
  const limit = isObj(def.limit) ? def.limit : {};
  const timeoutMs = typeof limit.timeout === 'string' ? Math.min(isoDurationMs(limit.timeout) ?? LIMITS.httpTimeoutMs, LIMITS.httpTimeoutMs) : LIMITS.httpTimeoutMs;
  const opts = String(def.operationOptions ?? '').toLowerCase();
  rec.inputs = { method, uri: inp.uri.replace(/([?&]sig=)[^&]*/gi, '$1*sanitized*'), headers: redactHeaders(headers), ...(Object.keys(queries).length ? { queries } : {}), ...(inp.body !== undefined ? { body: inp.body } : {}), ...(isObj(inp.authentication) ? { authentication: { type: inp.authentication.type } } : {}) };
  const answer = await a.services.http(
    {
      method,
      uri: inp.uri,
      headers,
      queries,
      body: inp.body,
      authentication: isObj(inp.authentication) ? inp.authentication : undefined,
      timeoutMs,
      disableAsyncPattern: opts.includes('disableasyncpattern'),
      retryPolicy: isObj(inp.retryPolicy) ? inp.retryPolicy : undefined,
    },
    a.signal,
  );
  rec.outputs = answer;
  rec.code = httpCode(answer.statusCode);
  if (answer.statusCode >= 400) return { status: 'Failed', error: { code: rec.code, message: `The HTTP request to '${safeUri(inp.uri)}' answered ${answer.statusCode}.` } };
  return {};
};

const workflow: ActionHandler = async (a) => {
  const inp = a.inputs();
  const hostInfo = isObj(inp.host) ? inp.host : {};
  const wf = isObj(hostInfo.workflow) ? hostInfo.workflow : {};
  if (typeof wf.id !== 'string' || typeof hostInfo.triggerName !== 'string') throw invalidTemplate(`The Workflow action '${a.name}' needs 'inputs.host.workflow.id' and 'inputs.host.triggerName'.`);
  const headers = stringMap(inp.headers);
  a.rec.inputs = { host: hostInfo, body: inp.body ?? null, headers };
  const answer = await a.services.invokeWorkflow(wf.id, hostInfo.triggerName, inp.body ?? null, headers, a.runName);
  a.rec.outputs = answer;
  a.rec.code = httpCode(answer.statusCode);
  if (answer.statusCode >= 400) return { status: 'Failed', error: { code: a.rec.code, message: `The called workflow answered ${answer.statusCode}.` } };
  return {};
};

/** Action type (lower-case) -> handler. Anything else is UnsupportedByEmulator. */
export const ACTION_HANDLERS: Readonly<Record<string, ActionHandler>> = Object.freeze({
  compose,
  initializevariable: initializeVariable,
  setvariable: setVariable,
  incrementvariable: changeNumber(true),
  decrementvariable: changeNumber(false),
  appendtoarrayvariable: appendToArrayVariable,
  appendtostringvariable: appendToStringVariable,
  parsejson: parseJson,
  select,
  query,
  join,
  response,
  terminate,
  wait,
  scope,
  if: ifAction,
  switch: switchAction,
  foreach,
  until,
  http,
  workflow,
});

/** The handler of an action type (case-insensitive), or undefined when the emulator does not support it. */
export function actionHandler(type: string): ActionHandler | undefined {
  const k = type.toLowerCase();
  return Object.hasOwn(ACTION_HANDLERS, k) ? ACTION_HANDLERS[k] : undefined;
}
