/**
 * The one HTTP client of the service for remotes that are not called through an Azure SDK pipeline
 * (issue 9): Entra ID discovery and keys, the emulator's control API, Logic Apps callback URLs,
 * Microsoft Graph, Dataverse, Finance and Operations and Business Central. Built on `undici` with an
 * explicit dispatcher (Agent) per remote: its own TLS trust (trustedCas), timeouts, keep-alive,
 * a bounded number of connections per origin and, for publisher-supplied hosts, the outbound URL rule's
 * guarded DNS lookup (src/security/outbound-url.ts: guardedLookup). Nothing here changes process-wide
 * state (no global dispatcher, no patched https.Agent).
 *
 * The Azure SDK clients (ARM, Logic Apps management, Key Vault, blob storage, @azure/identity) keep
 * their own pipeline, configured with AzureRuntime.clientOptions (the same trust list).
 */
import * as tls from 'node:tls';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch, request as undiciRequest } from 'undici';
import { classifyRemoteError, RemoteError, RemoteService } from './remote-error';
import { emitRemoteCall, operationOf, outcomeOf } from './observe';
import { performance } from 'node:perf_hooks';

/**
 * The CA certificates (PEM) a client of the runtime's remotes trusts: the emulator's CA alone when the
 * endpoints are emulated (every remote is the emulator; a short list also keeps TLS set-up cheap), the
 * system roots plus the extra CA otherwise (a private cloud's CA), or undefined (Node's default roots)
 * without an extra CA. Same rule as AzureRuntime.clientOptions for the Azure SDKs.
 */
export function trustedCas(endpoints: { extraCaPem?: string; emulated: boolean }): string[] | undefined {
  if (!endpoints.extraCaPem) return undefined;
  return endpoints.emulated ? [endpoints.extraCaPem] : [...tls.rootCertificates, endpoints.extraCaPem];
}

/** How one remote's dispatcher connects and how long it waits. Times in ms, sizes in bytes. */
export interface RemoteHttpOptions {
  /** Which remote (error classification and messages). */
  service: RemoteService;
  /** CA certificates (PEM) trusted instead of Node's default roots (trustedCas); undefined: the default roots. */
  ca?: string[];
  /** DNS lookup of new connections, e.g. guardedLookup (refuses non-public addresses). Default: dns.lookup. */
  lookup?: LookupFunction;
  /** TCP + TLS set-up (default 10 s). */
  connectTimeoutMs?: number;
  /** From the request sent to the response headers (default 30 s). */
  headersTimeoutMs?: number;
  /** Longest pause between two chunks of the body (default 30 s). */
  bodyTimeoutMs?: number;
  /** An idle kept-alive connection is closed after this (default 4 s; a server's Keep-Alive hint may lower it). */
  keepAliveTimeoutMs?: number;
  /** Connections per origin at most (default 16); further requests queue. */
  connections?: number;
  /** Largest body read, by `send` and by `fetch` (default 4 MiB); larger answers fail with AnswerTooLarge. */
  maxResponseBytes?: number;
}

/** An answer read by RemoteHttp.send. Header names are lower case; repeated headers are joined with ", ". */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the body is JSON, else the text ('' for none). A UTF-8 BOM is dropped. */
  body: unknown;
  /** The body as text. */
  text: string;
}

/** Options of one RemoteHttp.send. */
export interface SendOptions {
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON (content-type application/json). */
  body?: unknown;
  /** Overrides the dispatcher's headers and body timeouts for this request (ms). */
  timeoutMs?: number;
  /** The remote named in errors, when one dispatcher serves several (default: the dispatcher's). */
  service?: RemoteService;
}

const DEFAULTS = { connectTimeoutMs: 10_000, headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000, keepAliveTimeoutMs: 4_000, connections: 16, maxResponseBytes: 4 * 1024 * 1024 };

