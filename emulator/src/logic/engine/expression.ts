import { invalidTemplate } from './errors';

/**
 * Workflow Definition Language (WDL) expressions — parser.
 * Source of the rules: "Reference guide to workflow expression functions" and "Schema reference
 * guide for the Workflow Definition Language" (Azure Logic Apps docs):
 * - a JSON string value starting with `@` is an expression (`"@triggerBody()"` keeps the value's type);
 * - `@{...}` inside a string interpolates (the result is always a string);
 * - `@@` escapes a leading `@` (and `@@{` a literal `@{`);
 * - literals: 'single-quoted strings' ('' escapes a quote), integers, decimals, true, false, null;
 * - calls `name(arg, ...)` (function names case-insensitive);
 * - property access `.name`, `['name']`, `[0]`, and the null-safe forms `?.name`, `?['name']`.
 */
export type Expr =
  | { k: 'lit'; v: unknown }
  | { k: 'call'; name: string; args: Expr[]; pos: number }
  | { k: 'prop'; target: Expr; key: Expr; safe: boolean };

/** A parsed JSON string value: a literal, one expression (typed result) or an interpolation (string result). */
export type ParsedString =
  | { kind: 'literal'; value: string }
  | { kind: 'expression'; expr: Expr; source: string }
  | { kind: 'interpolation'; parts: Array<string | { expr: Expr; source: string }> };

/** Maximum nesting depth of an expression (keeps runaway input from blowing the stack). */
export const MAX_EXPRESSION_DEPTH = 100;

type Tok = { t: 'str' | 'num' | 'id' | 'p'; v: string; pos: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let s = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw invalidTemplate(`The template language expression '${src}' is not valid: the string literal starting at position '${i}' is not terminated.`);
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            s += "'";
            j += 2;
            continue;
          }
          break;
        }
        s += src[j++];
      }
      out.push({ t: 'str', v: s, pos: i });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' || !out.length || ['(', ',', '['].includes(out[out.length - 1].v))) {
      out.push({ t: 'num', v: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    if (c === '?' && (src[i + 1] === '.' || src[i + 1] === '[')) {
      out.push({ t: 'p', v: '?' + src[i + 1], pos: i });
      i += 2;
      continue;
    }
    if ('(),[].'.includes(c)) {
      out.push({ t: 'p', v: c, pos: i });
      i++;
      continue;
    }
    throw invalidTemplate(`The template language expression '${src}' is not valid: the character '${c}' at position '${i}' is not expected.`);
  }
  return out;
}

/** Parses the body of an expression (without the leading `@` / `@{ }`). Throws InvalidTemplate. */
export function parseExpression(src: string): Expr {
  const toks = tokenize(src);
  let p = 0;
  const fail = (msg: string): never => {
    throw invalidTemplate(`The template language expression '${src}' is not valid: ${msg}`);
  };
  const peek = (): Tok | undefined => toks[p];
  const expect = (v: string): void => {
    const t = toks[p];
    if (!t || t.t !== 'p' || t.v !== v) fail(`expected '${v}' at position '${t?.pos ?? src.length}'.`);
    p++;
  };
  const primary = (depth: number): Expr => {
    if (depth > MAX_EXPRESSION_DEPTH) fail('the expression is nested too deeply.');
    const t = toks[p++];
    if (!t) return fail('unexpected end of expression.');
    let e: Expr;
    if (t.t === 'str') e = { k: 'lit', v: t.v };
    else if (t.t === 'num') e = { k: 'lit', v: Number(t.v) };
    else if (t.t === 'id') {
      const next = peek();
      if (next && next.t === 'p' && next.v === '(') {
        p++;
        const args: Expr[] = [];
        if (!(peek()?.t === 'p' && peek()?.v === ')')) {
          for (;;) {
            args.push(primary(depth + 1));
            const sep = peek();
            if (sep?.t === 'p' && sep.v === ',') {
              p++;
              continue;
            }
            break;
          }
        }
        expect(')');
        e = { k: 'call', name: t.v, args, pos: t.pos };
      } else {
        const lower = t.v.toLowerCase();
        if (lower === 'true') e = { k: 'lit', v: true };
        else if (lower === 'false') e = { k: 'lit', v: false };
        else if (lower === 'null') e = { k: 'lit', v: null };
        else return fail(`the identifier '${t.v}' at position '${t.pos}' is not a function call; function calls need parentheses.`);
      }
    } else return fail(`unexpected '${t.v}' at position '${t.pos}'.`);
    // accessors
    for (;;) {
      const a = peek();
      if (!a || a.t !== 'p') break;
      if (a.v === '.' || a.v === '?.') {
        p++;
        const name = toks[p++];
        if (!name || name.t !== 'id') fail(`expected a property name after '${a.v}' at position '${a.pos}'.`);
        e = { k: 'prop', target: e, key: { k: 'lit', v: name.v }, safe: a.v === '?.' };
      } else if (a.v === '[' || a.v === '?[') {
        p++;
        const key = primary(depth + 1);
        expect(']');
        e = { k: 'prop', target: e, key, safe: a.v === '?[' };
      } else break;
    }
    return e;
  };
  const e = primary(0);
  if (p < toks.length) fail(`unexpected '${toks[p].v}' at position '${toks[p].pos}'.`);
  return e;
}

/** Finds the `}` closing an `@{` that starts at `start` (index of the char after `{`), skipping quoted strings. */
function closingBrace(s: string, start: number): number {
  let depth = 0;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      i++;
      while (i < s.length) {
        if (s[i] === "'") {
          if (s[i + 1] === "'") {
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

const cache = new Map<string, ParsedString>();

/**
 * Classifies and parses a JSON string value of a workflow definition (cached per distinct string).
 * Throws InvalidTemplate for malformed expressions.
 */
export function parseString(s: string): ParsedString {
  const hit = cache.get(s);
  if (hit) return hit;
  let r: ParsedString;
  if (!s.includes('@')) r = { kind: 'literal', value: s };
  else if (s.startsWith('@@')) r = { kind: 'literal', value: s.slice(1) };
  else if (s.startsWith('@') && !s.startsWith('@{')) r = { kind: 'expression', expr: parseExpression(s.slice(1)), source: s };
  else {
    const parts: Array<string | { expr: Expr; source: string }> = [];
    let lit = '';
    let i = 0;
    let any = false;
    while (i < s.length) {
      if (s.startsWith('@@{', i)) {
        lit += '@{';
        i += 3;
        continue;
      }
      if (s.startsWith('@{', i)) {
        const end = closingBrace(s, i + 2);
        if (end < 0) throw invalidTemplate(`The template language expression in '${s.slice(0, 200)}' is not valid: '@{' at position '${i}' is not closed.`);
        if (lit) parts.push(lit);
        lit = '';
        const body = s.slice(i + 2, end);
        parts.push({ expr: parseExpression(body), source: body });
        any = true;
        i = end + 1;
        continue;
      }
      lit += s[i++];
    }
    if (lit) parts.push(lit);
    r = any ? { kind: 'interpolation', parts } : { kind: 'literal', value: lit };
  }
  if (cache.size > 5000) cache.clear();
  cache.set(s, r);
  return r;
}
