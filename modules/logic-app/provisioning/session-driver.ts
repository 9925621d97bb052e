import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataProtectionError } from '../../../src/azure/data-protector';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { outputsAsStrings } from '../../../src/sessions/access-information';
import { SessionEntity, SessionState } from '../../../src/sessions/session.entity';
import { SessionStepDriver, StepOutcome } from '../../../src/test-drives/session-runner';
import { answerToOutputs, deprovisionRequest, errorFromAnswer, isTerminalRunStatus, provisionRequest, runOutputsToAnswer } from '../contract';
import { logicAppConfigOf } from '../logic-app-config';
import { CallbackAnswer, LogicAppGateway, logicAppError, WorkflowInfo } from '../logic-app.gateway';
import { LOGIC_APP_SETTINGS, LogicAppSettings } from '../logic-app-settings';
import { isRetryableKind, kindOfStatus, retryAfterFromHeaders } from '../../../src/remote/remote-error';
import { LogicAppProgress, LogicCallProgress, retryBackoffMs } from './progress';

/** Steps of one session per run() before it yields (each step is one remote call at most). */
const MAX_STEPS_PER_RUN = 12;
/** A session still `provisioning` without a slot this long after its request was abandoned (crash mid-start). */
export { ABANDONED_START_MS } from '../../../src/test-drives/session-runner';
/** Extra grace (clock ms) after the request timeout before a POST without a recorded result counts as lost. */
const LOST_CALL_GRACE_MS = 10_000;

type Outcome = StepOutcome;
type Kind = 'provision' | 'deprovision';

/** What one answer (or followed run) of a Logic App means for the call. */
type Verdict =
  | { kind: 'answered'; body: unknown }
  | { kind: 'follow'; runId: string; location?: string }
  | { kind: 'retry'; error: { code: string; message: string }; retryAfterMs?: number }
  | { kind: 'failed'; error: { code: string; message: string } };

/**
 * Drives one Logic app session (level-triggered, resumable from session.progress):
 *
 * provisioning — POST the provisioning Logic App's callback URL (obtained with listCallbackUrl for
 * every call) with the contract payload; a synchronous 2xx answer's JSON object becomes the outputs;
 * 202 (+ Location) or a 502/504 with a run id is followed (Location while this process has it, else
 * `workflowRuns.get` and the Response action's outputs or the run's outputs) until it ends; 408/429/5xx
 * and network errors are retried with backoff (Retry-After honoured) up to LOGIC_APP_MAX_ATTEMPTS;
 * anything else, a failed run, or LOGIC_APP_TIMEOUT_SECONDS (clock) since the first POST fails the
 * session (state `ending`, endReason `failed`, the reason kept) and deprovisioning runs.
 *
 * ending — cancel a provisioning run still in progress, then call the deprovisioning Logic App with
 * `{sessionId, offerId, outputs, reason}` and follow it the same way; a failed attempt (error answer,
 * failed run, per-attempt timeout) is retried up to LOGIC_APP_MAX_ATTEMPTS, after which the session
 * is finished anyway and `deprovision.gaveUp` is recorded (GET /capacity counts them). Finally
 * `ended` (or `failed` with its reason), which frees the slot.
 */
@Injectable()
export class LogicAppSessionDriver extends SessionStepDriver {
  private readonly logger = new Logger('LogicAppSessionDriver');
  /** Async Location URLs (they carry a `sig`: memory only) per session and call kind. */
  private readonly locations = new Map<string, string>();

  constructor(
    private readonly gateway: LogicAppGateway,
    @Inject(LOGIC_APP_SETTINGS) private readonly settings: LogicAppSettings,
  ) {
    super(MAX_STEPS_PER_RUN);
  }

  protected override inactive(sessionId: string): void {
    this.forget(sessionId);
  }

  private forget(sessionId: string): void {
    this.locations.delete(`provision|${sessionId}`);
    this.locations.delete(`deprovision|${sessionId}`);
  }

