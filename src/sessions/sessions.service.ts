import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { Clock, iso } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { DataProtector } from '../azure/data-protector';
import { OffersRepository } from '../offers/offers.repository';
import { isUniqueViolation } from '../persistence/data-source';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { outputsAsStrings, renderAccessInformation } from './access-information';
import { SessionEntity } from './session.entity';
import { SessionsRepository } from './sessions.repository';
import { SessionView, StartSessionBody } from './session.dto';
import { Caller } from '../auth/caller';
import { mayAccessOffer } from '../auth/offer-access';
import { AuditService } from '../audit/audit.service';

/**
 * Sessions across every test drive type: start (idempotent, capacity claimed by the type), read,
 * end early, and expire. Types do the provisioning; this service owns the session's lifecycle rules
 * (Partner Center: a session lasts whole hours from the moment it is ready, then ends by itself).
 */
@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
    private readonly protector: DataProtector,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  /** Length of one test drive hour in ms (TESTDRIVE_HOUR_SECONDS). */
  get hourMs(): number {
    return this.config.testDriveHourSeconds * 1000;
  }

  /**
   * Starts a test drive for a customer. With an Idempotency-Key, a retried request returns the session
   * the first one created (and a different body with the same key is refused).
   * @throws ApiError 404 OfferNotFound, 409 OfferNotPublished, 400 ValidationFailed (unknown region),
   *   409 NoCapacity, 422 IdempotencyKeyReused.
   */
  async start(offerId: string, body: StartSessionBody, idempotencyKey?: string, caller?: Caller): Promise<{ session: SessionEntity; created: boolean }> {
    const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    if (idempotencyKey) {
      const existing = await this.sessions.findByIdempotencyKey(offerId, idempotencyKey);
      if (existing) return { session: this.checkReplay(existing, requestHash), created: false };
    }
    const offer = await this.offers.getOrThrow(offerId);
    if (offer.state !== 'published') {
      throw ApiError.conflict('OfferNotPublished', `Offer '${offerId}' is not published: its test drive accepts no new sessions.`);
    }
    const type = this.registry.get(offer.type);
    const now = this.clock.now();
    const session: SessionEntity = {
      id: randomUUID(),
      offerId,
      type: offer.type,
      state: 'provisioning',
      region: body.region ?? null,
      instanceKind: null,
      instanceId: null,
      customer: body.customer,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      durationHours: Number((offer.testDrive as { durationHours?: number }).durationHours ?? 1),
      slot: null,
      outputsEnc: null,
      failure: null,
      endReason: null,
      requestedAt: now,
      readyAt: null,
      expiresAt: null,
      endedAt: null,
      progress: null,
      updatedAt: now,
    };
    try {
      await this.sessions.insert(session);
    } catch (err) {
      if (idempotencyKey && isUniqueViolation(err)) {
        const existing = await this.sessions.findByIdempotencyKey(offerId, idempotencyKey);
        if (existing) return { session: this.checkReplay(existing, requestHash), created: false };
      }
      throw err;
    }
    try {
      await type.startSession(offer, session, { region: body.region });
    } catch (err) {
      // Nothing was claimed: the request leaves no trace, so a retry with the same key tries again.
      await this.sessions.deleteById(session.id);
      throw err;
    }
    const stored = await this.sessions.findById(session.id);
    this.logger.log({ sessionId: session.id, offerId, state: stored?.state, region: stored?.region, kind: stored?.instanceKind }, 'session started');
    await this.audit.record(caller, 'session.started', { type: 'session', id: session.id, offerId }, { region: stored?.region ?? null, instanceKind: stored?.instanceKind ?? null });
    return { session: stored!, created: true };
  }

  private checkReplay(existing: SessionEntity, requestHash: string): SessionEntity {
    if (existing.requestHash && existing.requestHash !== requestHash) {
      throw new ApiError(422, 'IdempotencyKeyReused', 'This Idempotency-Key was used with a different request body.', 'Idempotency-Key');
    }
    return existing;
  }

  /**
   * The session, if `caller` may read it: the marketplace and operators any session, a publisher only
   * sessions of its own offers (`caller` undefined = internal).
   * @throws ApiError 404 SessionNotFound (also for another publisher's session).
   */
  async getOrThrow(id: string, caller?: Caller): Promise<SessionEntity> {
    const s = await this.sessions.findById(id);
    if (!s) throw ApiError.notFound('Session', id);
    if (caller && !caller.isSystem && !caller.isMarketplace && !caller.isOperator) {
      const offer = await this.offers.findById(s.offerId);
      if (!offer || !mayAccessOffer(caller, offer, 'sessions')) throw ApiError.notFound('Session', id);
    }
    return s;
  }

  /**
   * Ends a session early (DELETE /sessions/{id}). Idempotent: ending an ended session returns it.
   * Teardown continues asynchronously (state `ending`, then `ended`).
   */
  async end(id: string, caller?: Caller): Promise<SessionEntity> {
    const s = await this.getOrThrow(id, caller);
    const now = this.clock.now();
    if (await this.sessions.beginEnding(id, 'ended', now)) {
      await this.audit.record(caller, 'session.ended', { type: 'session', id, offerId: s.offerId });
      const ending = (await this.sessions.findById(id))!;
      await this.teardown(ending);
    }
    return (await this.sessions.findById(id)) ?? s;
  }

  /**
   * Ends every ready session whose time is up. Level-triggered: a session that expired while the
   * service was down is ended on the first pass after it comes back. Returns how many it ended.
   */
  async expireDue(now = this.clock.now()): Promise<number> {
    let n = 0;
    for (const s of await this.sessions.listExpired(now)) {
      if (await this.sessions.beginEnding(s.id, 'expired', now)) {
        n++;
        await this.audit.record(Caller.system, 'session.expired', { type: 'session', id: s.id, offerId: s.offerId });
        await this.teardown((await this.sessions.findById(s.id))!);
      }
    }
    return n;
  }

  private async teardown(s: SessionEntity): Promise<void> {
    try {
      await this.registry.get(s.type).endSession(s);
    } catch (err) {
      // The reconcile loop retries teardown of `ending` sessions; the request itself succeeded.
      this.logger.warn({ sessionId: s.id, err: (err as Error).message }, 'teardown deferred to reconcile');
    }
  }

  /**
   * The API view of a session. With `withAccess` (the customer's own session, to the marketplace) the
   * outputs are decrypted and the access information rendered, while the session is live; listings
   * leave them out.
   */
  async view(s: SessionEntity, withAccess = true): Promise<SessionView> {
    let outputs: Record<string, string> | null = null;
    let accessInformation: string | null = null;
    if (withAccess && s.outputsEnc && (s.state === 'ready' || s.state === 'provisioning')) {
      outputs = outputsAsStrings(await this.protector.decrypt<Record<string, unknown>>(s.outputsEnc));
      const offer = await this.offers.findById(s.offerId);
      accessInformation = renderAccessInformation((offer?.testDrive as { accessInformation?: string })?.accessInformation, outputs);
    }
    return {
      id: s.id,
      offerId: s.offerId,
      type: s.type,
      state: s.state,
      region: s.region,
      instanceKind: s.instanceKind,
      accessInformation,
      outputs,
      customer: s.customer,
      durationHours: s.durationHours,
      requestedAt: iso(s.requestedAt),
      readyAt: iso(s.readyAt),
      expiresAt: iso(s.expiresAt),
      endedAt: iso(s.endedAt),
      endReason: s.endReason,
      failure: s.failure,
    };
  }
}
