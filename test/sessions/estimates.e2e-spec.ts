import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

/** Deterministic N(0,1) from a seeded PRNG (mulberry32 + Box-Muller). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() || 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Issue 12, honest estimates, measured: 40 cold starts whose deployments take a varied time on the
 * service clock (log-normal around 10 minutes, σ = 0.3: roughly 5 to 20 minutes); each start's
 * estimatedReadyAt (told in the 201 answer) is compared with when it became ready. The error is reported
 * (printed for the issue note) and bounded: once there is history, the median relative error is under 30 %.
 */
describe('estimate error (simulated clock, varied deployment times)', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.02 });

  it('the estimate of a cold start is within 30 % (median) of the real time to ready once there is history', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'estimates', [{ name: 'westeurope', hot: 0, cold: 1 }]);
    const market = await svc.as('marketplace');
    const noise = gaussian(20261201);
    const errors: number[] = [];
    const coldStartErrors: number[] = [];
    for (let i = 0; i < 40; i++) {
      const durationMs = Math.round(600_000 * Math.exp(0.3 * noise()));
      const r = await market.post('/api/v1/offers/estimates/sessions').send({ customer, region: 'westeurope' }).expect(201);
      const requestedAt = Date.parse(r.body.requestedAt);
      const estimated = Date.parse(r.body.estimatedReadyAt) - requestedAt;
      // The deployment takes durationMs of service time: the clock moves, then the pass sees it done.
      svc.clock.advance(durationMs);
      const ready = await svc.until(async () => {
        const s = (await market.get(`/api/v1/sessions/${r.body.id}`).expect(200)).body;
        return s.state === 'ready' ? s : null;
      });
      const actual = Date.parse(ready.readyAt) - requestedAt;
      const rel = Math.abs(estimated - actual) / actual;
      (i < 3 ? coldStartErrors : errors).push(rel);
      await market.delete(`/api/v1/sessions/${r.body.id}`).expect(202);
      await svc.until(async () => (await capacity(svc, 'estimates', 'westeurope')).coldInUse === 0);
    }
    const sorted = [...errors].sort((x, y) => x - y);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    const report = {
      starts: errors.length,
      medianRelativeError: +pct(0.5).toFixed(3),
      p90RelativeError: +pct(0.9).toFixed(3),
      meanRelativeError: +(errors.reduce((s, x) => s + x, 0) / errors.length).toFixed(3),
      firstThreeStarts: coldStartErrors.map((x) => +x.toFixed(3)),
    };
    console.log(`estimate error: ${JSON.stringify(report)}`);
    expect(report.medianRelativeError).toBeLessThan(0.3);
  });
});
