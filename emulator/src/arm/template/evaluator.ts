import { ArmTemplateError } from './types';
import { EvalEnv, withCopy } from './context';
import { classifyString, ExprNode, parseExpression, visitCalls } from './expression';
import { FUNCTIONS, NodeEvaluator, fnError, getPropertyCI, isListFunction, isPlainObject, kindOf } from './functions';
import { invalidTemplate, unknownFunction } from './errors';
import { concreteValue, isOpenObject, UnknownScriptOutput } from './script-outputs';

/** Maximum nested evaluations (functions calling variables calling functions ...) before refusing. */
export const MAX_EVALUATION_DEPTH = 400;
/** Maximum JSON nesting depth of template values walked by the evaluator. */
export const MAX_VALUE_DEPTH = 200;
/** ARM limit on copy counts. ARM docs: "Resource iteration" (count cannot exceed 800). */
export const MAX_COPY_COUNT = 800;

/** Returns the AST of an expression body, parsing at most once per run (cache on the host). */
export function parseCached(body: string, env: EvalEnv): ExprNode {
  const cache = env.host.parseCache;
  let node = cache.get(body);
  if (!node) {
    node = parseExpression(body);
    cache.set(body, node);
  }
  return node;
}

/**
 * Evaluates one AST node to a concrete value (an unknown deployment script output becomes its
 * placeholder string, see script-outputs.ts). Function names are matched case-insensitively; `list*`
 * names go to the host's listAction. Property access is case-insensitive; a missing property or an
 * index out of range throws InvalidTemplate like ARM ("The language expression property 'x' doesn't
 * exist"), except on the open `outputs` of a deployment script.
 */
export const evaluateNode: NodeEvaluator = (node: ExprNode, env: EvalEnv): Promise<unknown> =>
  node.kind === 'property' || node.kind === 'index' ? evaluateMember(node, env).then(concreteValue) : evaluateMember(node, env);

/** Evaluates one AST node; member and index reads may give an UnknownScriptOutput (only they see one). */
async function evaluateMember(node: ExprNode, env: EvalEnv): Promise<unknown> {
  const counters = env.host.counters;
  if (++counters.depth > MAX_EVALUATION_DEPTH) {
    counters.depth--;
    throw invalidTemplate(`The template evaluation exceeded the maximum depth of ${MAX_EVALUATION_DEPTH} nested evaluations.`);
  }
  try {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'call':
        return await callFunction(node.name, node.args, env);
      case 'property': {
        const target = await evaluateMember(node.target, env);
        if (target instanceof UnknownScriptOutput) return target.member(node.name);
        if (!isPlainObject(target)) {
          throw new ArmTemplateError(
            'InvalidTemplate',
            `The template language expression property '${node.name}' cannot be evaluated on a value of type '${kindOf(target)}'.`,
          );
        }
        const r = getPropertyCI(target, node.name);
        if (!r.found) {
          if (isOpenObject(target)) return new UnknownScriptOutput(node.name);
          throw new ArmTemplateError(
            'InvalidTemplate',
            `The language expression property '${node.name}' doesn't exist, available properties are '${Object.keys(target).join(', ')}'.`,
          );
        }
        return r.value;
      }
      case 'index': {
        const target = await evaluateMember(node.target, env);
        const idx = await evaluateNode(node.index, env);
        if (target instanceof UnknownScriptOutput && (typeof idx === 'string' || typeof idx === 'number')) return target.member(idx);
        if (Array.isArray(target)) {
          if (typeof idx !== 'number' || !Number.isInteger(idx)) throw new ArmTemplateError('InvalidTemplate', `The language expression array index '${String(idx)}' must be an integer.`);
          if (idx < 0 || idx >= target.length) {
            throw new ArmTemplateError('InvalidTemplate', `The language expression property array index '${idx}' is out of bounds.`);
          }
          return target[idx];
        }
        if (isPlainObject(target)) {
          if (typeof idx !== 'string') throw new ArmTemplateError('InvalidTemplate', `The language expression object index must be a string but was '${kindOf(idx)}'.`);
          const r = getPropertyCI(target, idx);
          if (!r.found) {
            if (isOpenObject(target)) return new UnknownScriptOutput(idx);
            throw new ArmTemplateError('InvalidTemplate', `The language expression property '${idx}' doesn't exist, available properties are '${Object.keys(target).join(', ')}'.`);
          }
          return r.value;
        }
        throw new ArmTemplateError('InvalidTemplate', `The language expression cannot index a value of type '${kindOf(target)}'.`);
      }
    }
  } finally {
    counters.depth--;
  }
}