  /**
   * Compare-and-set of session.progress (and `patch`): applied only if the session is still in `from`
   * and its progress is what `s` read. On success `s` holds the new progress.
   * @returns false when someone else moved it (the caller re-reads).
   */
  private async save(s: SessionEntity, next: LogicAppProgress, from: SessionState[], now: number, patch: Partial<SessionEntity> = {}): Promise<boolean> {
    const ok = await this.sessions.compareAndSetProgress(s, next, from, now, patch);
    if (ok) s.progress = next as unknown as Record<string, unknown>;
    return ok;
  }

  private progressOf(s: SessionEntity): LogicAppProgress {
    const p = s.progress as LogicAppProgress | null;
    return p?.provision ? p : { provision: { step: 'post', attempts: 0 } };
  }

  // ------------------------------------------------------------------ provisioning

  protected override async forward(offer: OfferEntity, s: SessionEntity, now: number): Promise<Outcome> {
    const all = this.progressOf(s);
    const p = all.provision;
    const cfg = logicAppConfigOf(offer.testDrive);
    const wfName = cfg.logicAppName;
    // Progress-only updates also apply once the session is ending (so teardown sees a run to cancel).
    const set = (next: LogicCallProgress, patch: Partial<SessionEntity> = {}, from: SessionState[] = patch.state ? ['provisioning'] : ['provisioning', 'ending']) =>
      this.save(s, { ...all, provision: next }, from, now, patch);

    if (p.step === 'done' || p.step === 'failed' || p.step === 'cancelled') return 'done';
    if (this.timedOut(p, now)) {
      if (p.runId) await this.gateway.cancelRun(offer, cfg.resourceGroupName, wfName, p.runId).catch(() => undefined);
      return this.failProvision(s, now, this.timeoutError('provision', wfName));
    }
    if (p.nextAt !== undefined && now < p.nextAt) return 'wait';

    let verdict: Verdict;
    // A failure before the POST (reading the workflow or its callback URL) is an attempt too, or it is retried forever.
    let posted = p.step !== 'post' || p.postedAt !== undefined;
    try {
      if (p.step === 'post') {
        if (p.postedAt !== undefined) {
          // A POST without a recorded result: in flight elsewhere, or lost in a crash.
          if (this.mayStillAnswer(p.postedAt, now)) return 'wait';
          verdict = this.lostCall('provision', wfName);
        } else {
          const wf = await this.requireWorkflow(offer, cfg.resourceGroupName, wfName);
          if ('error' in wf) return this.failProvision(s, now, wf.error);
          const url = await this.gateway.callbackUrl(offer, cfg.resourceGroupName, wfName, wf.requestTrigger!.name);
          const attempts = p.attempts + 1;
          if (!(await set({ ...p, step: 'post', attempts, startedAt: p.startedAt ?? now, postedAt: now, nextAt: undefined, runId: undefined }, {}, ['provisioning']))) return 'continue';
          posted = true;
          const body = provisionRequest(s, now, this.config.testDriveHourSeconds * 1000);
          this.logger.log({ sessionId: s.id, offerId: s.offerId, workflow: wfName, attempt: attempts }, 'calling the provisioning Logic App');
          verdict = this.judge(await this.gateway.call('POST', url, body, { 'x-ms-client-tracking-id': s.id }), 'provision', wfName);
        }
      } else {
        verdict = await this.follow(offer, s, p, 'provision', cfg.resourceGroupName, wfName);
      }
    } catch (err) {
      const e = logicAppError(err);
      // Only throttled / transient failures are retried; a refused credential, a URL refused by the outbound
      // URL rule (issue 8) or an oversized answer would fail the same way again.
      verdict = e.retryable ? { kind: 'retry', error: { code: e.code, message: e.message }, retryAfterMs: e.retryAfterMs } : { kind: 'failed', error: { code: e.code, message: e.message } };
    }
    const stored = this.progressOf(s).provision;
    const cur = posted ? stored : { ...stored, attempts: stored.attempts + 1 };
    switch (verdict.kind) {
      case 'follow':
        if (verdict.location) this.locations.set(`provision|${s.id}`, verdict.location);
        else this.locations.delete(`provision|${s.id}`);
        if (cur.step !== 'follow' || cur.runId !== verdict.runId) await set({ ...cur, step: 'follow', runId: verdict.runId, postedAt: undefined });
        return 'wait';
      case 'retry': {
        this.locations.delete(`provision|${s.id}`);
        this.logger.warn({ sessionId: s.id, offerId: s.offerId, workflow: wfName, code: verdict.error.code, attempts: cur.attempts }, 'provisioning Logic App call failed; retrying');
        if (cur.attempts >= this.settings.maxAttempts) {
          return this.failProvision(s, now, { code: verdict.error.code, message: `The provisioning Logic App '${wfName}' failed ${cur.attempts} times; last: ${verdict.error.message}` });
        }
        const wait = Math.max(retryBackoffMs(Math.max(cur.attempts, 1)), verdict.retryAfterMs ?? 0);
        await set({ ...cur, step: 'post', runId: undefined, postedAt: undefined, nextAt: now + wait, lastError: verdict.error });
        return 'wait';
      }
      case 'failed':
        this.locations.delete(`provision|${s.id}`);
        return this.failProvision(s, now, verdict.error);
      case 'answered': {
        this.locations.delete(`provision|${s.id}`);
        const mapped = answerToOutputs(verdict.body);
        if ('error' in mapped) return this.failProvision(s, now, { code: 'InvalidLogicAppAnswer', message: mapped.error });
        const outputsEnc = await this.protector.encrypt(mapped.outputs);
        const done: LogicCallProgress = { ...cur, step: 'done', postedAt: undefined, nextAt: undefined, lastError: undefined };
        const readyAt = this.clock.now();
        if (await set(done, { state: 'ready', outputsEnc, readyAt, expiresAt: readyAt + s.durationHours * this.config.testDriveHourSeconds * 1000, failure: null })) {
          this.logger.log({ sessionId: s.id, offerId: s.offerId, workflow: wfName, runId: cur.runId ?? null, outputs: Object.keys(mapped.outputs).length }, 'Logic app test drive ready');
          return 'done';
        }
        // Ended while the call was in flight: keep the outputs for deprovisioning.
        const again = await this.sessions.findById(s.id);
        if (again?.state === 'ending') {
          const ap = this.progressOf(again);
          await this.save(again, { ...ap, provision: { ...ap.provision, step: 'done', postedAt: undefined } }, ['ending'], now, { outputsEnc });
        }
        return 'continue';
      }
    }
  }

