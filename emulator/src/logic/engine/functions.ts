import { randomInt, randomUUID } from 'node:crypto';
import { formatDateTime } from '../../arm/template/datetime';
import { binaryOf, bytesOf, contentText, formValues, isBinaryContent, multipartParts, parseDataUri, xmlOf } from './content';
import { formatWall, parseDateTime, parseWall, timeSpan } from './dates';
import { invalidTemplate, unsupported, WorkflowError } from './errors';
import { parseString, type Expr } from './expression';
import { formatNumber, parseLocaleNumber } from './numbers';
import { ianaZone, utcToWall, wallToUtc } from './timezones';

/**
 * What expression functions can see of the running workflow (implemented by the run engine).
 * Every accessor throws a WorkflowError (InvalidTemplate) when the name is unknown, like Logic Apps.
 */
export interface ExpressionHost {
  /** workflow(): `{ id, name, type, location, tags, run: { id, name, type } }`. */
  workflow(): unknown;
  /** trigger(): `{ name, inputs, outputs, startTime, endTime, status, code, ... }`. */
  trigger(): Record<string, unknown>;
  /** actions('x') record: `{ name, inputs, outputs, status, code, startTime, endTime, error }`. */
  action(name: string): Record<string, unknown>;
  variable(name: string): unknown;
  parameter(name: string): unknown;
  /** Current element of the innermost Foreach (or of Select/Query's `from`). */
  item(): unknown;
  /** Current element of the named Foreach. */
  items(loop: string): unknown;
  /** Current index of the named Foreach / Until. */
  iterationIndexes(loop: string): number;
  /** result('scope'): records of the actions directly inside the scope/loop/condition. */
  result(scope: string): unknown[];
  /** appsetting('x') (Standard only): from the workflow parameter `appsettings` when declared. */
  appsetting(name: string): unknown;
  /** listCallbackUrl(): callback URL of the current run's trigger. */
  listCallbackUrl(): string;
}

/** True for a plain JSON object. */
export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Type name as Logic Apps error messages print it (Null, String, Integer, Float, Boolean, Array, Object). */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'Null';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Float';
  if (typeof v === 'boolean') return 'Boolean';
  if (Array.isArray(v)) return 'Array';
  return 'Object';
}

/**
 * String form used by `@{...}` interpolation and string(): strings as is, null as '', booleans as
 * 'True'/'False' (.NET), numbers in invariant form, arrays/objects as compact JSON.
 */
export function toWdlString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

/** Deep equality (objects key-order independent). Strings compare case-sensitively. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === null || b === null) return a === b;
  if (typeof a !== typeof b) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Property lookup: exact name first, then case-insensitive (headers and most Logic Apps objects are case-insensitive). */
export function getProp(o: Record<string, unknown>, key: string): { found: boolean; value?: unknown } {
  if (Object.prototype.hasOwnProperty.call(o, key)) return { found: true, value: o[key] };
  const lower = key.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return { found: true, value: o[k] };
  return { found: false };
}

/** Evaluates a parsed expression against the host. Throws WorkflowError. */
export function evaluate(e: Expr, host: ExpressionHost): unknown {
  switch (e.k) {
    case 'lit':
      return e.v;
    case 'prop': {
      const target = evaluate(e.target, host);
      const key = evaluate(e.key, host);
      if (target === null || target === undefined) {
        if (e.safe) return null;
        throw invalidTemplate(`The template language expression cannot be evaluated because property '${toWdlString(key)}' cannot be selected. Property selection is not supported on values of type 'Null'.`);
      }
      if (Array.isArray(target)) {
        if (typeof key !== 'number' || !Number.isInteger(key)) throw invalidTemplate(`The template language expression cannot be evaluated because property '${toWdlString(key)}' cannot be selected. Array elements can only be selected using an integer index.`);
        if (key < 0 || key >= target.length) {
          if (e.safe) return null;
          throw invalidTemplate(`The template language expression cannot be evaluated because array index '${key}' is outside bounds (0 - ${target.length - 1}) of array.`);
        }
        return target[key];
      }
      if (isObj(target)) {
        const r = getProp(target, toWdlString(key));
        if (r.found) return r.value ?? null;
        if (e.safe) return null;
        throw invalidTemplate(`The template language expression cannot be evaluated because property '${toWdlString(key)}' doesn't exist, available properties are '${Object.keys(target).join(', ').slice(0, 500)}'.`);
      }
      if (typeof target === 'string' && typeof key === 'number') return target[key] ?? null;
      if (e.safe) return null;
      throw invalidTemplate(`The template language expression cannot be evaluated because property '${toWdlString(key)}' cannot be selected. Property selection is not supported on values of type '${typeName(target)}'.`);
    }
    case 'call':
      return callFunction(e, host);
  }
}

