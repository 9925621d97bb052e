import { OUTBOUND_URL_REFUSED, outboundRefusalOf } from '../../../src/security/outbound-url';

/** Which remote API answered. */
export type RemoteService = 'token' | 'graph' | 'dataverse' | 'fno' | 'bc';

/**
 * What went wrong in a call to Entra ID, Graph or a Dynamics 365 API, classified for the step machine:
 * - credential: the publisher's app was refused a token (wrong/expired secret, deleted app): not retried as is;
 * - throttled / transient: worth retrying (429 with retryAfterMs, 5xx, network, timeouts);
 * - notFound: 404 / "does not exist" answers (idempotent deletes treat them as done);
 * - denied: 401/403 with a valid token (missing permission or application user);
 * - client: any other 4xx (a bad request, missing role, no free license...).
 */
export class RemoteError extends Error {
  constructor(
    readonly service: RemoteService,
    readonly kind: 'credential' | 'throttled' | 'transient' | 'notFound' | 'denied' | 'client',
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }

  get retryable(): boolean {
    return this.kind === 'throttled' || this.kind === 'transient';
  }
}

/** Entra answers that mean the app registration or its secret is refused (AADSTS7000215 wrong secret, 7000222 expired, 700016 unknown app, 90002 unknown tenant). */
export const REFUSED_CREDENTIAL = /\b(invalid_client|unauthorized_client|AADSTS7000215|AADSTS7000222|AADSTS700016|AADSTS90002)\b/;

/** Parses a Retry-After header value (seconds or HTTP date) into ms. */
export function retryAfterMs(value: unknown, nowMs = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const s = String(Array.isArray(value) ? value[0] : value);
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

/**
 * Any error thrown by @azure/identity, the Graph client, dynamics-web-api or our fetch calls, as a
 * RemoteError (already one: returned as is). A refusal of the outbound URL rule (also wrapped by fetch)
 * is kind `client`, code `OutboundUrlRefused`.
 */
export function toRemoteError(err: unknown, service: RemoteService): RemoteError {
  if (err instanceof RemoteError) return err;
  // The outbound URL rule refused the URL or the connection (issue 8): not retried, named as such.
  const refusal = outboundRefusalOf(err);
  if (refusal) return new RemoteError(service, 'client', OUTBOUND_URL_REFUSED, refusal.message.slice(0, 1000));
  const e = (err ?? {}) as { name?: string; message?: string; status?: number; statusCode?: number; code?: string | number; headers?: Record<string, unknown> | Headers; body?: unknown };
  const message = String(e.message ?? err).slice(0, 1000);
  if (REFUSED_CREDENTIAL.test(message) || /^(AuthenticationRequiredError|AuthenticationError|CredentialUnavailableError)$/.test(e.name ?? '') || /AADSTS\d+/.test(message)) {
    const code = /AADSTS\d+/.exec(message)?.[0] ?? 'AuthenticationFailed';
    if (REFUSED_CREDENTIAL.test(message) || /AADSTS\d+/.test(message)) return new RemoteError('token', 'credential', code, message);
    return new RemoteError('token', 'transient', code, message);
  }
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' && e.statusCode > 0 ? e.statusCode : undefined;
  const code = e.code !== undefined && e.code !== null && e.code !== '' ? String(e.code) : status ? `Http${status}` : (e.name ?? 'Error');
  const header = (k: string): unknown => {
    const h = e.headers;
    if (!h) return undefined;
    if (typeof (h as Headers).get === 'function') return (h as Headers).get(k);
    return (h as Record<string, unknown>)[k] ?? (h as Record<string, unknown>)[k.toLowerCase()];
  };
  if (status === undefined) return new RemoteError(service, 'transient', code, message);
  if (status === 429) return new RemoteError(service, 'throttled', code, message, status, retryAfterMs(header('retry-after')) ?? 5000);
  if (status === 408 || status >= 500) return new RemoteError(service, 'transient', code, message, status, retryAfterMs(header('retry-after')));
  if (status === 404 || code === 'Request_ResourceNotFound' || code === '0x80040217' || code === 'BadRequest_NotFound') return new RemoteError(service, 'notFound', code, message, status);
  if (status === 401 || status === 403) return new RemoteError(service, 'denied', code, message, status);
  return new RemoteError(service, 'client', code, message, status);
}

/** Most a call waits in real time for a Retry-After before giving the error back to the step machine. */
export const INLINE_RETRY_MAX_MS = 10_000;

/**
 * Runs `call`, honouring Retry-After of throttled answers (dynamics-web-api and plain fetch have no retry
 * of their own): waits up to INLINE_RETRY_MAX_MS (real time: the server's throttle runs in real time)
 * and tries again, at most `attempts` times. Other errors, and longer waits, are thrown as RemoteError.
 */
export async function withRetryAfter<T>(service: RemoteService, call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      const e = toRemoteError(err, service);
      const wait = e.kind === 'throttled' || (e.kind === 'transient' && e.retryAfterMs !== undefined) ? (e.retryAfterMs ?? 1000) : undefined;
      if (wait === undefined || wait > INLINE_RETRY_MAX_MS || i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