  /** provisioning -> ending (endReason failed, failure kept): the slot is kept until deprovisioning is done. */
  private async failProvision(s: SessionEntity, now: number, failure: { code: string; message: string }): Promise<Outcome> {
    const cur = this.progressOf(s);
    const message = failure.message.startsWith('The test drive') ? failure.message : `The test drive could not be set up: ${failure.message}`;
    const ok = await this.save(s, { ...cur, provision: { ...cur.provision, step: 'failed', postedAt: undefined, nextAt: undefined, lastError: failure } }, ['provisioning'], now, {
      state: 'ending',
      endReason: 'failed',
      failure: { code: failure.code, message: message.slice(0, 1000) },
    });
    if (ok) this.logger.warn({ sessionId: s.id, offerId: s.offerId, code: failure.code }, 'Logic app test drive failed; deprovisioning');
    return 'continue';
  }

  // ------------------------------------------------------------------ deprovisioning

  protected override async teardown(offer: OfferEntity, s: SessionEntity, now: number): Promise<Outcome> {
    const all = this.progressOf(s);
    const cfg = logicAppConfigOf(offer.testDrive);
    const wfName = cfg.deprovisionLogicAppName;
    const set = (next: NonNullable<LogicAppProgress['deprovision']>, provision = this.progressOf(s).provision, patch: Partial<SessionEntity> = {}) =>
      this.save(s, { provision, deprovision: next }, ['ending'], now, patch);

    // A provisioning POST in flight elsewhere (another replica) is let finish, within its request timeout.
    if (all.provision.step === 'post' && all.provision.postedAt !== undefined && now - all.provision.postedAt < this.settings.requestTimeoutSeconds * 1000 + LOST_CALL_GRACE_MS) return 'wait';
    // A provisioning run still going when the session ends is cancelled first (best effort).
    if (all.provision.step === 'follow' || (all.provision.step === 'post' && all.provision.postedAt === undefined && all.provision.attempts > 0)) {
      if (all.provision.runId) await this.gateway.cancelRun(offer, cfg.resourceGroupName, cfg.logicAppName, all.provision.runId).catch(() => undefined);
      this.locations.delete(`provision|${s.id}`);
      await this.save(s, { ...all, provision: { ...all.provision, step: 'cancelled', nextAt: undefined } }, ['ending'], now);
      return 'continue';
    }
    const d = all.deprovision ?? { step: 'post' as const, attempts: 0 };
    if (d.step === 'done' || d.step === 'failed') {
      this.forget(s.id);
      await this.finish(s, now);
      this.logger.log({ sessionId: s.id, offerId: s.offerId, reason: s.endReason, deprovisioned: d.step === 'done' }, 'Logic app test drive ended');
      return 'done';
    }
    if (this.timedOut(d, now)) {
      if (d.runId) await this.gateway.cancelRun(offer, cfg.resourceGroupName, wfName, d.runId).catch(() => undefined);
      return this.deprovisionAttemptFailed(s, d, now, wfName, this.timeoutError('deprovision', wfName));
    }
    if (d.nextAt !== undefined && now < d.nextAt) return 'wait';

    let verdict: Verdict;
    // A failure before the POST (a workflow disabled, deleted or unreadable) is an attempt too: it was retried
    // every 2 s forever, the session held its slot in `ending`, and nothing gave up (found by trying the product).
    let posted = d.step !== 'post' || d.postedAt !== undefined;
    try {
      if (d.step === 'post') {
        if (d.postedAt !== undefined) {
          if (this.mayStillAnswer(d.postedAt, now)) return 'wait';
          verdict = this.lostCall('deprovision', wfName);
        } else {
          const wf = await this.requireWorkflow(offer, cfg.resourceGroupName, wfName);
          if ('error' in wf) {
            verdict = { kind: 'failed', error: wf.error };
          } else {
            const url = await this.gateway.callbackUrl(offer, cfg.resourceGroupName, wfName, wf.requestTrigger!.name);
            const outputs = await this.readableOutputs(s);
            const attempts = d.attempts + 1;
            if (!(await set({ ...d, step: 'post', attempts, startedAt: now, postedAt: now, nextAt: undefined, runId: undefined }))) return 'continue';
            posted = true;
            this.logger.log({ sessionId: s.id, offerId: s.offerId, workflow: wfName, attempt: attempts, reason: s.endReason }, 'calling the deprovisioning Logic App');
            verdict = this.judge(await this.gateway.call('POST', url, deprovisionRequest(s, outputs), { 'x-ms-client-tracking-id': s.id }), 'deprovision', wfName);
          }
        }
      } else {
        verdict = await this.follow(offer, s, d, 'deprovision', cfg.resourceGroupName, wfName);
      }
    } catch (err) {
      const e = logicAppError(err);
      verdict = { kind: 'retry', error: { code: e.code, message: e.message }, retryAfterMs: e.retryAfterMs };
    }
    const stored = this.progressOf(s).deprovision ?? d;
    const cur = posted ? stored : { ...stored, attempts: stored.attempts + 1 };
    switch (verdict.kind) {
      case 'follow':
        if (verdict.location) this.locations.set(`deprovision|${s.id}`, verdict.location);
        else this.locations.delete(`deprovision|${s.id}`);
        if (cur.step !== 'follow' || cur.runId !== verdict.runId) await set({ ...cur, step: 'follow', runId: verdict.runId, postedAt: undefined });
        return 'wait';
      case 'answered':
        this.locations.delete(`deprovision|${s.id}`);
        await set({ ...cur, step: 'done', postedAt: undefined, nextAt: undefined, lastError: undefined });
        return 'continue';
      case 'retry':
      case 'failed':
        this.locations.delete(`deprovision|${s.id}`);
        return this.deprovisionAttemptFailed(s, cur, now, wfName, verdict.error, verdict.kind === 'retry' ? verdict.retryAfterMs : undefined);
    }
  }

