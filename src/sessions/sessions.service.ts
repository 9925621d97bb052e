import { createHash, randomUUID } from 'node:crypto';
import { isNoCapacity, QueueService } from './queue.service';
import { Metrics, StartResult } from '../metrics/metrics';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { Clock, iso } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { ACCESS_INFORMATION_LOST, DataProtectionError, DataProtector } from '../azure/data-protector';
import { OfferChangedError, OffersRepository } from '../offers/offers.repository';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { outputsAsStrings, renderAccessInformation } from './access-information';
import { SessionEntity } from './session.entity';
import type { OfferEntity } from '../offers/offer.entity';
import { SessionsRepository } from './sessions.repository';
import { StartRequestsRepository } from './start-requests.repository';
import { LeadsService } from '../leads/leads.service';
import { afterClaim, Database, sql, together } from '../persistence/database';
import { StartRefusal, StartRequestEntity } from './start-request.entity';
import { SessionCommit } from '../test-drives/test-drive-type';
import { SessionView, StartSessionBody } from './session.dto';
import { Caller } from '../auth/caller';
import { shareableContact } from '../leads/lead-format';
import { mayAccessOffer } from '../auth/offer-access';
import { AuditService } from '../audit/audit.service';

/** How long a retry waits for the first request with its Idempotency-Key to finish (ms, real time). */
export const START_REPLAY_WAIT_MS = 5_000;
const START_REPLAY_POLL_MS = 50;
/** How long one expiry pass waits for the teardowns it started (ms, real time); the rest continue in the background. */
export const EXPIRY_TEARDOWN_BUDGET_MS = 5_000;
/** Idempotency-Key records are kept this long (ms): a retry within 24 h gets the first answer. */
export const START_REQUEST_RETENTION_MS = 24 * 3_600_000;
/** A start still under way this long after its last sign of life (service clock) was abandoned by a dead process. */
export const START_ABANDONED_MS = 60_000;

/** Attempts at a start whose offer changed under it (OfferChangedError) before 503 OfferChanging. */
export const START_DECISIONS = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What one start request brings to each attempt at it (SessionsService.startDecided, startOnce). */
interface StartInput {
  body: StartSessionBody;
  /** The marketplace client, or null for the service itself. */
  client: { tenantId: string; clientId: string } | null;
  idempotencyKey: string | null;
  requestHash: string;
  /** This request's Idempotency-Key record, when it sent a key. */
  request: StartRequestEntity | undefined;
  caller: Caller | undefined;
}

/** An ApiError as it was answered, to replay to a retry with the same Idempotency-Key. */
function refusalOf(err: ApiError): StartRefusal {
  return {
    status: err.getStatus(),
    code: err.code,
    message: err.message,
    ...(err.target ? { target: err.target } : {}),
    ...(err.details?.length ? { details: err.details } : {}),
    ...(err.headers ? { headers: err.headers } : {}),
  };
}

/**
 * Sessions across every test drive type: start (idempotent, capacity claimed by the type), read,
 * end early, and expire. Types do the provisioning; this service owns the session's lifecycle rules
 * (Partner Center: a session lasts whole hours from the moment it is ready, then ends by itself).
 */