async function callFunction(name: string, argNodes: ExprNode[], env: EvalEnv): Promise<unknown> {
  const lower = name.toLowerCase();
  const fn = FUNCTIONS[lower];
  if (!fn) {
    if (isListFunction(lower)) {
      const args: unknown[] = [];
      for (const a of argNodes) args.push(await evaluateNode(a, env));
      if (args.length < 1 || args.length > 3) throw fnError(name, 'expects 1 to 3 arguments.');
      if (typeof args[0] !== 'string') throw fnError(name, `argument 1 must be of type 'String' but was '${kindOf(args[0])}'.`);
      const apiVersion = typeof args[1] === 'string' ? args[1] : undefined;
      return env.host.listAction(name, args[0], apiVersion, args[2]);
    }
    throw unknownFunction(name);
  }
  if (argNodes.length < fn.min || argNodes.length > fn.max) {
    const range = fn.max === fn.min ? `${fn.min}` : fn.max === Number.POSITIVE_INFINITY ? `at least ${fn.min}` : `${fn.min} to ${fn.max}`;
    throw fnError(name, `the function expects ${range} argument(s) but ${argNodes.length} were provided.`);
  }
  if (fn.lazy) return fn.impl(argNodes, env, evaluateNode, name);
  const args: unknown[] = [];
  for (const a of argNodes) args.push(await evaluateNode(a, env));
  return fn.impl(args, env, name);
}

/** Evaluates a JSON string: expressions ("[...]") are evaluated, "[[" escapes are unescaped, other strings returned as is. */
export async function evaluateString(s: string, env: EvalEnv): Promise<unknown> {
  const k = classifyString(s);
  if (!k.expression) return k.literal;
  return evaluateNode(parseCached(k.body, env), env);
}

/** True when `v` looks like a property/variable-level copy array: [{ name, count, input }]. */
function isCopyArray(v: unknown): v is Array<Record<string, unknown>> {
  return Array.isArray(v) && v.length > 0 && v.every((x) => isPlainObject(x) && 'name' in x && 'count' in x && 'input' in x);
}

/** Evaluates a copy `count` (ARM docs: a non-negative integer up to 800). */
export async function evaluateCopyCount(raw: unknown, env: EvalEnv, what: string): Promise<number> {
  let count = typeof raw === 'string' ? await evaluateString(raw, env) : raw;
  if (typeof count === 'string' && /^\d+$/.test(count)) count = Number(count);
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw invalidTemplate(`The copy count of '${what}' must be a non-negative integer, but was '${JSON.stringify(count)}'.`);
  }
  if (count > MAX_COPY_COUNT) throw invalidTemplate(`The copy count of '${what}' must not exceed ${MAX_COPY_COUNT}; it was ${count}.`);
  return count;
}

/**
 * Expands a property-level copy array (ARM docs: "Property iteration"): each entry
 * `{name, count, input}` becomes property `name` = [input evaluated with copyIndex(name) = 0..count-1].
 */
export async function expandCopyArray(copies: Array<Record<string, unknown>>, env: EvalEnv, depth: number): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const c of copies) {
    const name = await evaluateValue(c.name, env, depth + 1);
    if (typeof name !== 'string' || !name) throw invalidTemplate("The copy property 'name' must be a non-empty string.");
    const count = await evaluateCopyCount(c.count, env, name);
    const items: unknown[] = [];
    for (let i = 0; i < count; i++) items.push(await evaluateValue(c.input, withCopy(env, name, i, false), depth + 1));
    out[name] = items;
  }
  return out;
}

/**
 * Deep-evaluates a JSON value: every string is evaluated (see evaluateString), arrays and objects
 * recursively; an object key `copy` holding [{name,count,input}] is expanded in place (property
 * iteration). Throws InvalidTemplate when nesting exceeds MAX_VALUE_DEPTH.
 */
export async function evaluateValue(value: unknown, env: EvalEnv, depth = 0): Promise<unknown> {
  if (depth > MAX_VALUE_DEPTH) throw invalidTemplate(`The template value is nested too deeply (more than ${MAX_VALUE_DEPTH} levels).`);
  if (typeof value === 'string') return evaluateString(value, env);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const x of value) out.push(await evaluateValue(x, env, depth + 1));
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k.toLowerCase() === 'copy' && isCopyArray(v)) Object.assign(out, await expandCopyArray(v, env, depth));
      else out[k] = await evaluateValue(v, env, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * Validation-time syntax check of every expression string inside `value` (iterative walk): parses
 * each "[...]" string and checks that every function exists. Throws InvalidTemplate on the first
 * problem; newGuid()/utcNow() are only allowed under a `defaultValue`. ARM validates all template
 * language expressions before deploying.
 */
export function validateExpressions(value: unknown, env: EvalEnv): void {
  const stack: Array<{ v: unknown; d: number; gen: boolean }> = [{ v: value, d: 0, gen: false }];
  while (stack.length) {
    const { v, d, gen } = stack.pop()!;
    if (d > MAX_VALUE_DEPTH) throw invalidTemplate(`The template value is nested too deeply (more than ${MAX_VALUE_DEPTH} levels).`);
    if (typeof v === 'string') {
      const k = classifyString(v);
      if (!k.expression) continue;
      const node = parseCached(k.body, env);
      visitCalls(node, (name) => {
        const lower = name.toLowerCase();
        if (!FUNCTIONS[lower] && !isListFunction(lower)) throw unknownFunction(name);
        if (!gen && (lower === 'newguid' || lower === 'utcnow')) {
          throw invalidTemplate(`The template function '${name}' is not expected at this location. The function can only be used within the default value of a parameter.`);
        }
      });
    } else if (Array.isArray(v)) for (const x of v) stack.push({ v: x, d: d + 1, gen });
    else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) stack.push({ v: x, d: d + 1, gen: gen || k === 'defaultValue' });
  }
}
