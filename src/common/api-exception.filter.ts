import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiError } from './api-error';
import { invalidJsonMessage } from './body-policy';
import { redactUrl } from './logging';

/**
 * Turns every error into the API's error body `{ error: { code, message, target?, details? } }`.
 * Body-parser failures (malformed JSON, too large) become 400/413 naming the rule; anything unexpected
 * is a 500 whose message reveals nothing internal (the cause is logged).
 * A request that matched no route (e.g. `/api/offers`, without the version) never reached pino-http,
 * which is mounted on the routes: its answer is logged here, as pino-http's line would have been
 * (`req`, `res`, "request completed"), so a misconfigured client shows in the logs.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    if (res.headersSent) return;
    const req = http.getRequest<Request & { log?: unknown }>();
    if (req && !req.log) {
      res.once('finish', () => this.logger.log({ req: { method: req.method, url: redactUrl(req.originalUrl ?? req.url) }, res: { statusCode: res.statusCode } }, 'request completed'));
    }
    if (exception instanceof ApiError) {
      if (exception.headers) for (const [k, v] of Object.entries(exception.headers)) res.setHeader(k, v);
      res.status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    const e = exception as { type?: string; status?: number; statusCode?: number; expose?: boolean; message?: string; limit?: number };
    if (e && typeof e === 'object' && (e.type === 'entity.parse.failed' || e.type === 'entity.verify.failed')) {
      res.status(400).json({ error: { code: 'InvalidJson', message: invalidJsonMessage(e) } });
      return;
    }
    if (e && typeof e === 'object' && e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'PayloadTooLarge', message: `The request body is larger than the limit of ${e.limit} bytes.` } });
      return;
    }
    if (e && typeof e === 'object' && (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')) {
      res.status(415).json({ error: { code: 'UnsupportedEncoding', message: String(e.message) } });
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      // Nest wraps body-parser failures; keep the rule visible to the client.
      const cause = (exception as { cause?: { type?: string } }).cause;
      if (status === 400 && (cause?.type === 'entity.parse.failed' || /JSON/.test(exception.message))) {
        res.status(400).json({ error: { code: 'InvalidJson', message: 'The request body is not valid JSON.' } });
        return;
      }
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : ((body as { message?: string | string[] }).message ?? exception.message);
      res.status(status).json({ error: { code: codeForStatus(status), message: Array.isArray(message) ? message.join('; ') : message } });
      return;
    }
    if (isDependencyFailure(exception)) {
      // An Azure dependency (Entra ID, Key Vault, ARM, storage) refused or did not answer: the request
      // was fine and may succeed later; nothing was half-done that a retry would duplicate.
      this.logger.warn(`dependency unavailable: ${(exception as Error).name}: ${(exception as Error).message?.slice(0, 300)}`);
      res.setHeader('Retry-After', '5');
      res.status(503).json({ error: { code: 'DependencyUnavailable', message: 'An Azure service this request needs is unavailable; retry in a few seconds.' } });
      return;
    }
    const status = e?.status ?? e?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: codeForStatus(status), message: e.expose ? String(e.message) : 'Bad request.' } });
      return;
    }
    this.logger.error(exception instanceof Error ? exception.stack ?? exception.message : String(exception));
    res.status(500).json({ error: { code: 'InternalError', message: 'An internal error occurred. It has been logged.' } });
  }
}

function codeForStatus(status: number): string {
  return (
    {
      400: 'BadRequest',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'NotFound',
      405: 'MethodNotAllowed',
      409: 'Conflict',
      413: 'PayloadTooLarge',
      415: 'UnsupportedMediaType',
      429: 'TooManyRequests',
    } as Record<number, string>
  )[status] ?? `Http${status}`;
}

/**
 * True for failures of an Azure dependency rather than of our code: SDK RestErrors (HTTP status from
 * Azure), identity errors (token refused or unreachable), network errors (ECONNREFUSED, timeouts).
 */
export function isDependencyFailure(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (!e || typeof e !== 'object') return false;
  if (['RestError', 'AuthenticationError', 'AuthenticationRequiredError', 'CredentialUnavailableError', 'AggregateAuthenticationError'].includes(e.name ?? '')) return true;
  const code = e.code ?? e.cause?.code;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'REQUEST_SEND_ERROR'].includes(code ?? '');
}
