import { invalidTemplate } from './errors';

/**
 * Turns a template or parameters document into a JSON value: accepts an already-parsed object,
 * a string or a Buffer/Uint8Array (UTF-8, optional BOM, CRLF fine). Throws ArmTemplateError
 * InvalidTemplate when the text is not JSON. ARM accepts BOM-prefixed files (many quickstarts have one).
 */
export function parseJsonSource(source: unknown, what = 'template'): unknown {
  let text: string | undefined;
  if (typeof source === 'string') text = source;
  else if (source instanceof Uint8Array) text = Buffer.from(source).toString('utf8');
  else if (source instanceof ArrayBuffer) text = Buffer.from(source).toString('utf8');
  if (text === undefined) return source;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw invalidTemplate(`Unable to parse the ${what} content: ${msg}`);
  }
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
  const parsed = parseJsonSource(source, 'template');
  const obj = asObject(parsed);
  if (!obj) throw invalidTemplate('The template must be a JSON object.');
  const resources = obj.resources;
  if (resources === undefined) throw invalidTemplate("Required property 'resources' not found in JSON. Path '', line 1, position 1.");
  if (!Array.isArray(resources) && !asObject(resources)) {
    throw invalidTemplate("The template property 'resources' must be an array.");
  }
  return obj;
}

