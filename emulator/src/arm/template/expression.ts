import { invalidTemplate } from './errors';

/** AST of a template language expression. ARM docs: "Template syntax and expressions". */
export type ExprNode =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'call'; name: string; args: ExprNode[] }
  | { kind: 'property'; target: ExprNode; name: string }
  | { kind: 'index'; target: ExprNode; index: ExprNode };

type Token =
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'id'; v: string; pos: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '.' | '[' | ']'; pos: number }
  | { t: 'end'; pos: number };

/** Maximum nesting of calls/accessors in one expression; deeper expressions are refused. */
export const MAX_EXPRESSION_DEPTH = 128;

function syntaxError(expr: string, pos: number, what: string): Error {
  return invalidTemplate(
    `The template language expression '${expr.length > 200 ? expr.slice(0, 200) + '...' : expr}' is not valid: ${what} at position '${pos}'. Please see https://aka.ms/arm-template-expressions for usage details.`,
  );
}

/**
 * Splits the body of an expression (without the outer brackets) into tokens: single-quoted
 * strings ('' escapes a quote), integers/decimals (optionally negative), identifiers and punctuation;
 * white space between tokens is skipped.
 * Throws ArmTemplateError InvalidTemplate on an unterminated string or unexpected character.
 */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    // Any Unicode white space, as .NET's char.IsWhiteSpace (a no-break space between arguments is
    // accepted: quickstart 101-event-grid-subscription-and-storage has one).
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || (c > '\x7f' && /\s/u.test(c))) {
      i++;
      continue;
    }
    if (c === "'") {
      const start = i;
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw syntaxError(src, start, 'the string literal is not terminated');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += src[i++];
      }
      out.push({ t: 'str', v, pos: start });
      continue;
    }
    if ((c >= '0' && c <= '9') || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i, i + 64));
      if (!m) throw syntaxError(src, i, `the character '${c}' is not expected`);
      out.push({ t: 'num', v: Number(m[0]), pos: i });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const start = i;
      while (i < n && /[A-Za-z0-9_$]/.test(src[i])) i++;
      out.push({ t: 'id', v: src.slice(start, i), pos: start });
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '.' || c === '[' || c === ']') {
      out.push({ t: 'punct', v: c, pos: i });
      i++;
      continue;
    }
    throw syntaxError(src, i, `the character '${c}' is not expected`);
  }
  out.push({ t: 'end', pos: n });
  return out;
}

/**
 * Parses the body of a "[...]" expression into an AST. Grammar (ARM): a function call
 * `name (args)` (whitespace allowed before "("), a string/number literal, or true/false/null,
 * followed by any number of `.prop` or `[expr]` accessors. Function names are kept as written
 * (they are matched case-insensitively when evaluated). Throws InvalidTemplate on syntax errors
 * or when nesting exceeds MAX_EXPRESSION_DEPTH.
 */
export function parseExpression(body: string): ExprNode {
  const toks = tokenize(body);
  let p = 0;
  const peek = (): Token => toks[p];
  const expectPunct = (v: string): void => {
    const t = toks[p];
    if (t.t !== 'punct' || t.v !== v) throw syntaxError(body, t.pos, `expected '${v}'`);
    p++;
  };

  const parseValue = (depth: number): ExprNode => {
    if (depth > MAX_EXPRESSION_DEPTH) {
      throw invalidTemplate(`The template language expression is nested too deeply (more than ${MAX_EXPRESSION_DEPTH} levels).`);
    }
    const t = toks[p];
    let node: ExprNode;
    if (t.t === 'str') {
      p++;
      node = { kind: 'literal', value: t.v };
    } else if (t.t === 'num') {
      p++;
      node = { kind: 'literal', value: t.v };
    } else if (t.t === 'id') {
      p++;
      const next = peek();
      if (next.t === 'punct' && next.v === '(') {
        p++;
        const args: ExprNode[] = [];
        const close = peek();
        if (!(close.t === 'punct' && close.v === ')')) {
          for (;;) {
            args.push(parseValue(depth + 1));
            const sep = peek();
            if (sep.t === 'punct' && sep.v === ',') {
              p++;
              continue;
            }
            break;
          }
        }
        expectPunct(')');
        node = { kind: 'call', name: t.v, args };
      } else {
        const lower = t.v.toLowerCase();
        if (lower === 'true' || lower === 'false') node = { kind: 'literal', value: lower === 'true' };
        else if (lower === 'null') node = { kind: 'literal', value: null };
        else throw syntaxError(body, t.pos, `the identifier '${t.v}' is not expected (a function call needs parentheses)`);
      }
    } else {
      throw syntaxError(body, t.pos, t.t === 'end' ? 'the expression ended unexpectedly' : `the token '${(t as { v: unknown }).v}' is not expected`);
    }
    // accessors
    let accessors = 0;
    for (;;) {
      const a = peek();
      if (a.t === 'punct' && a.v === '.') {
        p++;
        const id = peek();
        if (id.t !== 'id') throw syntaxError(body, id.pos, 'expected a property name after \'.\'');
        p++;
        node = { kind: 'property', target: node, name: id.v };
      } else if (a.t === 'punct' && a.v === '[') {
        p++;
        const idx = parseValue(depth + 1);
        expectPunct(']');
        node = { kind: 'index', target: node, index: idx };
      } else break;
      if (++accessors > 1000) throw invalidTemplate('The template language expression has too many property accessors.');
    }
    return node;
  };

  const root = parseValue(0);
  const end = peek();
  if (end.t !== 'end') throw syntaxError(body, end.pos, `the token '${(end as { v: unknown }).v}' is not expected`);
  return root;
}

/** Result of classifying a JSON string value: an expression body to evaluate, or a literal. */
export type StringKind = { expression: true; body: string } | { expression: false; literal: string };

/**
 * ARM docs ("template syntax"): a string starting with "[" and ending with "]" is an expression;
 * a string starting with "[[" is a literal whose first "[" is dropped; anything else is a literal.
 */
export function classifyString(s: string): StringKind {
  if (s.startsWith('[[')) return { expression: false, literal: s.slice(1) };
  if (s.length >= 2 && s[0] === '[' && s[s.length - 1] === ']') return { expression: true, body: s.slice(1, -1) };
  return { expression: false, literal: s };
}

/** Calls every function name used in the AST (for validation-time checks). */
export function visitCalls(node: ExprNode, fn: (name: string, node: ExprNode & { kind: 'call' }) => void): void {
  const stack: ExprNode[] = [node];
  while (stack.length) {
    const n = stack.pop()!;
    if (n.kind === 'call') {
      fn(n.name, n);
      stack.push(...n.args);
    } else if (n.kind === 'property') stack.push(n.target);
    else if (n.kind === 'index') stack.push(n.target, n.index);
  }
}
