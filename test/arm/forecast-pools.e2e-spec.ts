import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditEventEntity } from '../../src/audit/audit-event.entity';
import { describeEachDb } from '../support/postgres';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

/** One test drive hour of this suite, seconds of the (manual) clock: a day is 24 minutes, replayed in steps. */
const HOUR_SECONDS = 60;
const HOUR = HOUR_SECONDS * 1000;
const DAY = 24 * HOUR;
/** The daily peak of the replayed history: 10 start requests an hour from 09:00 to 12:00. */
const PEAK_HOURS = [9, 10, 11];

/** Ten refused start requests (audit session.refused, westeurope) in each PEAK_HOURS hour of days [fromDay, toDay) after day0. */
async function refusedAtPeak(ds: DataSource, offerId: string, day0: number, fromDay: number, toDay: number): Promise<void> {
  const events: Partial<AuditEventEntity>[] = [];
  for (let d = fromDay; d < toDay; d++)
    for (const h of PEAK_HOURS)
      for (let i = 0; i < 10; i++)
        events.push({ id: randomUUID(), at: day0 + d * DAY + h * HOUR + i * 5000 + 1, actorType: 'client', action: 'session.refused', offerId, targetType: 'offer', targetId: offerId, details: { code: 'NoCapacity', region: 'westeurope' } });
  await ds.getRepository(AuditEventEntity).save(events);
}

/**
 * Issue 15, acceptance: an offer switched to `policy: forecast` on the embedded default, driven by a
 * replayed day at high speed (60-second test drive hours), shows its target rising before the daily
 * peak and falling after, in GET /capacity. The 8 days before are history: refused start requests (they
 * count as demand like sessions do) at the same hours of each day.
 */
describeEachDb('hot pools sized by forecast on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 }, { db, env: { TESTDRIVE_HOUR_SECONDS: String(HOUR_SECONDS) } });

  it('the target rises before the daily peak and falls after it; demand is start requests of every outcome', async () => {
    const svc = local.svc;
    // Publish at a day boundary of the test drive clock (hour-of-day 0).
    svc.clock.set(Math.ceil(svc.clock.now() / DAY) * DAY);
    const day0 = svc.clock.now();
    await publishOffer(svc, local.publisher, 'forecasted', [{ name: 'westeurope', hot: { policy: 'forecast', min: 0, max: 8 }, cold: 3 }]);
    let row = await capacity(svc, 'forecasted', 'westeurope');
    expect(row).toMatchObject({ hotPolicy: 'forecast', hotMin: 0, hotMax: 8, hotTarget: 0, limit: 11, forecast: expect.objectContaining({ method: 'none', reason: expect.stringMatching(/^no start history yet/) }) });

    // Eight days of history (the seasonal forecast needs a week after the first request): the daily peak, as refused requests.
    await refusedAtPeak(svc.app.get(DataSource), 'forecasted', day0, 0, 8);

    // The replayed day 9, in steps of a quarter of a test drive hour.
    const day8 = day0 + 8 * DAY;
    const targets = new Map<number, number>();
    for (let q = 0; q < 24 * 4; q++) {
      svc.clock.set(day8 + (q * HOUR) / 4);
      await svc.reconcile.reconcileOnce();
      row = await capacity(svc, 'forecasted', 'westeurope');
      targets.set(q / 4, row.hotTarget);
      if (q === 8.5 * 4) {
        expect(row.forecast).toMatchObject({ method: 'seasonal' });
        expect(row.forecast!.reason).toMatch(/starts expected in the next \d+ min \(hour-of-week profile x level/);
      }
      if (q === 9 * 4) {
        // The peak: the pool is deploying or ready, and a start in it gets a hot instance once ready.
        await svc.until(async () => {
          await svc.reconcile.reconcileOnce();
          return (await capacity(svc, 'forecasted', 'westeurope')).hotReady > 0;
        }, 30_000);
        const start = await svc.http.post('/api/v1/offers/forecasted/sessions').send({ customer, region: 'westeurope' }).expect(201);
        expect(start.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
      }
    }
    const at = (hour: number) => targets.get(hour)!;
    expect(at(3)).toBe(0); // a quiet night: min
    expect(at(8.75)).toBeGreaterThan(0); // rises before the peak (the lead time looks ahead)
    expect(at(10)).toBeGreaterThanOrEqual(at(8.75));
    expect(at(16)).toBeLessThan(at(10)); // falls after it
    expect(at(16)).toBeLessThanOrEqual(1); // back to min, or the one session still assigned
  });

  it('history starts at the first request after publishing: the quiet days before customers found the offer are unknown, not a week-old zero', async () => {
    // Defect found replaying a week (npm run replay-day): with history counted from the publish, day 7's
    // seasonal forecast read day 0 (no customer yet) as a quiet Monday and held the pool at 0 through the peak.
    const svc = local.svc;
    svc.clock.set(Math.ceil(svc.clock.now() / DAY) * DAY + 30 * DAY);
    const day0 = svc.clock.now();
    await publishOffer(svc, local.publisher, 'late-start', [{ name: 'westeurope', hot: { policy: 'forecast', min: 0, max: 8 }, cold: 3 }]);
    await refusedAtPeak(svc.app.get(DataSource), 'late-start', day0, 1, 7);
    svc.clock.set(day0 + 7 * DAY + 8.5 * HOUR);
    await svc.reconcile.reconcileOnce();
    const row = await capacity(svc, 'late-start', 'westeurope');
    expect(row.forecast).toMatchObject({ method: 'recent' });
    expect(row.hotTarget).toBeGreaterThan(0);
  });
});
