/**
 * Binary and multipart content as workflow expressions see it. Workflow Definition Language reference
 * ("Reference guide to workflow expression functions": binary, base64ToBinary, dataUriToBinary,
 * uriComponentToBinary, multipartBody, formDataValue): binary values are carried as the content
 * envelope `{ "$content-type": "application/octet-stream", "$content": "<base64>" }`, the shape Logic
 * Apps shows in run history and that the emulator's Http action and Response send as raw bytes;
 * multipart bodies are `{ "$content-type": "multipart/...; boundary=...", "$content" }` (as the Request
 * trigger receives them) or `{ "$content-type", "$multipart": [{ headers, body }] }`.
 */
import { invalidTemplate } from './errors';

/* isObj and typeName as in functions.ts (kept local: functions.ts imports this module). */
function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'Null';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Float';
  if (typeof v === 'boolean') return 'Boolean';
  return Array.isArray(v) ? 'Array' : 'Object';
}

/** A binary content envelope. */
export interface BinaryContent {
  '$content-type': string;
  $content: string;
}

/** True for `{ $content-type, $content }` (base64 content). */
export function isBinaryContent(v: unknown): v is BinaryContent {
  return isObj(v) && typeof v.$content === 'string' && typeof v['$content-type'] === 'string';
}

/** The envelope of `bytes` with a content type (default application/octet-stream). */
export function binaryOf(bytes: Buffer, contentType = 'application/octet-stream'): BinaryContent {
  return { '$content-type': contentType, $content: bytes.toString('base64') };
}

/** Bytes of a value: a binary envelope's content, else the UTF-8 of the string. InvalidTemplate for other types. */
export function bytesOf(fn: string, v: unknown): Buffer {
  if (isBinaryContent(v)) return Buffer.from(v.$content, 'base64');
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  throw invalidTemplate(`The template language function '${fn}' expects its parameter to be a string or binary content. The provided value is of type '${typeName(v)}'.`);
}

/** A parsed data URI (RFC 2397): media type (default text/plain;charset=US-ASCII) and bytes. */
export function parseDataUri(fn: string, uri: string): { mediaType: string; bytes: Buffer } {
  const m = /^data:([^,]*),(.*)$/is.exec(uri.trim());
  if (!m) throw invalidTemplate(`The template language function '${fn}' expects its parameter to be a data URI ('data:[<media type>][;base64],<data>'). The provided value '${uri.slice(0, 100)}' is not.`);
  const params = m[1].split(';');
  const base64 = params[params.length - 1].toLowerCase() === 'base64';
  if (base64) params.pop();
  const mediaType = params.join(';') || 'text/plain;charset=US-ASCII';
  let bytes: Buffer;
  try {
    bytes = base64 ? Buffer.from(m[2], 'base64') : Buffer.from(decodeURIComponent(m[2]), 'utf8');
  } catch {
    throw invalidTemplate(`The template language function '${fn}' could not decode the data URI '${uri.slice(0, 100)}'.`);
  }
  return { mediaType, bytes };
}

/** A part of a multipart body. */
export interface Part {
  headers: Record<string, string>;
  body: unknown;
}

/** A part's body as Logic Apps exposes it: JSON when declared, text for text/* (or none), else a binary envelope. */
function partBody(contentType: string | undefined, bytes: Buffer): unknown {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.includes('json')) {
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      return bytes.toString('utf8');
    }
  }
  if (ct === '' || ct.startsWith('text/') || ct.includes('x-www-form-urlencoded') || ct.includes('xml')) return bytes.toString('utf8');
  return binaryOf(bytes, contentType);
}

function header(h: Record<string, string>, name: string): string | undefined {
  const k = Object.keys(h).find((x) => x.toLowerCase() === name);
  return k === undefined ? undefined : h[k];
}

/** The parts of a multipart body (see the module comment), or undefined when `body` is not multipart. */
export function multipartParts(body: unknown): Part[] | undefined {
  if (!isObj(body)) return undefined;
  if (Array.isArray(body.$multipart)) {
    return body.$multipart.map((p) => {
      const headers: Record<string, string> = {};
      if (isObj(p) && isObj(p.headers)) for (const [k, v] of Object.entries(p.headers)) headers[k] = String(v);
      return { headers, body: isObj(p) ? (p.body ?? null) : null };
    });
  }
  if (!isBinaryContent(body)) return undefined;
  const ct = body['$content-type'];
  const bm = /^multipart\/[^;]+;.*\bboundary=(?:"([^"]+)"|([^;]+))/i.exec(ct);
  if (!bm) return undefined;
  const boundary = `--${(bm[1] ?? bm[2]).trim()}`;
  const raw = Buffer.from(body.$content, 'base64').toString('latin1');
  const parts: Part[] = [];
  for (const chunk of raw.split(boundary).slice(1)) {
    if (chunk.startsWith('--')) break;
    const text = chunk.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
    const sep = /\r?\n\r?\n/.exec(text);
    const head = sep ? text.slice(0, sep.index) : '';
    const content = sep ? text.slice(sep.index + sep[0].length) : text;
    const headers: Record<string, string> = {};
    for (const line of head.split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: partBody(header(headers, 'content-type'), Buffer.from(content, 'latin1')) });
  }
  return parts;
}

