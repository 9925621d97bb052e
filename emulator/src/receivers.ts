import { randomBytes, randomUUID } from 'node:crypto';
import type { Ctx } from './http';
import { controlRequest, header, jsonBody, send } from './http';
import type { EmulatorState, StateStore } from './state';

/**
 * HTTPS receivers: stand-ins for whatever HTTPS endpoint the service posts to (the publisher's lead
 * receiver, escalation and notification webhooks). Each receiver has a URL on the emulator,
 * `{emulator}/_receivers/{id}` (any sub-path below it is accepted too), that records every request.
 *
 * Persistence: receivers and their settings live in the emulator state (`state.receivers`), saved to state.json
 * with `persist` like everything else. The requests they receive are kept in memory only (they carry
 * credentials and personal data, which are not written to disk): at most RECEIVER_MAX_RECORDED per receiver
 * (oldest dropped); a restart starts with empty lists.
 */

/** First path segment of receiver URLs. */
export const RECEIVER_PREFIX = '_receivers';
/** Largest body a receiver accepts, in bytes (1 MB); above it 413. */
export const RECEIVER_MAX_BODY_BYTES = 1024 * 1024;
/** Requests kept per receiver (oldest dropped beyond it). */
export const RECEIVER_MAX_RECORDED = 1000;

/** One request a receiver got. */
export interface ReceivedRequest {
  /** ISO time of arrival. */
  receivedAt: string;
  method: string;
  /** Request path (no query), e.g. "/_receivers/{id}" or "/_receivers/{id}/hooks/x". */
  path: string;
  /** Query string without "?" ('' when none). */
  query: string;
  /** Request headers, names lower-case (as Node gives them; repeated headers as arrays). Not redacted: tests read them. */
  headers: Record<string, string | string[] | undefined>;
  /** JSON bodies parsed; other bodies as text (UTF-8); null when empty. */
  body: unknown;
  /** HTTP status the receiver answered with. */
  status: number;
  /** Present (true) when the receiver refused the request because of its failure settings. */
  refused?: true;
}

/** A receiver and its failure settings (stored in the emulator state). */
export interface Receiver {
  id: string;
  createdAt: string;
  /** Status of a successful answer: 200 (default) or 202. */
  okStatus: 200 | 202;
  /** Status answered while failing (default 503). */
  failWith: number;
  /** Epoch ms until which every request is refused (0 = not failing by time). */
  failUntilMs: number;
  /** Number of next requests to refuse (counted down). */
  failCount: number;
  /** Retry-After seconds sent with a refusal by 429/503 (default: time left of failForSeconds, at least 1). */
  retryAfterSeconds?: number;
}

/** Shape added to EmulatorState. */
export interface ReceiverStateExtension {
  /** Key: receiver id. */
  receivers?: Record<string, Receiver>;
}

/** Options of createReceiver and of PATCH /_emulator/receivers/{id} (all optional). */
export interface ReceiverSettings {
  /** Status to refuse with, 400-599 (default 503). */
  failWith?: number;
  /** Refuse every request for this many seconds from now (real time; 0 stops it). */
  failForSeconds?: number;
  /** Refuse the next N requests (0 stops it). */
  failCount?: number;
  /** Retry-After (seconds) on 429/503 refusals; null = default. */
  retryAfterSeconds?: number | null;
  /** Status of successful answers: 200 or 202. */
  okStatus?: 200 | 202;
}

/** What POST /_emulator/receivers answers: the receiver id and the URL to give the service. */
export interface ReceiverInfo {
  id: string;
  /** `https://localhost:PORT/_receivers/{id}` (the emulator's CA signs it). */
  url: string;
}

/** A receiver's view: settings and every recorded request, in arrival order. */
export interface ReceiverSnapshot {
  id: string;
  url: string;
  createdAt: string;
  okStatus: number;
  failWith: number;
  /** ISO time until which requests are refused, or null. */
  failUntil: string | null;
  failCount: number;
  received: ReceivedRequest[];
}

/** A caller error of the receivers control API. */
export class ReceiverControlError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Receivers: the control side (create / read / change failure settings) and the receiving endpoint.
 * `log` never gets headers or bodies (they may carry secrets or personal data).
 */
export class ReceiverService {
  /** Requests received, by receiver id (memory only). */
  private readonly received = new Map<string, ReceivedRequest[]>();

  constructor(private readonly state: EmulatorState, private readonly store: StateStore, private readonly log: (msg: string, extra?: object) => void) {}

  private receivedOf(id: string): ReceivedRequest[] {
    let list = this.received.get(id);
    if (!list) this.received.set(id, (list = []));
    return list;
  }

  private get all(): Record<string, Receiver> {
    return (this.state.receivers ??= {});
  }

