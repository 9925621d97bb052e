import { poissonDistribution, quantile } from 'simple-statistics';

/**
 * Hot pools that size themselves (issue 15): the pool rules shared by the service (ArmTestDriveType's
 * reconcile loop) and the pool simulator (bench/pools). Everything here is pure: times are epoch ms of
 * the injected clock, and "hours" are test drive hours (`hourMs`, TEST_DRIVE_HOUR_SECONDS x 1000; one
 * real hour in production), so a replay with short hours compresses the week the forecast sees.
 *
 * Forecast method (documented in docs/operations.md "Hot pools that size themselves"):
 * - demand = start requests per hour of one offer and region (sessions of every outcome, queued ones,
 *   and refused requests), the last FORECAST_HISTORY_WEEKS weeks;
 * - seasonal profile: for an hour h, the same hour-of-week in each past week, smoothed over its
 *   neighbours (1/4, 1/2, 1/4) and weighted by recency (WEEK_DECAY per week back): a seasonal naive
 *   forecast averaged over weeks, the hour-of-week seasonality of Holt-Winters without its trend term;
 * - recent level: (starts of the last LEVEL_HOURS + 1) / (profile over the same hours + 1), clamped
 *   to [LEVEL_MIN, LEVEL_MAX], multiplies the profile (a launch spike lifts the forecast within hours,
 *   a quiet holiday lowers it);
 * - fallback while there is less than one week of history: the recent rate, the higher of the mean of
 *   the last 24 hours and of the last 3 hours ('recent'); no history at all: no demand ('none'), so the
 *   pool stays at its `min`.
 * The target is the assigned hot instances plus the ready ones that cover the forecast starts of the
 * lead-time window (measured deployment duration plus a margin) at SERVICE_LEVEL of a Poisson demand,
 * clamped to [min, max]; it scales down only to what the longer keep window needs, and only instances
 * that stayed ready and idle for the lead time are removed.
 */

/** Hours of one week: the seasonality of test drive demand (business hours, weekends). */
export const WEEK_HOURS = 168;
/** Weeks of history the forecast reads. */
export const FORECAST_HISTORY_WEEKS = 4;
/** Weight of each further week back (1, 0.7, 0.49, ...). */
export const WEEK_DECAY = 0.7;
/** Hours of recent demand that set the level against the seasonal profile. */
export const LEVEL_HOURS = 6;
export const LEVEL_MIN = 0.5;
/** Share of the last hour's starts per hour the seasonal forecast never goes below (bench/pools: +1.3 points of hot hits on the noisiest trace for +2 % instance-hours; 1.0 cost +8 %). */
export const RECENT_FLOOR = 0.5;
export const LEVEL_MAX = 6;
/** The share of lead-time windows whose starts the ready instances cover (the 97th percentile; bench/pools: 0.95 left the noisiest trace at 95.0 % hot hits, 0.99 costs 2-3 points of instance-hours more). */
export const SERVICE_LEVEL = 0.97;
/** Lead time when no deployment of the offer and region was measured yet, in test drive hours (15 minutes). */
export const DEFAULT_DEPLOYMENT_HOURS = 0.25;
/** Margin added to the measured deployment duration, in test drive hours (5 minutes), and its factor. */
export const LEAD_MARGIN_HOURS = 5 / 60;
export const LEAD_FACTOR = 1.25;
/** The keep window (scale down only below what it needs) is the lead time plus this, in test drive hours. */
export const KEEP_EXTRA_HOURS = 1;

/** A forecast hot policy of one region (testDrive.regions[].hot as an object). */
export interface HotForecastPolicy {
  policy: 'forecast';
  /** Fewest hot instances, 0-99 (Partner Center's range for a hot count). */
  min: number;
  /** Most hot instances, 1-99, >= min; also the slots the pool may hold. */
  max: number;
  /** Optional cost cap: hot instance-hours over the last 24 hours beyond which the pool keeps to `min`. */
  maxInstanceHoursPerDay?: number;
}

/** testDrive.regions[].hot: a fixed count (0-99) or a forecast policy. */
export type HotSetting = number | HotForecastPolicy;

