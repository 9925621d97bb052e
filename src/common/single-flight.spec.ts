import { SingleFlight } from './single-flight';

/** A job whose runs finish when the test says so. */
function gatedJob() {
  const gates: Array<() => void> = [];
  let started = 0;
  const job = () => {
    const n = ++started;
    return new Promise<number>((resolve) => gates.push(() => resolve(n)));
  };
  return { job, gates, started: () => started };
}

describe('SingleFlight', () => {
  it('calls while no run is in flight each start one', async () => {
    let n = 0;
    const f = new SingleFlight(async () => ++n);
    expect(await f.run()).toBe(1);
    expect(await f.run()).toBe(2);
    expect(f.inFlight).toBeNull();
  });

  it('a call during a run is answered by a run that starts after it, shared by every call of that time (defect: it got the run already in flight, which began before its work was written)', async () => {
    const g = gatedJob();
    const f = new SingleFlight(g.job);
    const first = f.run();
    const second = f.run();
    const third = f.run();
    expect(g.started()).toBe(1);
    g.gates[0]();
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(g.started()).toBe(2); // one follow-up for both later calls, not one each
    g.gates[1]();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    expect(f.inFlight).toBeNull();
  });

  it('inFlight covers the follow-up run (shutdown waits for both)', async () => {
    const g = gatedJob();
    const f = new SingleFlight(g.job);
    void f.run();
    void f.run();
    const all = f.inFlight!;
    g.gates[0]();
    await new Promise((r) => setImmediate(r));
    g.gates[1]();
    expect(await all).toBe(2);
  });

  it('a follow-up runs after a run that failed, and the failure reaches only its own callers', async () => {
    let n = 0;
    let fail: (e: Error) => void = () => undefined;
    const f = new SingleFlight(() => (++n === 1 ? new Promise<number>((_, rej) => (fail = rej)) : Promise.resolve(n)));
    const first = f.run();
    const second = f.run();
    fail(new Error('boom'));
    await expect(first).rejects.toThrow('boom');
    expect(await second).toBe(2);
  });
});