  /** Creates a receiver; `baseUrl` is the emulator URL the caller uses (e.g. https://localhost:8443). */
  create(baseUrl: string, settings: ReceiverSettings = {}): ReceiverInfo {
    const id = randomBytes(12).toString('hex');
    const r: Receiver = { id, createdAt: new Date().toISOString(), okStatus: 200, failWith: 503, failUntilMs: 0, failCount: 0 };
    this.apply(r, settings);
    this.all[id] = r;
    this.store.changed();
    this.log('receiver created', { id });
    return { id, url: receiverUrl(baseUrl, id) };
  }

  /** The receiver's snapshot, or undefined when unknown. */
  get(baseUrl: string, id: string): ReceiverSnapshot | undefined {
    const r = this.all[id];
    return r ? snapshot(baseUrl, r, this.receivedOf(id)) : undefined;
  }

  /** Snapshots of all receivers, requests included. */
  list(baseUrl: string): ReceiverSnapshot[] {
    return Object.values(this.all).map((r) => snapshot(baseUrl, r, this.receivedOf(r.id)));
  }

  /** Changes failure settings (PATCH semantics). Throws ReceiverControlError on bad input or an unknown id. */
  update(baseUrl: string, id: string, settings: ReceiverSettings): ReceiverSnapshot {
    const r = this.all[id];
    if (!r) throw new ReceiverControlError(404, 'ReceiverNotFound', `Receiver '${id.slice(0, 100)}' does not exist.`);
    this.apply(r, settings);
    this.store.changed();
    return snapshot(baseUrl, r, this.receivedOf(id));
  }

  /** Forgets the received requests (keeps settings). */
  clear(id: string): boolean {
    const r = this.all[id];
    if (!r) return false;
    this.received.delete(id);
    return true;
  }

  /** Deletes a receiver; its URL then answers 404. */
  delete(id: string): boolean {
    if (!this.all[id]) return false;
    delete this.all[id];
    this.received.delete(id);
    this.store.changed();
    return true;
  }

