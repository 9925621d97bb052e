import { HotSetting, hotTargetFor, instanceHoursLast24h, planHotPool } from '../../modules/azure-resource-manager/pools/hot-policy';
import { DemandTrace, HOUR_MS, seededRandom, WEEK_MS } from './traces';

/**
 * A hot-pool simulator (issue 15): replays a demand trace against one region of an ARM test drive on a
 * simulated clock, with the service's own pool rules from modules/azure-resource-manager/pools/hot-policy.ts
 * (hotTargetFor: fixed count or forecast target; planHotPool: what to reserve and what to remove;
 * leadTimeMs from the measured deployment durations; instanceHoursLast24h for the cost cap), applied every
 * reconcile tick as ArmTestDriveType.converge applies them. The claim rule is the service's: a start takes
 * a ready hot instance (a hit, access in seconds), else a cold instance deployed on request while the
 * region has cold capacity (the customer waits for the deployment), else it is refused. A claimed
 * instance holds its slot until its session ends and is then deleted (never reused).
 */

/** Settings of one simulated region. Times in ms of the simulated clock; hours are real hours. */
export interface SimulationOptions {
  trace: DemandTrace;
  hot: HotSetting;
  /** Cold instances (deployed on request) the region allows at once; default 99 (Partner Center maximum). */
  cold?: number;
  /** The test drive's duration (Partner Center: whole hours); default 2. */
  durationHours?: number;
  /** Customers end early: a session lasts min(duration, 10 min + Exp(mean)); mean in minutes, default 50. */
  meanUseMinutes?: number;
  /** Deployment durations: log-normal with this median (minutes, default 8) and log-sigma (default 0.3). */
  deploymentMedianMinutes?: number;
  deploymentSigma?: number;
  /** Start of the measured period (before it: history warm-up), ms; default one week. */
  measureFromMs?: number;
  /** Reconcile interval (the forecast is refreshed as often), ms; default one minute. */
  tickMs?: number;
  seed?: number;
}

/** What a simulated policy achieved over the measured period. */
export interface SimulationResult {
  starts: number;
  /** Starts served by a ready hot instance. */
  hotHits: number;
  hitRate: number;
  refused: number;
  /** Time to ready per served start, ms: 0 for a hit, the deployment for a cold start. */
  waitP50Ms: number;
  waitP95Ms: number;
  /** Instance-hours of every instance (hot and cold, deploying, ready or assigned). */
  instanceHours: number;
  /** Instance-hours of hot instances not assigned to anyone (the cost of waiting). */
  idleHotHours: number;
  /** Most hot instances held at once. */
  peakHot: number;
}

interface Instance {
  kind: 'hot' | 'cold';
  createdAt: number;
  readyAt: number | null;
  /** Deployment done at (ms). */
  deployedAt: number;
  /** Session end (ms) once assigned; null while unassigned. */
  endsAt: number | null;
  /** When it was assigned. */
  assignedAt: number | null;
  /** Id for planHotPool. */
  id: string;
}

