import * as https from 'node:https';

/** Calls the emulator's control API (/_emulator/...) over HTTPS, trusting its CA. */
export function emulatorCall<T = unknown>(base: string, caPem: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; json: T }> {
  return new Promise((resolve, reject) => {
    const u = new URL(pathname, base);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      u,
      { method, ca: caPem, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, json: json as T });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
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
