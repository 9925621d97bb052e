import { Inject, Injectable, Logger } from '@nestjs/common';
import { ACCESS_INFORMATION_LOST, DataProtectionError } from '../../../src/azure/data-protector';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { SessionEntity, SessionState } from '../../../src/sessions/session.entity';
import { SessionStepDriver, StepOutcome } from '../../../src/test-drives/session-runner';
import { DynamicsClients } from '../clients/dynamics-clients';
import { classifyRemoteError, RemoteError } from '../../../src/remote/remote-error';
import { OUTBOUND_URL_REFUSED } from '../../../src/security/outbound-url';
import { EnvironmentUser } from '../clients/product-api';
import { dynamicsConfigOf } from '../dynamics-config';
import { DYNAMICS_SETTINGS, DynamicsSettings } from '../dynamics-settings';
import { LicenseLedger } from '../licenses';
import { generatePassword } from '../password';
import { DynamicsProgress, errorBackoffMs, syncBackoffMs } from './progress';

/** Transient errors of one forward step tolerated before the session fails. */
export const MAX_STEP_ATTEMPTS = 6;
/** A session still `provisioning` without a slot this long after its request was abandoned (crash mid-start). */
export { ABANDONED_START_MS } from '../../../src/test-drives/session-runner';
/** Transient errors of the role removal tolerated before teardown moves on (removing license and user takes the role away too). */
const ROLE_REMOVAL_ATTEMPTS = 3;
/** Most steps one run() takes (a whole provisioning is 6 steps, a teardown 4). */
const MAX_STEPS_PER_RUN = 16;

type Outcome = StepOutcome;

/** The session's user principal name: `td-<first 12 hex digits of the session id>@<tenantName>` (F&O user ids are at most 20 characters). */
export function upnFor(sessionId: string, tenantName: string): string {
  return `td-${sessionId.replace(/-/g, '').slice(0, 12).toLowerCase()}@${tenantName}`;
}

/** ISO 3166 alpha-2 usage location from the customer's country (Graph needs one before a license); default US. */
export function usageLocationFor(country: string | undefined): string {
  return country && /^[A-Za-z]{2}$/.test(country) ? country.toUpperCase() : 'US';
}

/**
 * Drives one Dynamics 365 session through its steps, reading actual state before each change
 * (level-triggered, idempotent, resumable after a crash from session.progress):
 *
 * provisioning: prepare (UPN + encrypted password) -> createUser (Graph; an existing UPN is reused) ->
 * assignLicense (Graph; no free unit fails the session cleanly) -> waitSync (poll the environment with
 * backoff 1 s, 2 s ... 60 s until DYNAMICS_SYNC_TIMEOUT_SECONDS) -> assignRole (Dataverse / F&O / BC) ->
 * activate (session ready; outputs instanceUrl, userName, password encrypted in session.outputsEnc).
 *
 * A failure moves the session to `ending` (endReason failed, failure kept) so it keeps its slot until
 * torn down; ending: role -> license -> user, each idempotent; then `ended` (or `failed`) and the slot is
 * freed. Teardown never gives up on license and user (retries with backoff up to 5 min).
 */
@Injectable()
export class DynamicsSessionDriver extends SessionStepDriver {
  private readonly logger = new Logger('DynamicsSessionDriver');

  constructor(
    private readonly clients: DynamicsClients,
    private readonly licenses: LicenseLedger,
    @Inject(DYNAMICS_SETTINGS) private readonly settings: DynamicsSettings,
  ) {
    // run() drives a session until it waits (backoff, sync) or is done.
    super(MAX_STEPS_PER_RUN);
  }

  /**
   * Compare-and-set of session.progress (and `patch`): applied only if the session is still in `from`
   * and its progress is what `s` read. @returns false when someone else moved it (re-read and go on).
   */
  private save(s: SessionEntity, next: DynamicsProgress, from: SessionState[], now: number, patch: Partial<SessionEntity> = {}): Promise<boolean> {
    return this.sessions.compareAndSetProgress(s, next, from, now, patch);
  }