/**
 * Evaluates a definition value: strings are parsed (expression / interpolation / literal),
 * objects and arrays recursively. Non-string scalars are returned as is.
 */
export function evaluateValue(v: unknown, host: ExpressionHost): unknown {
  if (typeof v === 'string') {
    const p = parseString(v);
    if (p.kind === 'literal') return p.value;
    if (p.kind === 'expression') return evaluate(p.expr, host);
    return p.parts.map((x) => (typeof x === 'string' ? x : toWdlString(evaluate(x.expr, host)))).join('');
  }
  if (Array.isArray(v)) return v.map((x) => evaluateValue(x, host));
  if (isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = evaluateValue(x, host);
    return out;
  }
  return v;
}

type Fn = (args: unknown[], host: ExpressionHost, name: string) => unknown;

function argErr(name: string, msg: string): WorkflowError {
  return invalidTemplate(`The template language function '${name}' ${msg}`);
}

function str(name: string, v: unknown, i: number): string {
  if (typeof v === 'string') return v;
  throw argErr(name, `expects its parameter ${i + 1} to be a string. The provided value is of type '${typeName(v)}'.`);
}

function num(name: string, v: unknown, i: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw argErr(name, `expects its parameter ${i + 1} to be an integer or a decimal number. The provided value is of type '${typeName(v)}'.`);
}

function int(name: string, v: unknown, i: number): number {
  const n = num(name, v, i);
  if (!Number.isInteger(n)) throw argErr(name, `expects its parameter ${i + 1} to be an integer. The provided value is of type 'Float'.`);
  return n;
}

function arr(name: string, v: unknown, i: number): unknown[] {
  if (Array.isArray(v)) return v;
  throw argErr(name, `expects its parameter ${i + 1} to be an array. The provided value is of type '${typeName(v)}'.`);
}

/** Parses a WDL timestamp (ISO 8601). */
function ts(name: string, v: unknown, i: number): Date {
  const s = str(name, v, i);
  const d = new Date(s.endsWith('Z') || /[+-]\d\d:?\d\d$/.test(s) || !/T/.test(s) ? s : `${s}Z`);
  if (Number.isNaN(d.getTime())) throw argErr(name, `expects its parameter ${i + 1} to be a timestamp in ISO 8601 format. The provided value '${s.slice(0, 100)}' is not valid.`);
  return d;
}

/** Formats a timestamp; default format "o" (e.g. 2024-01-01T10:00:00.0000000Z) like Logic Apps. */
function fmt(d: Date, f: unknown): string {
  return formatDateTime(d, typeof f === 'string' && f ? f : 'o');
}

const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 };

function addUnits(name: string, d: Date, interval: number, unit: unknown): Date {
  const u = str(name, unit, 2).toLowerCase().replace(/s$/, '');
  const out = new Date(d.getTime());
  if (u === 'month') out.setUTCMonth(out.getUTCMonth() + interval);
  else if (u === 'year') out.setUTCFullYear(out.getUTCFullYear() + interval);
  else if (UNIT_MS[u]) out.setTime(out.getTime() + interval * UNIT_MS[u]);
  else throw argErr(name, `expects the time unit to be one of 'Second', 'Minute', 'Hour', 'Day', 'Week', 'Month', 'Year'. The provided value is '${u}'.`);
  return out;
}

function toBool(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
  }
  throw argErr(name, `was invoked with a parameter that is not valid. The value cannot be converted to the target type 'Boolean'.`);
}

function compare(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw argErr(name, `expects parameters of matching types (integer, float or string). The provided values are of types '${typeName(a)}' and '${typeName(b)}'.`);
}

function lengthOf(name: string, v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (isObj(v)) return Object.keys(v).length;
  throw argErr(name, `expects its parameter to be an array or a string. The provided value is of type '${typeName(v)}'.`);
}

function uri(name: string, v: unknown): URL {
  try {
    return new URL(str(name, v, 0));
  } catch {
    throw argErr(name, `expects its parameter to be a valid absolute URI.`);
  }
}

