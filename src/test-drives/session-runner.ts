import { Inject, Logger } from '@nestjs/common';
import { DataProtector } from '../azure/data-protector';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { OfferEntity } from '../offers/offer.entity';
import { SessionEntity } from '../sessions/session.entity';
import { SessionsRepository } from '../sessions/sessions.repository';

/** A session still `provisioning` without a slot this long after its request was abandoned (crash mid-start). */
export const ABANDONED_START_MS = 120_000;

/** What one step of a session driver leaves to do: go on at once, wait for a later run, or nothing. */
export type StepOutcome = 'continue' | 'wait' | 'done';

/**
 * Serialised per-session background work with in-flight tracking, for the test drive types whose
 * sessions are driven by resumable steps (Dynamics 365, Logic app):
 * - run(): runs of one session are chained, never concurrent in this process; a failing run is logged
 *   (`session step failed`), never thrown;
 * - track(): other background promises (kicked by a request) the shutdown waits for;
 * - stop() / drain(): no new run starts after stop(); drain() waits for the runs in progress and the
 *   tracked work (a run may chain another: up to three rounds).
 */
export class SessionRunner {
  /** Per session: the run in progress. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Set by stop() (application shutdown): no new session run starts. */
  private stopping = false;

  constructor(private readonly logger: Logger) {}

  /** Whether a run of `sessionId` is in progress (or chained) in this process. */
  isRunning(sessionId: string): boolean {
    return this.running.has(sessionId);
  }

  /** Runs `work` for `sessionId` now, chained after a run already in progress for it; resolves when it is done. */
  run(sessionId: string, work: () => Promise<void>): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const prev = this.running.get(sessionId) ?? Promise.resolve();
    const p: Promise<void> = prev
      .then(work)
      .catch((err) => this.logger.warn({ sessionId, err: (err as Error).message }, 'session step failed'))
      .finally(() => {
        if (this.running.get(sessionId) === p) this.running.delete(sessionId);
      });
    this.running.set(sessionId, p);
    return p;
  }

  /** Keeps `p` (background work) until it settles, so drain() waits for it. */
  track(p: Promise<unknown>): void {
    const t = p.finally(() => this.inflight.delete(t));
    this.inflight.add(t);
  }

  /** No new run starts from now on. */
  stop(): void {
    this.stopping = true;
  }

  /** Waits for the runs in progress and the tracked work (up to three rounds: a run may chain another). */
  async drain(): Promise<void> {
    for (let i = 0; i < 3 && (this.running.size || this.inflight.size); i++) {
      await Promise.allSettled([...this.running.values(), ...this.inflight]);
    }
  }
}

/**
 * The run loop of a session driver: up to `maxSteps` steps of session `sessionId` of `offer`, each on
 * a fresh read of the session, until a step waits or is done. A `provisioning` session without a slot
 * is not driven (its start is still being claimed), and is failed (StartAbandoned) once that has lasted
 * ABANDONED_START_MS; `provisioning` sessions go to `forward`, `ending` ones to `teardown`; any other
 * state (or a session gone or of another offer) stops the loop (`inactive` is called for other states).
 */
export async function runSessionSteps(
  deps: { sessions: SessionsRepository; clock: Clock },
  offer: OfferEntity,
  sessionId: string,
  maxSteps: number,
  steps: {
    forward(s: SessionEntity, now: number): Promise<StepOutcome>;
    teardown(s: SessionEntity, now: number): Promise<StepOutcome>;
    inactive?(): void;
  },
): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    const s = await deps.sessions.findById(sessionId);
    if (!s || s.offerId !== offer.id) return;
    const now = deps.clock.now();
    let outcome: StepOutcome;
    if (s.state === 'provisioning') {
      if (s.slot === null) {
        if (now - s.requestedAt > ABANDONED_START_MS) {
          await deps.sessions.markFailed(s.id, { code: 'StartAbandoned', message: 'The start of this test drive was interrupted; please start a new one.' }, now);
        }
        return;
      }
      outcome = await steps.forward(s, now);
    } else if (s.state === 'ending') {
      outcome = await steps.teardown(s, now);
    } else {
      steps.inactive?.();
      return;
    }
    if (outcome !== 'continue') return;
  }
}

/**
 * Base of a session driver whose sessions go through resumable steps (Dynamics 365, Logic app): run()
 * is the run loop (runSessionSteps, at most `maxStepsPerRun` steps) over the driver's forward steps
 * (`provisioning` sessions) and teardown steps (`ending` ones).
 */
export abstract class SessionStepDriver {
  // The core services every driver uses, injected as properties (Nest's way for a base class) so that a
  // driver's constructor lists only its own dependencies. Set by Nest before any run().
  @Inject(SessionsRepository) protected readonly sessions!: SessionsRepository;
  @Inject(Clock) protected readonly clock!: Clock;
  @Inject(DataProtector) protected readonly protector!: DataProtector;
  @Inject(APP_CONFIG) protected readonly config!: AppConfig;

  protected constructor(private readonly maxStepsPerRun: number) {}

  /** Runs steps of session `sessionId` until it waits or is done. Errors are recorded, never thrown. */
  async run(offer: OfferEntity, sessionId: string): Promise<void> {
    await runSessionSteps({ sessions: this.sessions, clock: this.clock }, offer, sessionId, this.maxStepsPerRun, {
      forward: (s, now) => this.forward(offer, s, now),
      teardown: (s, now) => this.teardown(offer, s, now),
      inactive: () => this.inactive(sessionId),
    });
  }

  /** One step of a `provisioning` session (it holds a slot). */
  protected abstract forward(offer: OfferEntity, s: SessionEntity, now: number): Promise<StepOutcome>;

  /** One step of an `ending` session. */
  protected abstract teardown(offer: OfferEntity, s: SessionEntity, now: number): Promise<StepOutcome>;

  /** The session is in another state (or gone): what the driver keeps for it in memory can go. */
  protected inactive(_sessionId: string): void {}

  /** The last step of a teardown: the session becomes `failed` (keeping its failure) when it ended because it failed, else `ended`; either frees its slot. */
  protected async finish(s: SessionEntity, now: number): Promise<void> {
    if (s.endReason === 'failed') await this.sessions.markFailed(s.id, s.failure ?? { code: 'ProvisioningFailed', message: 'The test drive could not be set up.' }, now);
    else await this.sessions.markEnded(s.id, now);
  }
}
