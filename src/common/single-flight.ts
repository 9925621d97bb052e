/**
 * One run at a time of an async job within this process: `run()` starts `job` unless a run is in
 * flight, in which case it returns that run's promise (callers share it). Used by the delivery loops
 * (leads, alert notifications): a timer tick and an explicit call never deliver side by side.
 */
export class SingleFlight<T> {
  private current: Promise<T> | null = null;

  constructor(private readonly job: () => Promise<T>) {}

  /** The run in flight, or a new one. Rejects as the job rejects. */
  run(): Promise<T> {
    if (this.current) return this.current;
    const p = this.job().finally(() => {
      if (this.current === p) this.current = null;
    });
    this.current = p;
    return p;
  }

  /** The run in flight, if any (shutdown waits for it). */
  get inFlight(): Promise<T> | null {
    return this.current;
  }
}