function withProp(name: string, o: unknown, k: unknown, value: unknown, mode: 'add' | 'set' | 'remove'): Record<string, unknown> {
  if (!isObj(o)) throw argErr(name, `expects its parameter 1 to be an object. The provided value is of type '${typeName(o)}'.`);
  const key = str(name, k, 1);
  const out = { ...o };
  if (mode === 'add' && getProp(o, key).found) throw argErr(name, `cannot add property '${key}' because it already exists.`);
  if (mode === 'remove') delete out[key];
  else out[key] = value;
  return out;
}

/**
 * The function table (lower-case names): every function of the Workflow Definition Language reference
 * ("Reference guide to workflow expression functions in Azure Logic Apps") except `xpath` and
 * `action()` (UnsupportedByEmulator). Notable rules kept: indexOf/startsWith/endsWith are
 * case-insensitive; substring fails past the end; div of two integers is an integer division;
 * skip/take clamp; binary values are content envelopes (content.ts); time zones are Windows names
 * (timezones.ts); formatNumber/float/isFloat take a locale (numbers.ts); parseDateTime and
 * dateDifference follow .NET (dates.ts).
 */
export const FUNCTIONS: Record<string, Fn> = {
  // ---- string
  concat: (a) => a.map((x) => toWdlString(x)).join(''),
  substring: (a, _h, n) => {
    const s = str(n, a[0], 0);
    const start = int(n, a[1], 1);
    const len = a.length > 2 ? int(n, a[2], 2) : s.length - start;
    if (start < 0 || start > s.length) throw argErr(n, `parameter 'startIndex' (${start}) is outside the string (length ${s.length}).`);
    if (len < 0 || start + len > s.length) throw argErr(n, `parameters 'startIndex' (${start}) and 'length' (${len}) are outside the string (length ${s.length}).`);
    return s.substr(start, len);
  },
  slice: (a, _h, n) => {
    const s = str(n, a[0], 0);
    return a.length > 2 && a[2] !== null ? s.slice(int(n, a[1], 1), int(n, a[2], 2)) : s.slice(int(n, a[1], 1));
  },
  replace: (a, _h, n) => str(n, a[0], 0).split(str(n, a[1], 1)).join(str(n, a[2], 2)),
  tolower: (a, _h, n) => str(n, a[0], 0).toLowerCase(),
  toupper: (a, _h, n) => str(n, a[0], 0).toUpperCase(),
  trim: (a, _h, n) => str(n, a[0], 0).trim(),
  indexof: (a, _h, n) => str(n, a[0], 0).toLowerCase().indexOf(str(n, a[1], 1).toLowerCase()),
  lastindexof: (a, _h, n) => str(n, a[0], 0).toLowerCase().lastIndexOf(str(n, a[1], 1).toLowerCase()),
  nthindexof: (a, _h, n) => {
    const s = str(n, a[0], 0).toLowerCase();
    const sub = str(n, a[1], 1).toLowerCase();
    let k = int(n, a[2], 2);
    let i = -1;
    while (k-- > 0) {
      i = s.indexOf(sub, i + 1);
      if (i < 0) return -1;
    }
    return i;
  },
  split: (a, _h, n) => str(n, a[0], 0).split(str(n, a[1], 1)),
  startswith: (a, _h, n) => str(n, a[0], 0).toLowerCase().startsWith(str(n, a[1], 1).toLowerCase()),
  endswith: (a, _h, n) => str(n, a[0], 0).toLowerCase().endsWith(str(n, a[1], 1).toLowerCase()),
  guid: (a, _h, n) => {
    const g = randomUUID();
    const f = a.length ? str(n, a[0], 0) : 'D';
    switch (f.toUpperCase()) {
      case 'N': return g.replace(/-/g, '');
      case 'B': return `{${g}}`;
      case 'P': return `(${g})`;
      case 'X': {
        const h = g.replace(/-/g, '');
        return `{0x${h.slice(0, 8)},0x${h.slice(8, 12)},0x${h.slice(12, 16)},{${(h.slice(16).match(/../g) ?? []).map((b) => `0x${b}`).join(',')}}}`;
      }
      case 'D': return g;
      default:
        throw argErr(n, `format '${f.slice(0, 20)}' is not valid; expected one of 'N', 'D', 'B', 'P', 'X'.`);
    }
  },
  base64: (a) => (isBinaryContent(a[0]) ? a[0].$content : Buffer.from(toWdlString(a[0]), 'utf8').toString('base64')),
  base64tostring: (a, _h, n) => Buffer.from(str(n, a[0], 0), 'base64').toString('utf8'),
  decodebase64: (a, _h, n) => Buffer.from(str(n, a[0], 0), 'base64').toString('utf8'),
  base64tobinary: (a, _h, n) => binaryOf(Buffer.from(str(n, a[0], 0), 'base64')),
  binary: (a, _h, n) => binaryOf(bytesOf(n, a[0])),
  datauri: (a, _h, n) => (isBinaryContent(a[0]) ? `data:${a[0]['$content-type']};base64,${a[0].$content}` : `data:text/plain;charset=utf-8;base64,${bytesOf(n, a[0]).toString('base64')}`),
  datauritobinary: (a, _h, n) => {
    const d = parseDataUri(n, str(n, a[0], 0));
    return binaryOf(d.bytes, d.mediaType);
  },
  decodedatauri: (a, _h, n) => {
    const d = parseDataUri(n, str(n, a[0], 0));
    return binaryOf(d.bytes, d.mediaType);
  },
  datauritostring: (a, _h, n) => parseDataUri(n, str(n, a[0], 0)).bytes.toString('utf8'),
  uricomponenttobinary: (a, _h, n) => binaryOf(Buffer.from(decodeURIComponent(str(n, a[0], 0)), 'utf8')),
  encodeuricomponent: (a) => encodeURIComponent(toWdlString(a[0])),
  uricomponent: (a) => encodeURIComponent(toWdlString(a[0])),
  decodeuricomponent: (a, _h, n) => decodeURIComponent(str(n, a[0], 0)),
  uricomponenttostring: (a, _h, n) => decodeURIComponent(str(n, a[0], 0)),
  formatnumber: (a, _h, n) => formatNumber(n, num(n, a[0], 0), str(n, a[1], 1), a.length > 2 ? str(n, a[2], 2) : 'en-US'),
  // ---- conversion
  string: (a) => contentText(a[0]) ?? toWdlString(a[0]),
  int: (a, _h, n) => {
    const v = a[0];
    if (typeof v === 'number') return Math.trunc(v);
    if (typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v)) return parseInt(v, 10);
    throw argErr(n, `was invoked with a parameter that is not valid. The value cannot be converted to the target type 'Integer'.`);
  },
  float: (a, _h, n) => {
    const v = a[0];
    if (typeof v === 'number') return v;
    const parsed = typeof v === 'string' ? parseLocaleNumber(n, v, a.length > 1 ? str(n, a[1], 1) : 'en-US') : undefined;
    if (parsed !== undefined) return parsed;
    throw argErr(n, `was invoked with a parameter that is not valid. The value cannot be converted to the target type 'Float'.`);
  },
  /** decimal(): a decimal number (JavaScript has no decimal type: the value is a double, ~15 significant digits). */
  decimal: (a, _h, n) => {
    const v = a[0];
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
    throw argErr(n, `was invoked with a parameter that is not valid. The value cannot be converted to the target type 'Decimal'.`);
  },
  bool: (a, _h, n) => toBool(n, a[0]),
  json: (a, _h, n) => {
    if (typeof a[0] !== 'string') return a[0];
    try {
      return JSON.parse(a[0]) as unknown;
    } catch {
      throw argErr(n, `parameter is not valid. The provided value '${a[0].slice(0, 100)}' cannot be parsed: not valid JSON.`);
    }
  },
  array: (a) => [a[0]],
  createarray: (a) => [...a],
  isint: (a) => typeof a[0] === 'string' && /^\s*[-+]?\d+\s*$/.test(a[0]),
  isfloat: (a, _h, n) => typeof a[0] === 'string' && parseLocaleNumber(n, a[0], a.length > 1 ? str(n, a[1], 1) : 'en-US') !== undefined,
  xml: (a, _h, n) => xmlOf(n, a[0]),
  /** xpath needs an XPath 1.0 engine, which the emulator does not have (no XML dependency). */
  xpath: () => {
    throw unsupported("The function 'xpath' is not supported by the local emulator.");
  },
  // ---- logical / comparison (and, or, if, coalesce are lazy: see callFunction)
  equals: (a) => deepEqual(a[0], a[1]),
  not: (a, _h, n) => !toBool(n, a[0]),
  greater: (a, _h, n) => compare(n, a[0], a[1]) > 0,
  greaterorequals: (a, _h, n) => compare(n, a[0], a[1]) >= 0,
  less: (a, _h, n) => compare(n, a[0], a[1]) < 0,
  lessorequals: (a, _h, n) => compare(n, a[0], a[1]) <= 0,
  empty: (a) => a[0] === null || a[0] === undefined || (typeof a[0] === 'string' && a[0] === '') || (Array.isArray(a[0]) && a[0].length === 0) || (isObj(a[0]) && Object.keys(a[0]).length === 0),
  // ---- math
  add: (a, _h, n) => num(n, a[0], 0) + num(n, a[1], 1),
  sub: (a, _h, n) => num(n, a[0], 0) - num(n, a[1], 1),
  mul: (a, _h, n) => num(n, a[0], 0) * num(n, a[1], 1),
  div: (a, _h, n) => {
    const x = num(n, a[0], 0);
    const y = num(n, a[1], 1);
    if (y === 0) throw argErr(n, 'cannot divide by zero.');
    return Number.isInteger(x) && Number.isInteger(y) ? Math.trunc(x / y) : x / y;
  },
  mod: (a, _h, n) => {
    const y = num(n, a[1], 1);
    if (y === 0) throw argErr(n, 'cannot divide by zero.');
    return num(n, a[0], 0) % y;
  },
  min: (a, _h, n) => Math.min(...(a.length === 1 && Array.isArray(a[0]) ? a[0] : a).map((x, i) => num(n, x, i))),
  max: (a, _h, n) => Math.max(...(a.length === 1 && Array.isArray(a[0]) ? a[0] : a).map((x, i) => num(n, x, i))),
  rand: (a, _h, n) => randomInt(int(n, a[0], 0), int(n, a[1], 1)),
  range: (a, _h, n) => {
    const start = int(n, a[0], 0);
    const count = int(n, a[1], 1);
    if (count < 0 || count > 100_000) throw argErr(n, `count '${count}' must be between 0 and 100000.`);
    return Array.from({ length: count }, (_x, i) => start + i);
  },
  // ---- collections
  contains: (a, _h, n) => {
    const c = a[0];
    if (typeof c === 'string') return c.includes(str(n, a[1], 1));
    if (Array.isArray(c)) return c.some((x) => deepEqual(x, a[1]));
    if (isObj(c)) return getProp(c, str(n, a[1], 1)).found;
    throw argErr(n, `expects its parameter 1 to be a string, an array or an object. The provided value is of type '${typeName(c)}'.`);
  },
  length: (a, _h, n) => lengthOf(n, a[0]),
  first: (a, _h, n) => {
    const c = a[0];
    if (typeof c === 'string') return c.slice(0, 1);
    return arr(n, c, 0)[0] ?? null;
  },
  last: (a, _h, n) => {
    const c = a[0];
    if (typeof c === 'string') return c.slice(-1);
    const x = arr(n, c, 0);
    return x[x.length - 1] ?? null;
  },
  join: (a, _h, n) => arr(n, a[0], 0).map(toWdlString).join(str(n, a[1], 1)),
  skip: (a, _h, n) => arr(n, a[0], 0).slice(Math.max(0, int(n, a[1], 1))),
  take: (a, _h, n) => {
    if (typeof a[0] === 'string') return a[0].slice(0, Math.max(0, int(n, a[1], 1)));
    return arr(n, a[0], 0).slice(0, Math.max(0, int(n, a[1], 1)));
  },
  union: (a, _h, n) => {
    if (a.every(isObj)) return Object.assign({}, ...(a as object[]));
    const out: unknown[] = [];
    for (const [i, x] of a.entries()) for (const v of arr(n, x, i)) if (!out.some((y) => deepEqual(y, v))) out.push(v);
    return out;
  },
  intersection: (a, _h, n) => {
    if (a.every(isObj)) {
      const [f, ...rest] = a;
      return Object.fromEntries(Object.entries(f).filter(([k, v]) => rest.every((r) => k in r && deepEqual(r[k], v))));
    }
    const lists = a.map((x, i) => arr(n, x, i));
    const out: unknown[] = [];
    for (const v of lists[0] ?? []) if (lists.every((l) => l.some((y) => deepEqual(y, v))) && !out.some((y) => deepEqual(y, v))) out.push(v);
    return out;
  },
  reverse: (a, _h, n) => [...arr(n, a[0], 0)].reverse(),
  sort: (a, _h, n) => {
    const list = [...arr(n, a[0], 0)];
    const key = a.length > 1 ? str(n, a[1], 1) : undefined;
    const val = (x: unknown): unknown => (key !== undefined && isObj(x) ? getProp(x, key).value : x);
    return list.sort((x, y) => compare(n, val(x), val(y)));
  },
  chunk: (a, _h, n) => {
    const size = int(n, a[1], 1);
    if (size < 1) throw argErr(n, 'chunk size must be at least 1.');
    const src = typeof a[0] === 'string' ? a[0] : arr(n, a[0], 0);
    const out: unknown[] = [];
    for (let i = 0; i < src.length; i += size) out.push(src.slice(i, i + size));
    return out;
  },
  addproperty: (a, _h, n) => withProp(n, a[0], a[1], a[2], 'add'),
  setproperty: (a, _h, n) => withProp(n, a[0], a[1], a[2], 'set'),
  removeproperty: (a, _h, n) => withProp(n, a[0], a[1], undefined, 'remove'),
  // ---- date and time
  utcnow: (a) => fmt(new Date(), a[0]),
  addseconds: (a, _h, n) => fmt(new Date(ts(n, a[0], 0).getTime() + num(n, a[1], 1) * 1000), a[2]),
  addminutes: (a, _h, n) => fmt(new Date(ts(n, a[0], 0).getTime() + num(n, a[1], 1) * 60_000), a[2]),
  addhours: (a, _h, n) => fmt(new Date(ts(n, a[0], 0).getTime() + num(n, a[1], 1) * 3_600_000), a[2]),
  adddays: (a, _h, n) => fmt(new Date(ts(n, a[0], 0).getTime() + num(n, a[1], 1) * 86_400_000), a[2]),
  addtotime: (a, _h, n) => fmt(addUnits(n, ts(n, a[0], 0), int(n, a[1], 1), a[2]), a[3]),
  subtractfromtime: (a, _h, n) => fmt(addUnits(n, ts(n, a[0], 0), -int(n, a[1], 1), a[2]), a[3]),
  getfuturetime: (a, _h, n) => fmt(addUnits(n, new Date(), int(n, a[0], 0), a[1]), a[2]),
  getpasttime: (a, _h, n) => fmt(addUnits(n, new Date(), -int(n, a[0], 0), a[1]), a[2]),
  formatdatetime: (a, _h, n) => fmt(ts(n, a[0], 0), a[1]),
  startofday: (a, _h, n) => {
    const d = ts(n, a[0], 0);
    d.setUTCHours(0, 0, 0, 0);
    return fmt(d, a[1]);
  },
  startofhour: (a, _h, n) => {
    const d = ts(n, a[0], 0);
    d.setUTCMinutes(0, 0, 0);
    return fmt(d, a[1]);
  },
  startofmonth: (a, _h, n) => {
    const d = ts(n, a[0], 0);
    d.setUTCDate(1);
    d.setUTCHours(0, 0, 0, 0);
    return fmt(d, a[1]);
  },
  dayofweek: (a, _h, n) => ts(n, a[0], 0).getUTCDay(),
  dayofmonth: (a, _h, n) => ts(n, a[0], 0).getUTCDate(),
  dayofyear: (a, _h, n) => {
    const d = ts(n, a[0], 0);
    return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1;
  },
  convertfromutc: (a, _h, n) => {
    const zone = zoneOf(n, a[1]);
    return formatWall(utcToWall(zone, instant(n, a[0], 'UTC')), a[2], false);
  },
  converttoutc: (a, _h, n) => {
    const zone = zoneOf(n, a[1]);
    return formatWall(instant(n, a[0], zone), a[2], true);
  },
  converttimezone: (a, _h, n) => {
    const src = zoneOf(n, a[1]);
    const dst = zoneOf(n, a[2]);
    return formatWall(utcToWall(dst, instant(n, a[0], src)), a[3], false);
  },
  datedifference: (a, _h, n) => timeSpan(instant(n, a[1], 'Etc/UTC') - instant(n, a[0], 'Etc/UTC')),
  parsedatetime: (a, _h, n) => parseDateTime(n, str(n, a[0], 0), a.length > 1 && a[1] !== null ? str(n, a[1], 1) : 'en-US', a.length > 2 && a[2] !== null ? str(n, a[2], 2) : undefined),
  /** ticks: 100-ns intervals since 0001-01-01 (.NET DateTime.Ticks). */
  ticks: (a, _h, n) => ts(n, a[0], 0).getTime() * 10_000 + 621_355_968_000_000_000,
  // ---- URI parsing
  urihost: (a, _h, n) => uri(n, a[0]).hostname,
  uripath: (a, _h, n) => uri(n, a[0]).pathname,
  uripathandquery: (a, _h, n) => uri(n, a[0]).pathname + uri(n, a[0]).search,
  uriport: (a, _h, n) => {
    const u = uri(n, a[0]);
    return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  },
  uriquery: (a, _h, n) => uri(n, a[0]).search,
  urischeme: (a, _h, n) => uri(n, a[0]).protocol.replace(/:$/, ''),
  // ---- workflow
  workflow: (_a, h) => h.workflow(),
  trigger: (_a, h) => h.trigger(),
  triggerbody: (_a, h) => (isObj(h.trigger().outputs) ? ((h.trigger().outputs as Record<string, unknown>).body ?? null) : null),
  triggeroutputs: (_a, h) => h.trigger().outputs ?? null,
  triggerformdatavalue: (a, h, n) => formData(h.trigger().outputs, str(n, a[0], 0), false),
  triggerformdatamultivalues: (a, h, n) => formData(h.trigger().outputs, str(n, a[0], 0), true),
  triggermultipartbody: (a, h, n) => multipartBody(n, h.trigger().outputs, int(n, a[0], 0)),
  formdatavalue: (a, h, n) => formData(h.action(str(n, a[0], 0)).outputs, str(n, a[1], 1), false),
  formdatamultivalues: (a, h, n) => formData(h.action(str(n, a[0], 0)).outputs, str(n, a[1], 1), true),
  multipartbody: (a, h, n) => multipartBody(n, h.action(str(n, a[0], 0)).outputs, int(n, a[1], 1)),
  actions: (a, h, n) => h.action(str(n, a[0], 0)),
  action: () => {
    throw unsupported("The function 'action()' (only valid inside trackedProperties / webhook unsubscribe) is not supported by the local emulator.");
  },
  outputs: (a, h, n) => h.action(str(n, a[0], 0)).outputs ?? null,
  actionoutputs: (a, h, n) => h.action(str(n, a[0], 0)).outputs ?? null,
  body: (a, h, n) => {
    const o = h.action(str(n, a[0], 0)).outputs;
    return isObj(o) ? (o.body ?? null) : null;
  },
  actionbody: (a, h, n) => {
    const o = h.action(str(n, a[0], 0)).outputs;
    return isObj(o) ? (o.body ?? null) : null;
  },
  variables: (a, h, n) => h.variable(str(n, a[0], 0)),
  parameters: (a, h, n) => h.parameter(str(n, a[0], 0)),
  appsetting: (a, h, n) => h.appsetting(str(n, a[0], 0)),
  item: (_a, h) => h.item(),
  items: (a, h, n) => h.items(str(n, a[0], 0)),
  iterationindexes: (a, h, n) => h.iterationIndexes(str(n, a[0], 0)),
  result: (a, h, n) => h.result(str(n, a[0], 0)),
  listcallbackurl: (_a, h) => h.listCallbackUrl(),
};

