import { forecastStarts, hotTargetFor, hourlyDemand, instanceHoursLast24h, leadTimeMs, planHotPool, poissonQuantile, WEEK_HOURS } from './hot-policy';

const H = 3_600_000;
/** Trace time 0 is a Monday 00:00 UTC (2026-11-02). */
const T0 = Date.UTC(2026, 10, 2);
const at = (hour: number) => T0 + hour * H;

/** `n` starts spread over each hour h of [from, to) where rate(h) gives n. */
function series(from: number, to: number, rate: (hourOfWeek: number) => number): Map<number, number> {
  const times: number[] = [];
  for (let h = from; h < to; h++) for (let i = 0; i < rate(((h % WEEK_HOURS) + WEEK_HOURS) % WEEK_HOURS); i++) times.push(at(h) + 1 + i);
  return hourlyDemand(times, H);
}
const businessHours = (how: number) => (how % 24 >= 9 && how % 24 < 17 && how < 120 ? 10 : 0);

describe('poissonQuantile (simple-statistics)', () => {
  it.each([
    [0, 0],
    [2.5, 5],
    [10, 15],
    [30, 39],
  ])('95th percentile of Poisson(%d) is %d', (lambda, k) => expect(poissonQuantile(lambda, 0.95)).toBe(k));
});

describe('forecastStarts', () => {
  it('expects nothing without history', () => {
    expect(forecastStarts(new Map(), at(0), at(0), H, H)).toMatchObject({ expectedStarts: 0, method: 'none' });
  });

  it('uses the recent rate with less than a week of history', () => {
    const demand = series(0, 48, () => 6);
    const f = forecastStarts(demand, at(0), at(48), H / 2, H);
    expect(f.method).toBe('recent');
    expect(f.expectedStarts).toBeCloseTo(3, 5);
    expect(f.ratePerHour).toBeCloseTo(6, 5);
  });

  it('follows a flat series exactly', () => {
    const f = forecastStarts(series(0, 2 * WEEK_HOURS, () => 4), at(0), at(2 * WEEK_HOURS), H, H);
    expect(f).toMatchObject({ method: 'seasonal', level: 1 });
    expect(f.expectedStarts).toBeCloseTo(4, 5);
  });

  it('knows business hours: Monday 08:00 of week 4 expects the smoothed 9:00 ramp, Sunday nothing', () => {
    const demand = series(0, 3 * WEEK_HOURS + 8, businessHours);
    // Hour 8 smoothed: 0.25*0 + 0.5*0 + 0.25*10 = 2.5; hour 9: 0.25*0 + 0.5*10 + 0.25*10 = 7.5; the level is 1 (a quiet night as usual).
    const monday = forecastStarts(demand, at(0), at(3 * WEEK_HOURS + 8), 2 * H, H);
    expect(monday).toMatchObject({ method: 'seasonal', level: 1 });
    expect(monday.expectedStarts).toBeCloseTo(10, 5);
    const sunday = forecastStarts(series(0, 3 * WEEK_HOURS + 150, businessHours), at(0), at(3 * WEEK_HOURS + 150), 2 * H, H);
    expect(sunday.expectedStarts).toBe(0);
  });

  it('lifts the forecast by the recent level when today runs three times the usual', () => {
    const normal = series(0, 2 * WEEK_HOURS, () => 2);
    const spike = series(2 * WEEK_HOURS, 2 * WEEK_HOURS + 6, () => 6);
    const demand = new Map([...normal, ...spike]);
    const f = forecastStarts(demand, at(0), at(2 * WEEK_HOURS + 6), H, H);
    // (6 hours x 6 + 1) / (6 hours x 2 + 1) = 37 / 13
    expect(f.level).toBeCloseTo(37 / 13, 5);
    expect(f.expectedStarts).toBeCloseTo((2 * 37) / 13, 5);
  });

  it('never goes below half the last hour: a launch at an hour it knows as quiet', () => {
    const quiet = series(0, 2 * WEEK_HOURS, () => 0);
    const launch = series(2 * WEEK_HOURS - 1, 2 * WEEK_HOURS, () => 8);
    const f = forecastStarts(new Map([...quiet, ...launch]), at(0), at(2 * WEEK_HOURS), H, H);
    expect(f.method).toBe('seasonal');
    expect(f.expectedStarts).toBeCloseTo(4, 5);
  });

  it('ignores requests before the history starts and after now', () => {
    const demand = new Map([...series(0, 2 * WEEK_HOURS, () => 4), ...series(2 * WEEK_HOURS + 1, 2 * WEEK_HOURS + 10, () => 40)]);
    const f = forecastStarts(demand, at(WEEK_HOURS), at(2 * WEEK_HOURS), H, H);
    expect(f.historyHours).toBe(WEEK_HOURS);
    expect(f.expectedStarts).toBeCloseTo(4, 5);
  });

  it('scales with the test drive hour (a replay with 2-second hours sees the same week)', () => {
    const short = 2000;
    const times: number[] = [];
    for (let h = 0; h < 3 * WEEK_HOURS + 8; h++) for (let i = 0; i < businessHours(h % WEEK_HOURS); i++) times.push(h * short + i);
    const f = forecastStarts(hourlyDemand(times, short), 0, (3 * WEEK_HOURS + 8) * short, 2 * short, short);
    expect(f.expectedStarts).toBeCloseTo(10, 5);
  });
});

