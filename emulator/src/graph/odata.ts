/**
 * A small OData v4 `$filter` parser/evaluator shared by the emulated Microsoft Graph, Dataverse Web API,
 * Finance and Operations OData and Business Central APIs.
 *
 * Supported: `and`, `or`, `not`, parentheses; comparisons `eq ne gt ge lt le` between a property path
 * (`a` or `a/b`) and a literal (`'string'` with `''` escaping, numbers, `true|false|null`, unquoted GUIDs as
 * Dataverse writes them, and `guid'...'`); functions `startswith(path,'x')`, `endswith`, `contains`; the lambda
 * `path/any(x: x/prop eq ...)` / `all` over collections (Graph's `assignedLicenses/any(l:l/skuId eq <guid>)`).
 * String comparison is case-insensitive (Entra and Dataverse's SQL collation are).
 */

/** Thrown for a malformed filter or an unknown property; handlers map it to their service's 400. */
export class ODataFilterError extends Error {}

/** Parsed filter expression. */
export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; expr: FilterNode }
  | { kind: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; path: string; value: Literal }
  | { kind: 'fn'; fn: 'startswith' | 'endswith' | 'contains'; path: string; value: string }
  | { kind: 'lambda'; quant: 'any' | 'all'; path: string; variable: string; expr: FilterNode };

/** A literal value in a filter. */
export type Literal = string | number | boolean | null;

type Tok = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: '(' | ')' | ',' | ':' };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')' || c === ',' || c === ':') { out.push({ t: c }); i++; continue; }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ODataFilterError('Unterminated string literal.');
        if (src[i] === "'") {
          if (src[i + 1] === "'") { v += "'"; i += 2; continue; }
          i++;
          break;
        }
        v += src[i++];
      }
      out.push({ t: 'str', v });
      continue;
    }
    const m = /^[A-Za-z0-9_.@/+-]+/.exec(src.slice(i));
    if (!m) throw new ODataFilterError(`Syntax error at position ${i} in '${src.slice(0, 200)}'.`);
    // guid'...' literal
    if (m[0].toLowerCase() === 'guid' && src[i + m[0].length] === "'") {
      i += m[0].length;
      continue; // the following string token is the value
    }
    out.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return out;
}

/**
 * Parses an OData `$filter` expression. `isKnown(path)` validates property paths (inside a lambda the path is
 * given as `collection/prop`); unknown ones throw ODataFilterError with `unknownProperty` set.
 */
