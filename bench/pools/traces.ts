import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Demand traces for the hot-pool simulator: when customers click "Test drive" on a marketplace offer.
 * Every trace is 5 weeks long and starts on a Monday 00:00 UTC (trace time 0); the simulator uses week 1 as
 * history warm-up. Generation is deterministic for a given seed (own PRNG, no Math.random) and fast.
 */

/** One replayable demand trace: start request times, epoch-free (ms since the trace's start, sorted ascending). */
export interface DemandTrace {
  name: string;
  description: string;
  /** ms */
  durationMs: number;
  /** ms since trace start, ascending */
  starts: number[];
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
/** Length of every trace of demandTraces(): 5 weeks (week 1 = warm-up history). */
export const TRACE_WEEKS = 5;

/** A demand spike on top of the seasonal rate (a launch, a campaign, a marketplace feature). */
export interface DemandSpike {
  /** ms since trace start where the rate jumps to `factor` x the seasonal rate */
  atMs: number;
  /** rate multiplier during the plateau, e.g. 4.5 */
  factor: number;
  /** ms the full `factor` lasts */
  plateauMs: number;
  /**
   * ms over which the extra demand then fades: the excess (factor - 1) decays exponentially with time constant
   * decayMs / 4, so ~2 % of it is left after decayMs.
   */
  decayMs: number;
}

/** Inputs of syntheticTrace(). Rates are expected starts per hour; hours are UTC hours of the trace's day. */
export interface SyntheticTraceOptions {
  name: string;
  description: string;
  /** PRNG seed (any 32-bit integer) */
  seed: number;
  /** trace length in weeks (starts Monday 00:00); default TRACE_WEEKS (5) */
  weeks?: number;
  /** 24 expected starts/hour on an average weekday, index = hour of day (UTC) */
  weekdayProfile: readonly number[];
  /** Saturday/Sunday rate as a fraction of the weekday rate at the same hour; default 0.15 */
  weekendFactor?: number;
  /**
   * Multiplicative day-to-day noise: each day's rate is multiplied by a log-normal factor with mean 1 and
   * log-standard deviation dailyNoise (0 = none; 0.15 ~ +-15 %). Default 0.
   */
  dailyNoise?: number;
  /** Same for each hour independently (on top of the daily factor); default 0 */
  hourlyNoise?: number;
  /** spikes multiplied into the rate; default none */
  spikes?: readonly DemandSpike[];
}

/**
 * Small seeded PRNG (mulberry32): returns a function giving uniform floats in [0, 1), the same sequence for the
 * same seed (taken as an unsigned 32-bit integer).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller) from the uniform generator `rnd`. */
function normal(rnd: () => number): number {
  const u = 1 - rnd(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
}

/** Log-normal multiplier with mean 1 and log-standard deviation `sigma` (exactly 1 when sigma is 0, no draw). */
function noiseFactor(rnd: () => number, sigma: number): number {
  return sigma > 0 ? Math.exp(sigma * normal(rnd) - (sigma * sigma) / 2) : 1;
}

/**
 * Non-homogeneous Poisson arrivals for a rate that is constant within each hour: `hourlyRates[h]` expected starts
 * in hour h (h = 0 at trace time 0). Returns integer ms since trace start, ascending. Exact for a piecewise-constant
 * rate: exponential gaps within the hour, restarted at each hour boundary (memorylessness).
 */
export function poissonArrivals(hourlyRates: readonly number[], rnd: () => number): number[] {
  const starts: number[] = [];
  for (let h = 0; h < hourlyRates.length; h++) {
    const rate = hourlyRates[h];
    if (!(rate > 0)) continue;
    const hourStart = h * HOUR_MS;
    let t = 0; // fraction of the hour
    for (;;) {
      t += -Math.log(1 - rnd()) / rate;
      if (t >= 1) break;
      starts.push(hourStart + Math.floor(t * HOUR_MS));
    }
  }
  return starts;
}

/** Rate multiplier of the spikes at trace time `ms` (1 = no spike). Overlapping spikes add their excess. */
function spikeFactor(spikes: readonly DemandSpike[], ms: number): number {
  let factor = 1;
  for (const s of spikes) {
    if (ms < s.atMs) continue;
    const plateauEnd = s.atMs + s.plateauMs;
    const excess = s.factor - 1;
    factor += ms < plateauEnd ? excess : excess * Math.exp((-4 * (ms - plateauEnd)) / s.decayMs);
  }
  return factor;
}

/**
 * Expected starts per hour for every hour of a synthetic trace (length weeks x 168): weekday profile x weekend
 * factor x daily and hourly log-normal noise x spikes (evaluated at the middle of the hour). Exposed so a
 * simulator can compare a policy against the true rate; uses the same draws as syntheticTrace().
 */
export function syntheticHourlyRates(opts: SyntheticTraceOptions, rnd: () => number = seededRandom(opts.seed)): number[] {
  const weeks = opts.weeks ?? TRACE_WEEKS;
  if (opts.weekdayProfile.length !== 24) throw new Error(`weekdayProfile needs 24 hourly rates, got ${opts.weekdayProfile.length}`);
  const weekendFactor = opts.weekendFactor ?? 0.15;
  const rates: number[] = [];
  for (let day = 0; day < weeks * 7; day++) {
    const dayFactor = noiseFactor(rnd, opts.dailyNoise ?? 0) * (day % 7 >= 5 ? weekendFactor : 1); // day 0 = Monday
    for (let hour = 0; hour < 24; hour++) {
      const h = day * 24 + hour;
      const spike = spikeFactor(opts.spikes ?? [], (h + 0.5) * HOUR_MS);
      rates.push(opts.weekdayProfile[hour] * dayFactor * noiseFactor(rnd, opts.hourlyNoise ?? 0) * spike);
    }
  }
  return rates;
}

/**
 * A seeded synthetic trace: the hourly rates of syntheticHourlyRates(opts), then Poisson arrivals at those rates.
 * durationMs = weeks x 7 days; starts in ms since trace start (Monday 00:00 UTC), ascending.
 */
export function syntheticTrace(opts: SyntheticTraceOptions): DemandTrace {
  const rnd = seededRandom(opts.seed);
  const rates = syntheticHourlyRates(opts, rnd);
  return { name: opts.name, description: opts.description, durationMs: rates.length * HOUR_MS, starts: poissonArrivals(rates, rnd) };
}

/**
 * Weekday profile of business-hours demand (UTC), expected starts/hour: ~0.2 at night, ramp 06-09, ~12 from
 * 10:00 to 16:00 (small lunch dip), tapering through the evening.
 */
export const BUSINESS_HOURS_PROFILE: readonly number[] = [
  0.2, 0.2, 0.2, 0.2, 0.2, 0.3, 0.8, 2, 5, 9, 12, 12, 11, 12, 12, 12, 11, 8, 5, 3, 1.8, 1, 0.5, 0.3,
];

/** Low-volume, flatter profile (peak ~3/hour over a long day, ~0.6 at night) for the noisy trace. */
const NOISY_PROFILE: readonly number[] = [
  0.6, 0.5, 0.5, 0.5, 0.5, 0.6, 0.9, 1.5, 2.2, 2.8, 3, 3, 3, 3, 3, 3, 3, 2.8, 2.4, 2, 1.6, 1.2, 0.9, 0.7,
];

/** Where bench/pools/data/nyc-taxi-hourly.csv lives (next to this file). */
export const NYC_TAXI_HOURLY_CSV = join(__dirname, 'data', 'nyc-taxi-hourly.csv');

/**
 * The expected starts per hour of the `nyc-taxi` trace: column `rate` of nyc-taxi-hourly.csv (`hour,rate`, 840
 * rows, hour 0 = Monday 2014-09-08 00:00 New York local time used as trace time 0; see data/SOURCES.md).
 */
export function nycTaxiHourlyRates(file: string = NYC_TAXI_HOURLY_CSV): number[] {
  const lines = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  if (lines[0].trim() !== 'hour,rate') throw new Error(`${file}: expected header 'hour,rate', got '${lines[0]}'`);
  return lines.slice(1).map((line, i) => {
    const [hour, rate] = line.split(',').map(Number);
    if (hour !== i || !Number.isFinite(rate) || rate < 0) throw new Error(`${file}: bad row ${i + 2}: '${line}'`);
    return rate;
  });
}

/**
 * The simulator's standard traces, each 5 weeks from a Monday 00:00 UTC, deterministic for `seed` (default 1):
 * - `business-hours`: weekday peak ~12/hour 10-16 UTC, ~0.2/hour at night, weekends 15 %, +-15 % daily noise;
 * - `launch-spike`: the same shape at half volume (~6/hour) plus a launch on Tuesday of week 4 (x4.5 for 6 h
 *   from 09:00 UTC, fading over 2 days);
 * - `noisy-flat-ish`: ~3/hour peak, flatter day, weekends 50 %, strong daily (log-sigma 0.5) and hourly (0.35) noise;
 * - `nyc-taxi`: Poisson arrivals at the real hourly shape of NYC taxi demand (NAB nyc_taxi.csv, 2014-09-08 to
 *   2014-10-12), scaled to a 15/hour peak.
 */
export function demandTraces(seed = 1): DemandTrace[] {
  const sub = (k: number) => (Math.imul(seed >>> 0, 0x9e3779b1) + k * 0x85ebca6b) >>> 0; // independent stream per trace
  const launchAt = (3 * 7 + 1) * DAY_MS + 9 * HOUR_MS; // week 4 (days 21-27), Tuesday 09:00 UTC
  const nycRates = nycTaxiHourlyRates();
  return [
    syntheticTrace({
      name: 'business-hours',
      description: 'B2B offer: weekday business hours (peak ~12/h 10-16 UTC, ~0.2/h at night), weekends at 15 %, +-15 % daily noise',
      seed: sub(1),
      weekdayProfile: BUSINESS_HOURS_PROFILE,
      weekendFactor: 0.15,
      dailyNoise: 0.15,
    }),
    syntheticTrace({
      name: 'launch-spike',
      description: 'business-hours shape at ~6/h peak plus a launch on Tuesday of week 4: x4.5 for 6 h from 09:00 UTC, fading over 2 days',
      seed: sub(2),
      weekdayProfile: BUSINESS_HOURS_PROFILE.map((r) => r / 2),
      weekendFactor: 0.15,
      dailyNoise: 0.15,
      spikes: [{ atMs: launchAt, factor: 4.5, plateauMs: 6 * HOUR_MS, decayMs: 2 * DAY_MS }],
    }),
    syntheticTrace({
      name: 'noisy-flat-ish',
      description: 'small offer: ~3/h peak over a long day, ~0.5/h at night, weekends at 50 %, strong daily (log-sigma 0.5) and hourly (0.35) noise; Poisson effects dominate',
      seed: sub(3),
      weekdayProfile: NOISY_PROFILE,
      weekendFactor: 0.5,
      dailyNoise: 0.5,
      hourlyNoise: 0.35,
    }),
    {
      name: 'nyc-taxi',
      description: 'real demand shape: NYC taxi passengers per hour (NAB nyc_taxi.csv, Mon 2014-09-08 to Sun 2014-10-12, NY local time), scaled to a 15/h peak, Poisson arrivals',
      durationMs: nycRates.length * HOUR_MS,
      starts: poissonArrivals(nycRates, seededRandom(sub(4))),
    },
  ];
}