  /**
   * The session's outputs for its deprovisioning Logic App. Outputs that can no longer be decrypted
   * (DataProtectionError: their key version was purged) give `{}`: the Logic App is still called with the
   * session id, since no retry brings the outputs back and not calling it would leave its resources behind.
   * @throws what the decryption threw otherwise (Key Vault unreachable: the attempt is retried).
   */
  private async readableOutputs(s: SessionEntity): Promise<Record<string, string>> {
    if (!s.outputsEnc) return {};
    try {
      return outputsAsStrings(await this.protector.decrypt<Record<string, unknown>>(s.outputsEnc));
    } catch (err) {
      if (!(err instanceof DataProtectionError)) throw err;
      this.logger.error({ sessionId: s.id, offerId: s.offerId, err: err.message }, 'the session\'s outputs cannot be decrypted; the deprovisioning Logic App is called without them');
      return {};
    }
  }

  /** A failed deprovisioning attempt: retried with backoff until LOGIC_APP_MAX_ATTEMPTS, then given up (recorded, logged). */
  private async deprovisionAttemptFailed(s: SessionEntity, d: LogicCallProgress, now: number, wfName: string, error: { code: string; message: string }, retryAfterMs?: number): Promise<Outcome> {
    const provision = this.progressOf(s).provision;
    if (d.attempts >= this.settings.maxAttempts) {
      this.logger.error({ sessionId: s.id, offerId: s.offerId, workflow: wfName, code: error.code, attempts: d.attempts }, 'deprovisioning Logic App failed every attempt; ending the session anyway (what it made may be left behind)');
      await this.save(s, { provision, deprovision: { ...d, step: 'failed', gaveUp: true, postedAt: undefined, nextAt: undefined, lastError: error } }, ['ending'], now, { deprovisioningFailedAt: now });
      return 'continue';
    }
    this.logger.warn({ sessionId: s.id, offerId: s.offerId, workflow: wfName, code: error.code, attempts: d.attempts }, 'deprovisioning Logic App call failed; retrying');
    const wait = Math.max(retryBackoffMs(Math.max(d.attempts, 1)), retryAfterMs ?? 0);
    await this.save(s, { provision, deprovision: { ...d, step: 'post', runId: undefined, postedAt: undefined, startedAt: undefined, nextAt: now + wait, lastError: error } }, ['ending'], now);
    return 'wait';
  }