/** Runs one policy over one trace. Deterministic for the options (seeded deployment and usage draws). */
export function simulatePool(o: SimulationOptions): SimulationResult {
  const cold = o.cold ?? 99;
  const durationMs = (o.durationHours ?? 2) * HOUR_MS;
  const tickMs = o.tickMs ?? 60_000;
  const measureFrom = o.measureFromMs ?? WEEK_MS;
  const end = o.trace.durationMs;
  const rndDeploy = seededRandom((o.seed ?? 7) * 31 + 1);
  const rndUse = seededRandom((o.seed ?? 7) * 31 + 2);
  const deployMs = () => Math.round((o.deploymentMedianMinutes ?? 8) * 60_000 * Math.exp((o.deploymentSigma ?? 0.3) * gaussian(rndDeploy)));
  const useMs = () => Math.min(durationMs, 10 * 60_000 + Math.round(-Math.log(1 - rndUse()) * (o.meanUseMinutes ?? 50) * 60_000));

  let live: Instance[] = [];
  const demand = new Map<number, number>();
  const durations: number[] = []; // recent hot deployment durations, newest last
  const hotLifetimes: Array<{ from: number; to: number | null }> = [];
  const lifetimeOf = new Map<Instance, { from: number; to: number | null }>();
  let nextId = 0;
  const r: SimulationResult = { starts: 0, hotHits: 0, hitRate: 0, refused: 0, waitP50Ms: 0, waitP95Ms: 0, instanceHours: 0, idleHotHours: 0, peakHot: 0 };
  const waits: number[] = [];
  let last = 0;

  const create = (kind: Instance['kind'], now: number): Instance => {
    const d = deployMs();
    const inst: Instance = { kind, createdAt: now, readyAt: null, deployedAt: now + d, endsAt: null, assignedAt: null, id: String(nextId++) };
    live.push(inst);
    if (kind === 'hot') {
      const l = { from: now, to: null };
      hotLifetimes.push(l);
      lifetimeOf.set(inst, l);
    }
    return inst;
  };
  const remove = (inst: Instance, now: number) => {
    live = live.filter((i) => i !== inst);
    const l = lifetimeOf.get(inst);
    if (l) l.to = now;
    lifetimeOf.delete(inst);
  };
  /** Accrues instance-hours from `last` to `now` (measured period only). */
  const accrue = (now: number) => {
    const from = Math.max(last, measureFrom);
    if (now > from) {
      const h = (now - from) / HOUR_MS;
      r.instanceHours += live.length * h;
      r.idleHotHours += live.filter((i) => i.kind === 'hot' && i.endsAt === null).length * h;
    }
    last = now;
  };
  /** Deployments done and sessions over by `now`. */
  const settle = (now: number) => {
    for (const i of [...live]) {
      if (i.readyAt === null && i.deployedAt <= now) {
        i.readyAt = i.deployedAt;
        if (i.kind === 'hot') {
          durations.push(i.deployedAt - i.createdAt);
          if (durations.length > 20) durations.shift();
        } else i.endsAt = i.deployedAt + useMs(); // a cold instance is assigned once deployed
      }
      if (i.endsAt !== null && i.endsAt <= now) remove(i, i.endsAt);
    }
  };
  const reconcile = (now: number) => {
    const hot = live.filter((i) => i.kind === 'hot');
    const assigned = hot.filter((i) => i.endsAt !== null).length;
    const unassigned = hot.filter((i) => i.endsAt === null);
    while (hotLifetimes.length && hotLifetimes[0].to !== null && hotLifetimes[0].to < now - 24 * HOUR_MS) hotLifetimes.shift();
    const t = hotTargetFor({
      hot: o.hot,
      demand,
      historySince: o.trace.starts[0] ?? 0, // as the service: history starts at the first request
      now,
      hourMs: HOUR_MS,
      assigned,
      deploymentDurationsMs: durations,
      instanceHoursLast24h: typeof o.hot === 'number' || o.hot.maxInstanceHoursPerDay === undefined ? 0 : instanceHoursLast24h(hotLifetimes, now, HOUR_MS),
    });
    const plan = planHotPool({ target: t.target, keep: t.keep, held: hot.length, unassigned: unassigned.map((i) => ({ id: i.id, readyAt: i.readyAt })), now, idleMs: t.windowMs });
    for (const id of plan.remove) remove(hot.find((i) => i.id === id)!, now);
    for (let k = 0; k < plan.reserve; k++) create('hot', now);
    r.peakHot = Math.max(r.peakHot, live.filter((i) => i.kind === 'hot').length);
  };

  let nextTick = 0;
  for (const at of [...o.trace.starts, end]) {
    // Reconcile ticks (and the deployments and session ends between them) up to this start.
    while (nextTick <= at && nextTick < end) {
      accrue(nextTick);
      settle(nextTick);
      reconcile(nextTick);
      nextTick += tickMs;
    }
    if (at >= end) break;
    accrue(at);
    settle(at);
    demand.set(Math.floor(at / HOUR_MS), (demand.get(Math.floor(at / HOUR_MS)) ?? 0) + 1);
    const measured = at >= measureFrom;
    if (measured) r.starts++;
    const ready = live.find((i) => i.kind === 'hot' && i.readyAt !== null && i.endsAt === null);
    if (ready) {
      ready.assignedAt = at;
      ready.endsAt = at + useMs();
      if (measured) {
        r.hotHits++;
        waits.push(0);
      }
    } else if (live.filter((i) => i.kind === 'cold').length < cold) {
      const inst = create('cold', at);
      if (measured) waits.push(inst.deployedAt - at);
    } else if (measured) r.refused++;
  }
  accrue(end);
  settle(end);
  waits.sort((a, b) => a - b);
  const pct = (p: number) => (waits.length ? waits[Math.min(waits.length - 1, Math.ceil(p * waits.length) - 1)] : 0);
  r.hitRate = r.starts ? r.hotHits / r.starts : 1;
  r.waitP50Ms = pct(0.5);
  r.waitP95Ms = pct(0.95);
  return r;
}

/**
 * Concurrent sessions over the measured period if every start lasted the whole duration: `peak` (the
 * most at once) and `mean`, the sizes of the two static pools the forecast is compared with.
 */
export function concurrency(trace: DemandTrace, durationHours: number, measureFromMs = WEEK_MS): { peak: number; mean: number } {
  const d = durationHours * HOUR_MS;
  let peak = 0;
  let lo = 0;
  let n = 0;
  for (let hi = 0; hi < trace.starts.length; hi++) {
    const t = trace.starts[hi];
    while (trace.starts[lo] <= t - d) lo++;
    if (t >= measureFromMs) {
      peak = Math.max(peak, hi - lo + 1);
      n++;
    }
  }
  return { peak, mean: (n * d) / (trace.durationMs - measureFromMs) };
}

/** A standard normal draw (Box-Muller) from a uniform source. */
function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}