/** Form field values of outputs' body: x-www-form-urlencoded or multipart/form-data (content.ts). */
function formData(outputs: unknown, key: string, multi: boolean): unknown {
  const values = formValues(isObj(outputs) ? outputs.body : undefined, key);
  return multi ? values : (values[0] ?? null);
}

/** The body of part `index` of a multipart body; InvalidTemplate when not multipart or out of range. */
function multipartBody(name: string, outputs: unknown, index: number): unknown {
  const parts = multipartParts(isObj(outputs) ? outputs.body : undefined);
  if (!parts) throw argErr(name, 'expects a multipart body (content type multipart/...). The body is not multipart.');
  if (index < 0 || index >= parts.length) throw argErr(name, `part index '${index}' is outside the bounds (0 - ${parts.length - 1}) of the multipart body.`);
  return parts[index].body;
}

/** IANA zone of a Windows time zone name; InvalidTemplate naming the zone when unknown. */
function zoneOf(name: string, v: unknown): string {
  const z = typeof v === 'string' ? ianaZone(v) : undefined;
  if (!z) throw argErr(name, `was invoked with a parameter that is not valid. The time zone '${toWdlString(v).slice(0, 100)}' is not a valid Windows time zone name (see 'Microsoft Time Zone Index Values').`);
  return z;
}