  protected override async forward(offer: OfferEntity, s: SessionEntity, now: number): Promise<Outcome> {
    const p: DynamicsProgress = (s.progress as DynamicsProgress | null) ?? { step: 'prepare', attempts: 0 };
    if (p.nextAt && now < p.nextAt) return 'wait';
    const cfg = dynamicsConfigOf(offer.testDrive);
    const step = p.step;
    const advance = async (next: Partial<DynamicsProgress>): Promise<Outcome> => {
      await this.save(s, { ...p, ...next, attempts: 0, nextAt: undefined, lastError: undefined }, ['provisioning'], now);
      return 'continue';
    };
    try {
      switch (step) {
        case 'prepare': {
          const upn = upnFor(s.id, offer.deployment.tenantName ?? '');
          const passwordEnc = await this.protector.encrypt(generatePassword());
          return await advance({ step: 'createUser', upn, passwordEnc });
        }
        case 'createUser': {
          const graph = await this.clients.graph(offer);
          const password = await this.protector.decrypt<string>(p.passwordEnc!);
          const alias = p.upn!.split('@')[0];
          const u = await graph.createUser({
            upn: p.upn!,
            mailNickname: alias,
            displayName: `${s.customer.firstName} ${s.customer.lastName} (test drive)`.slice(0, 256),
            givenName: s.customer.firstName,
            surname: s.customer.lastName,
            password,
            usageLocation: usageLocationFor(s.customer.country),
            offerId: offer.id,
            sessionId: s.id,
          });
          this.logger.log({ sessionId: s.id, offerId: offer.id, upn: p.upn, created: u.created }, 'test drive user created');
          return await advance({ step: 'assignLicense', userId: u.id });
        }
        case 'assignLicense': {
          const snapshot = await this.licenses.snapshot(offer);
          await (await this.clients.graph(offer)).assignLicense(p.userId!, snapshot.skuId);
          const outcome = await advance({ step: 'waitSync', skuId: snapshot.skuId, licenseAssigned: true, syncStartedAt: now, syncPolls: 0 });
          // A snapshot read between the assignment and this save counted the licence as someone else's.
          this.licenses.invalidate(offer.id);
          return outcome;
        }
        case 'waitSync': {
          const product = await this.clients.product(offer);
          const user = await product.findUser(p.upn!, p.userId!);
          if (user) return await advance({ step: 'assignRole', envUserId: user.id, envBusinessUnitId: user.businessUnitId });
          const waited = now - (p.syncStartedAt ?? now);
          if (waited >= this.settings.syncTimeoutSeconds * 1000) {
            return await this.fail(s, p, now, {
              code: 'UserSyncTimeout',
              message: `The test drive user did not appear in the Dynamics 365 environment within ${this.settings.syncTimeoutSeconds} seconds; please try again later.`,
            });
          }
          const polls = (p.syncPolls ?? 0) + 1;
          await this.save(s, { ...p, syncPolls: polls, nextAt: now + syncBackoffMs(polls - 1) }, ['provisioning'], now);
          return 'wait';
        }
        case 'assignRole': {
          const product = await this.clients.product(offer);
          await product.assignRole({ id: p.envUserId!, businessUnitId: p.envBusinessUnitId }, p.upn!);
          return await advance({ step: 'activate', roleAssigned: true });
        }
        case 'activate': {
          const password = await this.protector.decrypt<string>(p.passwordEnc!);
          const outputsEnc = await this.protector.encrypt({ instanceUrl: cfg.instanceUrl, userName: p.upn!, password });
          if (await this.sessions.markReady(s, outputsEnc, now, this.config.testDriveHourSeconds * 1000, { instanceKind: null, region: null })) {
            this.logger.log({ sessionId: s.id, offerId: offer.id, upn: p.upn }, 'Dynamics 365 test drive ready');
          }
          return 'done';
        }
      }
    } catch (err) {
      if (err instanceof DataProtectionError) {
        // The user's password cannot be decrypted (its key version was purged): no retry brings it back,
        // and the customer could never be given it. The session fails now and its user is removed.
        this.logger.error({ sessionId: s.id, offerId: offer.id, step, err: err.message }, "the test drive user's password cannot be decrypted; the session fails");
        return this.fail(s, p, now, ACCESS_INFORMATION_LOST);
      }
      const e = classifyRemoteError(err, 'graph');
      const attempts = p.attempts + 1;
      const lastError = { step, code: e.code, message: e.message.slice(0, 500) };
      this.logger.warn({ sessionId: s.id, offerId: offer.id, step, kind: e.kind, code: e.code, status: e.status, attempts }, 'Dynamics 365 provisioning step failed');
      if (e.retryable && attempts < MAX_STEP_ATTEMPTS) {
        await this.save(s, { ...p, attempts, nextAt: now + (e.retryAfterMs ?? errorBackoffMs(attempts)), lastError }, ['provisioning'], now);
        return 'wait';
      }
      return this.fail(s, p, now, failureFor(step, e, offer));
    }
    return 'done';
  }

  /** provisioning -> ending (endReason failed, failure kept): the slot is kept until the teardown is done. */
  private async fail(s: SessionEntity, p: DynamicsProgress, now: number, failure: { code: string; message: string }): Promise<Outcome> {
    await this.save(s, { ...p, nextAt: undefined }, ['provisioning'], now, { state: 'ending', endReason: 'failed', failure });
    this.logger.warn({ sessionId: s.id, offerId: s.offerId, code: failure.code }, 'Dynamics 365 test drive failed; tearing down');
    return 'continue';
  }