describe('leadTimeMs', () => {
  it('is the 90th percentile x 1.25 + 5 minutes, 15 minutes standing in without measurements', () => {
    expect(leadTimeMs([10 * 60_000, 10 * 60_000, 10 * 60_000], H)).toBe(17.5 * 60_000);
    expect(leadTimeMs([], H)).toBe((15 * 1.25 + 5) * 60_000);
  });
});

describe('hotTargetFor', () => {
  const base = { demand: new Map<number, number>(), historySince: at(0), now: at(0), hourMs: H, assigned: 0, deploymentDurationsMs: [], instanceHoursLast24h: 0 };

  it('keeps a fixed count as it is', () => {
    expect(hotTargetFor({ ...base, hot: 3, assigned: 2 })).toMatchObject({ target: 3, keep: 3, method: 'fixed' });
  });

  it('holds min without history', () => {
    expect(hotTargetFor({ ...base, hot: { policy: 'forecast', min: 1, max: 10 } })).toMatchObject({ target: 1, method: 'none' });
  });

  it('is assigned + the 97th percentile of the lead-time starts, clamped to max', () => {
    const demand = series(0, 2 * WEEK_HOURS, () => 8);
    const input = { ...base, demand, now: at(2 * WEEK_HOURS), deploymentDurationsMs: [10 * 60_000, 10 * 60_000, 10 * 60_000] };
    // 8 an hour over 17.5 minutes: lambda 2.33, 97th percentile 6 (P(N <= 5) = 0.969, P(N <= 6) = 0.991).
    expect(poissonQuantile(8 * (17.5 / 60), 0.97)).toBe(6);
    const t = hotTargetFor({ ...input, hot: { policy: 'forecast', min: 0, max: 20 }, assigned: 3 });
    expect(t).toMatchObject({ target: 9, readyWanted: 6, method: 'seasonal' });
    expect(t.keep).toBeGreaterThan(t.target);
    expect(hotTargetFor({ ...input, hot: { policy: 'forecast', min: 0, max: 6 }, assigned: 3 })).toMatchObject({ target: 6, keep: 6, reason: expect.stringContaining('capped at max 6') });
  });

  it('holds at the assigned count (at least min) once the cost cap is spent', () => {
    const demand = series(0, 2 * WEEK_HOURS, () => 8);
    const t = hotTargetFor({ ...base, demand, now: at(2 * WEEK_HOURS), hot: { policy: 'forecast', min: 1, max: 20, maxInstanceHoursPerDay: 48 }, assigned: 0, instanceHoursLast24h: 50 });
    expect(t).toMatchObject({ target: 1, keep: 1, reason: expect.stringContaining('cost cap') });
  });
});

describe('planHotPool', () => {
  const now = at(100);
  it('reserves what is missing', () => {
    expect(planHotPool({ target: 5, keep: 7, held: 2, unassigned: [], now, idleMs: H })).toEqual({ reserve: 3, remove: [] });
  });

  it('removes only surplus instances idle for the lead time, longest idle first, never deploying ones', () => {
    const unassigned = [
      { id: 'deploying', readyAt: null },
      { id: 'just-ready', readyAt: now - 60_000 },
      { id: 'idle-2h', readyAt: now - 2 * H },
      { id: 'idle-3h', readyAt: now - 3 * H },
    ];
    expect(planHotPool({ target: 2, keep: 3, held: 6, unassigned, now, idleMs: H })).toEqual({ reserve: 0, remove: ['idle-3h', 'idle-2h'] });
    expect(planHotPool({ target: 2, keep: 5, held: 6, unassigned, now, idleMs: H })).toEqual({ reserve: 0, remove: ['idle-3h'] });
    expect(planHotPool({ target: 2, keep: 6, held: 6, unassigned, now, idleMs: H })).toEqual({ reserve: 0, remove: [] });
  });
});

describe('instanceHoursLast24h', () => {
  it('counts the overlap with the last 24 hours', () => {
    const now = at(48);
    expect(instanceHoursLast24h([{ from: at(0), to: null }, { from: at(40), to: at(42) }, { from: at(0), to: at(10) }], now, H)).toBeCloseTo(26, 5);
  });
});
