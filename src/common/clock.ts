/**
 * The service's source of time. Everything that reads the time takes a Clock, so tests move time
 * forward instead of sleeping. Times are epoch milliseconds (UTC).
 */
export abstract class Clock {
  /** Current time in epoch milliseconds. */
  abstract now(): number;
  /** Current time as a Date. */
  date(): Date {
    return new Date(this.now());
  }
}

/** Wall-clock time. */
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to (tests). Starts at `start` (epoch ms). */
export class ManualClock extends Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {
    super();
  }
  now(): number {
    return this.current;
  }
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
  set(epochMs: number): void {
    this.current = epochMs;
  }
}

/** Epoch ms -> ISO 8601 string, or null. */
export function iso(epochMs: number | null | undefined): string | null {
  return epochMs === null || epochMs === undefined ? null : new Date(epochMs).toISOString();
}