  protected override async teardown(offer: OfferEntity, s: SessionEntity, now: number): Promise<Outcome> {
    const p: DynamicsProgress = (s.progress as DynamicsProgress | null) ?? { step: 'prepare', attempts: 0 };
    if (p.teardownNextAt && now < p.teardownNextAt) return 'wait';
    const phase = p.upn ? (p.teardown ?? 'role') : 'done';
    const advance = async (next: Partial<DynamicsProgress>): Promise<Outcome> => {
      await this.save(s, { ...p, ...next, teardownAttempts: 0, teardownNextAt: undefined }, ['ending'], now);
      return 'continue';
    };
    try {
      switch (phase) {
        case 'role': {
          const graph = await this.clients.graph(offer);
          const userId = p.userId ?? (await graph.findUserByUpn(p.upn!))?.id;
          if (userId) {
            const product = await this.clients.product(offer);
            const envUser: EnvironmentUser | null = p.envUserId ? { id: p.envUserId, businessUnitId: p.envBusinessUnitId } : await product.findUser(p.upn!, userId);
            if (envUser) await product.removeRole(envUser, p.upn!);
          }
          return await advance({ teardown: 'license', roleAssigned: false, ...(userId ? { userId } : {}) });
        }
        case 'license': {
          const graph = await this.clients.graph(offer);
          const found = p.userId ? null : await graph.findUserByUpn(p.upn!);
          const userId = p.userId ?? found?.id;
          if (!userId) return await advance({ teardown: 'done', licenseAssigned: false, licenseRemoving: false, torndown: true, passwordEnc: undefined });
          if (!p.licenseRemoving) {
            // No longer counted as held before the call: a claim meanwhile errs on the safe side.
            await this.save(s, { ...p, userId, licenseRemoving: true }, ['ending'], now);
            return 'continue';
          }
          const skuId = p.skuId ?? (await this.licenses.snapshot(offer)).skuId;
          await graph.removeLicense(userId, skuId);
          const outcome = await advance({ teardown: 'user', licenseAssigned: false });
          this.licenses.invalidate(offer.id); // the tenant's consumed count just went down
          return outcome;
        }
        case 'user': {
          const graph = await this.clients.graph(offer);
          const userId = p.userId ?? (await graph.findUserByUpn(p.upn!))?.id;
          if (userId) await graph.deleteUser(userId);
          this.logger.log({ sessionId: s.id, offerId: offer.id, upn: p.upn }, 'test drive user removed');
          return await advance({ teardown: 'done', licenseRemoving: false, torndown: true, passwordEnc: undefined });
        }
        case 'done': {
          if (!p.torndown) {
            await this.save(s, { ...p, teardown: 'done', torndown: true, passwordEnc: undefined }, ['ending'], now);
            return 'continue';
          }
          await this.finish(s, now);
          return 'done';
        }
      }
    } catch (err) {
      const e = classifyRemoteError(err, 'graph');
      const attempts = (p.teardownAttempts ?? 0) + 1;
      this.logger.warn({ sessionId: s.id, offerId: offer.id, phase, kind: e.kind, code: e.code, status: e.status, attempts }, 'Dynamics 365 teardown step failed; will retry');
      if (phase === 'role' && (!e.retryable || attempts >= ROLE_REMOVAL_ATTEMPTS) && e.kind !== 'credential') {
        // The role goes with the license and the user; do not let it block their removal.
        return advance({ teardown: 'license', lastError: { step: 'teardown:role', code: e.code, message: e.message.slice(0, 500) } });
      }
      await this.save(s, { ...p, teardownAttempts: attempts, teardownNextAt: now + (e.retryAfterMs ?? errorBackoffMs(attempts)), lastError: { step: `teardown:${phase}`, code: e.code, message: e.message.slice(0, 500) } }, ['ending'], now);
      return 'wait';
    }
    return 'done';
  }
}

/** The customer-readable failure of a provisioning step (never a secret). */
export function failureFor(step: string, e: RemoteError, offer: OfferEntity): { code: string; message: string } {
  if (e.code === 'NoLicenseAvailable') return { code: 'NoLicenseAvailable', message: 'No Dynamics 365 license is free in the publisher\'s tenant right now; please try again later.' };
  if (e.code === 'RoleNotFound') return { code: 'RoleNotFound', message: `The publisher's security role '${dynamicsConfigOf(offer.testDrive).roleName}' was not found in the Dynamics 365 environment.` };
  if (e.kind === 'credential') return { code: 'PublisherCredentialRefused', message: 'The publisher\'s app registration was refused a token (its client secret may have expired).' };
  if (e.code === OUTBOUND_URL_REFUSED) return { code: OUTBOUND_URL_REFUSED, message: `The test drive could not be set up: the publisher's Dynamics 365 URL may not be called (issue 8, outbound URL rule; step ${step}).` };
  return { code: 'ProvisioningFailed', message: `The test drive could not be set up (step ${step}: ${e.code}${e.status ? `, HTTP ${e.status}` : ''}).` };
}