@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);
  /** Clock time of the next purge of old Idempotency-Key records. */
  private nextStartRequestPurgeAt = 0;

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
    private readonly protector: DataProtector,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly starts: StartRequestsRepository,
    private readonly leads: LeadsService,
    private readonly db: Database,
    private readonly metrics: Metrics,
    private readonly queue: QueueService,
  ) {}

  /** Length of one test drive hour in ms (TESTDRIVE_HOUR_SECONDS). */
  get hourMs(): number {
    return this.config.testDriveHourSeconds * 1000;
  }

  /**
   * Starts a test drive for a customer. With an Idempotency-Key (scoped per marketplace client and
   * offer), a retried request gets the answer of the first one: the same session once it exists, the
   * same refusal if it was refused; while the first is still under way the retry waits up to
   * START_REPLAY_WAIT_MS for it, then answers 409 RequestInProgress with Retry-After (never a session
   * id that could still vanish). A different body with the same key is refused (422). The caller logs
   * a created session (SessionsController: on the request's completion line, logOnCompletion).
   * Returns the session as written and its view for the customer (`view`, with access information):
   * a session whose access information cannot be decrypted is failed by the view (failUnreadable) and
   * counted as a `failed` start in testdrive_session_starts_total, not as the instance kind it got.
   * @throws ApiError 404 OfferNotFound, 409 OfferNotPublished, 400 ValidationFailed (unknown region),
   *   409 NoCapacity, 422 IdempotencyKeyReused, 409 RequestInProgress.
   */
  async start(offerId: string, body: StartSessionBody, idempotencyKey?: string, caller?: Caller): Promise<{ session: SessionEntity; created: boolean; view: SessionView }> {
    // The default whenFull ('refuse') is left out, so the hash of a request is what it was before the queue existed.
    const { whenFull, ...rest } = body;
    const requestHash = createHash('sha256').update(JSON.stringify(whenFull === 'queue' ? body : rest)).digest('hex');
    const client = caller && !caller.isSystem ? { tenantId: caller.tenantId, clientId: caller.clientId } : null;
    let request: StartRequestEntity | undefined;
    if (idempotencyKey) {
      const r = await this.ownStartRequest(offerId, client, idempotencyKey, requestHash);
      if (r.session) return { session: r.session, created: false, view: await this.view(r.session, true) };
      request = r.request;
    }
    let offerType = 'unknown';
    let started: { session: SessionEntity; offer: OfferEntity };
    try {
      const { session, offer, audited } = await this.startDecided(offerId, { body, client, idempotencyKey: idempotencyKey ?? null, requestHash, request, caller });
      offerType = session.type;
      if (!audited) await this.audit.record(caller, 'session.started', { type: 'session', id: session.id, offerId }, { region: session.region, instanceKind: session.instanceKind });
      started = { session, offer };
    } catch (err) {
      const known = err instanceof ApiError && err.code !== 'OfferNotFound';
      if (known || !(err instanceof ApiError)) {
        const result: StartResult = err instanceof ApiError ? (err.code === 'NoCapacity' ? 'no_capacity' : err.code === 'QueueFull' ? 'queue_full' : err.getStatus() < 500 ? 'refused' : 'failed') : 'failed';
        this.metrics.sessionStarts.inc({ offer: offerId, type: offerType === 'unknown' ? ((await this.offers.findById(offerId).catch(() => null))?.type ?? 'unknown') : offerType, result });
        // Refused demand is kept (dashboard chart of starts; forecasting counts it as demand).
        if (result === 'no_capacity') await this.audit.record(caller, 'session.refused', { type: 'offer', id: offerId, offerId }, { code: 'NoCapacity', region: body.region ?? null });
      }
      if (request) {
        if (err instanceof ApiError && err.getStatus() < 500) await this.starts.refuse(request.id, refusalOf(err), this.clock.now());
        else await this.starts.forget(request.id);
      }
      throw err;
    }
    // The session exists (and the Idempotency-Key record says so) whatever its view finds.
    const { session, offer } = started;
    const view = await this.view(session, true, offer);
    this.metrics.sessionStarts.inc({ offer: offerId, type: session.type, result: view.failure?.code === ACCESS_INFORMATION_LOST.code ? 'failed' : startResultOf(session) });
    return { session, created: true, view };
  }

  /**
   * The Idempotency-Key record of this start, owned by this request (`request`), or the answer an
   * earlier request with the key already has (`session`, or a thrown refusal).
   */
  private async ownStartRequest(
    offerId: string,
    client: { tenantId: string; clientId: string } | null,
    key: string,
    requestHash: string,
  ): Promise<{ request?: StartRequestEntity; session?: SessionEntity }> {
    const clientKey = client ? `${client.tenantId}/${client.clientId}` : 'system';
    const deadline = Date.now() + START_REPLAY_WAIT_MS;
    for (;;) {
      const now = this.clock.now();
      // A new key (the common case) is one INSERT; only a key seen before is read (issue 14).
      const mine = await this.starts.begin(offerId, clientKey, key, requestHash, now);
      if (mine) return { request: mine };
      const existing = await this.starts.find(offerId, clientKey, key);
      if (!existing) continue;
      if (existing.requestHash !== requestHash) {
        throw new ApiError(422, 'IdempotencyKeyReused', 'This Idempotency-Key was used with a different request body.', 'Idempotency-Key');
      }
      if (existing.state === 'completed' && existing.sessionId) {
        const session = await this.sessions.findById(existing.sessionId);
        if (session) return { session };
      }
      if (existing.state === 'refused' && existing.refusal) {
        const r = existing.refusal;
        throw new ApiError(r.status, r.code, r.message, r.target, r.details, r.headers);
      }
      if (existing.state === 'started' && now - existing.updatedAt >= START_ABANDONED_MS && (await this.starts.takeOver(existing, now))) {
        // The first request's process died mid-start. If it got as far as a session, that is the answer.
        const made = await this.sessions.findByClientKey(offerId, client?.tenantId ?? null, client?.clientId ?? null, key);
        if (made) {
          await this.starts.complete(existing.id, made.id, now);
          return { session: made };
        }
        return { request: { ...existing, updatedAt: now } };
      }
      if (Date.now() >= deadline) {
        throw new ApiError(409, 'RequestInProgress', 'A request with this Idempotency-Key is still being processed; retry after a moment to get its result.', 'Idempotency-Key', undefined, { 'Retry-After': '1' });
      }
      await sleep(START_REPLAY_POLL_MS);
    }
  }

  /**
   * startOnce on the offer as this process last read it (OffersRepository.forStart), and again on a fresh
   * read when that was not the stored offer: when the start's transaction finds it changed
   * (OfferChangedError), or when the start was refused (any ApiError: not published, no such region, no
   * capacity, ...) and the stored offer now has another version; at most START_DECISIONS attempts.
   * @throws ApiError 503 OfferChanging (Retry-After 1) when the offer changed under every attempt; the
   *   refusal of an attempt decided on the stored offer.
   */
  private async startDecided(offerId: string, input: StartInput): Promise<{ session: SessionEntity; offer: OfferEntity; audited: boolean }> {
    for (let attempt = 1; ; attempt++) {
      const offer = await this.offers.forStart(offerId, attempt > 1);
      try {
        return await this.startOnce(offer, input);
      } catch (err) {
        const stale = err instanceof OfferChangedError || (err instanceof ApiError && !(await this.offers.isCurrent(offer)));
        if (!stale) throw err;
        if (attempt >= START_DECISIONS) {
          throw new ApiError(503, 'OfferChanging', `Offer '${offerId}' changed during every attempt to start a session; retry in a moment.`, undefined, undefined, { 'Retry-After': '1' });
        }
      }
    }
  }

  /**
   * One start on `offer`: offer checks, the type's claim, the session row (atomically with the claim
   * where the type can). The transaction that writes the session checks that the offer is still that
   * version (OffersRepository.versionStatement).
   * @throws OfferChangedError when it is not (nothing was written); the ApiErrors of start().
   */
  private async startOnce(offer: OfferEntity, input: StartInput): Promise<{ session: SessionEntity; offer: OfferEntity; audited: boolean }> {
    const { body, client, idempotencyKey, requestHash, request, caller } = input;
    const offerId = offer.id;
    if (offer.state !== 'published') {
      throw ApiError.conflict('OfferNotPublished', `Offer '${offerId}' is not published: its test drive accepts no new sessions.`);
    }
    const type = this.registry.get(offer.type);
    const now = this.clock.now();
    const consentToShare = body.consentToShare ?? true; // the marketplace asks before a test drive starts
    const session: SessionEntity = {
      id: randomUUID(),
      offerId,
      type: offer.type,
      state: 'provisioning',
      region: body.region ?? null,
      instanceKind: null,
      instanceId: null,
      customer: body.customer,
      customerShared: shareableContact(body.customer, consentToShare) !== null,
      clientTenantId: client?.tenantId ?? null,
      clientId: client?.clientId ?? null,
      idempotencyKey,
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
    const sessions = this.sessions;
    const offers = this.offers;
    const starts = this.starts;
    const leads = this.leads.repo;
    const audit = this.audit;
    // Atomic types write the session, its lead, the Idempotency-Key record and the audit event in their
    // claim transaction; the row written is the answer (no re-read, issue 14).
    let persisted: SessionEntity | undefined;
    // Issue 10: the lead is written in the same transaction as the session (a refused start makes none).
    const lead = this.leads.leadFor(offer, session.id, { contact: body.customer, source: body.source ?? this.config.leads.defaultSource, consentToShare }, now);
    const commit: SessionCommit = {
      *persist(patch) {
        const row = { ...session, ...patch };
        // One statement on PostgreSQL (one round trip), the offer's version read last.
        const r = yield together(
          sessions.insertStatement(row),
          leads.insertStatement(lead),
          ...(request ? [starts.completeStatement(request.id, row.id, row.updatedAt)] : []),
          audit.recordStatement(audit.eventRow(caller, 'session.started', { type: 'session', id: row.id, offerId }, { region: row.region, instanceKind: row.instanceKind })),
          offers.versionStatement(offer.id),
        );
        offers.checkVersion(r, offer);
        persisted = row;
      },
    };
    if (this.db.postgres) {
      const db = this.db;
      commit.claimAndPersist = async (claim, patch, fromClaim) => {
        const cols = fromClaim as Record<string, string>;
        const row: SessionEntity = { ...session, ...patch };
        const event = audit.eventRow(caller, 'session.started', { type: 'session', id: row.id, offerId }, { region: row.region, instanceKind: row.instanceKind });
        const r = await db.once(
          afterClaim(
            claim(offers.versionGuard(offer)),
            [
              sessions.insertStatement(row, cols),
              leads.insertStatement(lead, true),
              ...(request ? [starts.completeStatement(request.id, row.id, row.updatedAt, true)] : []),
              audit.recordStatement(event, true),
            ],
            offers.versionStatement(offer.id),
          ),
        );
        const claimed = r.rows[0];
        offers.checkVersion({ rows: [{ version: claimed.probe }], affected: 1 }, offer);
        if (claimed.id === null || claimed.id === undefined) return null;
        for (const [col, from] of Object.entries(cols)) (row as unknown as Record<string, unknown>)[col] = claimed[from];
        persisted = row;
        return claimed;
      };
    }
    const queue = this.queue;
    const enqueueWanted = body.whenFull === 'queue';
    let queued = false;
    if (type.claimsAtomically) {
      try {
        await type.startSession(offer, session, { region: body.region }, commit);
      } catch (err) {
        if (!isNoCapacity(err)) throw err;
        if (!enqueueWanted) throw await this.withRetryAfter(err as ApiError, offer, body.region ?? null, now);
        // Issue 12: nothing free: the request waits in the queue (session, lead and answer in one transaction).
        await queue.enqueue(offerId, (queueSeq) => commit.persist({ state: 'queued', queueSeq }));
        queued = true;
      }
    } else {
      await this.db.atomic(function* () {
        offers.checkVersion(yield together(sessions.insertStatement(session), leads.insertStatement(lead), offers.versionStatement(offer.id)), offer);
      });
      try {
        await type.startSession(offer, session, { region: body.region }, commit);
      } catch (err) {
        if (isNoCapacity(err) && enqueueWanted) {
          try {
            await queue.enqueue(offerId, function* (queueSeq) {
              const r = yield sql(`UPDATE "session" SET "state" = 'queued', "queueSeq" = ? WHERE "id" = ? AND "state" = 'provisioning' AND "slot" IS NULL`, [queueSeq, session.id]);
              if (r.affected !== 1) throw new Error(`session ${session.id} changed while it was being queued`);
              if (request) yield* starts.completeTx(request.id, session.id, now);
            });
            queued = true;
          } catch (qerr) {
            await this.forgetStart(session.id, lead.id);
            throw qerr;
          }
        } else {
          // Nothing was claimed: the session and its lead leave no trace (the refusal is remembered with the key).
          await this.forgetStart(session.id, lead.id);
          throw isNoCapacity(err) ? await this.withRetryAfter(err as ApiError, offer, body.region ?? null, now) : err;
        }
      }
      if (request && !queued) await this.starts.complete(request.id, session.id, now);
    }
    // Deliver it now rather than at the next tick (the delivery loop would anyway; a burst of starts shares one pass).
    // An offer without a lead destination has nothing to deliver: its leads wait for one (the start's
    // transaction checked that the offer is still this version).
    if (offer.leads) this.leads.deliverSoon();
    if (persisted && type.claimsAtomically) return { session: persisted, offer, audited: true };
    const stored = await this.sessions.findById(session.id);
    if (!stored) throw new Error(`session ${session.id} was not stored by type ${offer.type}`);
    return { session: stored, offer, audited: false };
  }

  /** Deletes the session and lead of a start that claimed nothing. */
  private async forgetStart(sessionId: string, leadId: string): Promise<void> {
    await this.db.atomic(function* () {
      yield sql('DELETE FROM "lead" WHERE "id" = ?', [leadId]);
      yield sql('DELETE FROM "session" WHERE "id" = ?', [sessionId]);
    });
  }

  /**
   * A type's 409 NoCapacity with `Retry-After`: the seconds until the request would probably be served
   * (QueueService.etaForPosition of position 1), at least 1, at most one hour; the same estimate in the message.
   */
  private async withRetryAfter(err: ApiError, offer: OfferEntity, region: string | null, now: number): Promise<ApiError> {
    const eta = await this.queue.etaForPosition(offer.id, offer.type, region, 1, now).catch(() => now + 60_000);
    const seconds = Math.min(3600, Math.max(1, Math.ceil((eta - now) / 1000)));
    return new ApiError(409, 'NoCapacity', `${err.message} Estimated wait: about ${Math.ceil(seconds / 60)} minute(s); or send "whenFull": "queue" to wait in line.`, err.target, err.details, { ...(err.headers ?? {}), 'Retry-After': String(seconds) });
  }

  /** True when `caller` is the marketplace client that started `s` (it alone gets the access information). */
  startedBy(s: SessionEntity, caller: Caller | undefined): boolean {
    if (!caller || caller.isSystem) return true;
    return caller.isMarketplace && s.clientTenantId === caller.tenantId && s.clientId === caller.clientId;
  }

  /**
   * Whether `caller` may see the customer's contact details of `s`: the client that started it, operators
   * and the system always; the offer's publisher only when the lead carries them (customerShared: consent
   * given, not an `.edu` address; docs/leads.md "no personal data leaves the service").
   */
  customerVisibleTo(s: SessionEntity, caller: Caller | undefined): boolean {
    // Raw rows (RETURNING *) carry SQLite's 0/1 rather than a boolean.
    const shared = (s.customerShared as unknown) === undefined || (s.customerShared as unknown) === null || Boolean(Number(s.customerShared));
    return shared || !caller || caller.isSystem || caller.isOperator || this.startedBy(s, caller);
  }

  /**
   * The session, if `caller` may read it: an operator any session, the marketplace client that started
   * it, and the publisher of its offer (`caller` undefined = internal). To anyone else it does not exist.
   * @throws ApiError 404 SessionNotFound (also for another client's or another publisher's session).
   */
  async getOrThrow(id: string, caller?: Caller): Promise<SessionEntity> {
    const s = await this.sessions.findById(id);
    if (!s) throw ApiError.notFound('Session', id);
    if (!caller || caller.isSystem || caller.isOperator || this.startedBy(s, caller)) return s;
    if (caller.isPublisher) {
      const offer = await this.offers.findById(s.offerId);
      if (offer && mayAccessOffer(caller, offer, 'sessions')) return s;
    }
    throw ApiError.notFound('Session', id);
  }

  /**
   * Ends a session early (DELETE /sessions/{id}). Idempotent: ending an ended session returns it.
   * Teardown continues asynchronously (state `ending`, then `ended`).
   */
  async end(id: string, caller?: Caller): Promise<SessionEntity> {
    const s = await this.getOrThrow(id, caller);
    // Ending is for operators and the marketplace client that started the session (a publisher reads only).
    if (caller && !caller.isSystem && !caller.isOperator && !this.startedBy(s, caller)) throw ApiError.notFound('Session', id);
    const now = this.clock.now();
    // A queued request (issue 12) is cancelled: nothing was claimed, nothing to tear down.
    if (s.state === 'queued' && (await this.queue.cancel(s, now))) {
      await this.audit.record(caller, 'session.ended', { type: 'session', id, offerId: s.offerId }, { queued: true });
      return (await this.sessions.findById(id)) ?? s;
    }
    if (await this.sessions.beginEnding(id, 'ended', now)) {
      await this.audit.record(caller, 'session.ended', { type: 'session', id, offerId: s.offerId });
      const ending = (await this.sessions.findById(id))!;
      await this.teardown(ending);
    }
    return (await this.sessions.findById(id)) ?? s;
  }

  /**
   * Acknowledges a session's failed deprovisioning (POST /sessions/{id}/acknowledge-deprovisioning): whoever
   * calls has dealt with what the teardown left behind, so the offer's `deprovisioning_failed` incident no
   * longer counts the session (it resolves on the next evaluation once no session is left). Idempotent: a
   * failure acknowledged already is answered as it is. Recorded in the audit trail
   * (`session.deprovisioning-acknowledged`).
   * @throws ApiError 404 SessionNotFound (also for a session of another publisher's offer);
   *   409 DeprovisioningNotFailed when the session's deprovisioning did not give up.
   */
  async acknowledgeDeprovisioning(id: string, caller: Caller): Promise<SessionEntity> {
    const s = await this.getOrThrow(id, caller);
    // getOrThrow also lets through the marketplace client that started the session: acknowledging is for
    // operators and the offer's publisher only (holding the publisher role is not owning this offer).
    if (!caller.isSystem && !caller.isOperator) {
      const offer = caller.isPublisher ? await this.offers.findById(s.offerId) : null;
      if (!offer || !mayAccessOffer(caller, offer, 'sessions')) throw ApiError.notFound('Session', id);
    }
    if (s.deprovisioningFailedAt === null || s.deprovisioningFailedAt === undefined) {
      throw new ApiError(409, 'DeprovisioningNotFailed', `The deprovisioning of session '${id}' did not fail${s.state === 'ended' || s.state === 'failed' ? '' : ` (the session is ${s.state})`}: there is nothing to acknowledge.`);
    }
    if (await this.sessions.acknowledgeDeprovisioning(id, this.clock.now())) {
      await this.audit.record(caller, 'session.deprovisioning-acknowledged', { type: 'session', id, offerId: s.offerId }, { failedAt: iso(s.deprovisioningFailedAt) });
    }
    return (await this.sessions.findById(id)) ?? s;
  }

  /**
   * Ends every ready session whose time is up. Level-triggered: a session that expired while the
   * service was down is ended on the first pass after it comes back. Returns how many it ended.
   */
  async expireDue(now = this.clock.now()): Promise<number> {
    let n = 0;
    if (now >= this.nextStartRequestPurgeAt) {
      this.nextStartRequestPurgeAt = now + 3_600_000;
      await this.starts.purgeSettledBefore(now - START_REQUEST_RETENTION_MS).catch((err: Error) => this.logger.warn(`start request purge failed: ${err.message}`));
    }
    const teardowns: Promise<void>[] = [];
    for (const s of await this.sessions.listExpired(now)) {
      if (await this.sessions.beginEnding(s.id, 'expired', now)) {
        n++;
        await this.audit.record(Caller.system, 'session.expired', { type: 'session', id: s.id, offerId: s.offerId });
        // Teardowns run side by side and the expiry pass waits for them at most EXPIRY_TEARDOWN_BUDGET_MS:
        // a slow Azure call never holds back the expiry of other sessions (the types' reconcile loops
        // finish whatever is left `ending`).
        teardowns.push(this.teardown({ ...s, state: 'ending', endReason: 'expired', updatedAt: now }));
      }
    }
    if (teardowns.length) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled(teardowns), new Promise<void>((r) => (timer = setTimeout(r, EXPIRY_TEARDOWN_BUDGET_MS)))]);
      clearTimeout(timer);
    }
    return n;
  }

  /** The earliest expiry of a ready session (epoch ms, service clock), or null: when expireDue() is next due. */
  nextExpiryAt(): Promise<number | null> {
    return this.sessions.nextExpiryAt();
  }

  /**
   * A live session whose outputs cannot be decrypted (DataProtectionError: e.g. its data protection
   * key version was deleted from Key Vault): the customer can never be given its access information, so
   * the session fails (`AccessInformationLost`, the customer is told to start a new one) and its type
   * tears down what it holds (an ARM instance is deleted, never reused). Returns the session as stored
   * afterwards.
   */
  private async failUnreadable(s: SessionEntity, err: DataProtectionError): Promise<SessionEntity> {
    const now = this.clock.now();
    this.logger.error({ sessionId: s.id, offerId: s.offerId, err: err.message }, 'a live session\'s access information cannot be decrypted; the session fails');
    const failing: SessionEntity = { ...s, state: 'ending', endReason: 'failed', failure: ACCESS_INFORMATION_LOST, updatedAt: now };
    if (await this.sessions.beginFailing(s.id, ACCESS_INFORMATION_LOST, now)) await this.teardown(failing);
    return (await this.sessions.findById(s.id)) ?? failing;
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
   * leave them out. Outputs that can no longer be decrypted fail the session (failUnreadable): the
   * view is then of the failed session, never an error. Without `customerVisible` (customerVisibleTo) the
   * customer's contact details are null.
   */
  async view(s: SessionEntity, withAccess = true, knownOffer?: OfferEntity, customerVisible = true): Promise<SessionView> {
    let outputs: Record<string, string> | null = null;
    let accessInformation: string | null = null;
    if (withAccess && s.outputsEnc && (s.state === 'ready' || s.state === 'provisioning')) {
      let plain: Record<string, unknown>;
      try {
        plain = await this.protector.decrypt<Record<string, unknown>>(s.outputsEnc);
      } catch (err) {
        if (!(err instanceof DataProtectionError)) throw err;
        return this.view(await this.failUnreadable(s, err), false, knownOffer, customerVisible);
      }
      outputs = outputsAsStrings(plain);
      const offer = knownOffer?.id === s.offerId ? knownOffer : await this.offers.findById(s.offerId);
      accessInformation = renderAccessInformation((offer?.testDrive as { accessInformation?: string })?.accessInformation, outputs);
    }
    return {
      id: s.id,
      offerId: s.offerId,
      type: s.type,
      state: s.state,
      queuePosition: await this.queue.position(s),
      estimatedReadyAt: iso(await this.queue.estimatedReadyAt(s)),
      region: s.region,
      instanceKind: s.instanceKind,
      accessInformation,
      outputs,
      customer: customerVisible ? s.customer : null,
      durationHours: s.durationHours,
      requestedAt: iso(s.requestedAt),
      readyAt: iso(s.readyAt),
      expiresAt: iso(s.expiresAt),
      endedAt: iso(s.endedAt),
      endReason: s.endReason,
      failure: s.failure,
      deprovisioningFailedAt: iso(s.deprovisioningFailedAt ?? null),
      deprovisioningAcknowledgedAt: iso(s.deprovisioningAcknowledgedAt ?? null),
    };
  }
}

/** The `result` label of a start answered with a session: its instance kind (ARM), else its state. */
function startResultOf(s: SessionEntity): StartResult {
  if (s.state === 'queued') return 'queued';
  if (s.instanceKind === 'hot' || s.instanceKind === 'warm' || s.instanceKind === 'cold') return s.instanceKind;
  return s.state === 'ready' ? 'ready' : 'provisioning';
}