/** The bounds of a hot setting: a fixed count n is {min: n, max: n}. */
export function hotBounds(hot: HotSetting): { min: number; max: number } {
  return typeof hot === 'number' ? { min: hot, max: hot } : { min: hot.min, max: hot.max };
}

/** Start requests per hour bucket: key floor(epochMs / hourMs), value the count. */
export type HourlyDemand = ReadonlyMap<number, number>;

/** Buckets epoch-ms request times into HourlyDemand. */
export function hourlyDemand(times: Iterable<number>, hourMs: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of times) {
    const h = Math.floor(t / hourMs);
    out.set(h, (out.get(h) ?? 0) + 1);
  }
  return out;
}

/** What the forecast expects over a window. */
export interface DemandForecast {
  /** Expected start requests in [now, now + window). */
  expectedStarts: number;
  /** Mean expected starts per hour over the window. */
  ratePerHour: number;
  /** 'seasonal' (>= 1 week of history), 'recent' (less), 'none' (no history). */
  method: 'seasonal' | 'recent' | 'none';
  /** The recent level factor applied to the seasonal profile (1 for other methods). */
  level: number;
  /** Whole hours of history available (capped at FORECAST_HISTORY_WEEKS weeks). */
  historyHours: number;
}

/**
 * Expected start requests in [now, now + windowMs).
 * @param demand  starts per hour bucket (hourlyDemand), including the current, partial hour
 * @param historySince  epoch ms from which demand was recorded (the offer's publish time); earlier hours are unknown, not zero
 * @param hourMs  length of one hour bucket in ms (test drive hour)
 */
export function forecastStarts(demand: HourlyDemand, historySince: number, now: number, windowMs: number, hourMs: number): DemandForecast {
  const nowHour = Math.floor(now / hourMs);
  const firstHour = Math.max(Math.ceil(historySince / hourMs), nowHour - FORECAST_HISTORY_WEEKS * WEEK_HOURS);
  const historyHours = Math.max(0, nowHour - firstHour);
  const c = (h: number) => (h >= firstHour && h <= nowHour ? (demand.get(h) ?? 0) : 0);
  const elapsed = (now - nowHour * hourMs) / hourMs; // share of the current hour gone

  const over = (rate: (h: number) => number): number => {
    let sum = 0;
    for (let t = now, end = now + windowMs; t < end; ) {
      const h = Math.floor(t / hourMs);
      const next = Math.min(end, (h + 1) * hourMs);
      sum += (rate(h) * (next - t)) / hourMs;
      t = next;
    }
    return sum;
  };
  const done = (f: Omit<DemandForecast, 'ratePerHour' | 'historyHours'>): DemandForecast => ({ ...f, ratePerHour: windowMs > 0 ? (f.expectedStarts * hourMs) / windowMs : 0, historyHours });

  if (historyHours < WEEK_HOURS) {
    if (historyHours < 1 && c(nowHour) === 0) return done({ expectedStarts: 0, method: 'none', level: 1 });
    const meanOver = (hours: number) => {
      const span = Math.min(hours, historyHours) + elapsed;
      let n = c(nowHour);
      for (let h = nowHour - Math.min(hours, historyHours); h < nowHour; h++) n += c(h);
      return span > 0 ? n / span : 0;
    };
    const rate = Math.max(meanOver(24), meanOver(3));
    return done({ expectedStarts: over(() => rate), method: 'recent', level: 1 });
  }

  /** The seasonal profile of hour h; null when no past week of h is known. */
  const profile = (h: number): number | null => {
    let sum = 0;
    let weights = 0;
    for (let k = 1, w = 1; k <= FORECAST_HISTORY_WEEKS; k++, w *= WEEK_DECAY) {
      const past = h - k * WEEK_HOURS;
      if (past < firstHour || past > nowHour) continue;
      // A neighbour outside the known history (or still to come) stands in with the hour itself.
      const near = (n: number) => (n < firstHour || n > nowHour ? c(past) : c(n));
      sum += w * (0.25 * near(past - 1) + 0.5 * c(past) + 0.25 * near(past + 1));
      weights += w;
    }
    return weights > 0 ? sum / weights : null;
  };
  // The level compares the recent hours that have a profile (the current hour for its elapsed share).
  let actual = 0;
  let expected = 0;
  for (let h = nowHour - LEVEL_HOURS; h <= nowHour; h++) {
    const p = profile(h);
    if (p === null) continue;
    actual += c(h);
    expected += h === nowHour ? elapsed * p : p;
  }
  const level = Math.min(LEVEL_MAX, Math.max(LEVEL_MIN, (actual + 1) / (expected + 1)));
  // Demand of the last hour sets a floor: the profile cannot lift an hour it knows as quiet (a launch at night).
  const lastHour = c(nowHour) + (1 - elapsed) * c(nowHour - 1);
  return done({ expectedStarts: over((h) => Math.max(level * (profile(h) ?? 0), RECENT_FLOOR * lastHour)), method: 'seasonal', level });
}

