import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { MoreThan, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApiError } from '../common/api-error';
import { sql, Statement, StatementResult } from '../persistence/database';
import { OfferEntity, OfferHealth, OfferState } from './offer.entity';

/** Offers kept by OffersRepository.forStart per process; past this many the cache starts over. */
export const OFFER_CACHE_MAX = 10_000;

/**
 * Thrown inside a start's transaction (OffersRepository.versionStatement) when the offer the start was
 * decided on is no longer the stored one (changed by any request, in any process, or deleted): the
 * transaction rolls back, and the start is decided again on a fresh read.
 */
export class OfferChangedError extends Error {
  constructor(readonly offerId: string) {
    super(`offer ${offerId} changed while a session was being started`);
  }
}

/** Persistence of offers (TypeORM), and the per-process cache of offers read by session starts. */
@Injectable()
export class OffersRepository {
  /** Offers as forStart read them, by id: deep-frozen entities, maybe older than their rows. */
  private readonly startCache = new Map<string, OfferEntity>();

  constructor(@InjectRepository(OfferEntity) private readonly repo: Repository<OfferEntity>) {}

  /**
   * The offer a session start is decided on (issue 14: no read of the offer per start). From this
   * process's cache unless `fresh` or not cached; a read refreshes the cache. The entity is deep-frozen
   * (shared by concurrent starts: mutating it throws) and may be older than the row, since another process
   * may have changed it: the start's transaction checks it (versionStatement, checkVersion), and a start that gets
   * OfferChangedError asks again with `fresh`. Writes through this repository drop the entry at once.
   * @throws ApiError 404 `OfferNotFound`.
   */
  async forStart(id: string, fresh = false): Promise<OfferEntity> {
    const hit = fresh ? undefined : this.startCache.get(id);
    if (hit) return hit;
    const offer = await this.getOrThrow(id);
    if (this.startCache.size >= OFFER_CACHE_MAX) this.startCache.clear();
    this.startCache.set(id, deepFreeze(offer));
    return offer;
  }

  /**
   * Whether the row of `offer` still has `offer.version` (one light read). A start refused on a cached
   * offer asks this before answering: a refusal is decided again when the offer changed.
   * False when it is gone; the cache entry is then dropped.
   */
  async isCurrent(offer: Pick<OfferEntity, 'id' | 'version'>): Promise<boolean> {
    const row = await this.repo.findOne({ select: { id: true, version: true }, where: { id: offer.id } });
    return this.stillAt(row ? [row] : [], offer);
  }

  /**
   * The read of a start's transaction that checks the offer (checkVersion takes its result): the offer's
   * row still has the version the start was decided on. A row changed since is an update that committed
   * first: the start is decided again. A change that commits later comes after the start, as if the
   * start had come first. Sent with the start's inserts (`together`, as the last statement).
   */
  versionStatement(id: string): Statement {
    return sql('SELECT "version" FROM "offer" WHERE "id" = ?', [id]);
  }

  /**
   * The same check as a condition (afterClaim: the claim happens only while the offer's row still has the
   * version the start was decided on).
   */
  versionGuard(offer: Pick<OfferEntity, 'id' | 'version'>): Statement {
    return sql('EXISTS (SELECT 1 FROM "offer" WHERE "id" = ? AND "version" = ?)', [offer.id, offer.version]);
  }

  /** @throws OfferChangedError unless `r` (of versionStatement) shows the row at `offer.version`; the cache entry is then dropped. */
  checkVersion(r: StatementResult, offer: Pick<OfferEntity, 'id' | 'version'>): void {
    if (!this.stillAt(r.rows, offer)) throw new OfferChangedError(offer.id);
  }

  /** Whether `rows` (the offer's row read again, or none) are at `offer.version`; if not, the cache entry goes. */
  private stillAt(rows: ReadonlyArray<{ version?: unknown }>, offer: Pick<OfferEntity, 'id' | 'version'>): boolean {
    const current = rows.length === 1 && Number(rows[0].version) === offer.version;
    if (!current) this.startCache.delete(offer.id);
    return current;
  }

  /** The offer, or null. */
  findById(id: string): Promise<OfferEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** The offer. @throws ApiError 404 `OfferNotFound`. */
  async getOrThrow(id: string): Promise<OfferEntity> {
    const offer = await this.findById(id);
    if (!offer) throw ApiError.notFound('Offer', id);
    return offer;
  }