/** `origin + path` of a URL: what messages and logs may show (never the query: it may hold a `sig`). */
export function urlForMessages(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * An HTTP client for one remote: an undici Agent with this remote's trust, lookup, timeouts and
 * connection bound, and two ways to call it: `send` (one request, body read and parsed, never throws for
 * an HTTP status) and `fetch` (WHATWG fetch through the same dispatcher, for libraries that take a fetch:
 * jose, the Graph client middleware). Only https URLs are called. Close it when its owner shuts down.
 */
export class RemoteHttp {
  /** The dispatcher of this remote (undici Agent: a pool of connections per origin). */
  readonly dispatcher: Agent;
  private readonly opts: Required<Omit<RemoteHttpOptions, 'ca' | 'lookup'>> & Pick<RemoteHttpOptions, 'ca' | 'lookup'>;

  constructor(options: RemoteHttpOptions) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options) } as RemoteHttp['opts'];
    const o = this.opts;
    this.dispatcher = new Agent({
      connect: { timeout: o.connectTimeoutMs, ...(o.ca ? { ca: o.ca } : {}), ...(o.lookup ? { lookup: o.lookup } : {}) },
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connections: o.connections,
      maxResponseSize: o.maxResponseBytes,
    });
  }

  /**
   * WHATWG fetch through this remote's dispatcher (redirects are followed through it too, so the same
   * trust and lookup apply). Only https URLs.
   * @throws TypeError('fetch failed', {cause}) as fetch does; classify with classifyRemoteError.
   */
  readonly fetch = async (input: string | URL | { url: string }, init?: Record<string, unknown>): Promise<Response> => {
    const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
    if (!url.startsWith('https:')) throw new RemoteError(this.opts.service, 'invalid', 'InsecureUrl', `Only https URLs are called (got ${urlForMessages(url).slice(0, 200)}).`);
    const started = performance.now();
    const method = typeof init?.method === 'string' ? init.method : 'GET';
    const report = (status?: number) =>
      emitRemoteCall({ service: this.opts.service, operation: operationOf(method, url), outcome: outcomeOf(status), status, seconds: (performance.now() - started) / 1000 });
    try {
      const res = await undiciFetch(url, { ...(init ?? {}), dispatcher: this.dispatcher });
      report(res.status);
      return res;
    } catch (err) {
      report();
      throw err;
    }
  };

  /**
   * One HTTPS request: sends `body`, reads at most maxResponseBytes of the answer and parses JSON.
   * Redirects are not followed (the caller sees 3xx and its Location).
   * @returns the answer, whatever its status.
   * @throws RemoteError: `invalid` InsecureUrl (not https) or AnswerTooLarge; `transient` for no answer
   *   (connection refused or reset, DNS, TLS, UND_ERR_CONNECT_TIMEOUT / UND_ERR_HEADERS_TIMEOUT /
   *   UND_ERR_BODY_TIMEOUT); `invalid` OutboundUrlRefused when the guarded lookup refused the host.
   */
  async send(method: string, url: string, options: SendOptions = {}): Promise<HttpAnswer> {
    const where = urlForMessages(url);
    const service = options.service ?? this.opts.service;
    if (!url.startsWith('https:')) throw new RemoteError(service, 'invalid', 'InsecureUrl', `Only https URLs are called (got ${where.slice(0, 200)}).`);
    const isRaw = typeof options.body === 'string' || Buffer.isBuffer(options.body);
    const payload = options.body === undefined ? undefined : isRaw ? (options.body as string | Buffer) : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: 'application/json', ...(payload !== undefined && !isRaw ? { 'content-type': 'application/json' } : {}), ...options.headers };
    const limit = this.opts.maxResponseBytes;
    const started = performance.now();
    let answered: number | undefined;
    try {
      const res = await undiciRequest(url, {
        dispatcher: this.dispatcher,
        method: method as 'GET',
        headers,
        body: payload,
        ...(options.timeoutMs !== undefined ? { headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs } : {}),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > limit) {
          res.body.destroy();
          throw new RemoteError(service, 'invalid', 'AnswerTooLarge', `The answer of ${where} is larger than ${limit} bytes.`, res.statusCode);
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
      let body: unknown = text;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON: the text */
        }
      }
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      answered = res.statusCode;
      return { status: res.statusCode, headers: h, body, text };
    } catch (err) {
      if (err instanceof RemoteError) throw err;
      const e = classifyRemoteError(err, service);
      const message = e.code === 'AnswerTooLarge' ? `The answer of ${where} is larger than ${limit} bytes.` : `${method} ${where} failed: ${e.message}`;
      throw new RemoteError(e.service, e.kind, e.code, message, e.status, e.retryAfterMs, { cause: err });
    } finally {
      emitRemoteCall({ service, operation: operationOf(method, url), outcome: outcomeOf(answered), status: answered, seconds: (performance.now() - started) / 1000 });
    }
  }

  /** Ends this remote's connections, aborting requests still in flight (owner shut down). */
  async close(): Promise<void> {
    await this.dispatcher.destroy().catch(() => undefined);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Largest JSON document fetched from an authority or the emulator's control API (discovery, JWKS, token): 512 KB. */
export const MAX_AUTHORITY_RESPONSE_BYTES = 512 * 1024;

/** Options of httpsJson. */
export interface HttpsJsonOptions {
  method?: 'GET' | 'POST';
  /** Extra CA (PEM) trusted besides the system roots (the emulator's CA). */
  extraCaPem?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Whole-request timeout in ms (default 5000). */
  timeoutMs?: number;
}

/**
 * One JSON request to an authority or the emulator's control API, for one-off callers without a
 * long-lived RemoteHttp (start-up, the token CLI, tests): a RemoteHttp trusting the system roots plus
 * `extraCaPem`, limited to MAX_AUTHORITY_RESPONSE_BYTES and `timeoutMs` (default 5 s), closed afterwards.
 * @returns the status and the parsed JSON body (undefined when empty or not JSON).
 * @throws RemoteError on a non-https URL, network/TLS failure, timeout or an oversized answer.
 */
export async function httpsJson(url: string, opts: HttpsJsonOptions = {}): Promise<{ status: number; json: unknown }> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const http = new RemoteHttp({
    service: 'authority',
    ca: opts.extraCaPem ? [...tls.rootCertificates, opts.extraCaPem] : undefined,
    connectTimeoutMs: timeoutMs,
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    connections: 1,
    maxResponseBytes: MAX_AUTHORITY_RESPONSE_BYTES,
  });
  try {
    const a = await http.send(opts.method ?? 'GET', url, { headers: opts.headers, body: opts.body });
    return { status: a.status, json: typeof a.body === 'string' ? undefined : a.body };
  } finally {
    await http.close();
  }
}
