import type { IncomingHttpHeaders } from 'node:http';
import * as https from 'node:https';

/** One HTTPS request trusting the CA `caPem`, `body` sent as it is; resolves with the status, headers and body text. */
export function httpsRequest(url: string | URL, caPem: string, method: string, body?: Buffer, headers: https.RequestOptions['headers'] = {}): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: caPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** `text` parsed as JSON, or the text itself when it is not JSON. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Calls the emulator's control API (/_emulator/...) over HTTPS, trusting its CA. */
export async function emulatorCall<T = unknown>(base: string, caPem: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; json: T }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const r = await httpsRequest(new URL(pathname, base), caPem, method, data, data ? { 'content-type': 'application/json', 'content-length': data.length } : {});
  return { status: r.status, json: jsonOrText(r.text) as T };
}

/** Resource groups of a subscription as the emulator shows them (GET /_emulator/subscriptions/{id}). */
export async function emulatorResourceGroups(
  base: string,
  caPem: string,
  subscriptionId: string,
): Promise<Array<{ name: string; location: string; tags: Record<string, string>; provisioningState: string; deployments?: unknown[] }>> {
  const r = await emulatorCall<{ resourceGroups: Array<{ name: string; location: string; tags: Record<string, string>; provisioningState: string }> }>(
    base,
    caPem,
    'GET',
    `/_emulator/subscriptions/${subscriptionId}`,
  );
  if (r.status !== 200) throw new Error(`emulator GET subscription: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.resourceGroups;
}
