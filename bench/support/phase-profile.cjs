// Preloaded into the service by hot-starts.bench.ts when BENCH_PROFILE_PHASE is set (node -r): the
// first SIGUSR2 starts a V8 profile, the second writes it to $BENCH_PROFILE_FILE. This profiles one
// measured phase only, without the service's start-up and the pool fills. Never loaded by the service itself.
//
// BENCH_PROFILE_KIND:
// - `cpu` (default): a CPU profile sampled every BENCH_PROFILE_INTERVAL_US µs (.cpuprofile).
// - `heap`: V8's sampling heap profiler, one sample per BENCH_PROFILE_HEAP_INTERVAL bytes (default 16384)
//   allocated, keeping the samples of objects a major (mark-compact) collection freed but not of those a
//   minor one (scavenge) freed: what is left is what was promoted to the old space during the phase (or is
//   still alive at its end), the allocations that make major collections (.heapprofile, Chrome DevTools).
//   BENCH_PROFILE_HEAP_ALL=1 keeps the scavenged ones too: everything the phase allocated.
const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
const heap = process.env.BENCH_PROFILE_KIND === 'heap';
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    if (heap) {
      session.post('HeapProfiler.enable', () =>
        session.post('HeapProfiler.startSampling', {
          samplingInterval: Number(process.env.BENCH_PROFILE_HEAP_INTERVAL || 16384),
          includeObjectsCollectedByMajorGC: true,
          // BENCH_PROFILE_HEAP_ALL=1: the scavenged objects too, i.e. everything allocated in the phase.
          includeObjectsCollectedByMinorGC: process.env.BENCH_PROFILE_HEAP_ALL === '1',
        }),
      );
    } else {
      session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROFILE_INTERVAL_US || 500) }, () => session.post('Profiler.start')));
    }
    return;
  }
  running = false;
  if (heap) {
    session.post('HeapProfiler.stopSampling', (err, r) => {
      if (!err) fs.writeFileSync(process.env.BENCH_PROFILE_FILE, JSON.stringify(r.profile));
    });
    return;
  }
  session.post('Profiler.stop', (err, { profile }) => {
    if (!err) fs.writeFileSync(process.env.BENCH_PROFILE_FILE, JSON.stringify(profile));
  });
});
