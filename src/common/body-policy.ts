import * as express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

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
 * Refusals use the API's error body `{error:{code,message,target}}` and name the header and the rule;
 * the body of a refused request is discarded by Node as it arrives, never buffered.
 */
export function bodyPolicy(opts: BodyPolicyOptions): RequestHandler {
  const json = express.json({ limit: opts.jsonLimitBytes, type: () => true });
  const raws = opts.rawRoutes.map((r) => ({ route: r, parser: express.raw({ limit: r.limitBytes, type: () => true }) }));
  return (req: Request, res: Response, next: NextFunction) => {
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
      if (!err) return next();
      const e = err as { type?: string; message?: string };
      if (e.type === 'entity.too.large') return refuse(res, 413, 'PayloadTooLarge', `The request body is larger than the limit of ${limit} bytes for this operation.`, 'Content-Length');
      if (e.type === 'entity.parse.failed' || e.type === 'entity.verify.failed') return refuse(res, 400, 'InvalidJson', 'The request body is not valid JSON.');
      if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return refuse(res, 415, 'UnsupportedEncoding', 'Send the body in UTF-8 without a content encoding.', 'Content-Type');
      if (e.type === 'request.aborted' || e.type === 'request.size.invalid') return refuse(res, 400, 'BadRequest', 'The request body ended before its declared length.');
      return next(err);
    });
  };
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
