import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import { hostname } from 'node:os';
import pino from 'pino';
import { AppConfig } from '../config/app-config';

/** Nest framework loggers whose info lines (module and route registration, start) are logged at debug. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/** Log lines are written to stdout once this many bytes are buffered (bytes)... */
export const LOG_BUFFER_BYTES = 4096;
/** ...or this long after the last write, whichever comes first (ms). */
export const LOG_FLUSH_MS = 1000;

/**
 * Paths pino removes from every log line: credentials, passwords, tokens and SAS signatures, by
 * structure (wherever they appear in a logged object), so a secret never reaches the logs.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-ms-authorization-auxiliary"]',
  'res.headers["set-cookie"]',
  '*.clientSecret',
  '*.client_secret',
  '*.password',
  '*.adminPassword',
  '*.accessToken',
  '*.access_token',
  '*.token',
  '*.sig',
  '*.outputs',
  '*.accessInformation',
  'clientSecret',
  'password',
  'outputs',
  'accessInformation',
];

/** Strips query strings (SAS signatures, callback `sig`) from URLs before they are logged. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?[redacted]`;
}

/** Where logOnCompletion keeps a response's completion line (a symbol: never serialised, never clashes). */
const COMPLETION_LINE = Symbol('completionLine');

/** What a handler set for its request's completion line (logOnCompletion). */
interface CompletionLine {
  message: string;
  fields: Record<string, unknown>;
}

/**
 * Makes the request's completion line (pino-http's, written once the response has been sent) say `message`
 * and carry `fields`, instead of a line of the handler's own beside it: one line per request where there were
 * two (issue 14: a line costs a serialisation and its redaction, 2-4 % of a hot start's CPU, bench/README.md). The fields come
 * before pino-http's own (`req`, `res`, `responseTime`), which win a clash. At a level above info neither
 * is written, as before. Call it once the request has succeeded; an error answer keeps pino-http's message.
 */
export function logOnCompletion(res: object, message: string, fields: Record<string, unknown>): void {
  (res as { [COMPLETION_LINE]?: CompletionLine })[COMPLETION_LINE] = { message, fields };
}

function completionLineOf(res: object): CompletionLine | undefined {
  return (res as { [COMPLETION_LINE]?: CompletionLine })[COMPLETION_LINE];
}

/**
 * The service's log destination on file descriptor `fd` (1: stdout): asynchronous, in batches of
 * LOG_BUFFER_BYTES or every LOG_FLUSH_MS (see pinoParams). Tests pass a file's descriptor.
 */
export function logDestination(fd = 1): ReturnType<typeof pino.destination> {
  return pino.destination({ dest: fd, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS });
}

/**
 * nestjs-pino options: JSON logs at the configured level, redacted, request URLs without query strings.
 * Without `stream`, lines go to stdout asynchronously (sonic-boom, sync: false): a write never blocks the
 * event loop when the log collector reads slowly (issue 14: synchronous writes to a pipe cost about
 * 0.5 ms per start under load). Lines are buffered and leave in one write once LOG_BUFFER_BYTES are
 * buffered or LOG_FLUSH_MS after the last write: each asynchronous write is a hand-off to libuv's
 * thread pool, and at 100 hot starts/s one write per line cost about a fifth of the service's CPU
 * (bench/README.md, twelfth results). A line is therefore at most LOG_FLUSH_MS late; pino flushes what
 * is buffered when the process exits (SIGTERM, process.exit, an uncaught error), and a SIGKILL loses
 * at most that last second.
 */
export function pinoParams(config: AppConfig, stream?: NodeJS.WritableStream): Params {
  const options = {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
      // A handler's own message and fields on the completion line (logOnCompletion); pino-http's otherwise.
      customSuccessObject: (_req, res, val: Record<string, unknown>) => {
        const line = completionLineOf(res);
        return line ? { ...line.fields, ...val } : val;
      },
      // Otherwise pino-http's own default message (not exported by it).
      customSuccessMessage: (req, res) => completionLineOf(res)?.message ?? (!req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted'),
      serializers: {
        req: (req: { method?: string; url?: string; id?: unknown }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      // On every line, background work's too; as a base binding, not pino-http's customProps (a further child
      // logger per request: about a third of the request logging's cost, issue 14).
      base: { pid: process.pid, hostname: hostname(), service: 'test-drive-orchestrator' },
      hooks: {
        // Nest's own start-up chatter (one line per module and per route) is debug, not info: at the
        // default level the start banner is not buried under ~50 lines.
        logMethod(this: { debug: (...a: unknown[]) => void }, args: unknown[], method: (...a: unknown[]) => void, level: number) {
          const context = (args[0] as { context?: unknown } | undefined)?.context;
          if (level === 30 && typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context)) return this.debug(...args);
          return method.apply(this, args);
        },
      },
  } satisfies NonNullable<Params['pinoHttp']>;
  // Middleware on every route under the global prefix, in path-to-regexp v8 syntax (Nest 11: no legacy-route warning).
  return { pinoHttp: [options, stream ?? logDestination(1)], forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }] };
}
