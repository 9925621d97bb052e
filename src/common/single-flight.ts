/**
 * One run at a time of an async job within this process, and no call answered by a run that began
 * before it. `run()` starts `job` when none is in flight; a call made while a run is in flight gets a
 * follow-up run that starts when that one settles, shared by every call made in the meantime (so a
 * burst costs at most two runs). Used by the delivery loops (leads, callbacks, alert notifications) and
 * the resource group tag flush: a timer tick and an explicit call never deliver side by side, and work
 * written just before a call (a lead inserted by a start) is always seen by the run that answers it.
 */
export class SingleFlight<T> {
  private current: Promise<T> | null = null;
  private next: Promise<T> | null = null;

  constructor(private readonly job: () => Promise<T>) {}

  /** A run that starts at or after this call. Rejects as that run's job rejects. */
  run(): Promise<T> {
    if (!this.current) return this.start();
    if (!this.next) {
      const next: Promise<T> = this.current
        .catch(() => undefined)
        .then(() => {
          this.next = null;
          return this.start();
        });
      this.next = next;
    }
    return this.next;
  }

  /** The last run in flight or queued, if any (shutdown waits for it). */
  get inFlight(): Promise<T> | null {
    return this.next ?? this.current;
  }

  private start(): Promise<T> {
    const p = this.job().finally(() => {
      if (this.current === p) this.current = null;
    });
    this.current = p;
    return p;
  }
}
