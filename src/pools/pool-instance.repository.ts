import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, Not, Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { isUniqueViolation } from '../persistence/data-source';
import { InstanceKind, InstanceState, PoolInstanceEntity } from './pool-instance.entity';
import { PoolRegionEntity } from './pool-region.entity';

/** States in which an instance still holds its slot (capacity). */
export const LIVE_STATES: InstanceState[] = ['pending', 'deploying', 'ready', 'assigned', 'failed', 'deleting'];

/** Fields of a new instance; id, slot and bookkeeping are filled by reserve(). */
export interface NewInstance {
  offerId: string;
  revisionId: string;
  region: string;
  kind: InstanceKind;
  subscriptionId: string;
  sessionId?: string | null;
}

/**
 * Persistence of pool instances. Two operations carry the pool's concurrency guarantees, each a
 * single SQL statement, atomic on SQLite and PostgreSQL, across processes:
 *  - claimReadyHotInstance(): hands one ready hot instance to one session (conditional UPDATE);
 *  - reserve(): creates an instance only while a free slot exists (unique index on
 *    offer/region/kind/slot), so a region never exceeds its hot or cold limit.
 */
@Injectable()
export class PoolInstanceRepository {
  readonly repo: Repository<PoolInstanceEntity>;
  readonly regions: Repository<PoolRegionEntity>;
  private readonly postgres: boolean;

  constructor(@InjectDataSource() private readonly ds: DataSource) {
    this.repo = ds.getRepository(PoolInstanceEntity);
    this.regions = ds.getRepository(PoolRegionEntity);
    this.postgres = ds.options.type === 'postgres';
  }