/** UTC instant (ms) of a timestamp: its own offset when written ('Z', '+hh:mm'), else a wall clock in `zone`. */
function instant(name: string, v: unknown, zone: string): number {
  const w = parseWall(name, str(name, v, 0));
  if (w.offsetMs !== undefined) return w.wallMs - w.offsetMs;
  return zone === 'UTC' || zone === 'Etc/UTC' ? w.wallMs : wallToUtc(zone, w.wallMs);
}

/** Argument count limits [min, max] for the functions that need checking (others accept any count). */
const ARITY: Record<string, [number, number]> = {
  substring: [2, 3], replace: [3, 3], tolower: [1, 1], toupper: [1, 1], trim: [1, 1], indexof: [2, 2], split: [2, 2],
  startswith: [2, 2], endswith: [2, 2], equals: [2, 2], not: [1, 1], greater: [2, 2], less: [2, 2], greaterorequals: [2, 2],
  lessorequals: [2, 2], add: [2, 2], sub: [2, 2], mul: [2, 2], div: [2, 2], mod: [2, 2], length: [1, 1], first: [1, 1],
  last: [1, 1], join: [2, 2], skip: [2, 2], take: [2, 2], contains: [2, 2], range: [2, 2], int: [1, 1], float: [1, 2],
  bool: [1, 1], json: [1, 1], string: [1, 1], empty: [1, 1], utcnow: [0, 1], addhours: [2, 3], addminutes: [2, 3],
  adddays: [2, 3], addseconds: [2, 3], addtotime: [3, 4], formatdatetime: [1, 2], body: [1, 1], outputs: [1, 1],
  variables: [1, 1], parameters: [1, 1], triggerbody: [0, 0], triggeroutputs: [0, 0], workflow: [0, 0], concat: [1, 1000],
  if: [3, 3], and: [1, 1000], or: [1, 1000], coalesce: [1, 1000], guid: [0, 1], base64: [1, 1], items: [1, 1], item: [0, 0],
  binary: [1, 1], xml: [1, 1], datauri: [1, 1], datauritobinary: [1, 1], datauritostring: [1, 1], decodedatauri: [1, 1], uricomponenttobinary: [1, 1],
  decimal: [1, 1], isfloat: [1, 2], isint: [1, 1], formatnumber: [2, 3], convertfromutc: [2, 3], converttoutc: [2, 3], converttimezone: [3, 4],
  datedifference: [2, 2], parsedatetime: [1, 3], formdatavalue: [2, 2], formdatamultivalues: [2, 2], multipartbody: [2, 2], triggermultipartbody: [1, 1],
};

