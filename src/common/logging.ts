import type { Params } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

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

/** nestjs-pino options: JSON logs at the configured level, redacted, request URLs without query strings. */
export function pinoParams(config: AppConfig, stream?: NodeJS.WritableStream): Params {
  const options = {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
      serializers: {
        req: (req: { method?: string; url?: string; id?: unknown }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      customProps: () => ({ service: 'test-drive-orchestrator' }),
  } satisfies NonNullable<Params['pinoHttp']>;
  return { pinoHttp: stream ? [options, stream as never] : options };
}
