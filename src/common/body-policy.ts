import { isUtf8 } from 'node:buffer';
import * as express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError, ErrorDetail } from './api-error';
import { MAX_REPORTED_ISSUES, safePath } from './validation';

/** A route that takes a raw (non-JSON) body, e.g. the ARM package upload (zip). */
export interface RawBodyRoute {
  method: string;
  /** Matched against the request path (without query string). */
  path: RegExp;
  /** Accepted media types (lower case, without parameters). */
  contentTypes: string[];
  /** Largest body accepted, bytes. */
  limitBytes: number;
}

/** What bodyPolicy() enforces. */
export interface BodyPolicyOptions {
  /** Largest JSON body accepted, bytes. */
  jsonLimitBytes: number;
  /** Routes whose body is raw bytes of one of their content types; every other body must be JSON. */
  rawRoutes: RawBodyRoute[];
}

/** JSON media types accepted on every route that is not a raw route. */
export const JSON_CONTENT_TYPES = ['application/json'];

/**
 * The one gate every request body passes before anything reads it (issue 8: one 50 MB request with the
 * wrong Content-Type reached the JSON validator and took the service down). Per request:
 * - no body (no Content-Length, or 0, and no Transfer-Encoding): passes untouched;
 * - a raw route (the package upload): only its content types (else 415), at most its limit (a declared
 *   Content-Length above it is refused at once with 413, before a byte is read), parsed to a Buffer;
 * - any other route: only `application/json` / `application/*+json` (else 415), at most
 *   `jsonLimitBytes` (413), parsed by express.json (malformed: 400 InvalidJson).
 * - U+0000 (the NUL character) anywhere: in the URL (`%00`) 400 naming `url`; in a JSON body's string
 *   or key, 400 ValidationFailed naming each field (nulFields). PostgreSQL refuses it in text and json
 *   ("invalid byte sequence for encoding UTF8: 0x00": a 500), SQLite keeps it, and a lead would carry it
 *   to the publisher's CRM; no field of this API needs it.
 * - A body read as UTF-8 (its charset, or none) whose bytes are not UTF-8: 400 InvalidJson (it was decoded
 *   with U+FFFD in place of the bad bytes, and the altered text stored).
 * Refusals use the API's error body `{error:{code,message,target}}` and name the header and the rule;
 * the body of a refused request is discarded by Node as it arrives, never buffered.
 */
export function bodyPolicy(opts: BodyPolicyOptions): RequestHandler {
  const json = express.json({
    limit: opts.jsonLimitBytes,
    type: () => true,
    // The raw bytes hold `\u0000` wherever a parsed string holds U+0000 (JSON has no other way to write
    // it): one scan of the bytes, and the walk of the parsed body only when it is there.
    // Bytes declared (or defaulted to) UTF-8 that are not UTF-8 would be decoded with U+FFFD in place of each
    // bad byte, and a customer's name would reach the lead altered: refused instead (isUtf8 is one SIMD pass).
    verify: (req: Request, _res: Response, buf: Buffer, encoding: string) => {
      if (buf.includes(NUL_ESCAPE)) (req as Request & { [MAY_HOLD_NUL]?: true })[MAY_HOLD_NUL] = true;
      if (/^utf-?8$/i.test(encoding) && !isUtf8(buf)) (req as Request & { [NOT_UTF8]?: true })[NOT_UTF8] = true;
    },
  });
  const raws = opts.rawRoutes.map((r) => ({ route: r, parser: express.raw({ limit: r.limitBytes, type: () => true }) }));
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.url.includes('%00')) return refuseInvalid(res, [{ code: 'InvalidField', target: 'url', message: 'The URL must not contain U+0000 (the NUL character, %00).' }]);
    const length = req.headers['content-length'];
    const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
    if (!hasBody) return next();
    const path = req.path;
    const raw = raws.find((r) => r.route.method === req.method && r.route.path.test(path));
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const accepted = raw ? raw.route.contentTypes : JSON_CONTENT_TYPES;
    const isAccepted = raw ? accepted.includes(mediaType) : accepted.includes(mediaType) || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
    if (!isAccepted) {
      return refuse(res, 415, 'UnsupportedMediaType', `This operation takes a ${raw ? 'raw' : 'JSON'} body: send Content-Type: ${accepted.join(' or ')} (got '${printable(mediaType) || 'none'}').`, 'Content-Type');
    }
    const limit = raw ? raw.route.limitBytes : opts.jsonLimitBytes;
    if (length !== undefined && Number(length) > limit) {
      return refuse(res, 413, 'PayloadTooLarge', `The request body is larger than the limit of ${limit} bytes for this operation.`, 'Content-Length');
    }
    const parser = raw ? raw.parser : json;
    parser(req, res, (err?: unknown) => {
      if (!err) {
        if ((req as Request & { [NOT_UTF8]?: true })[NOT_UTF8]) {
          return refuse(res, 400, 'InvalidJson', 'The request body is not valid UTF-8: send UTF-8, or name the charset of the body in Content-Type (e.g. charset=utf-16).', 'body');
        }
        if ((req as Request & { [MAY_HOLD_NUL]?: true })[MAY_HOLD_NUL]) {
          const fields = nulFields(req.body);
          if (fields.length) return refuseInvalid(res, fields);
        }
        return next();
      }
      const e = err as { type?: string; message?: string };
      if (e.type === 'entity.too.large') return refuse(res, 413, 'PayloadTooLarge', `The request body is larger than the limit of ${limit} bytes for this operation.`, 'Content-Length');
      if (e.type === 'entity.parse.failed' || e.type === 'entity.verify.failed') return refuse(res, 400, 'InvalidJson', invalidJsonMessage(err));
      if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return refuse(res, 415, 'UnsupportedEncoding', 'Send the body in UTF-8 without a content encoding.', 'Content-Type');
      if (e.type === 'request.aborted' || e.type === 'request.size.invalid') return refuse(res, 400, 'BadRequest', 'The request body ended before its declared length.');
      return next(err);
    });
  };
}