  /**
   * THE place where a hot instance is claimed. Atomically assigns the oldest ready hot instance of
   * `offerId` in `region` to `sessionId` and returns it, or null when none is ready.
   * Concurrent callers never get the same instance: the UPDATE re-checks `state = 'ready'` on the row
   * it changes (PostgreSQL re-evaluates it after a concurrent commit; SQLite serialises writers), and a
   * caller that lost the race retries on the next ready instance.
   */
  async claimReadyHotInstance(offerId: string, region: string, sessionId: string, now: number): Promise<PoolInstanceEntity | null> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const sub = this.repo
        .createQueryBuilder('c')
        .select('c.id')
        .where('c.offerId = :offerId AND c.region = :region AND c.kind = :kind AND c.state = :ready AND c.sessionId IS NULL')
        .orderBy('c.readyAt', 'ASC')
        .limit(1);
      if (this.postgres) sub.setLock('pessimistic_write').setOnLocked('skip_locked');
      const result = await this.repo
        .createQueryBuilder()
        .update(PoolInstanceEntity)
        .set({ state: 'assigned', sessionId, assignedAt: now, updatedAt: now })
        .where(`id = (${sub.getQuery()})`)
        .andWhere('state = :ready AND "sessionId" IS NULL')
        .setParameters({ offerId, region, kind: 'hot', ready: 'ready' })
        .execute();
      if (result.affected === 1) return this.repo.findOneBy({ sessionId });
      const anyReady = await this.repo.exists({ where: { offerId, region, kind: 'hot', state: 'ready', sessionId: IsNull() } });
      if (!anyReady) return null;
    }
    return null;
  }

  /**
   * Creates an instance in the lowest free slot below `limit` (state pending), or returns null when all
   * `limit` slots of offer/region/kind are taken. The unique slot index makes concurrent reservations
   * safe: a loser of the race retries with the next free slot.
   */
  async reserve(n: NewInstance, limit: number, now: number): Promise<PoolInstanceEntity | null> {
    for (let attempt = 0; attempt < limit + 5; attempt++) {
      const used = new Set(
        (
          await this.repo.find({
            select: { slot: true },
            where: { offerId: n.offerId, region: n.region, kind: n.kind, slot: Not(IsNull()) },
          })
        ).map((r) => r.slot),
      );
      let slot = -1;
      for (let s = 0; s < limit; s++) if (!used.has(s)) { slot = s; break; }
      if (slot < 0) return null;
      const id = randomUUID();
      const row: PoolInstanceEntity = {
        id,
        offerId: n.offerId,
        revisionId: n.revisionId,
        region: n.region,
        kind: n.kind,
        slot,
        state: 'pending',
        subscriptionId: n.subscriptionId,
        resourceGroupName: resourceGroupNameFor(id),
        deploymentName: 'testdrive',
        sessionId: n.sessionId ?? null,
        outputsEnc: null,
        failure: null,
        attempts: 0,
        nextActionAt: null,
        createdAt: now,
        readyAt: null,
        assignedAt: n.sessionId ? now : null,
        deletedAt: null,
        updatedAt: now,
      };
      try {
        await this.repo.insert(row as QueryDeepPartialEntity<PoolInstanceEntity>);
        return row;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
    return null;
  }

  /**
   * Moves an instance from one of `from` states, applying `patch`; false when it was no longer in
   * such a state (someone else moved it first). Every state change goes through here, so two
   * reconcilers or an API call racing a reconciler never both act on one transition.
   */
  async transition(id: string, from: InstanceState[], patch: Partial<PoolInstanceEntity>, now: number): Promise<boolean> {
    // Entering `deleting` starts a new kind of work: a retry pause left from the previous state does not apply.
    if (patch.state === 'deleting' && !('nextActionAt' in patch)) patch = { ...patch, nextActionAt: null };
    const r = await this.repo
      .createQueryBuilder()
      .update(PoolInstanceEntity)
      .set({ ...patch, updatedAt: now } as QueryDeepPartialEntity<PoolInstanceEntity>)
      .where('id = :id', { id })
      .andWhere('state IN (:...from)', { from })
      .execute();
    return r.affected === 1;
  }

  /** Marks an instance deleted and frees its slot (one statement). */
  async markDeleted(id: string, now: number): Promise<boolean> {
    return this.transition(id, ['deleting'], { state: 'deleted', slot: null, deletedAt: now }, now);
  }

  /** Live (not deleted) instances of an offer, or of every offer. */
  listLive(offerId?: string): Promise<PoolInstanceEntity[]> {
    return this.repo.find({ where: { ...(offerId ? { offerId } : {}), state: In(LIVE_STATES) }, order: { createdAt: 'ASC' } });
  }

  findById(id: string): Promise<PoolInstanceEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** Instances (any state, deleted included) whose resource group is one of `names`. */
  findByResourceGroups(names: string[]): Promise<PoolInstanceEntity[]> {
    return names.length ? this.repo.find({ where: { resourceGroupName: In(names) } }) : Promise.resolve([]);
  }

  findBySession(sessionId: string): Promise<PoolInstanceEntity | null> {
    return this.repo.findOneBy({ sessionId });
  }

  /** Pool health of offer/region (created on first use). */
  async regionState(offerId: string, region: string): Promise<PoolRegionEntity> {
    const found = await this.regions.findOneBy({ offerId, region });
    if (found) return found;
    const row: PoolRegionEntity = { offerId, region, consecutiveFailures: 0, backoffUntil: null, lastFailure: null };
    try {
      await this.regions.insert(row);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return (await this.regions.findOneBy({ offerId, region }))!;
    }
    return row;
  }

  async saveRegionState(row: PoolRegionEntity): Promise<void> {
    await this.regions.save(row);
  }

  /**
   * Records one more consecutive failure of offer/region atomically (instances failing in the same
   * pass run in parallel: a read-modify-write would lose counts) and backs the region off for
   * `backoffMs(failures)` from `now`. Returns the new number of consecutive failures.
   */
  async recordRegionFailure(offerId: string, region: string, failure: { code: string; message: string }, now: number, backoffMs: (failures: number) => number): Promise<number> {
    await this.regionState(offerId, region);
    await this.regions
      .createQueryBuilder()
      .update(PoolRegionEntity)
      .set({ consecutiveFailures: () => '"consecutiveFailures" + 1', lastFailure: { ...failure, at: now } } as QueryDeepPartialEntity<PoolRegionEntity>)
      .where('"offerId" = :offerId AND region = :region', { offerId, region })
      .execute();
    const row = (await this.regions.findOneBy({ offerId, region }))!;
    // Only the writer that saw this count sets its backoff, so a later (longer) one is never shortened.
    await this.regions
      .createQueryBuilder()
      .update(PoolRegionEntity)
      .set({ backoffUntil: now + backoffMs(row.consecutiveFailures) })
      .where('"offerId" = :offerId AND region = :region AND "consecutiveFailures" = :n', { offerId, region, n: row.consecutiveFailures })
      .execute();
    return row.consecutiveFailures;
  }

  /**
   * A deployment in offer/region that started at `startedAt` succeeded: clears the failure count and
   * the backoff (keeps lastFailure for operators). A deployment started before the last failure proves
   * nothing about it (e.g. the resource group quota was reached after it), so it clears nothing.
   */
  async recordRegionSuccess(offerId: string, region: string, startedAt: number): Promise<void> {
    const row = await this.regions.findOneBy({ offerId, region });
    if (!row || (!row.consecutiveFailures && !row.backoffUntil)) return;
    if (row.lastFailure && startedAt <= row.lastFailure.at) return;
    await this.regions
      .createQueryBuilder()
      .update(PoolRegionEntity)
      .set({ consecutiveFailures: 0, backoffUntil: null })
      .where('"offerId" = :offerId AND region = :region AND ("consecutiveFailures" > 0 OR "backoffUntil" IS NOT NULL)', { offerId, region })
      .execute();
  }
}

/** Partner Center: one new resource group per instance, named CloudTry_<guid without dashes>. */
export function resourceGroupNameFor(instanceId: string): string {
  return `CloudTry_${instanceId.replace(/-/g, '')}`;
}