/** The smallest k with P(N <= k) >= p for N ~ Poisson(lambda) (0 when lambda is 0). */
export function poissonQuantile(lambda: number, p: number): number {
  if (!(lambda > 0)) return 0;
  const probabilities = poissonDistribution(lambda) ?? [];
  let cumulative = 0;
  for (let k = 0; k < probabilities.length; k++) {
    cumulative += probabilities[k];
    if (cumulative >= p) return k;
  }
  return probabilities.length;
}

/**
 * Lead time of a hot pool in ms: the 90th percentile of the measured deployment durations (ms, of the
 * offer and region's recent hot and warm instances) x LEAD_FACTOR plus LEAD_MARGIN_HOURS; with fewer
 * than 3 measurements DEFAULT_DEPLOYMENT_HOURS stands in for the percentile.
 */
export function leadTimeMs(deploymentDurationsMs: readonly number[], hourMs: number): number {
  const p90 = deploymentDurationsMs.length >= 3 ? quantile([...deploymentDurationsMs], 0.9) : DEFAULT_DEPLOYMENT_HOURS * hourMs;
  return Math.round(p90 * LEAD_FACTOR + LEAD_MARGIN_HOURS * hourMs);
}

/** The hot target of one region and why (GET /capacity `forecast`). */
export interface HotTarget {
  /** Hot instances (assigned + ready + deploying) the pool grows to. */
  target: number;
  /** The pool removes idle ready instances only while it holds more than this (>= target). */
  keep: number;
  /** Ready instances wanted on top of the assigned ones (before clamping). */
  readyWanted: number;
  /** Expected starts within the lead time. */
  expectedStarts: number;
  /** Lead-time window, ms. */
  windowMs: number;
  method: DemandForecast['method'] | 'fixed';
  level: number;
  /** Why the target is what it is, in words. */
  reason: string;
}

/** Inputs of hotTargetFor: the policy, the region's demand and pool facts. */
export interface HotTargetInput {
  hot: HotSetting;
  demand: HourlyDemand;
  /** Epoch ms from which demand was recorded (the offer's publish time). */
  historySince: number;
  now: number;
  hourMs: number;
  /** Hot instances assigned to sessions now (they hold their slot until the session ends). */
  assigned: number;
  /** Recent deployment durations of the offer and region, ms. */
  deploymentDurationsMs: readonly number[];
  /** Hot instance-hours (test drive hours) spent in the last 24 hours, for maxInstanceHoursPerDay. */
  instanceHoursLast24h: number;
}

/**
 * The hot target of one region: a fixed count as it is; a forecast policy as
 * clamp(assigned + Q(expected starts in the lead time), min, max) with Q the SERVICE_LEVEL quantile of a
 * Poisson demand, and `keep` the same over the lead time + KEEP_EXTRA_HOURS. With the cost cap reached
 * the target is clamp(assigned, min, max): no new ready instance until the trailing 24 hours allow.
 */
