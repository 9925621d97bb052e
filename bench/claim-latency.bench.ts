/**
 * Hot claim latency: how long POST /offers/{id}/sessions takes when a hot instance is ready (the
 * issue's goal: ready access information "well under a second"; Partner Center promises under 10 s).
 * The whole service runs in this process against the local emulator, through HTTP (supertest), with
 * authentication, on SQLite and on PostgreSQL (when TEST_POSTGRES_URL answers).
 *
 * Run: `npm run bench` (prints a table; BENCH_SESSIONS=200 BENCH_CONCURRENCY=20 to change the load).
 * Not a test: nothing is asserted beyond every start being a ready hot session.
 */
import * as fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { capacity, customer, publishOffer, startLocalAzureWith } from '../test/arm-resilience/helpers';
import type { Db, LocalAzure, TestService } from '../test/support/harness';
import { startService } from '../test/support/harness';
import { itOn } from '../test/support/postgres';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const REGIONS = ['westeurope', 'eastus', 'northeurope'];
const HOT_PER_REGION = Math.min(99, Math.ceil(SESSIONS / REGIONS.length) + 2);

interface Row {
  db: string;
  mode: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const rows: Row[] = [];
const memory: Array<{ db: string; rssBeforeMb: number; rssAfterMb: number; heapAfterMb: number }> = [];

function stats(db: string, mode: string, ms: number[]): Row {
  const s = [...ms].sort((x, y) => x - y);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { db, mode, n: s.length, p50: q(50), p95: q(95), p99: q(99), max: s[s.length - 1], mean: s.reduce((x, y) => x + y, 0) / s.length };
}

const mb = (b: number) => Math.round(b / 1024 / 1024);

async function start(svc: TestService, i: number): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await svc.http.post('/api/v1/offers/bench/sessions').send({ customer: { ...customer, email: `c${i}@example.com` } });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 201 || r.body.state !== 'ready' || r.body.instanceKind !== 'hot' || !r.body.accessInformation) {
    throw new Error(`start ${i}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  return ms;
}

describe('hot claim latency (POST /sessions)', () => {
  afterAll(() => {
    const f = (x: number) => x.toFixed(1).padStart(7);
    const out = [
      '',
      `Hot claim latency, POST /api/v1/offers/{id}/sessions, ms (${SESSIONS} sessions per database: half sequential, half from ${CONCURRENCY} concurrent clients)`,
      'db        mode                  n     p50     p95     p99     max    mean',
      ...rows.map((r) => `${r.db.padEnd(9)} ${r.mode.padEnd(18)} ${String(r.n).padStart(4)} ${f(r.p50)} ${f(r.p95)} ${f(r.p99)} ${f(r.max)} ${f(r.mean)}`),
      '',
      'Memory (whole process: service + emulator + supertest), MB',
      'db        rss before  rss after  heap after',
      ...memory.map((m) => `${m.db.padEnd(9)} ${String(m.rssBeforeMb).padStart(10)} ${String(m.rssAfterMb).padStart(10)} ${String(m.heapAfterMb).padStart(11)}`),
      '',
    ];
    process.stdout.write(out.join('\n') + '\n');
  });

  for (const db of ['sqlite', 'postgres'] as Db[]) {
    itOn(db)(`${db}`, async () => {
      let azure: LocalAzure | undefined;
      let svc: TestService | undefined;
      try {
        const unlimited = { bucket: 1_000_000, perSecond: 1_000_000 };
        azure = await startLocalAzureWith({ deploymentSeconds: 0.05, limits: { throttling: { reads: unlimited, writes: unlimited, deletes: unlimited } } });
        svc = await startService(azure, { db });
        const publisher = await azure.emulator.createPublisher({});
        await publishOffer(svc, publisher, 'bench', REGIONS.map((name) => ({ name, hot: HOT_PER_REGION, cold: 0 })));
        await svc.until(async () => {
          const ready = await Promise.all(REGIONS.map((r) => capacity(svc!, 'bench', r)));
          return ready.reduce((n, c) => n + c.hotReady, 0) >= SESSIONS + 1;
        }, 300_000);
        global.gc?.();
        const rssBefore = process.memoryUsage().rss;

        // Warm-up outside the numbers: one claim (first-request costs: token validation caches, JIT).
        await start(svc, -1);
        // BENCH_PROFILE=dir: CPU profile of the measured claims only (open in Chrome DevTools).
        const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
        if (profiler) {
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.start');
        }
        const sequential: number[] = [];
        const half = Math.floor(SESSIONS / 2);
        for (let i = 0; i < half; i++) sequential.push(await start(svc, i));
        rows.push(stats(db, 'sequential', sequential));

        const concurrent: number[] = [];
        let next = half;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < SESSIONS) concurrent.push(await start(svc!, next++));
          }),
        );
        rows.push(stats(db, `${CONCURRENCY} concurrent`, concurrent));
        if (profiler) {
          const { profile } = await profiler.post('Profiler.stop');
          fs.mkdirSync(process.env.BENCH_PROFILE!, { recursive: true });
          fs.writeFileSync(`${process.env.BENCH_PROFILE}/claims-${db}.cpuprofile`, JSON.stringify(profile));
          profiler.disconnect();
        }
        const after = process.memoryUsage();
        memory.push({ db, rssBeforeMb: mb(rssBefore), rssAfterMb: mb(after.rss), heapAfterMb: mb(after.heapUsed) });
      } finally {
        await svc?.close();
        await azure?.stop();
      }
    });
  }
});