/**
 * What is wrong with a JSON body express.json refused (its error: `body` the text, `message` the parser's),
 * without echoing the body: JSON that is not an object or array ("null", "42"; express.json's strict mode),
 * or the line and column where parsing stopped when the parser gave a position (Node's "at position N").
 */
export function invalidJsonMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: unknown };
  const body = typeof e.body === 'string' ? e.body : undefined;
  if (body !== undefined) {
    try {
      const v: unknown = JSON.parse(body);
      const what = v === null ? 'null' : typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'a boolean' : 'a value';
      return `The request body must be a JSON object, not ${what}.`;
    } catch {
      // not JSON at all: say where it stops below
    }
  }
  const at = /at position (\d+)/.exec(typeof e.message === 'string' ? e.message : '');
  if (body !== undefined && at) {
    const before = body.slice(0, Number(at[1])).split('\n');
    return `The request body is not valid JSON: parsing stopped at line ${before.length}, column ${before[before.length - 1].length + 1}.`;
  }
  if (/end of JSON input/.test(typeof e.message === 'string' ? e.message : '')) return 'The request body is not valid JSON: it ends before the JSON is complete.';
  if (body !== undefined && body.trim() !== '' && !/^\s*[{[]/.test(body)) return 'The request body is not valid JSON: it must start with { (a JSON object).';
  return 'The request body is not valid JSON.';
}

/** Set on a request whose body, read as UTF-8, is not valid UTF-8 (express.json's verify). */
const NOT_UTF8 = Symbol('notUtf8');

/** `\u0000` as the bytes of a JSON body hold it. */
const NUL_ESCAPE = Buffer.from('\\u0000');
/** Set on a request whose JSON bytes hold NUL_ESCAPE (express.json's verify). */
const MAY_HOLD_NUL = Symbol('mayHoldNul');

/**
 * The fields of a parsed JSON body whose string value or key holds U+0000, as problems naming each
 * (JSON path, safePath: a key that cannot be echoed ends the path with "…"); at most MAX_REPORTED_ISSUES.
 * Iterative (a body may nest hundreds of thousands of levels deep). Empty when there is none (an escaped
 * backslash before `u0000` is text).
 */
export function nulFields(body: unknown): ErrorDetail[] {
  type Node = { value: unknown; key?: PropertyKey; parent?: Node };
  const out: ErrorDetail[] = [];
  const problem = (node: Node, key?: PropertyKey) => {
    // Paths are rebuilt only for a problem (parent links: copying a path per level is quadratic in the depth).
    const path: PropertyKey[] = key === undefined ? [] : [key];
    for (let n: Node | undefined = node; n && n.key !== undefined; n = n.parent) path.push(n.key);
    const target = safePath(path.reverse()) || undefined;
    out.push({ code: 'InvalidField', target, message: `${target ?? 'The body'} must not contain U+0000 (the NUL character).` });
  };
  const stack: Node[] = [{ value: body }];
  while (stack.length && out.length < MAX_REPORTED_ISSUES) {
    const node = stack.pop()!;
    const value = node.value;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) problem(node);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i];
        if (k.includes('\u0000')) problem(node, k);
        else stack.push({ value: v, key: k, parent: node });
      }
    }
  }
  return out;
}

/** 400 ValidationFailed listing `details`, as the API's exception filter writes ApiError.validation. */
function refuseInvalid(res: Response, details: ErrorDetail[]): void {
  const e = ApiError.validation(details);
  if (!res.headersSent) res.status(400).json({ error: { code: e.code, message: e.message, ...(e.target ? { target: e.target } : {}), details: e.details } });
}

function refuse(res: Response, status: number, code: string, message: string, target?: string): void {
  if (res.headersSent) return;
  res.status(status).json({ error: { code, message, ...(target ? { target } : {}) } });
}

/** A header value safe to echo: printable ASCII, at most 100 characters. */
function printable(v: string): string {
  const s = v.replace(/[^\x20-\x7e]/g, '?');
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}
