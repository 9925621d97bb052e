/**
 * One classification of failed calls to remote services (issue 9): Entra ID token requests, ARM (and
 * Logic Apps through ARM), Logic Apps callback URLs, Microsoft Graph, and the Dynamics 365 APIs
 * (Dataverse, Finance and Operations, Business Central). Every caller turns what its client threw (or an
 * HTTP answer it got) into a RemoteError with classifyRemoteError / remoteErrorFromAnswer, and decides
 * on retries with the one predicate isRetryable (kinds `throttled` and `transient`, honouring
 * `retryAfterMs`).
 *
 * Sources of the rules: RFC 9110 section 15 (status classes; 408, 429 and 503 are worth retrying, 503 and
 * 429 may carry Retry-After, section 10.2.3: seconds or an HTTP date); RFC 6749 section 5.2 (OAuth token
 * error codes: invalid_client, unauthorized_client, invalid_request, invalid_grant, invalid_scope,
 * unsupported_grant_type); Microsoft Entra authentication and authorization error codes (AADSTS7000215
 * wrong secret, 7000222 expired secret, 700016 unknown application, 90002 unknown tenant; 50196 and
 * `temporarily_unavailable` are throttling of the token endpoint).
 */
import { OUTBOUND_URL_REFUSED, outboundRefusalOf } from '../security/outbound-url';

/** Which remote answered (or did not): logs and messages only, never a decision. */
export type RemoteService = 'token' | 'authority' | 'arm' | 'logicApp' | 'graph' | 'dataverse' | 'fno' | 'bc' | 'leadEndpoint' | 'table' | 'alertWebhook' | 'marketplaceCallback';

/**
 * What a failure means for the caller:
 * - `credential`: Entra ID refused the app's token request (wrong / expired secret, unknown app or tenant,
 *   bad scope): retrying as is cannot help; the publisher must fix the app registration;
 * - `throttled`: 429, or 503 with Retry-After: retry after `retryAfterMs` (when the server said);
 * - `transient`: 408, other 5xx, timeouts, connection resets, DNS hiccups, no answer at all: retry with backoff;
 * - `denied`: 401 / 403 with a valid token (a permission, role or application user is missing);
 * - `notFound`: 404, or a service's own "does not exist" code (idempotent deletes treat it as done);
 * - `invalid`: any other refusal (other 4xx, an answer too large, a URL refused by the outbound URL rule):
 *   retrying the same request gives the same answer.
 */
export type RemoteErrorKind = 'credential' | 'throttled' | 'transient' | 'denied' | 'notFound' | 'invalid';

/** The kinds worth trying again as they are. */
const RETRYABLE_KINDS: ReadonlySet<RemoteErrorKind> = new Set(['throttled', 'transient']);

/** A classified failure of a remote call. `message` never carries a URL's `sig` (redacted). */
export class RemoteError extends Error {
  /**
   * @param service which remote (RemoteService).
   * @param kind what it means (RemoteErrorKind).
   * @param code the service's error code (ARM `ResourceGroupNotFound`, Graph `Request_ResourceNotFound`,
   *   Dataverse `0x80040217`, AADSTS7000215...), else `Http<status>`, a network code (`ECONNRESET`,
   *   `UND_ERR_HEADERS_TIMEOUT`) or one of ours (`OutboundUrlRefused`, `AnswerTooLarge`).
   * @param status the HTTP status when there was an answer.
   * @param retryAfterMs how long the server asked us to wait (Retry-After), in ms.
   */
  constructor(
    readonly service: RemoteService,
    readonly kind: RemoteErrorKind,
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RemoteError';
  }

  /** True for `throttled` and `transient` (isRetryableKind). */
  get retryable(): boolean {
    return isRetryableKind(this.kind);
  }
}

/** The one retry rule: `throttled` and `transient` are worth trying again as they are; nothing else is. */
export function isRetryableKind(kind: RemoteErrorKind): boolean {
  return RETRYABLE_KINDS.has(kind);
}

/**
 * The one retry predicate for errors: true when `err` is (or classifies as) `throttled` or `transient`.
 * Callers wait `retryAfterMs` when set, else their own backoff.
 */
export function isRetryable(err: unknown): boolean {
  return isRetryableKind(classifyRemoteError(err, 'token').kind);
}

/** Longest wait taken from a Retry-After header (1 h): a larger value is capped, not believed. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Parses a Retry-After value (RFC 9110 section 10.2.3: delay-seconds, or an HTTP date) into ms, capped at
 * MAX_RETRY_AFTER_MS. Decimal seconds are accepted (some Azure services send them). An array (several
 * header lines) uses the first.
 * @returns ms to wait (>= 0), or undefined for no / an unreadable value.
 */
export function retryAfterMs(value: unknown, nowMs = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const s = String(Array.isArray(value) ? value[0] : value).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(s) * 1000));
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, t - nowMs));
}

