import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { ApiError } from '../common/api-error';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { Database, sql, toDb, TxBody } from '../persistence/database';
import { OfferEntity } from '../offers/offer.entity';
import { OffersRepository } from '../offers/offers.repository';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import type { SessionCommit } from '../test-drives/test-drive-type';
import { Metrics } from '../metrics/metrics';
import { Estimates } from './estimates';
import { SessionEntity } from './session.entity';

/** A queued session was served, ended or cancelled by someone else while this claim ran: the claim rolls back. */
export class QueueEntryGone extends Error {
  constructor(readonly sessionId: string) {
    super(`queued session ${sessionId} is no longer queued`);
  }
}

/** Whether `err` is a type's refusal for lack of capacity (ApiError 409 NoCapacity). */
export function isNoCapacity(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'NoCapacity';
}

/** Whether queued session `a` waits ahead of `b` in the same offer: FIFO by arrival number (queueSeq). */
function ahead(a: Pick<SessionEntity, 'queueSeq' | 'requestedAt' | 'id'>, b: Pick<SessionEntity, 'queueSeq' | 'requestedAt' | 'id'>): boolean {
  const x = a.queueSeq ?? 0;
  const y = b.queueSeq ?? 0;
  return x < y || (x === y && (a.requestedAt < b.requestedAt || (a.requestedAt === b.requestedAt && a.id < b.id)));
}

/** Whether two queued requests compete for the same capacity: same region, or either takes any region. */
function competes(a: Pick<SessionEntity, 'region'>, b: Pick<SessionEntity, 'region'>): boolean {
  return a.region === null || b.region === null || a.region === b.region;
}

/**
 * The start queue (issue 12, `"whenFull": "queue"`): a request that finds no capacity becomes a session
 * in state `queued` instead of a 409, and the leader serves queued sessions first in, first out per offer
 * and region as capacity frees (a request without a region takes the first region that frees). Serving
 * runs the type's own startSession on the queued row: atomic types (ARM) persist through a commit that
 * updates the row only while it is still `queued`, in their claim transaction; the others claim a slot
 * with SessionsRepository.claimSessionSlot, which moves a queued row to `provisioning` in the same
 * update. Either way a queued request is served at most once, by one replica, and a crash loses none
 * (it stays `queued` until a claim commits). Requests waiting longer than QUEUE_MAX_WAIT_MINUTES end
 * (`ended`, endReason `expired`, failure QueueTimeout); an unpublished offer's queue ends (`unpublished`).
 */
@Injectable()
export class QueueService {
  private readonly logger = new Logger('QueueService');
  private readonly repo: Repository<SessionEntity>;

  constructor(
    @InjectDataSource() ds: DataSource,
    private readonly db: Database,
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
    private readonly estimates: Estimates,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.repo = ds.getRepository(SessionEntity);
  }

  /** An offer's queued sessions in serving order. */
  listQueued(offerId: string): Promise<SessionEntity[]> {
    return this.repo.find({ where: { offerId, state: 'queued' }, order: { queueSeq: 'ASC', requestedAt: 'ASC', id: 'ASC' } });
  }

  /**
   * 1-based position of queued session `s`: 1 + the queued requests of its offer ahead of it that
   * compete for the same capacity. Null when `s` is not queued.
   */
  async position(s: SessionEntity, queued?: SessionEntity[]): Promise<number | null> {
    if (s.state !== 'queued') return null;
    const list = queued ?? (await this.listQueued(s.offerId));
    return 1 + list.filter((q) => q.id !== s.id && ahead(q, s) && competes(q, s)).length;
  }

