/**
 * Issue 15: watch a hot pool size itself. Against a running service on the embedded default, started with
 * short test drive hours:
 *
 *   export TESTDRIVE_HOUR_SECONDS=1 EMULATOR_DEPLOYMENT_SECONDS=0.2 RECONCILE_INTERVAL_MS=100
 *   npm start &            # then, in the same shell (same settings):
 *   npm run replay-day
 *
 * it creates the offer `forecast-demo` (the sample web app package; westeurope, hot {policy: forecast,
 * min 0, max 6}, cold 3, 1-hour test drives) for a new emulated publisher subscription, publishes it,
 * replays 8 days of history (start requests at 09:00-12:00 of each day: 6 an hour; hot, cold and refused
 * starts all count as demand) and then one more day, printing GET /api/v1/capacity every quarter of an
 * hour of that day: the target rises before the daily peak and falls after it. With 1-second hours the
 * history takes about 3.5 minutes and the day 24 seconds. Options: --days N (history days, default 8: the
 * seasonal forecast needs a full week after the first request),
 * --per-hour N (peak starts an hour, default 6), --offer ID.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { PROJECT_ROOT } from '../src/config/app-config';
import { embeddedCallers } from '../src/embedded/embedded-callers';
import { zipDirectory } from '../src/common/zip-directory';

const PEAK_HOURS = [9, 10, 11];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
  };
  const days = Number(opt('--days', '8'));
  const perHour = Number(opt('--per-hour', '6'));
  const offerId = opt('--offer', 'forecast-demo');
  const hourSeconds = Number(process.env.TESTDRIVE_HOUR_SECONDS ?? 3600);
  if (!(hourSeconds > 0 && hourSeconds <= 10)) {
    process.stderr.write(`TESTDRIVE_HOUR_SECONDS is ${hourSeconds}: start the service and this script with short hours, e.g.\n  export TESTDRIVE_HOUR_SECONDS=1 EMULATOR_DEPLOYMENT_SECONDS=0.2 RECONCILE_INTERVAL_MS=100\n`);
    process.exit(2);
  }
  const hourMs = hourSeconds * 1000;
  const api = `http://localhost:${process.env.PORT ?? 3000}/api/v1`;
  const emulatorUrl = `https://localhost:${process.env.EMULATOR_PORT ?? 8443}`;
  const dataDir = path.resolve(PROJECT_ROOT, process.env.DATA_DIR ?? 'data');
  const ca = fs.readFileSync(path.join(dataDir, 'emulator', 'ca.crt'), 'utf8');
  const callers = await embeddedCallers(emulatorUrl, ca, dataDir, process.env.AUTH_AUDIENCE ?? 'api://test-drive-orchestrator');
  const call = async (role: 'publisher' | 'marketplace', method: string, url: string, body?: unknown, type = 'application/json') => {
    const r = await fetch(`${api}${url}`, { method, headers: { authorization: `Bearer ${callers[role].token}`, ...(body !== undefined ? { 'content-type': type } : {}) }, body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : (body as Buffer) });
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };

  // A subscription of its own in the emulator, the offer, its package, publish.
  const dispatcher = new Agent({ connect: { ca } });
  const sub = (await (await undiciFetch(`${emulatorUrl}/_emulator/publishers`, { method: 'POST', dispatcher })).json()) as Record<string, string>;
  const put = await call('publisher', 'PUT', `/offers/${offerId}`, {
    alias: 'Forecast demo',
    testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: { policy: 'forecast', min: 0, max: 6 }, cold: 3 }], accessInformation: '<p>Open {{siteUrl}}</p>' },
    deployment: { subscriptionId: sub.subscriptionId, tenantId: sub.tenantId, clientId: sub.clientId, clientSecret: sub.clientSecret },
  });
  if (put.status >= 300) throw new Error(`PUT offer: ${put.status} ${JSON.stringify(put.body)}`);
  const zip = await zipDirectory(path.join(PROJECT_ROOT, 'templates', 'arm', 'sample-webapp'), { exclude: ['README.md', 'access-information.html'] });
  const pkg = await call('publisher', 'PUT', `/offers/${offerId}/package`, zip, 'application/zip');
  if (pkg.status !== 201) throw new Error(`PUT package: ${pkg.status} ${JSON.stringify(pkg.body)}`);
  const pub = await call('publisher', 'POST', `/offers/${offerId}/publish`);
  if (pub.status !== 200) throw new Error(`publish: ${pub.status} ${JSON.stringify(pub.body)}`);

  // Day 0 starts at the next test drive day boundary of the service's clock (hour-of-day as the service buckets it).
  const day = 24 * hourMs;
  const day0 = Math.ceil(Date.now() / day) * day;
  const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
  process.stdout.write(`offer ${offerId} published; replaying ${days} days of history from ${new Date(day0).toISOString()} (${perHour} starts an hour at ${PEAK_HOURS.join(', ')}:00), then one day\n`);
  const outcomes = new Map<string, number>();
  const start = async () => {
    const r = await call('marketplace', 'POST', `/offers/${offerId}/sessions`, { customer: { email: `replay-${Date.now()}@example.com`, firstName: 'Re', lastName: 'Play', company: 'Demo', country: 'GB' }, region: 'westeurope' });
    const k = r.status === 201 ? String(r.body.instanceKind ?? r.body.state) : `refused ${r.status}`;
    outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  };
  const capacityRow = async () => {
    const r = await fetch(`${api}/capacity?offerId=${offerId}`, { headers: { authorization: `Bearer ${callers.publisher.token}` } });
    return ((await r.json()) as { value: Array<Record<string, unknown>> }).value[0];
  };

  for (let d = 0; d <= days; d++) {
    const last = d === days;
    if (last) process.stdout.write(`\nhistory done (${[...outcomes].map(([k, n]) => `${n} ${k}`).join(', ')}); the replayed day:\nhour   target  ready  assigned  reason\n`);
    for (let q = 0; q < 24 * 4; q++) {
      const t = day0 + d * day + (q * hourMs) / 4;
      await sleepUntil(t);
      const hour = Math.floor(q / 4);
      if (PEAK_HOURS.includes(hour)) {
        // perHour starts spread over the hour: perHour / 4 per quarter (rounded over the hour).
        const n = Math.floor(((q % 4) + 1) * (perHour / 4)) - Math.floor((q % 4) * (perHour / 4));
        await Promise.all(Array.from({ length: n }, start));
      }
      if (last) {
        const row = await capacityRow();
        const f = row.forecast as { reason?: string } | null;
        process.stdout.write(`${String(hour).padStart(2, '0')}:${String((q % 4) * 15).padStart(2, '0')}  ${String(row.hotTarget).padStart(6)}  ${String(row.hotReady).padStart(5)}  ${String(row.assigned).padStart(8)}  ${f?.reason ?? ''}\n`);
      }
    }
    if (!last) process.stdout.write(`day ${d + 1} of ${days}: ${[...outcomes].map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
  }
  await dispatcher.close();
}

main().catch((err) => {
  process.stderr.write(`replay-day: ${(err as Error).message}\n`);
  process.exit(1);
});