/** Header reader over the shapes clients hand out: fetch Headers, core-rest-pipeline HttpHeaders (`get`), or a plain object. */
export type HeaderBag = { get(name: string): string | null | undefined } | Record<string, unknown> | undefined;

function header(h: HeaderBag, name: string): unknown {
  if (!h || typeof h !== 'object') return undefined;
  if (typeof (h as { get?: unknown }).get === 'function') return (h as { get(n: string): unknown }).get(name) ?? undefined;
  const rec = h as Record<string, unknown>;
  if (name in rec) return rec[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

/** The wait a response asks for: `retry-after-ms` / `x-ms-retry-after-ms` (Azure, ms), else Retry-After. */
export function retryAfterFromHeaders(h: HeaderBag, nowMs = Date.now()): number | undefined {
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = header(h, name);
    const s = typeof v === 'string' || typeof v === 'number' ? String(v).trim() : undefined;
    if (s !== undefined && /^\d+$/.test(s)) return Math.min(MAX_RETRY_AFTER_MS, Number(s));
  }
  return retryAfterMs(header(h, 'retry-after'), nowMs);
}

/** Service codes that mean "does not exist" whatever the status (Graph, Dataverse). */
const NOT_FOUND_CODES = new Set(['Request_ResourceNotFound', 'BadRequest_NotFound', 'ResourceNotFound', '0x80040217']);

/**
 * What an HTTP status means (RemoteErrorKind), for answers that were not a success: 429 throttled; 503
 * with a Retry-After throttled, without transient; 408 and other 5xx transient; 404 (or a not-found
 * `code`) notFound; 401/403 denied; other 4xx invalid. Token refusals are told apart before this
 * (classifyRemoteError).
 */
export function kindOfStatus(status: number, code?: string, retryAfter?: number): RemoteErrorKind {
  if (status === 429) return 'throttled';
  if (status === 503 && retryAfter !== undefined) return 'throttled';
  if (status === 408 || status >= 500) return 'transient';
  if (status === 404 || (code !== undefined && NOT_FOUND_CODES.has(code))) return 'notFound';
  if (status === 401 || status === 403) return 'denied';
  return 'invalid';
}

/** Redacts a shared access signature (`sig=`) wherever a URL made it into a message; cuts at 1,000 characters. */
export function safeMessage(message: string): string {
  return message.replace(/([?&]sig=)[^&\s"']+/gi, '$1[redacted]').slice(0, 1000);
}

/**
 * A RemoteError for an HTTP answer that was not a success (status >= 300), e.g. read by the HTTP helper.
 * @param answer status, the service's error code and message (from its body), headers (Retry-After).
 */
export function remoteErrorFromAnswer(service: RemoteService, answer: { status: number; code?: string; message?: string; headers?: HeaderBag }): RemoteError {
  const wait = retryAfterFromHeaders(answer.headers);
  const code = answer.code || `Http${answer.status}`;
  return new RemoteError(service, kindOfStatus(answer.status, code, wait), code, safeMessage(answer.message || `HTTP ${answer.status}`), answer.status, wait);
}

/** Errors @azure/identity throws for a token request (by name: classes of another copy of the package do not match instanceof). */
const TOKEN_ERROR_NAMES = /^(AuthenticationError|AuthenticationRequiredError|CredentialUnavailableError)$/;
/** OAuth error codes of a refused token request (RFC 6749 section 5.2; `invalid_tenant`, `invalid_resource`: Entra). */
const OAUTH_REFUSAL = /\b(invalid_client|unauthorized_client|invalid_request|invalid_grant|invalid_scope|invalid_resource|invalid_tenant|unsupported_grant_type)\b/;
/** Entra codes of an outage of the token service (AADSTS90033 MsodsServiceUnavailable, 90006, 90100) and OAuth `server_error`. */
const TOKEN_OUTAGE = /\b(server_error|AADSTS90033|AADSTS90006|AADSTS90100)\b/;
/** Network failures of a client library: no answer was read. */
const NETWORK_CODES = /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ENETDOWN|EPROTO|UND_ERR_\w+|REQUEST_SEND_ERROR|ERR_SOCKET_\w+|ERR_STREAM_PREMATURE_CLOSE)$/;

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  headers?: HeaderBag;
  response?: { status?: unknown; headers?: HeaderBag };
  details?: { error?: { code?: unknown; message?: unknown } };
  errorResponse?: { error?: unknown; errorDescription?: unknown };
  cause?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The first network code in `err` or its causes (fetch wraps them as TypeError('fetch failed', {cause})). */
function networkCode(err: unknown): string | undefined {
  for (let e = err as ErrorLike | undefined, i = 0; e && typeof e === 'object' && i < 5; e = e.cause as ErrorLike | undefined, i++) {
    const c = str(e.code);
    if (c && NETWORK_CODES.test(c)) return c;
    const n = str(e.name);
    if (n === 'AbortError' || n === 'TimeoutError') return n;
  }
  return undefined;
}

/**
 * Classifies anything a remote call threw: an existing RemoteError (returned as is), the outbound URL
 * rule's refusal (`invalid`, OutboundUrlRefused), @azure/identity token errors (refusals `credential`
 * with the AADSTS code, throttling / outages of the token endpoint `throttled` / `transient`),
 * @azure/core-rest-pipeline RestError (ARM, Logic Apps management: `details.error.code`, status,
 * Retry-After of `response.headers`), Microsoft Graph client GraphError (`statusCode`, `code`,
 * `headers`; -1 = no answer), HTTP answer objects `{status, code, message, headers}` (our OData calls),
 * undici / fetch / Node network errors (`transient`, code ECONNRESET, UND_ERR_HEADERS_TIMEOUT...;
 * UND_ERR_RES_EXCEEDED_MAX_SIZE is `invalid` AnswerTooLarge), and anything else (no status: `transient`).
 * 401/403 from a resource is `denied`; from the token endpoint, a refusal is `credential`.
 * @param context the service called (used when the error is not a token error).
 */
export function classifyRemoteError(err: unknown, context: RemoteService | { service: RemoteService }): RemoteError {
  if (err instanceof RemoteError) return err;
  const service = typeof context === 'string' ? context : context.service;
  const refusal = outboundRefusalOf(err);
  if (refusal) return new RemoteError(service, 'invalid', OUTBOUND_URL_REFUSED, safeMessage(refusal.message), undefined, undefined, { cause: err });
  const e = (err && typeof err === 'object' ? err : { message: String(err) }) as ErrorLike;
  const name = str(e.name) ?? '';
  const rawMessage = str(e.message) ?? str(e.errorResponse?.errorDescription) ?? String(err);
  const message = safeMessage(rawMessage);
  const statusOf = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
  const status = statusOf(e.statusCode) ?? statusOf(e.status) ?? statusOf(e.response?.status);
  const headers = e.response?.headers ?? e.headers;
  const wait = retryAfterFromHeaders(headers);

  // A token request (Entra ID). Graph wraps it in a GraphError whose `code` is the identity error's name.
  const tokenError = TOKEN_ERROR_NAMES.test(name) || TOKEN_ERROR_NAMES.test(str(e.code) ?? '') || (status === undefined && (OAUTH_REFUSAL.test(rawMessage) || /\bAADSTS\d+/.test(rawMessage)));
  if (tokenError) {
    const aadsts = /AADSTS\d+/.exec(rawMessage)?.[0];
    const code = aadsts ?? str(e.errorResponse?.error) ?? OAUTH_REFUSAL.exec(rawMessage)?.[1] ?? 'AuthenticationFailed';
    const token = (kind: RemoteErrorKind, retryAfter?: number) => new RemoteError('token', kind, code, message, status, retryAfter, { cause: err });
    // `status` here is the token endpoint's (AuthenticationError.statusCode). The OAuth error decides
    // before the AADSTS code: Entra may send a refusal (invalid_client) with any code.
    if (status === 429 || /\bAADSTS50196\b/.test(rawMessage)) return token('throttled', wait);
    if (/\btemporarily_unavailable\b/.test(rawMessage)) return token('transient', wait);
    if (OAUTH_REFUSAL.test(rawMessage)) return token('credential');
    if ((status !== undefined && status >= 500) || TOKEN_OUTAGE.test(rawMessage) || networkCode(err)) return token('transient', wait);
    if (aadsts || (status !== undefined && status >= 400)) return token('credential');
    return token('transient');
  }

  const bodyCode = str(e.details?.error?.code);
  const ownCode = str(e.code) ?? (typeof e.code === 'number' ? String(e.code) : undefined);
  const bodyMessage = str(e.details?.error?.message);
  if (status !== undefined) {
    const code = bodyCode ?? ownCode ?? `Http${status}`;
    return new RemoteError(service, kindOfStatus(status, code, wait), code, bodyMessage ? safeMessage(bodyMessage) : message, status, wait, { cause: err });
  }
  const net = networkCode(err);
  if (net === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new RemoteError(service, 'invalid', 'AnswerTooLarge', message, undefined, undefined, { cause: err });
  return new RemoteError(service, 'transient', net ?? bodyCode ?? ownCode ?? (name || 'Error'), bodyMessage ? safeMessage(bodyMessage) : message, undefined, wait, { cause: err });
}

/**
 * Runs one remote call and throws its failure classified by `classify` (classifyRemoteError for a service,
 * or a caller's refinement of it). With `ifNotFound`, a `notFound` failure returns `ifNotFound.value`
 * instead (reads of what may be gone, idempotent deletes).
 * @throws RemoteError from `classify`.
 */
export async function callRemote<T, N = never>(call: () => Promise<T>, classify: (err: unknown) => RemoteError, ifNotFound?: { value: N }): Promise<T | N> {
  try {
    return await call();
  } catch (err) {
    const e = classify(err);
    if (ifNotFound && e.kind === 'notFound') return ifNotFound.value;
    throw e;
  }
}