  /**
   * When `s` is expected to be ready (epoch ms), or null once it is ready or over. Provisioning: start of
   * provisioning + the typical time of its kind. Queued: the time the position-th unit of capacity frees
   * (Estimates.freeTimes) + the typical time to get ready from then (ARM: a deployment).
   */
  async estimatedReadyAt(s: SessionEntity, now = this.clock.now(), queued?: SessionEntity[]): Promise<number | null> {
    if (s.state === 'provisioning') {
      return Math.max(now, (s.servedAt ?? s.requestedAt) + (await this.estimates.readyMs(s.offerId, s.type, s.instanceKind, s.region)));
    }
    if (s.state !== 'queued') return null;
    const p = (await this.position(s, queued))!;
    return this.etaForPosition(s.offerId, s.type, s.region, p, now);
  }

  /** Estimated ready time (epoch ms) of the p-th request waiting for capacity of an offer (and region). */
  async etaForPosition(offerId: string, type: string, region: string | null, p: number, now: number): Promise<number> {
    const hourMs = this.config.testDriveHourSeconds * 1000;
    const free = await this.estimates.freeTimes(offerId, now, hourMs, region);
    const kind = type === 'azure-resource-manager' ? 'cold' : null;
    const provision = await this.estimates.readyMs(offerId, type, kind, region);
    // Beyond what frees now: every further turn waits one more session length (the shortest known turn).
    const base = free.length >= p ? free[p - 1] : (free.at(-1) ?? now) + (p - free.length) * hourMs;
    return Math.max(now, base) + provision;
  }

  /**
   * Puts a request that found no capacity in the queue, in one transaction: the queue length of the
   * offer is checked, the next arrival number (queueSeq) taken, and the row written (`write`: insert the new session, its lead and its
   * Idempotency-Key record; or turn the core's provisioning row into `queued`). PostgreSQL serializes
   * queue entries per offer with a transaction-scoped advisory lock; SQLite's writer lock does the same.
   * @throws ApiError 409 QueueFull when QUEUE_MAX_LENGTH requests already wait.
   */
  async enqueue(offerId: string, write: (queueSeq: number) => TxBody<void>): Promise<void> {
    const max = this.config.queue.maxLength;
    const postgres = this.db.postgres;
    const ok = await this.db.atomic(function* (): TxBody<boolean> {
      if (postgres) yield sql('SELECT pg_advisory_xact_lock(hashtext(?))', [`testdrive-queue:${offerId}`]);
      const r = yield sql(`SELECT COUNT(*) AS "n" FROM "session" WHERE "offerId" = ? AND "state" = 'queued'`, [offerId]);
      if (Number(r.rows[0]?.n ?? 0) >= max) return false;
      const seq = yield sql(`SELECT COALESCE(MAX("queueSeq"), 0) AS "m" FROM "session" WHERE "offerId" = ?`, [offerId]);
      yield* write(Number(seq.rows[0]?.m ?? 0) + 1);
      return true;
    });
    if (!ok) throw new ApiError(409, 'QueueFull', `${max} requests already wait for offer '${offerId}' (QUEUE_MAX_LENGTH); try again later.`, undefined, undefined, { 'Retry-After': '60' });
  }

  /**
   * The commit a type's startSession uses for queued session `s`: it updates the row (no insert) only
   * while it is still `queued`, else throws QueueEntryGone so the type's claim transaction rolls back.
   */
  commitFor(s: SessionEntity, now: number): SessionCommit {
    return {
      *persist(patch) {
        // The new row's defaults apply as for a fresh start: provisioning unless the type says (ARM hot: ready).
        const fields = Object.entries({ updatedAt: now, state: 'provisioning', ...patch, servedAt: now }).filter(([k]) => k !== 'id' && k !== 'offerId');
        const r = yield sql(`UPDATE "session" SET ${fields.map(([k]) => `"${k}" = ?`).join(', ')} WHERE "id" = ? AND "state" = 'queued'`, [...fields.map(([, v]) => toDb(v)), s.id]);
        if (r.affected !== 1) throw new QueueEntryGone(s.id);
      },
    };
  }

