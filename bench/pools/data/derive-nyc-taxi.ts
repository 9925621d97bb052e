import { readFileSync } from 'node:fs';

/**
 * Re-derives `bench/pools/data/nyc-taxi-hourly.csv` from Numenta Anomaly Benchmark's
 * `data/realKnownCause/nyc_taxi.csv` (NYC taxi passengers per 30 minutes, New York local time). See SOURCES.md.
 *
 *   node <compiled>/derive-nyc-taxi.js <nyc_taxi.csv> [firstMonday=2014-09-08] [weeks=5] [peakPerHour=15] > nyc-taxi-hourly.csv
 *
 * Output: `hour,rate`, one row per hour (hour 0 = firstMonday 00:00), rate = passengers in that hour
 * (sum of its two 30-minute buckets) x (peakPerHour / the window's busiest hour), 4 decimals. The scale
 * factor and the window are reported on stderr. Throws when a 30-minute bucket of the window is missing.
 */
export function deriveHourly(rawCsv: string, firstMonday: string, weeks: number, peakPerHour: number): { csv: string; scale: number; peakPassengers: number } {
  const startMs = Date.parse(`${firstMonday}T00:00:00Z`);
  if (!Number.isFinite(startMs) || new Date(startMs).getUTCDay() !== 1) throw new Error(`${firstMonday} is not a Monday (YYYY-MM-DD)`);
  const hours = weeks * 7 * 24;
  const halfHourMs = 30 * 60 * 1000;
  const buckets = new Array<number | undefined>(hours * 2).fill(undefined);
  for (const line of rawCsv.split(/\r?\n/).slice(1)) {
    const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}),(\d+(?:\.\d+)?)$/.exec(line.trim());
    if (!m) continue;
    // The timestamps are New York local time; they are read as naive wall-clock times (UTC arithmetic, no DST).
    const index = (Date.parse(`${m[1]}T${m[2]}Z`) - startMs) / halfHourMs;
    if (index < 0 || index >= buckets.length || !Number.isInteger(index)) continue;
    if (buckets[index] !== undefined) throw new Error(`duplicate bucket ${m[1]} ${m[2]}`);
    buckets[index] = Number(m[3]);
  }
  const hourly: number[] = [];
  for (let h = 0; h < hours; h++) {
    const a = buckets[2 * h];
    const b = buckets[2 * h + 1];
    if (a === undefined || b === undefined) throw new Error(`missing 30-minute bucket in hour ${h} of the window`);
    hourly.push(a + b);
  }
  const peakPassengers = Math.max(...hourly);
  const scale = peakPerHour / peakPassengers;
  const csv = ['hour,rate', ...hourly.map((p, h) => `${h},${(p * scale).toFixed(4)}`)].join('\n') + '\n';
  return { csv, scale, peakPassengers };
}

if (require.main === module) {
  const [file, firstMonday = '2014-09-08', weeks = '5', peak = '15'] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: derive-nyc-taxi <nyc_taxi.csv> [firstMonday=2014-09-08] [weeks=5] [peakPerHour=15]\n');
    process.exit(2);
  }
  const { csv, scale, peakPassengers } = deriveHourly(readFileSync(file, 'utf8'), firstMonday, Number(weeks), Number(peak));
  process.stdout.write(csv);
  process.stderr.write(`window ${firstMonday} + ${weeks} weeks; peak hour ${peakPassengers} passengers; scale ${scale} (= ${peak} / ${peakPassengers})\n`);
}
