import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { Ctx } from './http';
import { send } from './http';

/**
 * A local SMTP sink: the stand-in for whatever mail relay the service sends through (Azure Communication
 * Services' SMTP endpoint, SendGrid, Exchange Online). Plain SMTP on 127.0.0.1 (no STARTTLS, AUTH
 * optional: any user name and password are accepted), every message accepted for any recipient and kept
 * in memory for tests and operators — never delivered anywhere, never written to disk (they carry
 * personal data). Read them through `GET /_emulator/mail` or the handle's `mail`.
 */

/** Largest message accepted, in bytes (1 MB); above it the sink answers 552 (RFC 5321 4.5.3.1.10 / RFC 1870). */
export const MAIL_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Messages kept (oldest dropped beyond it). */
export const MAIL_MAX_MESSAGES = 500;
/** Text + HTML bodies kept at most, in bytes (oldest messages dropped beyond it). */
export const MAIL_MAX_TOTAL_BYTES = 50 * 1024 * 1024;
/** Headers reported in `headers` (besides every X-… header), lower-case. */
const HEADERS_OF_INTEREST = ['from', 'to', 'cc', 'reply-to', 'sender', 'message-id', 'date', 'in-reply-to', 'references', 'list-unsubscribe', 'list-unsubscribe-post', 'auto-submitted', 'precedence', 'content-language', 'importance'];

/** One received message, as listed. */
export interface MailMessage {
  id: string;
  /** ISO time of arrival. */
  receivedAt: string;
  /** Address of the From header (envelope sender when the header has none); null when neither. */
  from: string | null;
  /** Display name of the From header, when given. */
  fromName?: string;
  /** Envelope recipients (RCPT TO, lower-case): everyone the message was delivered to, Bcc included. */
  to: string[];
  /** Envelope sender (MAIL FROM); null for the null sender `<>`. */
  envelopeFrom: string | null;
  /** Addresses of the To and Cc headers (lower-case). */
  headerTo: string[];
  cc: string[];
  subject: string;
  /** Plain-text body ('' when the message has only HTML). */
  text: string;
  /** HTML body, when the message has one. */
  html?: string;
  /** Headers of interest (From, To, Cc, Reply-To, Message-ID, Date, List-Unsubscribe, Auto-Submitted, X-*...), decoded, names lower-case. */
  headers: Record<string, string>;
  attachments: Array<{ filename?: string; contentType: string; size: number; contentId?: string }>;
  /** Size of the message as received, in bytes. */
  size: number;
  /** User name of SMTP AUTH, when the client authenticated. */
  authUser?: string;
}

/** Filter of list(): `to` matches an envelope recipient, a To or a Cc address (case-insensitive). */
export interface MailFilter {
  to?: string;
}

function addresses(v: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  return list.flatMap((a) => a.value.flatMap((x) => (x.group ? x.group.map((g) => g.address ?? '') : [x.address ?? '']))).filter(Boolean).map((x) => x.toLowerCase());
}

function headerText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(headerText).join(', ');
  if (v && typeof v === 'object') {
    const o = v as { text?: unknown; value?: unknown };
    if (typeof o.text === 'string') return o.text;
    if (o.value !== undefined) return headerText(o.value);
  }
  return String(v);
}

/**
 * The SMTP server and the messages it kept, plus the control API that lists them.
 * `log` gets message ids, sizes and recipient counts only — never addresses, subjects or bodies.
 */
export class MailService {
  private readonly messages: MailMessage[] = [];
  private totalBytes = 0;
  private server: SMTPServer | undefined;
  private waiters: Array<{ match: (m: MailMessage) => boolean; resolve: (m: MailMessage) => void }> = [];
  /** `smtp://127.0.0.1:PORT` once listening. */
  url: string | undefined;
  port: number | undefined;

  constructor(private readonly log: (msg: string, extra?: object) => void, private readonly maxMessageBytes = MAIL_MAX_MESSAGE_BYTES) {}

