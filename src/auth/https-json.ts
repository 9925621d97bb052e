import * as https from 'node:https';
import * as tls from 'node:tls';

/** Largest JSON document fetched from an authority (discovery, JWKS, token): 512 KB. */
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
 * A small HTTPS JSON client on node:https (global fetch ignores per-request CAs): trusts the system
 * roots plus `extraCaPem`, limits the answer to MAX_AUTHORITY_RESPONSE_BYTES and the time to
 * `timeoutMs`. Only https URLs.
 * @returns the status and the parsed JSON body (undefined when empty or not JSON).
 * @throws Error on a non-https URL, network/TLS failure, timeout or an oversized answer.
 */
export function httpsJson(url: string, opts: HttpsJsonOptions = {}): Promise<{ status: number; json: unknown }> {
  const u = new URL(url);
  if (u.protocol !== 'https:') return Promise.reject(new Error(`refusing non-https URL ${u.origin}`));
  return new Promise((resolve, reject) => {
    const req = https.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: { accept: 'application/json', ...(opts.body ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers },
        ca: opts.extraCaPem ? [...tls.rootCertificates, opts.extraCaPem] : undefined,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_AUTHORITY_RESPONSE_BYTES) {
            req.destroy(new Error(`answer of ${u.origin}${u.pathname} is larger than ${MAX_AUTHORITY_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${u.origin}${u.pathname} did not answer within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