export function hotTargetFor(input: HotTargetInput): HotTarget {
  const { hot, hourMs } = input;
  if (typeof hot === 'number') return { target: hot, keep: hot, readyWanted: hot, expectedStarts: 0, windowMs: 0, method: 'fixed', level: 1, reason: `fixed count of ${hot}` };
  const clamp = (n: number) => Math.min(hot.max, Math.max(hot.min, n));
  const windowMs = leadTimeMs(input.deploymentDurationsMs, hourMs);
  const lead = forecastStarts(input.demand, input.historySince, input.now, windowMs, hourMs);
  const longer = forecastStarts(input.demand, input.historySince, input.now, windowMs + KEEP_EXTRA_HOURS * hourMs, hourMs);
  const readyWanted = poissonQuantile(lead.expectedStarts, SERVICE_LEVEL);
  const keepWanted = poissonQuantile(longer.expectedStarts, SERVICE_LEVEL);
  const minutes = Math.round((windowMs / hourMs) * 60);
  const base = { expectedStarts: round2(lead.expectedStarts), windowMs, method: lead.method, level: round2(lead.level), readyWanted };
  if (hot.maxInstanceHoursPerDay !== undefined && input.instanceHoursLast24h >= hot.maxInstanceHoursPerDay) {
    const t = clamp(input.assigned);
    return { ...base, target: t, keep: t, reason: `cost cap: ${round2(input.instanceHoursLast24h)} of ${hot.maxInstanceHoursPerDay} instance-hours used in the last 24 hours; holding ${t} (min ${hot.min})` };
  }
  const target = clamp(input.assigned + readyWanted);
  const keep = Math.max(target, clamp(input.assigned + keepWanted));
  if (lead.method === 'none') return { ...base, target, keep, reason: `no start history yet: ${input.assigned} assigned, min ${hot.min}` };
  const why = `${base.expectedStarts} starts expected in the next ${minutes} min (${lead.method === 'seasonal' ? `hour-of-week profile x level ${base.level}` : 'recent rate, less than a week of history'})`;
  const bound = target === hot.max && input.assigned + readyWanted > hot.max ? `, capped at max ${hot.max}` : target === hot.min && input.assigned + readyWanted < hot.min ? `, raised to min ${hot.min}` : '';
  return { ...base, target, keep, reason: `${why}: ${input.assigned} assigned + ${readyWanted} ready at the ${Math.round(SERVICE_LEVEL * 100)}th percentile${bound}` };
}

/** One hot instance not assigned to a session, as planHotPool sees it. */
export interface IdleHotInstance {
  id: string;
  /** Epoch ms it became ready; null while still deploying. */
  readyAt: number | null;
}

/**
 * What a hot pool does next: reserve `reserve` new instances (held < target), or remove the instances in
 * `remove` (held > keep): ready ones idle for at least `idleMs`, longest idle first. Instances still
 * deploying are never removed for being surplus (they will be claimed or become idle first).
 * @param held  hot instances the pool holds (deploying, ready, assigned)
 */
export function planHotPool(p: { target: number; keep: number; held: number; unassigned: readonly IdleHotInstance[]; now: number; idleMs: number }): { reserve: number; remove: string[] } {
  if (p.held < p.target) return { reserve: p.target - p.held, remove: [] };
  const surplus = p.held - p.keep;
  if (surplus <= 0) return { reserve: 0, remove: [] };
  const idle = p.unassigned.filter((i) => i.readyAt !== null && p.now - i.readyAt >= p.idleMs).sort((a, b) => a.readyAt! - b.readyAt!);
  return { reserve: 0, remove: idle.slice(0, surplus).map((i) => i.id) };
}

/** Instance-hours (in hours of `hourMs`) of lifetimes [from, to ?? now) overlapping [now - 24 hours, now). */
export function instanceHoursLast24h(lifetimes: ReadonlyArray<{ from: number; to: number | null }>, now: number, hourMs: number): number {
  const start = now - 24 * hourMs;
  let ms = 0;
  for (const l of lifetimes) ms += Math.max(0, Math.min(now, l.to ?? now) - Math.max(start, l.from));
  return ms / hourMs;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