  /**
   * Starts listening on `host:port` (0 = any free port). Resolves with the port once listening; rejects
   * when the port is taken (EADDRINUSE) or the address unusable.
   */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = new SMTPServer({
      name: 'localhost',
      banner: 'Local Azure emulator SMTP sink (messages are kept, never delivered)',
      disabledCommands: ['STARTTLS'],
      hideSTARTTLS: true,
      authOptional: true,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      size: this.maxMessageBytes,
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 1000,
      onAuth: (auth, _session, cb) => cb(null, { user: auth.username || 'anonymous' }),
      onData: (stream, session, cb) => this.receive(stream, session, cb),
    });
    // Connection-level errors (a client resetting its socket) are reported here; they never stop the sink.
    server.on('error', (e: Error) => this.log('smtp: connection error', { error: e.message }));
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      server.server.once('error', onError);
      server.listen(port, host, () => {
        server.server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.server.address() as AddressInfo).port;
    this.url = `smtp://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
    this.log('smtp sink listening', { url: this.url });
    return this.port;
  }

  private receive(stream: SMTPServerDataStream, session: SMTPServerSession, cb: (err?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= this.maxMessageBytes) chunks.push(c);
    });
    stream.on('end', () => {
      if (stream.sizeExceeded || size > this.maxMessageBytes) {
        this.log('smtp: message refused (too large)', { bytes: size });
        return cb(Object.assign(new Error(`Message exceeds fixed maximum message size of ${this.maxMessageBytes} bytes`), { responseCode: 552 }));
      }
      simpleParser(Buffer.concat(chunks), { skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true }).then(
        (parsed) => {
          const m = this.record(parsed, session, size);
          cb(null, `OK: message queued as ${m.id}`);
        },
        (e: unknown) => {
          this.log('smtp: unparseable message', { error: String(e) });
          cb(Object.assign(new Error('Message could not be parsed'), { responseCode: 554 }));
        },
      );
    });
  }

  private record(p: ParsedMail, session: SMTPServerSession, size: number): MailMessage {
    const env = session.envelope;
    const fromAddr = p.from?.value[0];
    const headers: Record<string, string> = {};
    // Raw header lines name every header; the parsed map has decoded values for most of them (mailparser
    // folds List-* headers into one `list` object, so those keep their raw, unfolded text).
    for (const { key, line } of p.headerLines) {
      const name = key.toLowerCase();
      if (!(HEADERS_OF_INTEREST.includes(name) || name.startsWith('x-')) || name in headers) continue;
      const parsed = p.headers.get(name);
      headers[name] = parsed !== undefined ? headerText(parsed) : line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' ').trim();
    }
    const m: MailMessage = {
      id: randomUUID(),
      receivedAt: new Date().toISOString(),
      from: fromAddr?.address ?? (env.mailFrom ? env.mailFrom.address : null),
      ...(fromAddr?.name ? { fromName: fromAddr.name } : {}),
      to: env.rcptTo.map((r) => r.address.toLowerCase()),
      envelopeFrom: env.mailFrom && env.mailFrom.address ? env.mailFrom.address : null,
      headerTo: addresses(p.to),
      cc: addresses(p.cc),
      subject: p.subject ?? '',
      text: p.text ?? '',
      ...(typeof p.html === 'string' ? { html: p.html } : {}),
      headers,
      attachments: p.attachments.map((a) => ({ ...(a.filename ? { filename: a.filename } : {}), contentType: a.contentType, size: a.size, ...(a.cid ? { contentId: a.cid } : {}) })),
      size,
      ...(session.user ? { authUser: session.user } : {}),
    };
    this.messages.push(m);
    this.totalBytes += bytesOf(m);
    while (this.messages.length > MAIL_MAX_MESSAGES || (this.totalBytes > MAIL_MAX_TOTAL_BYTES && this.messages.length > 1)) {
      this.totalBytes -= bytesOf(this.messages.shift()!);
    }
    this.log('smtp: message received', { id: m.id, bytes: size, recipients: m.to.length });
    const ready = this.waiters.filter((w) => w.match(m));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(m);
    return m;
  }

  /** Received messages, newest first; `filter.to` keeps those addressed to it (envelope, To or Cc; case-insensitive). */
  list(filter: MailFilter = {}): MailMessage[] {
    const to = filter.to?.trim().toLowerCase();
    return this.messages
      .filter((m) => !to || m.to.includes(to) || m.headerTo.includes(to) || m.cc.includes(to))
      .reverse()
      .map((m) => structuredClone(m));
  }

  /** One message by id, or undefined. */
  get(id: string): MailMessage | undefined {
    const m = this.messages.find((x) => x.id === id);
    return m ? structuredClone(m) : undefined;
  }

  /** Forgets every message; returns how many there were. */
  clear(): number {
    const n = this.messages.length;
    this.messages.length = 0;
    this.totalBytes = 0;
    return n;
  }

  /**
   * Resolves with the first message (already received or arriving within `timeoutMs`, default 5000 ms)
   * that `match` accepts; rejects with an Error after the timeout.
   */
  waitFor(match: (m: MailMessage) => boolean, timeoutMs = 5000): Promise<MailMessage> {
    const existing = this.messages.find(match);
    if (existing) return Promise.resolve(structuredClone(existing));
    return new Promise((resolve, reject) => {
      const w = { match, resolve: (m: MailMessage) => (clearTimeout(timer), resolve(structuredClone(m))) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no matching mail within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      this.waiters.push(w);
    });
  }

  /** Stops listening; open SMTP connections are closed after at most 1 s. Messages stay readable. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Control API (returns false when the route is not `/_emulator/mail[...]`):
   * - `GET /_emulator/mail[?to=address]` → `{smtpUrl, value: [message, newest first]}`;
   * - `GET /_emulator/mail/{id}` → the message (404 MailNotFound);
   * - `DELETE /_emulator/mail` → 204 (forget all); `DELETE /_emulator/mail/{id}` → 204 / 404.
   * Message: `{id, receivedAt, from, fromName?, to[], envelopeFrom, headerTo[], cc[], subject, text, html?,
   * headers, attachments[{filename?, contentType, size, contentId?}], size, authUser?}`.
   */
  handleControl(ctx: Ctx): boolean {
    const s = ctx.segments.slice(1).filter((x) => x !== '');
    if (s[0] !== 'mail' || s.length > 2) return false;
    const m = ctx.method;
    if (s.length === 1 && m === 'GET') return send(ctx, 200, { smtpUrl: this.url ?? null, value: this.list({ to: ctx.query.get('to') ?? undefined }) }), true;
    if (s.length === 1 && m === 'DELETE') return this.clear(), send(ctx, 204), true;
    if (s.length === 2 && (m === 'GET' || m === 'DELETE')) {
      const i = this.messages.findIndex((x) => x.id === s[1]);
      if (i < 0) return send(ctx, 404, { error: { code: 'MailNotFound', message: `No message '${s[1].slice(0, 100)}'.` } }), true;
      if (m === 'GET') return send(ctx, 200, structuredClone(this.messages[i])), true;
      this.totalBytes -= bytesOf(this.messages[i]);
      this.messages.splice(i, 1);
      return send(ctx, 204), true;
    }
    send(ctx, 405, { error: { code: 'MethodNotAllowed', message: `No control operation ${m} /_emulator/${s.join('/').slice(0, 200)}.` } });
    return true;
  }
}

function bytesOf(m: MailMessage): number {
  return Buffer.byteLength(m.text) + Buffer.byteLength(m.html ?? '');
}
