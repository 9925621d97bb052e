// Preloaded into the service by hot-starts.bench.ts when BENCH_PROFILE_PHASE is set (node -r): the
// first SIGUSR2 starts a V8 CPU profile, the second writes it to $BENCH_PROFILE_FILE. This profiles one
// measured phase only, without the service's start-up and the pool fills. Never loaded by the service itself.
const inspector = require('node:inspector');
const fs = require('node:fs');
const session = new inspector.Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_PROFILE_INTERVAL_US || 500) }, () => session.post('Profiler.start')));
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, { profile }) => {
    if (!err) fs.writeFileSync(process.env.BENCH_PROFILE_FILE, JSON.stringify(profile));
  });
});