  // ------------------------------------------------------------------ shared

  /** The workflow with a Request trigger, enabled; or the customer-readable reason it cannot be called. */
  private async requireWorkflow(offer: OfferEntity, rg: string, name: string): Promise<WorkflowInfo | { error: { code: string; message: string } }> {
    const wf = await this.gateway.workflow(offer, rg, name);
    if (!wf) return { error: { code: 'LogicAppNotFound', message: `The Logic App '${name}' does not exist in resource group '${rg}'.` } };
    if (wf.state && wf.state.toLowerCase() !== 'enabled') return { error: { code: 'LogicAppDisabled', message: `The Logic App '${name}' is ${wf.state.toLowerCase()}.` } };
    if (!wf.requestTrigger) return { error: { code: 'LogicAppNoRequestTrigger', message: `The Logic App '${name}' has no Request trigger.` } };
    return wf;
  }

  /** True when the phase started longer ago than LOGIC_APP_TIMEOUT_SECONDS (the run is cancelled, the phase fails). */
  private timedOut(p: LogicCallProgress, now: number): boolean {
    return p.startedAt !== undefined && now - p.startedAt > this.settings.timeoutSeconds * 1000;
  }

  private timeoutError(kind: Kind, wfName: string): { code: string; message: string } {
    return { code: 'LogicAppTimedOut', message: `The ${kind}ing Logic App '${wfName}' did not finish within ${this.settings.timeoutSeconds} seconds.` };
  }

  /** A POST sent at `postedAt` (epoch ms) may still answer: within the request timeout plus LOST_CALL_GRACE_MS. */
  private mayStillAnswer(postedAt: number, now: number): boolean {
    return now - postedAt < this.settings.requestTimeoutSeconds * 1000 + LOST_CALL_GRACE_MS;
  }

  /** A POST with no recorded answer (lost in a crash): retried as LogicAppCallLost. */
  private lostCall(kind: Kind, wfName: string): Verdict {
    return { kind: 'retry', error: { code: 'LogicAppCallLost', message: `The call to the ${kind}ing Logic App '${wfName}' got no recorded answer.` } };
  }

