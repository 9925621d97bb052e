import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Maximum accepted request body (ARM rejects bodies above 4 MB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** One parsed incoming request. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** Raw path (no query), e.g. "/subscriptions/x/resourcegroups/y". */
  path: string;
  /** Percent-decoded path segments (empty segments removed, except a trailing "" when the path ends in "/"). */
  segments: string[];
  /** Query parameters; keys and values percent-decoded (`api%2Dversion` -> `api-version`). */
  query: URLSearchParams;
  body: Buffer;
  /** Value for x-ms-request-id. */
  requestId: string;
  /** x-ms-correlation-request-id (echoed from the client's x-ms-client-request-id/correlation header or new). */
  correlationId: string;
  /** Base URL of the emulator as the client addressed it, e.g. "https://localhost:8443". */
  baseUrl: string;
}

/** Thrown when a body is too large or a path cannot be decoded; mapped to a 400/413 by the server. */
export class HttpInputError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

/** Reads the whole body (up to MAX_BODY_BYTES, else HttpInputError 413). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY_BYTES) throw new HttpInputError(413, 'RequestContentTooLarge', 'The request content size exceeds the maximum allowed size of 4 MB.');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Builds a Ctx: splits and percent-decodes the path (HttpInputError 400 on malformed escapes). */
export async function parseRequest(req: IncomingMessage, res: ServerResponse, baseUrl: string): Promise<Ctx> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const search = q >= 0 ? rawUrl.slice(q + 1) : '';
  let segments: string[];
  try {
    const parts = path.split('/');
    segments = parts.filter((s, i) => s !== '' || (i === parts.length - 1 && parts.length > 1 && path !== '/')).map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpInputError(400, 'InvalidRequestUri', 'The request URI is malformed.');
  }
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(search);
  } catch {
    query = new URLSearchParams();
  }
  const body = await readBody(req);
  const clientReq = header(req, 'x-ms-correlation-request-id') ?? header(req, 'x-ms-client-request-id');
  return {
    req,
    res,
    method: (req.method ?? 'GET').toUpperCase(),
    path,
    segments,
    query,
    body,
    requestId: randomUUID(),
    correlationId: clientReq && /^[\w-]{1,100}$/.test(clientReq) ? clientReq : randomUUID(),
    baseUrl,
  };
}

/** First value of a request header, or undefined. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Sends a JSON response (or no body when `body` is undefined). Ignores writes after the socket closed. */
export function send(ctx: Ctx, status: number, body?: unknown, headers: Record<string, string | number> = {}): void {
  const { res } = ctx;
  if (res.headersSent || res.writableEnded) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, String(v));
  if (body === undefined) {
    res.statusCode = status;
    res.setHeader('Content-Length', '0');
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(ctx.method === 'HEAD' ? undefined : text);
}

/** Parses a JSON body; returns undefined for an empty body; throws SyntaxError when malformed. BOM-tolerant. */
export function jsonBody(ctx: Ctx): unknown {
  const text = ctx.body.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return undefined;
  return JSON.parse(text) as unknown;
}

/**
 * The JSON object body of a control-API request ({} when empty), or the reason it is not one (the
 * control API answers it as 400 InvalidRequestContent).
 */
export function controlObjectBody(ctx: Ctx): { body: Record<string, unknown> } | { problem: string } {
  let body: unknown;
  try {
    body = jsonBody(ctx);
  } catch {
    return { problem: 'The request body is not valid JSON.' };
  }
  if (body !== undefined && !isObject(body)) return { problem: 'The request body must be a JSON object.' };
  return { body: (body ?? {}) };
}

/** Answers a control-API request with `{error: {code, message}}` and the given status; returns true (route handled). */
export type ControlFail = (status: number, code: string, message: string) => true;

/**
 * The prologue of a control-API handler: an error sender for this request and its JSON object body
 * ({} when empty). When the body is not a JSON object it has already answered 400 InvalidRequestContent
 * and returns undefined (the request is handled).
 */
export function controlRequest(ctx: Ctx): { fail: ControlFail; body: Record<string, unknown> } | undefined {
  const fail: ControlFail = (status, code, message) => {
    send(ctx, status, { error: { code, message } });
    return true;
  };
  const parsed = controlObjectBody(ctx);
  if ('problem' in parsed) {
    fail(400, 'InvalidRequestContent', parsed.problem);
    return undefined;
  }
  return { fail, body: parsed.body };
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolves after `ms` milliseconds (unref'd timer). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