  /**
   * Every offer with a lead configuration (a destination may still be missing), by id, current: one
   * light read of ids and versions, and the whole row only for offers whose version this process has
   * not cached (forStart's cache; issue 14: the lead pass after each start read every offer in full).
   * The entities are deep-frozen.
   */
  async listWithLeads(): Promise<OfferEntity[]> {
    const rows = await this.repo.query<Array<{ id: string; version: number | string }>>('SELECT "id", "version" FROM "offer" WHERE "leads" IS NOT NULL ORDER BY "id"');
    const out: OfferEntity[] = [];
    for (const { id, version } of rows) {
      const hit = this.startCache.get(id);
      if (hit && hit.version === Number(version)) {
        out.push(hit);
        continue;
      }
      const fresh = await this.forStart(id, true).catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'OfferNotFound') return null; // deleted since the first read
        throw err;
      });
      if (fresh) out.push(fresh);
    }
    return out;
  }

  /** Every offer, by id. */
  list(): Promise<OfferEntity[]> {
    return this.repo.find({ order: { id: 'ASC' } });
  }

  /**
   * One page of offers by ID: those after `after` (an offer ID), of `owner` when given (tenant and client
   * of the owning publisher), at most `limit`.
   */
  page(opts: { owner?: { tenantId: string; clientId: string }; after?: string; limit: number }): Promise<OfferEntity[]> {
    return this.repo.find({
      where: { ...(opts.after !== undefined ? { id: MoreThan(opts.after) } : {}), ...(opts.owner ? { ownerTenantId: opts.owner.tenantId, ownerClientId: opts.owner.clientId } : {}) },
      order: { id: 'ASC' },
      take: opts.limit,
    });
  }

  /** Offers in one of `states` (e.g. ['published'] for the pool reconciler), by id. */
  listByState(...states: OfferState[]): Promise<OfferEntity[]> {
    return this.repo.find({ where: states.map((state) => ({ state })), order: { id: 'ASC' } });
  }

  /**
   * Writes the offer's mutable fields (alias, state, testDrive, deployment, client secret reference,
   * package revision, health, publishedAt, updatedAt) if its row still has `expectedVersion` (the
   * version this request read): `UPDATE offer SET ..., version = version + 1 WHERE id = :id AND
   * version = :expected`. Never inserts, so an offer deleted meanwhile stays deleted.
   * On success `offer.version` becomes the new version.
   * @returns false when no row matched: the offer changed or was deleted since it was read.
   */
  async update(offer: OfferEntity, expectedVersion: number): Promise<boolean> {
    const fields: Partial<OfferEntity> = {
      alias: offer.alias,
      state: offer.state,
      testDrive: offer.testDrive,
      deployment: offer.deployment,
      clientSecretName: offer.clientSecretName,
      clientSecretVersion: offer.clientSecretVersion,
      currentRevisionId: offer.currentRevisionId,
      publishedAt: offer.publishedAt,
      updatedAt: offer.updatedAt,
      ...(offer.health !== undefined ? { health: offer.health } : {}),
      ...(offer.leads !== undefined ? { leads: offer.leads } : {}),
      ...(offer.escalation !== undefined ? { escalation: offer.escalation } : {}),
    };
    const applied = await this.conditionalUpdate(offer.id, expectedVersion, fields);
    if (applied) offer.version = expectedVersion + 1;
    return applied;
  }

  /**
   * Stores the result of a periodic health check (TestDriveType.checkHealth) if the offer still has
   * `expectedVersion` (the version the check ran against); bumps the version. Never inserts.
   * @returns false when the offer changed or was deleted meanwhile: the result is dropped (it may
   *   describe settings that no longer apply); the next check runs on the current offer.
   */
  updateHealth(id: string, health: OfferHealth, expectedVersion: number): Promise<boolean> {
    return this.conditionalUpdate(id, expectedVersion, { health });
  }

  /** Inserts a new offer. @throws the driver's unique-violation error when the id exists. */
  insert(offer: OfferEntity): Promise<OfferEntity> {
    return this.repo.manager.transaction(async (m) => {
      await m.insert(OfferEntity, offer as QueryDeepPartialEntity<OfferEntity>);
      return m.findOneByOrFail(OfferEntity, { id: offer.id });
    });
  }

  /**
   * Sets the package revision new instances deploy from (a targeted column write whatever the version,
   * so a concurrent PUT's fields stay); bumps `version`, so a request that read the offer before (e.g.
   * a publish whose preflight checked the previous package) loses its conditional write. Never inserts.
   * @returns false when the offer does not exist (deleted meanwhile).
   */
  async setCurrentRevision(id: string, revisionId: string, now: number): Promise<boolean> {
    const r = await this.forgetAfter(id, this.repo
      .createQueryBuilder()
      .update(OfferEntity)
      .set({ currentRevisionId: revisionId, updatedAt: now, version: () => `${this.versionColumn()} + 1` })
      .where({ id })
      .execute());
    return (r.affected ?? 0) > 0;
  }

  /**
   * Deletes the offer if its row still has `expectedVersion` (`DELETE ... WHERE id AND version`), so a
   * change made since it was read (e.g. a publish) is never deleted unseen.
   * @returns false when no row matched: the offer changed or is already gone.
   */
  async delete(id: string, expectedVersion: number): Promise<boolean> {
    const r = await this.forgetAfter(id, this.repo.createQueryBuilder().delete().from(OfferEntity).where({ id, version: expectedVersion }).execute());
    return (r.affected ?? 0) > 0;
  }

  private async conditionalUpdate(id: string, expectedVersion: number, fields: Partial<OfferEntity>): Promise<boolean> {
    const r = await this.forgetAfter(id, this.repo
      .createQueryBuilder()
      .update(OfferEntity)
      .set({ ...(fields as QueryDeepPartialEntity<OfferEntity>), version: () => `${this.versionColumn()} + 1` })
      .where({ id, version: expectedVersion })
      .execute());
    return (r.affected ?? 0) > 0;
  }

  /** `write`'s result, once the start cache has dropped offer `id` (after the write, whatever its outcome). */
  private async forgetAfter<T>(id: string, write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.startCache.delete(id);
    }
  }

  private versionColumn(): string {
    return this.repo.manager.connection.driver.escape('version');
  }
}

/** `v` and everything reachable from it frozen (plain data: objects and arrays); returns `v`. */
function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