  /**
   * One pass (leader, every tick): ends queued requests past QUEUE_MAX_WAIT_MINUTES and those of offers
   * no longer published, then serves each offer's queue in order while capacity lasts. Idempotent.
   * @returns how many it served and ended.
   */
  async serve(now = this.clock.now()): Promise<{ served: number; ended: number }> {
    const offerIds = (await this.repo.createQueryBuilder('s').select('DISTINCT s.offerId', 'offerId').where('s.state = :q', { q: 'queued' }).getRawMany<{ offerId: string }>()).map((r) => r.offerId);
    let served = 0;
    let ended = 0;
    for (const offerId of offerIds) {
      const offer = await this.offers.findById(offerId);
      const queued = await this.listQueued(offerId);
      if (!offer || offer.state !== 'published' || !this.registry.has(offer.type)) {
        for (const s of queued) ended += Number(await this.end(s, 'unpublished', { code: 'OfferNotPublished', message: 'The test drive stopped accepting sessions while this request waited.' }, now));
        continue;
      }
      const waiting: SessionEntity[] = [];
      for (const s of queued) {
        if (now - s.requestedAt >= this.config.queue.maxWaitMs) {
          ended += Number(await this.end(s, 'expired', { code: 'QueueTimeout', message: `No test drive freed up within ${Math.round(this.config.queue.maxWaitMs / 60_000)} minutes; please try again later.` }, now));
        } else waiting.push(s);
      }
      served += await this.serveOffer(offer, waiting, now);
    }
    return { served, ended };
  }

  /** Serves `queued` (in order) while capacity lasts; a region that is full blocks later requests for it. */
  private async serveOffer(offer: OfferEntity, queued: SessionEntity[], now: number): Promise<number> {
    const type = this.registry.get(offer.type);
    const full = new Set<string>();
    let allFull = false;
    let served = 0;
    for (const s of queued) {
      if (allFull || (s.region !== null && full.has(s.region))) continue;
      try {
        // Non-atomic types claim with claimSessionSlot (queued -> provisioning in one update); the start of
        // provisioning is remembered first (harmless if the claim fails: it is set again next time).
        if (!type.claimsAtomically) await this.repo.update({ id: s.id, state: 'queued' }, { servedAt: now });
        await type.startSession(offer, { ...s }, { region: s.region ?? undefined }, this.commitFor(s, now));
        served++;
        this.metrics.sessionStarts.inc({ offer: offer.id, type: offer.type, result: 'dequeued' });
        this.logger.log({ sessionId: s.id, offerId: offer.id, region: s.region, waitedMs: now - s.requestedAt }, 'queued session served');
      } catch (err) {
        if (err instanceof QueueEntryGone) continue;
        if (isNoCapacity(err)) {
          this.logger.debug({ sessionId: s.id, offerId: offer.id, region: s.region }, 'queued session waits: no capacity');
          if (s.region === null) allFull = true;
          else full.add(s.region);
          continue;
        }
        if (err instanceof ApiError && err.getStatus() < 500) {
          // The request can never be served as asked (e.g. its region is no longer offered).
          await this.end(s, 'failed', { code: err.code, message: err.message }, now);
          continue;
        }
        this.logger.warn({ sessionId: s.id, offerId: offer.id, err: (err as Error).message }, 'serving a queued session failed; it stays queued');
        allFull = true;
      }
    }
    return served;
  }

  /** Ends a queued session (expired, unpublished or failed) with a reason; false when it was no longer queued. */
  private async end(s: SessionEntity, reason: 'expired' | 'unpublished' | 'failed', failure: { code: string; message: string }, now: number): Promise<boolean> {
    const r = await this.repo.update({ id: s.id, state: 'queued' }, { state: reason === 'failed' ? 'failed' : 'ended', endReason: reason, failure, endedAt: now, updatedAt: now });
    return r.affected === 1;
  }

  /** Cancels a queued session (DELETE): ended at once, nothing to tear down. False when it was not queued. */
  async cancel(s: SessionEntity, now: number): Promise<boolean> {
    const r = await this.repo.update({ id: s.id, state: 'queued' }, { state: 'ended', endReason: 'ended', endedAt: now, updatedAt: now });
    return r.affected === 1;
  }
}