export function parseFilter(src: string, isKnown: (path: string) => boolean): FilterNode {
  const toks = tokenize(src);
  let p = 0;
  const lambdaVars = new Map<string, string>();
  const peek = (): Tok | undefined => toks[p];
  const word = (v: string): boolean => { const t = peek(); return !!t && t.t === 'word' && t.v.toLowerCase() === v; };
  const expect = (t: Tok['t']): void => {
    if (peek()?.t !== t) throw new ODataFilterError(`Syntax error: '${t}' expected at position ${p} in '${src.slice(0, 200)}'.`);
    p++;
  };
  const resolvePath = (raw: string): string => {
    const parts = raw.split('/');
    const scope = lambdaVars.get(parts[0]);
    const full = scope !== undefined ? [scope, ...parts.slice(1)].join('/') : raw;
    if (!isKnown(full)) {
      const e = new ODataFilterError(`Could not find a property named '${parts[parts.length - 1]}'.`);
      (e as ODataFilterError & { unknownProperty?: string }).unknownProperty = full;
      throw e;
    }
    return full;
  };
  const literal = (): Literal => {
    const t = peek();
    if (!t) throw new ODataFilterError('Syntax error: literal expected.');
    p++;
    if (t.t === 'str') return t.v;
    if (t.t !== 'word') throw new ODataFilterError(`Syntax error: literal expected at position ${p}.`);
    const v = t.v;
    if (/^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    if (/^null$/i.test(v)) return null;
    if (GUID.test(v)) return v.toLowerCase();
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    throw new ODataFilterError(`Syntax error: '${v.slice(0, 60)}' is not a valid literal.`);
  };
  const primary = (): FilterNode => {
    const t = peek();
    if (!t) throw new ODataFilterError('Syntax error: unexpected end of filter.');
    if (t.t === '(') {
      p++;
      const e = orExpr();
      expect(')');
      return e;
    }
    if (t.t !== 'word') throw new ODataFilterError(`Syntax error at position ${p} in '${src.slice(0, 200)}'.`);
    const fn = t.v.toLowerCase();
    if ((fn === 'startswith' || fn === 'endswith' || fn === 'contains') && toks[p + 1]?.t === '(') {
      p += 2;
      const pt = peek();
      if (pt?.t !== 'word') throw new ODataFilterError(`Syntax error: property expected in ${fn}().`);
      p++;
      const path = resolvePath(pt.v);
      expect(',');
      const lit = literal();
      if (typeof lit !== 'string') throw new ODataFilterError(`${fn}() needs a string literal.`);
      expect(')');
      // optional "eq true"
      if (word('eq') && toks[p + 1]?.t === 'word' && /^true$/i.test((toks[p + 1] as { v: string }).v)) p += 2;
      return { kind: 'fn', fn, path, value: lit };
    }
    p++;
    const lm = /^(.*)\/(any|all)$/i.exec(t.v);
    if (lm && peek()?.t === '(') {
      p++;
      const collection = resolvePath(lm[1]);
      const v = peek();
      if (v?.t !== 'word') throw new ODataFilterError('Syntax error: lambda variable expected.');
      p++;
      expect(':');
      lambdaVars.set(v.v, collection);
      const inner = orExpr();
      lambdaVars.delete(v.v);
      expect(')');
      return { kind: 'lambda', quant: lm[2].toLowerCase() as 'any' | 'all', path: collection, variable: v.v, expr: inner };
    }
    const path = resolvePath(t.v);
    const opTok = peek();
    const op = opTok?.t === 'word' ? opTok.v.toLowerCase() : '';
    if (!['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op)) throw new ODataFilterError(`Syntax error: comparison operator expected after '${t.v.slice(0, 60)}'.`);
    p++;
    return { kind: 'cmp', op: op as 'eq', path, value: literal() };
  };
  const unary = (): FilterNode => {
    if (word('not')) {
      p++;
      return { kind: 'not', expr: unary() };
    }
    return primary();
  };
  const andExpr = (): FilterNode => {
    let left = unary();
    while (word('and')) {
      p++;
      left = { kind: 'and', left, right: unary() };
    }
    return left;
  };
  const orExpr = (): FilterNode => {
    let left = andExpr();
    while (word('or')) {
      p++;
      left = { kind: 'or', left, right: andExpr() };
    }
    return left;
  };
  const e = orExpr();
  if (p !== toks.length) throw new ODataFilterError(`Syntax error at position ${p} in '${src.slice(0, 200)}'.`);
  return e;
}

function norm(v: unknown): unknown {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

function compare(op: string, a: unknown, b: Literal): boolean {
  const x = norm(a ?? null);
  const y = norm(b);
  switch (op) {
    case 'eq': return x === y;
    case 'ne': return x !== y;
    default: {
      if (x === null || y === null) return false;
      const xx = x as string | number;
      const yy = y as string | number;
      if (op === 'gt') return xx > yy;
      if (op === 'ge') return xx >= yy;
      if (op === 'lt') return xx < yy;
      return xx <= yy;
    }
  }
}

/** Reads `a/b/c` from a record (undefined when absent). */
export function getPath(rec: unknown, path: string): unknown {
  let cur: unknown = rec;
  for (const part of path.split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const obj = cur as Record<string, unknown>;
    const k = Object.keys(obj).find((x) => x.toLowerCase() === part.toLowerCase());
    cur = k === undefined ? undefined : obj[k];
  }
  return cur;
}

/** Evaluates a parsed filter against a record (plain JSON object as the service returns it). */
export function evalFilter(node: FilterNode, rec: unknown): boolean {
  switch (node.kind) {
    case 'and': return evalFilter(node.left, rec) && evalFilter(node.right, rec);
    case 'or': return evalFilter(node.left, rec) || evalFilter(node.right, rec);
    case 'not': return !evalFilter(node.expr, rec);
    case 'cmp': return compare(node.op, getPath(rec, node.path), node.value);
    case 'fn': {
      const v = getPath(rec, node.path);
      if (typeof v !== 'string') return false;
      const a = v.toLowerCase();
      const b = node.value.toLowerCase();
      return node.fn === 'startswith' ? a.startsWith(b) : node.fn === 'endswith' ? a.endsWith(b) : a.includes(b);
    }
    case 'lambda': {
      const coll = getPath(rec, node.path);
      const items = Array.isArray(coll) ? coll : [];
      // inside the lambda, paths are "collection/prop": evaluate against { [collection]: item }
      const wrap = (item: unknown): unknown => nest(node.path, item);
      return node.quant === 'any' ? items.some((it) => evalFilter(node.expr, wrap(it))) : items.every((it) => evalFilter(node.expr, wrap(it)));
    }
  }
}

function nest(path: string, value: unknown): unknown {
  return path.split('/').reverse().reduce<unknown>((acc, k) => ({ [k]: acc }), value);
}

/**
 * Applies `$select` (comma-separated, case-insensitive) to a record; `always` keys are kept regardless.
 * Unknown names are reported through `onUnknown` (which may throw).
 */
export function applySelect(rec: Record<string, unknown>, select: string | null, always: string[] = [], onUnknown?: (name: string) => void): Record<string, unknown> {
  if (!select) return rec;
  const out: Record<string, unknown> = {};
  for (const k of always) if (k in rec) out[k] = rec[k];
  for (const raw of select.split(',').map((s) => s.trim()).filter(Boolean)) {
    const k = Object.keys(rec).find((x) => x.toLowerCase() === raw.toLowerCase());
    if (k === undefined) onUnknown?.(raw);
    else out[k] = rec[k];
  }
  return out;
}