/** The form field name of a multipart/form-data part (Content-Disposition: form-data; name="x"). */
export function partName(p: Part): string | undefined {
  const cd = header(p.headers, 'content-disposition');
  const m = cd ? /\bname="([^"]*)"|\bname=([^;\s]+)/i.exec(cd) : null;
  return m ? (m[1] ?? m[2]) : undefined;
}

/**
 * Values of a form field in a body: `application/x-www-form-urlencoded` text (string or envelope) or
 * multipart/form-data (text values as strings).
 */
export function formValues(body: unknown, key: string): unknown[] {
  const parts = multipartParts(body);
  if (parts) return parts.filter((p) => partName(p) === key).map((p) => (isBinaryContent(p.body) ? Buffer.from(p.body.$content, 'base64').toString('utf8') : p.body));
  let text = '';
  if (isBinaryContent(body)) text = Buffer.from(body.$content, 'base64').toString('utf8');
  else if (typeof body === 'string') text = body;
  return new URLSearchParams(text).getAll(key);
}

const XML_CONTENT_TYPE = 'application/xml;charset=utf-8';

function escapeXml(s: string, attr = false): string {
  const t = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attr ? t.replace(/"/g, '&quot;') : t;
}

/** Scalar text as Json.NET writes it into XML (booleans lower-case, null empty). */
function xmlText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return escapeXml(typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
}

function xmlName(fn: string, name: string): string {
  if (!/^[A-Za-z_][\w.:-]*$/.test(name)) throw invalidTemplate(`The template language function '${fn}' cannot convert the property name '${name.slice(0, 80)}' to an XML element or attribute name.`);
  return name;
}

/** One JSON property as XML elements (Json.NET DeserializeXmlNode: '@name' attributes, '#text' text, arrays repeat the element). */
function toXmlElement(fn: string, name: string, v: unknown): string {
  if (Array.isArray(v)) return v.map((x) => toXmlElement(fn, name, x)).join('');
  const tag = xmlName(fn, name);
  if (!isObj(v)) return v === null || v === undefined ? `<${tag} />` : `<${tag}>${xmlText(v)}</${tag}>`;
  let attrs = '';
  let inner = '';
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('@')) attrs += ` ${xmlName(fn, k.slice(1))}="${escapeXml(isObj(x) || Array.isArray(x) ? JSON.stringify(x) : x === null || x === undefined ? '' : String(x), true)}"`;
    else if (k === '#text') inner += xmlText(x);
    else inner += toXmlElement(fn, k, x);
  }
  return inner ? `<${tag}${attrs}>${inner}</${tag}>` : `<${tag}${attrs} />`;
}

/** Rough well-formedness check: one root element, balanced tags (comments, CDATA, PIs and doctype skipped). */
function wellFormed(xml: string): boolean {
  const body = xml.trim().replace(/<\?[\s\S]*?\?>/g, '').replace(/<!--[\s\S]*?-->/g, '').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '').replace(/<!DOCTYPE[^>]*>/gi, '').trim();
  if (!body.startsWith('<')) return false;
  const stack: string[] = [];
  let roots = 0;
  const re = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const between = body.slice(last, m.index);
    if (between.includes('<') || (stack.length === 0 && between.trim())) return false;
    last = m.index + m[0].length;
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else if (!m[4]) {
      if (stack.length === 0) roots++;
      stack.push(m[2]);
    } else if (stack.length === 0) roots++;
  }
  return stack.length === 0 && roots === 1 && !body.slice(last).trim();
}

/**
 * xml(value): an XML string (checked for well-formedness) or a JSON object with exactly one root
 * property (converted as Json.NET does), returned as XML content
 * `{ "$content-type": "application/xml;charset=utf-8", "$content": "<base64>" }`.
 * InvalidTemplate when the string is not XML or the object has not exactly one root property.
 */
export function xmlOf(fn: string, v: unknown): BinaryContent {
  let text: string;
  if (typeof v === 'string') {
    if (!wellFormed(v)) throw invalidTemplate(`The template language function '${fn}' parameter is not valid. The provided value cannot be converted to XML: '${v.slice(0, 100)}'.`);
    text = v;
  } else if (isBinaryContent(v) && /xml/i.test(v['$content-type'])) return v;
  else if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => k !== '?xml');
    if (keys.length !== 1 || keys[0].startsWith('@') || keys[0] === '#text') throw invalidTemplate(`The template language function '${fn}' parameter is not valid. The provided value cannot be converted to XML: JSON root object has ${keys.length} properties. The root object must have a single property in order to be converted to XML.`);
    text = toXmlElement(fn, keys[0], v[keys[0]]);
  } else throw invalidTemplate(`The template language function '${fn}' expects its parameter to be a string or an object. The provided value is of type '${typeName(v)}'.`);
  return binaryOf(Buffer.from(text, 'utf8'), XML_CONTENT_TYPE);
}

/** Text of textual content (XML, JSON, text/*) for string(); undefined for other values. */
export function contentText(v: unknown): string | undefined {
  if (!isBinaryContent(v) || !/xml|json|^text\//i.test(v['$content-type'])) return undefined;
  return Buffer.from(v.$content, 'base64').toString('utf8');
}
