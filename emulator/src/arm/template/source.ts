import stripJsonComments from 'strip-json-comments';
import { invalidTemplate } from './errors';

/**
 * Turns a template or parameters document into a JSON value: accepts an already-parsed object,
 * a string or a Buffer/Uint8Array (UTF-8, optional BOM, CRLF fine). Throws ArmTemplateError
 * InvalidTemplate when the text is not JSON. ARM accepts BOM-prefixed files (many quickstarts have one)
 * and `//` and block comments (template syntax reference, "Comments"; quickstarts carry them).
 */
export function parseJsonSource(source: unknown, what = 'template'): unknown {
  return parseJsonText(source, what).value;
}

/** parseJsonSource, with the text parsed (BOM removed, comments blanked to spaces so positions hold). */
function parseJsonText(source: unknown, what: string): { value: unknown; text?: string } {
  let text: string | undefined;
  if (typeof source === 'string') text = source;
  else if (source instanceof Uint8Array) text = Buffer.from(source).toString('utf8');
  else if (source instanceof ArrayBuffer) text = Buffer.from(source).toString('utf8');
  if (text === undefined) return { value: source };
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return { value: JSON.parse(text), text };
  } catch (e) {
    // The common case (no comments) parses above without the extra pass.
    const blanked = stripJsonComments(text, { whitespace: true });
    if (blanked !== text) {
      try {
        return { value: JSON.parse(blanked), text: blanked };
      } catch {
        /* report the error of the text as sent */
      }
    }
    const msg = e instanceof Error ? e.message : String(e);
    throw invalidTemplate(`Unable to parse the ${what} content: ${msg}`);
  }
}

/** Source text of templates parsed from text (for line/column positions in ARM's messages). */
const TEMPLATE_TEXT = new WeakMap<object, string>();

/**
 * Line and column (1-based) of the value at `path` (object keys, matched case-insensitively) in the
 * text a template was parsed from, as ARM reports them ("at line '50' and column '17'": the position
 * of the value's first character, e.g. the "{" of a parameter declaration). Undefined when the
 * template was not parsed from text or the path is not found.
 */
export function sourcePosition(template: object, path: string[]): { line: number; column: number } | undefined {
  const text = TEMPLATE_TEXT.get(template);
  if (text === undefined) return undefined;
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const readString = (): string => {
    let out = '';
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'b' ? '\b' : e === 'f' ? '\f' : e;
        i += 2;
      } else out += text[i++];
    }
    i++;
    return out;
  };
  const skipValue = (): void => {
    ws();
    const c = text[i];
    if (c === '"') readString();
    else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          readString();
          ws();
          i++; // ':'
        }
        skipValue();
        ws();
        if (text[i++] !== ',') return;
      }
    } else while (i < text.length && !/[\s,\]}]/.test(text[i])) i++;
  };
  ws();
  for (const key of path) {
    if (text[i] !== '{') return undefined;
    i++;
    let found = false;
    for (;;) {
      ws();
      if (text[i] !== '"') return undefined;
      const k = readString();
      ws();
      i++; // ':'
      ws();
      if (k.toLowerCase() === key.toLowerCase()) {
        found = true;
        break;
      }
      skipValue();
      ws();
      if (text[i++] !== ',') return undefined;
    }
    if (!found) return undefined;
  }
  const before = text.slice(0, i).split(/\r\n|\n|\r/);
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Returns `value` when it is a plain JSON object, otherwise undefined. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Parses a template source and checks the top-level shape ARM requires (an object with a
 * `resources` array — or the languageVersion 2.0 object form). Throws InvalidTemplate otherwise.
 */
export function parseTemplate(source: unknown): Record<string, unknown> {
  const { value, text } = parseJsonText(source, 'template');
  const obj = asObject(value);
  if (!obj) throw invalidTemplate('The template must be a JSON object.');
  if (obj !== source && text !== undefined) TEMPLATE_TEXT.set(obj, text);
  const resources = obj.resources;
  if (resources === undefined) throw invalidTemplate("Required property 'resources' not found in JSON. Path '', line 1, position 1.");
  if (!Array.isArray(resources) && !asObject(resources)) {
    throw invalidTemplate("The template property 'resources' must be an array.");
  }
  return obj;
}

