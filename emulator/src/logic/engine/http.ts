import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { unsupported, WorkflowError } from './errors';
import { isObj, toWdlString } from './functions';
import type { HttpAnswer, OutboundRequest } from './runner';

/** How the Http action reaches the network and obtains tokens. */
export interface HttpDeps {
  /** PEM of the emulator CA: trusted (with the public roots) for https calls to loopback hosts. */
  caCertPem: string;
  /** Calls to hosts other than loopback are refused (UnsupportedByEmulator) unless true. */
  allowExternal(): boolean;
  /** Mints a managed-identity token for the workflow (`audience` as given in the action). */
  managedIdentityToken(audience: string, identity?: string): Promise<string>;
  /** Client-credentials token from the emulator's own token endpoint (ActiveDirectoryOAuth). */
  clientCredentialsToken(tenant: string, clientId: string, secret: string, audience: string): Promise<string>;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** True when the URL's host is a loopback address (localhost, 127.x.x.x, ::1). */
export function isLoopback(u: URL): boolean {
  return LOOPBACK.test(u.hostname);
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP exchange with node:http(s); rejects on transport errors and on timeout (AbortError). */
export function rawRequest(u: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, timeoutMs: number, signal: AbortSignal, caCertPem: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = u.protocol === 'https:';
    const opts = {
      method,
      headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      signal,
      timeout: timeoutMs,
      ...(isHttps ? { ca: isLoopback(u) ? [...rootCertificates, caCertPem] : undefined } : {}),
    };
    const req = (isHttps ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 100 * 1024 * 1024) req.destroy(new Error('response larger than 100 MB'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Parses a response body as Logic Apps exposes it: JSON when it parses as such, text for text/*, else `{ $content-type, $content }` (base64). */
export function decodeBody(contentType: string | undefined, body: Buffer): unknown {
  if (body.length === 0) return null;
  const ct = (contentType ?? '').toLowerCase();
  const text = (): string => body.toString('utf8').replace(/^\uFEFF/, '');
  if (ct.includes('json') || ct === '') {
    try {
      return JSON.parse(text()) as unknown;
    } catch {
      if (ct.includes('json')) return text();
    }
  }
  if (ct === '' || ct.startsWith('text/') || ct.includes('xml') || ct.includes('x-www-form-urlencoded') || ct.includes('javascript')) return text();
  return { '$content-type': contentType, $content: body.toString('base64') };
}

function flatHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase())] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function encodeBody(body: unknown, headers: Record<string, string>): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  const ctKey = Object.keys(headers).find((k) => k.toLowerCase() === 'content-type');
  if (typeof body === 'string') {
    if (!ctKey) headers['Content-Type'] = 'text/plain; charset=utf-8';
    return Buffer.from(body, 'utf8');
  }
  if (isObj(body) && typeof body.$content === 'string' && typeof body['$content-type'] === 'string') {
    if (!ctKey) headers['Content-Type'] = body['$content-type'];
    return Buffer.from(body.$content, 'base64');
  }
  if (!ctKey) headers['Content-Type'] = 'application/json';
  return Buffer.from(JSON.stringify(body), 'utf8');
}

async function authorize(req: OutboundRequest, headers: Record<string, string>, deps: HttpDeps): Promise<void> {
  const a = req.authentication;
  if (!a) return;
  const type = String(a.type ?? '').toLowerCase();
  const audience = typeof a.audience === 'string' && a.audience ? a.audience : 'https://management.azure.com/';
  switch (type) {
    case 'managedserviceidentity':
      headers.Authorization = `Bearer ${await deps.managedIdentityToken(audience, typeof a.identity === 'string' ? a.identity : undefined)}`;
      return;
    case 'activedirectoryoauth': {
      if (typeof a.clientId !== 'string' || typeof a.secret !== 'string' || typeof a.tenant !== 'string') {
        throw new WorkflowError('InvalidTemplate', "ActiveDirectoryOAuth authentication needs 'tenant', 'clientId' and 'secret' (client certificates are not supported by the local emulator).");
      }
      headers.Authorization = `Bearer ${await deps.clientCredentialsToken(a.tenant, a.clientId, a.secret, audience)}`;
      return;
    }
    case 'basic':
      headers.Authorization = `Basic ${Buffer.from(`${toWdlString(a.username)}:${toWdlString(a.password)}`).toString('base64')}`;
      return;
    case 'raw':
      headers.Authorization = toWdlString(a.value);
      return;
    case 'none':
    case '':
      return;
    default:
      throw unsupported(`Authentication type '${String(a.type)}' is not supported by the local emulator (supported: ManagedServiceIdentity, ActiveDirectoryOAuth with a secret, Basic, Raw).`);
  }
}

function retryPlan(p: Record<string, unknown> | undefined): { count: number; intervalMs: number; exponential: boolean } {
  const type = String(p?.type ?? 'default').toLowerCase();
  if (type === 'none') return { count: 0, intervalMs: 0, exponential: false };
  const count = Math.min(10, Math.max(0, typeof p?.count === 'number' ? p.count : type === 'default' ? 2 : 4));
  const interval = typeof p?.interval === 'string' ? (isoDurationMs(p.interval) ?? 250) : 250;
  return { count, intervalMs: Math.min(interval, 2000), exponential: type !== 'fixed' };
}

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Performs an Http action call: authentication (managed identity / AAD client credentials / Basic /
 * Raw), body encoding (objects as JSON), retries (retryPolicy: none | fixed | exponential; the
 * emulator's default is 2 quick retries on 408/429/5xx and connection errors, Logic Apps' is 4
 * exponential), and the async pattern (202 + Location is polled unless DisableAsyncPattern).
 * Only loopback hosts are called unless `allowExternal()`; https to loopback trusts the emulator CA.
 * Rejects with WorkflowError: `UnsupportedByEmulator` (external host), `ActionTimedOut`, `BadGateway`-style transport errors.
 */
export async function performHttp(req: OutboundRequest, signal: AbortSignal, deps: HttpDeps): Promise<HttpAnswer> {
  let u: URL;
  try {
    u = new URL(req.uri);
  } catch {
    throw new WorkflowError('InvalidTemplate', `The 'uri' '${safeUri(req.uri)}' of the Http action is not a valid absolute URI.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WorkflowError('InvalidTemplate', `The 'uri' scheme '${u.protocol}' is not supported; use http or https.`);
  if (!isLoopback(u) && !deps.allowExternal()) {
    throw unsupported(`The Http action's host '${u.hostname}' is not reachable from the local emulator: only loopback addresses (the emulator itself, localhost services) are called (setting allowExternalHttp).`);
  }
  for (const [k, v] of Object.entries(req.queries ?? {})) u.searchParams.set(k, v);
  const headers: Record<string, string> = { ...req.headers };
  await authorize(req, headers, deps);
  const body = encodeBody(req.body, headers);
  const plan = retryPlan(req.retryPolicy);
  const deadline = Date.now() + req.timeoutMs;
  let attempt = 0;
  for (;;) {
    let res: RawResponse | undefined;
    let transportError: Error | undefined;
    try {
      res = await rawRequest(u, req.method, headers, body, Math.max(1, deadline - Date.now()), signal, deps.caCertPem);
    } catch (e) {
      if (signal.aborted) throw new WorkflowError('Cancelled', 'The run was cancelled.');
      transportError = e as Error;
    }
    const retryable = transportError ? (transportError as NodeJS.ErrnoException).code !== 'ETIMEDOUT' : RETRYABLE.has(res!.status);
    if (retryable && attempt < plan.count && Date.now() < deadline) {
      const wait = plan.exponential ? plan.intervalMs * 2 ** attempt : plan.intervalMs;
      attempt++;
      await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))).unref?.());
      continue;
    }
    if (transportError) {
      const code = (transportError as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') throw new WorkflowError('ActionTimedOut', `The HTTP request to '${safeUri(u.toString())}' timed out after ${Math.round(req.timeoutMs / 1000)} s.`);
      throw new WorkflowError('BadGateway', `The HTTP request to '${safeUri(u.toString())}' failed: ${code ?? transportError.message}.`);
    }
    let r = res!;
    // async pattern: 202 + Location -> poll with GET until the status is not 202
    while (r.status === 202 && typeof r.headers.location === 'string' && !req.disableAsyncPattern) {
      const ra = Number(r.headers['retry-after'] ?? 1);
      await new Promise((x) => setTimeout(x, Math.min(Number.isFinite(ra) ? ra * 1000 : 1000, 1000)).unref?.());
      if (Date.now() > deadline) throw new WorkflowError('ActionTimedOut', `Polling '${safeUri(r.headers.location)}' did not finish within the action's timeout.`);
      const loc = new URL(r.headers.location, u);
      if (!isLoopback(loc) && !deps.allowExternal()) throw unsupported(`The async Location host '${loc.hostname}' is not reachable from the local emulator.`);
      const pollHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'authorization') pollHeaders[k] = v;
      r = await rawRequest(loc, 'GET', pollHeaders, undefined, Math.max(1, deadline - Date.now()), signal, deps.caCertPem);
    }
    const ct = r.headers['content-type'];
    return { statusCode: r.status, headers: flatHeaders(r.headers), body: decodeBody(Array.isArray(ct) ? ct[0] : ct, r.body) };
  }
}

/** Parses an ISO 8601 duration (PT1H, P1D, PT30S) to ms; undefined when invalid. */
export function isoDurationMs(d: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d.trim());
  if (!m || d.trim() === 'P') return undefined;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 + Number(m[4] ?? 0) * 1000;
}

/** Headers as recorded in run history: Authorization and key-like headers are redacted. */
export function redactHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k] = /authorization|api-key|apikey|secret|token|password|cookie|sig/i.test(k) ? '*sanitized*' : v;
  return out;
}

/** A URI with its query string removed (it may carry a signature). */
export function safeUri(u: string): string {
  const i = u.indexOf('?');
  return (i >= 0 ? u.slice(0, i) : u).slice(0, 300);
}
