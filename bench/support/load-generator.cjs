/**
 * The load generator of hot-starts.bench.ts, in a process of its own (issue 14).
 *
 * Why not the bench's own process: that is Jest with ts-jest, whose heap holds the TypeScript compiler
 * (hundreds of MB). Its major garbage collections took a core for 100-150 ms in the middle of open-loop
 * phases, so requests were sent late and answers read late; latency counted from the scheduled time then
 * showed the generator's pause as the service's (p99 of hot starts at 100/s on PostgreSQL 40-98 ms, every
 * slow request of a run within one 60-130 ms window while the service's event loop never stalled over
 * 18 ms). This plain script holds only undici and the latencies.
 *
 * Started with child_process.fork (IPC). Messages from the bench:
 *   { op: 'config', base, marketplaceToken, offerIds: string[], customer: { email, firstName, lastName } }
 *   { op: 'run', id, target: 'live' | 'power-bi' | 'hot', mode: 'closed' | 'open', c?: clients, rate?: 1/s, n }
 * and its answer to a run:
 *   { id, lat: ms[] (from send, or from the scheduled time in the open loop), ok, sessions: ids of hot
 *     sessions started, seconds, loopMaxMs: this process's longest event loop delay during the run }
 * A hot start is ok when it answers 201 `ready`, `hot`, with access information; the others when 201 (200
 * for /health/live).
 */
'use strict';
const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { Agent, request } = require('undici');

/** Sampling period of the event loop delay histogram (ms), subtracted from its maximum. */
const RESOLUTION_MS = 5;
const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 512 });
let config;
let seq = 0;

async function send(target, sessions) {
  const i = ++seq;
  const headers = { authorization: `Bearer ${config.marketplaceToken}`, 'content-type': 'application/json' };
  if (target === 'live') {
    const r = await request(`${config.base}/health/live`, { dispatcher });
    await r.body.text();
    return r.statusCode === 200;
  }
  const path = target === 'power-bi' ? '/api/v1/offers/bench-bi/sessions' : `/api/v1/offers/${config.offerIds[i % config.offerIds.length]}/sessions`;
  const email = `${target === 'hot' ? 'gh' : 'gb'}${i}@example.com`;
  const r = await request(`${config.base}${path}`, { method: 'POST', dispatcher, headers, body: JSON.stringify({ customer: { ...config.customer, email } }) });
  const text = await r.body.text();
  if (target === 'power-bi') return r.statusCode === 201;
  if (r.statusCode !== 201) return false;
  const body = JSON.parse(text);
  sessions.push(body.id);
  return body.state === 'ready' && body.instanceKind === 'hot' && Boolean(body.accessInformation);
}

async function run(m) {
  const lat = [];
  const sessions = [];
  let ok = 0;
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  const t0 = process.hrtime.bigint();
  if (m.mode === 'closed') {
    let left = m.n;
    await Promise.all(
      Array.from({ length: m.c }, async () => {
        while (left-- > 0) {
          const t = process.hrtime.bigint();
          if (await send(m.target, sessions)) ok++;
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }),
    );
  } else {
    const inflight = [];
    // BENCH_TRACE=<file>: every open-loop request as a line "<target> <rate>/s <index> <scheduled time, ISO> <latency ms>".
    const trace = process.env.BENCH_TRACE ? [] : undefined;
    for (let i = 0; i < m.n; i++) {
      const due = t0 + BigInt(Math.round((i * 1e9) / m.rate));
      const now = process.hrtime.bigint();
      if (due > now) await new Promise((r) => setTimeout(r, Number(due - now) / 1e6));
      inflight.push(
        send(m.target, sessions).then((good) => {
          if (good) ok++;
          const ms = Number(process.hrtime.bigint() - due) / 1e6;
          lat.push(ms);
          if (trace) trace.push(`${m.target} ${m.rate}/s ${i} ${new Date(Date.now() - ms).toISOString()} ${ms.toFixed(1)}`);
        }),
      );
    }
    await Promise.all(inflight);
    if (trace) fs.appendFileSync(process.env.BENCH_TRACE, trace.join('\n') + '\n');
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  loop.disable();
  return { id: m.id, lat, ok, sessions, seconds, loopMaxMs: Math.max(0, loop.max / 1e6 - RESOLUTION_MS) };
}

process.on('message', (m) => {
  if (m.op === 'config') {
    config = m;
    return;
  }
  run(m).then(
    (r) => process.send(r),
    (e) => process.send({ id: m.id, error: String(e && e.stack ? e.stack : e) }),
  );
});
process.on('disconnect', () => process.exit(0));