/** Calls a function node; `if`, `and`, `or` and `coalesce` evaluate their arguments lazily. */
function callFunction(e: Expr & { k: 'call' }, host: ExpressionHost): unknown {
  const name = e.name.toLowerCase();
  const arity = ARITY[name];
  if (arity && (e.args.length < arity[0] || e.args.length > arity[1])) {
    throw invalidTemplate(`The template language function '${e.name}' expects ${arity[0] === arity[1] ? arity[0] : `${arity[0]} to ${arity[1]}`} parameter(s). The function was invoked with '${e.args.length}' parameter(s).`);
  }
  switch (name) {
    case 'if':
      return toBool(e.name, evaluate(e.args[0], host)) ? evaluate(e.args[1], host) : evaluate(e.args[2], host);
    case 'and':
      for (const a of e.args) if (!toBool(e.name, evaluate(a, host))) return false;
      return true;
    case 'or':
      for (const a of e.args) if (toBool(e.name, evaluate(a, host))) return true;
      return false;
    case 'coalesce':
      for (const a of e.args) {
        const v = evaluate(a, host);
        if (v !== null && v !== undefined) return v;
      }
      return null;
  }
  const f = FUNCTIONS[name];
  if (!f) throw unsupported(`The template language function '${e.name}' is not supported by the local emulator (or is not a valid Logic Apps function).`);
  return f(e.args.map((a) => evaluate(a, host)), host, e.name);
}