  /**
   * Reads one callback answer: 2xx but 202 = answered; 202 = follow its run; 502/504 with a run id =
   * follow the run (synchronous Response timed out or never ran); 408/429/5xx = retry; other = failed.
   */
  private judge(a: CallbackAnswer, kind: Kind, wfName: string): Verdict {
    const runId = a.headers['x-ms-workflow-run-id'];
    const what = kind === 'provision' ? 'provisioning' : 'deprovisioning';
    if (a.status === 202) {
      if (!runId) return { kind: 'failed', error: { code: 'InvalidLogicAppAnswer', message: `The ${what} Logic App '${wfName}' answered 202 without an x-ms-workflow-run-id header.` } };
      return { kind: 'follow', runId, location: a.headers.location };
    }
    if (a.status >= 200 && a.status < 300) return { kind: 'answered', body: a.body };
    if ((a.status === 502 || a.status === 504) && runId) return { kind: 'follow', runId };
    const e = errorFromAnswer(a.status, a.body);
    const error = { code: e.code, message: `The ${what} Logic App '${wfName}' answered ${a.status}: ${e.message}` };
    const retryAfterMs = retryAfterFromHeaders(a.headers, this.clock.now());
    if (isRetryableKind(kindOfStatus(a.status, e.code, retryAfterMs))) return { kind: 'retry', error, retryAfterMs };
    return { kind: 'failed', error };
  }

  /**
   * One look at a call in progress: its async Location while this process holds it, else the run
   * through ARM (Succeeded: the Response action's answer, or the run's outputs; failed: the reason).
   */
  private async follow(offer: OfferEntity, s: SessionEntity, p: LogicCallProgress, kind: Kind, rg: string, wfName: string): Promise<Verdict> {
    const what = kind === 'provision' ? 'provisioning' : 'deprovisioning';
    const key = `${kind}|${s.id}`;
    const location = this.locations.get(key);
    if (location) {
      const a = await this.gateway.call('GET', location);
      if (a.status === 202) return { kind: 'follow', runId: p.runId!, location };
      this.locations.delete(key);
      if (a.status >= 200 && a.status < 300) return { kind: 'answered', body: a.body };
      if (a.status !== 502 && a.status !== 504 && !isRetryableKind(kindOfStatus(a.status))) return this.judge(a, kind, wfName);
      // else: the run's own status says why.
    }
    if (!p.runId) return { kind: 'retry', error: { code: 'LogicAppRunUnknown', message: `The ${what} Logic App '${wfName}' run is unknown.` } };
    const run = await this.gateway.run(offer, rg, wfName, p.runId);
    if (!run) return { kind: 'failed', error: { code: 'LogicAppRunNotFound', message: `The ${what} Logic App '${wfName}' run '${p.runId}' no longer exists.` } };
    if (!isTerminalRunStatus(run.status)) return { kind: 'follow', runId: p.runId };
    if (run.status === 'Succeeded') {
      const wf = await this.gateway.workflow(offer, rg, wfName);
      const response = wf?.responseActions.length ? await this.gateway.responseOf(offer, rg, wfName, p.runId, wf.responseActions) : undefined;
      if (response) {
        if (response.statusCode >= 200 && response.statusCode < 300) return { kind: 'answered', body: response.body };
        const e = errorFromAnswer(response.statusCode, response.body);
        const error = { code: e.code, message: `The ${what} Logic App '${wfName}' answered ${response.statusCode}: ${e.message}` };
        return isRetryableKind(kindOfStatus(response.statusCode)) ? { kind: 'retry', error } : { kind: 'failed', error };
      }
      return { kind: 'answered', body: runOutputsToAnswer(run.outputs) };
    }
    const runError = (run.error ?? {}) as { code?: string; message?: string };
    const failed = await this.gateway.failedActions(offer, rg, wfName, p.runId);
    const detail = failed.length ? ` (${failed.slice(0, 3).map((f) => `${f.name}: ${f.code}${f.message ? ` ${f.message}` : ''}`).join('; ')})` : '';
    const code = runError.code ?? `LogicAppRun${run.status}`;
    const message = `The ${what} Logic App '${wfName}' run ${String(run.status).toLowerCase()}: ${runError.message ?? run.status}${detail}`;
    return { kind: 'failed', error: { code, message: message.slice(0, 1000) } };
  }
}