  private apply(r: Receiver, s: ReceiverSettings): void {
    const bad = (msg: string): never => {
      throw new ReceiverControlError(400, 'InvalidReceiverSettings', msg);
    };
    const num = (v: unknown, name: string, min: number, max: number, int = false): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) bad(`${name} must be a${int ? 'n integer' : ' number'} in [${min}, ${max}].`);
      return v as number;
    };
    if (s.failWith !== undefined) r.failWith = num(s.failWith, 'failWith', 400, 599, true);
    if (s.okStatus !== undefined) {
      if (s.okStatus !== 200 && s.okStatus !== 202) bad('okStatus must be 200 or 202.');
      r.okStatus = s.okStatus;
    }
    if (s.retryAfterSeconds !== undefined) {
      if (s.retryAfterSeconds === null) delete r.retryAfterSeconds;
      else r.retryAfterSeconds = num(s.retryAfterSeconds, 'retryAfterSeconds', 0, 86400, true);
    }
    if (s.failForSeconds !== undefined) {
      const secs = num(s.failForSeconds, 'failForSeconds', 0, 7 * 86400);
      r.failUntilMs = secs > 0 ? Date.now() + secs * 1000 : 0;
    }
    if (s.failCount !== undefined) r.failCount = num(s.failCount, 'failCount', 0, 1_000_000, true);
  }

  /**
   * The receiving endpoint: `POST|PUT /_receivers/{id}[/...]` with any JSON or text body up to 1 MB.
   * Answers `okStatus` (200/202) with `{"received": true, "receiver": id, "requestId"}`; while failing
   * (`failCount` left, or within `failForSeconds` of the PATCH) answers `failWith` with
   * `{"error": {"code": "ReceiverRefused", message}}` (+ `Retry-After` for 429/503) and records the attempt
   * with `refused: true`. 404 unknown receiver, 405 other methods (not recorded), 413 body above 1 MB (not recorded).
   */
  handle(ctx: Ctx): void {
    const id = ctx.segments[1] ?? '';
    const r = this.all[id];
    if (!r) return send(ctx, 404, { error: { code: 'ReceiverNotFound', message: 'No receiver at this URL.' } });
    if (ctx.method !== 'POST' && ctx.method !== 'PUT') return send(ctx, 405, { error: { code: 'MethodNotAllowed', message: `The receiver accepts POST and PUT, not ${ctx.method.slice(0, 20)}.` } }, { Allow: 'POST, PUT' });
    if (ctx.body.length > RECEIVER_MAX_BODY_BYTES) return send(ctx, 413, { error: { code: 'RequestEntityTooLarge', message: `The body exceeds ${RECEIVER_MAX_BODY_BYTES} bytes.` } });
    const now = Date.now();
    let refused = false;
    const counted = r.failCount > 0;
    if (counted) {
      r.failCount -= 1;
      refused = true;
    } else if (r.failUntilMs > now) refused = true;
    const status = refused ? r.failWith : r.okStatus;
    const q = ctx.req.url?.indexOf('?') ?? -1;
    const rec: ReceivedRequest = {
      receivedAt: new Date(now).toISOString(),
      method: ctx.method,
      path: ctx.path,
      query: q >= 0 ? (ctx.req.url ?? '').slice(q + 1) : '',
      headers: { ...ctx.req.headers },
      body: bodyOf(ctx),
      status,
      ...(refused ? { refused: true as const } : {}),
    };
    const list = this.receivedOf(id);
    list.push(rec);
    if (list.length > RECEIVER_MAX_RECORDED) list.splice(0, list.length - RECEIVER_MAX_RECORDED);
    if (counted) this.store.changed(); // failCount is part of the persisted settings
    this.log('receiver request', { id, method: ctx.method, status, bytes: ctx.body.length, refused });
    if (refused) {
      const headers: Record<string, string | number> = {};
      if (status === 429 || status === 503) {
        headers['Retry-After'] = r.retryAfterSeconds ?? Math.max(1, Math.ceil((r.failUntilMs - now) / 1000));
      }
      return send(ctx, status, { error: { code: 'ReceiverRefused', message: `The receiver is set to refuse requests with ${status}.` } }, headers);
    }
    send(ctx, status, { received: true, receiver: id, requestId: randomUUID() });
  }

  /**
   * Control API (returns false when the route is not one of these):
   * - `POST /_emulator/receivers` `{failWith?, failForSeconds?, failCount?, retryAfterSeconds?, okStatus?}` -> 201 `{id, url}`
   * - `GET /_emulator/receivers` -> `{value: [snapshot]}`; `GET .../{id}` -> snapshot `{id, url, ..., received: [...]}`
   * - `PATCH .../{id}` `{failWith?, failForSeconds?, failCount?, retryAfterSeconds?, okStatus?}` -> 200 snapshot
   * - `DELETE .../{id}/received` -> 204 (forget requests); `DELETE .../{id}` -> 204
   * Errors `{error: {code, message}}`: 400 InvalidReceiverSettings / InvalidRequestContent, 404 ReceiverNotFound.
   */
  handleControl(ctx: Ctx): boolean {
    const s = ctx.segments.slice(1).filter((x) => x !== '');
    if (s[0] !== 'receivers') return false;
    const m = ctx.method;
    const req = controlRequest(ctx);
    if (!req) return true;
    const { fail: err } = req;
    const obj = req.body as ReceiverSettings;
    try {
      if (s.length === 1 && m === 'POST') {
        send(ctx, 201, this.create(ctx.baseUrl, obj));
        return true;
      }
      if (s.length === 1 && m === 'GET') {
        send(ctx, 200, { value: this.list(ctx.baseUrl) });
        return true;
      }
      if (s.length === 2 || (s.length === 3 && s[2] === 'received')) {
        const id = s[1];
        if (!this.all[id]) return err(404, 'ReceiverNotFound', `Receiver '${id.slice(0, 100)}' does not exist.`);
        if (s.length === 3 && m === 'DELETE') {
          this.clear(id);
          send(ctx, 204);
          return true;
        }
        if (s.length === 2 && m === 'GET') {
          send(ctx, 200, this.get(ctx.baseUrl, id));
          return true;
        }
        if (s.length === 2 && m === 'PATCH') {
          send(ctx, 200, this.update(ctx.baseUrl, id, obj));
          return true;
        }
        if (s.length === 2 && m === 'DELETE') {
          this.delete(id);
          send(ctx, 204);
          return true;
        }
      }
      return err(404, 'NotFound', `No control operation ${m} /_emulator/${s.join('/').slice(0, 200)}.`);
    } catch (e) {
      if (e instanceof ReceiverControlError) return err(e.status, e.code, e.message);
      throw e;
    }
  }
}

/** URL of a receiver for an emulator base URL. */
export function receiverUrl(baseUrl: string, id: string): string {
  return `${baseUrl}/${RECEIVER_PREFIX}/${id}`;
}

function snapshot(baseUrl: string, r: Receiver, received: ReceivedRequest[]): ReceiverSnapshot {
  return {
    id: r.id,
    url: receiverUrl(baseUrl, r.id),
    createdAt: r.createdAt,
    okStatus: r.okStatus,
    failWith: r.failWith,
    failUntil: r.failUntilMs > Date.now() ? new Date(r.failUntilMs).toISOString() : null,
    failCount: r.failCount,
    received: received.map((x) => ({ ...x })),
  };
}

function bodyOf(ctx: Ctx): unknown {
  if (ctx.body.length === 0) return null;
  const type = (header(ctx.req, 'content-type') ?? '').toLowerCase();
  const text = ctx.body.toString('utf8');
  if (/[/+]json\b/.test(type) || type === '') {
    try {
      return jsonBody(ctx);
    } catch {
      return text;
    }
  }
  return text;
}
