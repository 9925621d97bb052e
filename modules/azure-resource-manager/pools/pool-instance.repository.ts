import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull, LessThan, Not, Repository } from 'typeorm';
import { isUniqueViolation } from '../../../src/persistence/data-source';
import { Database, insertRows, sql, Statement, StatementResult, transitionRow, TxBody } from '../../../src/persistence/database';
import { PURGE_BATCH } from '../../../src/persistence/outbox';
import { InstanceKind, InstanceState, PoolInstanceEntity } from './pool-instance.entity';
import { PoolRegionEntity } from './pool-region.entity';

/** What listUnassignedLive() reads of an instance. */
export type UnassignedInstance = Pick<PoolInstanceEntity, 'id' | 'region' | 'kind' | 'slot' | 'state' | 'revisionId' | 'readyAt' | 'createdAt'>;

/** States with a reconcile step of their own (listDue). */
export const STEP_STATES: InstanceState[] = ['pending', 'deploying', 'parking', 'starting', 'failed', 'deleting'];

/** States in which an instance still holds its slot (capacity). */
export const LIVE_STATES: InstanceState[] = ['pending', 'deploying', 'parking', 'ready', 'starting', 'assigned', 'failed', 'deleting'];

/** Every state an instance can be sent to deletion from. */
export const DELETABLE_STATES: InstanceState[] = ['pending', 'deploying', 'parking', 'ready', 'starting', 'assigned', 'failed'];

/** Fields of a new instance; id, slot and bookkeeping are filled by reserveMany() / reserveTx(). */
export interface NewInstance {
  offerId: string;
  revisionId: string;
  region: string;
  kind: InstanceKind;
  subscriptionId: string;
  sessionId?: string | null;
}

/**
 * The claim of the oldest ready, unassigned `kind` instance of an offer/region, as one statement:
 * parameters (sessionId, now, now, offerId, region); yields the claimed row's `id` (and `outputsEnc` for a
 * hot instance, which becomes `assigned`; a warm one becomes `starting`), or no row when none is ready.
 * The candidate comes from `IX_pool_instance_ready` (ordered by `readyAt`, only ready unassigned instances:
 * one index step, not a scan and a sort).
 *  - SQLite (one writer): the UPDATE re-checks `state = 'ready'` and no session on the row it changes.
 *  - PostgreSQL: the candidate is picked FOR UPDATE SKIP LOCKED, so concurrent claims take different rows;
 *    the lock re-evaluates the conditions on the row's latest version (READ COMMITTED) and is held to
 *    COMMIT, so the row is still ready when the UPDATE changes it. The UPDATE finds it by `id` alone: a
 *    re-check there matches the ready index's predicate, and with statistics from while the pools deployed
 *    the planner took that index for the row and scanned all of it, filtering by id (issue 14: 860 buffers
 *    and 0.7 ms of PostgreSQL per start at 1,280 ready instances).
 */
export function claimStatement(kind: 'hot' | 'warm', postgres: boolean, guard?: string): string {
  const set = kind === 'hot' ? `"state" = 'assigned'` : `"state" = 'starting', "nextActionAt" = NULL`;
  return `UPDATE "pool_instance" SET ${set}, "sessionId" = ?, "assignedAt" = ?, "updatedAt" = ?
        WHERE "id" = (SELECT "id" FROM "pool_instance"
                       WHERE "offerId" = ? AND "region" = ? AND "kind" = '${kind}' AND "state" = 'ready' AND "sessionId" IS NULL
                       ORDER BY "readyAt" ASC LIMIT 1${postgres ? ' FOR UPDATE SKIP LOCKED' : ''})${postgres ? '' : ` AND "state" = 'ready' AND "sessionId" IS NULL`}${guard ? ` AND (${guard})` : ''}
        RETURNING "id"${kind === 'hot' ? ', "outputsEnc", "subscriptionId", "resourceGroupName", "revisionId"' : ''}`;
}

/** One group of liveCounts(): live instances of a region, kind and state, held by a session (`held`) or not. */
export interface LiveCount {
  region: string;
  kind: 'hot' | 'warm' | 'cold';
  state: InstanceState;
  held: boolean;
  /** Instances in the group. */
  n: number;
}

/**
 * What a hot claim returns (claimStatement('hot')): the instance's id, its encrypted outputs (the session's
 * access information) and what tagging its resource group with the session needs (TagTarget), so nothing
 * is read again after the claim.
 */
export interface ClaimedHot {
  id: string;
  outputsEnc: string | null;
  subscriptionId: string;
  resourceGroupName: string;
  revisionId: string;
}

/**
 * Persistence of pool instances. Two operations carry the pool's concurrency guarantees, each a
 * single SQL statement, atomic on SQLite and PostgreSQL, across processes:
 *  - claimReadyHotInstanceTx(): hands one ready hot instance to one session (conditional UPDATE …
 *    RETURNING, run by ArmTestDriveType.claimHot in the same transaction as the session row);
 *  - reserveMany() / reserveTx(): create instances only while a free slot exists (unique index on
 *    offer/region/kind/slot), so a region never exceeds its hot or cold limit.
 */
@Injectable()
export class PoolInstanceRepository {
  readonly repo: Repository<PoolInstanceEntity>;
  readonly regions: Repository<PoolRegionEntity>;
  private readonly postgres: boolean;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly db: Database,
  ) {
    this.repo = ds.getRepository(PoolInstanceEntity);
    this.regions = ds.getRepository(PoolRegionEntity);
    this.postgres = ds.options.type === 'postgres';
  }

  /**
   * THE place where a hot instance is claimed, as a statement of a transaction (Database.atomic, see
   * ArmTestDriveType.claimHot, which writes the session `ready` in the same transaction): assigns the oldest ready hot
   * instance of `offerId` in `region` to `sessionId` and yields it (id, outputsEnc), or null when none
   * is ready. One UPDATE … RETURNING, claimStatement('hot') above: it re-checks `state = 'ready'` on the row
   * it changes; on PostgreSQL the candidate is picked FOR UPDATE SKIP LOCKED, so concurrent claims take different rows.
   */
  *claimReadyHotInstanceTx(offerId: string, region: string, sessionId: string, now: number): TxBody<ClaimedHot | null> {
    const r = (yield this.claimHotStatement(offerId, region, sessionId, now)) as unknown as StatementResult<ClaimedHot>;
    return r.rows[0] ?? null;
  }

  /**
   * The hot claim of claimReadyHotInstanceTx as a statement (RETURNING the columns of ClaimedHot), with `guard` (a
   * boolean SQL expression and its parameters) ANDed into its WHERE: the form SessionCommit.claimAndPersist
   * sends on PostgreSQL, claim and session in one statement.
   */
  claimHotStatement(offerId: string, region: string, sessionId: string, now: number, guard?: Statement): Statement {
    return sql(claimStatement('hot', this.postgres, guard?.sql), [sessionId, now, now, offerId, region, ...(guard?.params ?? [])]);
  }

  /**
   * True when one of `regions` of the offer has a ready, unassigned instance of `kind`: after a PostgreSQL
   * claim found nothing (FOR UPDATE SKIP LOCKED passes over rows other claims hold), whether to try again.
   * One statement on the ready index, prepared (Database.once), not a TypeORM query (issue 14: building one
   * cost 5 % of the service's CPU at 20 concurrent hot starts). On SQLite, one writer at a time, an empty claim
   * is final: callers need not ask.
   */
  async anyReady(offerId: string, regions: string[], kind: 'hot' | 'warm'): Promise<boolean> {
    if (!regions.length) return false;
    const r = await this.db.once(
      sql(
        `SELECT 1 AS "one" FROM "pool_instance" WHERE "offerId" = ? AND "region" IN (${regions.map(() => '?').join(', ')}) AND "kind" = ? AND "state" = 'ready' AND "sessionId" IS NULL LIMIT 1`,
        [offerId, ...regions, kind],
      ),
    );
    return r.rows.length > 0;
  }

  /**
   * Where a warm instance is claimed (issue 12), as a statement of a transaction (ArmTestDriveType.claimWarm
   * writes the session `provisioning` in the same transaction): the oldest ready (deallocated) warm
   * instance of `offerId` in `region` becomes `starting` for `sessionId`; its virtual machines are started
   * by the driver. Same guarded UPDATE … RETURNING as the hot claim.
   */
  *claimReadyWarmInstanceTx(offerId: string, region: string, sessionId: string, now: number): TxBody<{ id: string } | null> {
    const r = (yield sql(claimStatement('warm', this.postgres), [sessionId, now, now, offerId, region])) as StatementResult<{ id: string }>;
    return r.rows[0] ?? null;
  }

  /**
   * One reservation as statements of a transaction (a cold start): yields the new pending instance in the
   * lowest free slot below `limit`, or null when all are taken. On PostgreSQL the reservations of one offer,
   * region and kind take turns (pg_advisory_xact_lock, also taken by reserveMany); a replica of an older
   * version reserving without the lock can still make the INSERT fail with a unique violation: the caller
   * rolls back and retries the whole transaction.
   */
  *reserveTx(n: NewInstance, limit: number, now: number): TxBody<PoolInstanceEntity | null> {
    const [row] = yield* this.reserveSlotsTx(n, 1, limit, now);
    return row ?? null;
  }

  /**
   * Statements of a transaction that create up to `count` pending instances in the lowest free slots below
   * `limit` of offer/region/kind (reserveTx, reserveMany): the slot lock on PostgreSQL, one SELECT of the
   * slots taken, one INSERT per RESERVE_ROWS_PER_INSERT rows. Yields the rows created, lowest slot first.
   */
  private *reserveSlotsTx(n: NewInstance, count: number, limit: number, now: number): TxBody<PoolInstanceEntity[]> {
    // PostgreSQL: reservations of one offer, region and kind take turns (a transaction-scoped advisory lock,
    // released at COMMIT or ROLLBACK), so concurrent cold starts do not all pick the same lowest free slot,
    // fail on the unique index and retry (issue 14: the slowest of 5 concurrent cold starts lost up to 4
    // rounds of BEGIN … ROLLBACK, p95 89 ms from request to deployment). SQLite runs one writer at a time.
    if (this.postgres) yield sql(`SELECT pg_advisory_xact_lock(hashtext(?)) AS "locked"`, [`pool-slots|${n.offerId}|${n.region}|${n.kind}`]);
    const used = (yield sql(
      `SELECT "slot" FROM "pool_instance" WHERE "offerId" = ? AND "region" = ? AND "kind" = ? AND "slot" IS NOT NULL`,
      [n.offerId, n.region, n.kind],
    )) as StatementResult<{ slot: number }>;
    const taken = new Set(used.rows.map((r) => Number(r.slot)));
    const rows: PoolInstanceEntity[] = [];
    for (let slot = 0; slot < limit && rows.length < count; slot++) if (!taken.has(slot)) rows.push(newInstanceRow(n, slot, now));
    for (let i = 0; i < rows.length; i += RESERVE_ROWS_PER_INSERT) {
      yield insertRows('pool_instance', rows.slice(i, i + RESERVE_ROWS_PER_INSERT) as unknown as Array<Record<string, unknown>>);
    }
    return rows;
  }

  /**
   * A deployment of an instance that belongs to a session succeeded (or, `from` starting, a warm
   * instance's virtual machines all run again): deploying|starting -> assigned and the
   * session provisioning -> ready (expiring `durationHours` test drive hours from `now`), in one
   * transaction (issue 8: no crash leaves the instance assigned and the session provisioning).
   * @returns whether the instance moved (false: someone else did it first).
   */
  async markAssignedAndSessionReady(inst: PoolInstanceEntity, outputsEnc: string, now: number, hourMs: number, from: 'deploying' | 'starting' = 'deploying'): Promise<boolean> {
    return this.db.atomic(function* (): TxBody<boolean> {
      const moved: StatementResult = yield sql(
        `UPDATE "pool_instance" SET "state" = 'assigned', "outputsEnc" = ?, "readyAt" = COALESCE("readyAt", ?), "failure" = NULL, "updatedAt" = ? WHERE "id" = ? AND "state" = ?`,
        [outputsEnc, now, now, inst.id, from],
      );
      if (moved.affected !== 1) return false;
      if (inst.sessionId) yield sessionReadyStatement(inst.sessionId, outputsEnc, now, hourMs);
      return true;
    });
  }

  /**
   * Repair rule (level-triggered, issue 8): a session still `provisioning` whose instance is already
   * assigned to it with outputs (a crash between the two writes of an older version, or a restore)
   * becomes ready now. Returns whether it moved.
   */
  async readySessionOfAssignedInstance(inst: PoolInstanceEntity, now: number, hourMs: number): Promise<boolean> {
    if (inst.state !== 'assigned' || !inst.sessionId) return false;
    const sessionId = inst.sessionId;
    const outputsEnc = inst.outputsEnc;
    return this.db.atomic(function* (): TxBody<boolean> {
      const r: StatementResult = yield sessionReadyStatement(sessionId, outputsEnc, now, hourMs, inst.id, inst.kind);
      return r.affected === 1;
    });
  }

  /** Assigned instances whose resource group is not yet tagged with their session (tag retries). */
  listUntagged(limit = 100): Promise<PoolInstanceEntity[]> {
    return this.repo.find({ where: { state: 'assigned', sessionTaggedAt: IsNull(), sessionId: Not(IsNull()) }, take: limit });
  }

  /** Records that the resource groups of `ids` carry their session tag (one UPDATE for the batch). */
  async markTagged(ids: string[], now: number): Promise<void> {
    if (ids.length) await this.repo.update({ id: In(ids) }, { sessionTaggedAt: now });
  }


  /**
   * Creates up to `count` instances (state pending) in the lowest free slots below `limit` of offer/region/kind,
   * in one transaction: on PostgreSQL the slot lock reserveTx takes (so cold starts and this take turns), one
   * SELECT of the slots taken and one multi-row INSERT. Issue 14: a refill of N instances was N round trips of
   * (SELECT of every slot + INSERT) on the reconcile tick, which the hot starts of that moment queued behind.
   * @returns the instances created, lowest slot first: fewer than `count` when the free slots ran out, none
   *   when all `limit` are taken.
   * @throws a database error. A unique violation on the slot index (a replica of an older version reserving
   *   the same slot without the lock) is retried, at most twice.
   */
  async reserveMany(n: NewInstance, count: number, limit: number, now: number): Promise<PoolInstanceEntity[]> {
    if (count <= 0) return [];
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.atomic(() => this.reserveSlotsTx(n, count, limit, now));
      } catch (err) {
        if (attempt >= 2 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  /**
   * Moves an instance from one of `from` states, applying `patch`; false when it was no longer in
   * such a state (someone else moved it first). Every state change goes through here, so two
   * reconcilers or an API call racing a reconciler never both act on one transition.
   */
  async transition(id: string, from: InstanceState[], patch: Partial<PoolInstanceEntity>, now: number): Promise<boolean> {
    // Entering `deleting` starts a new kind of work: a retry pause left from the previous state does not apply.
    if (patch.state === 'deleting' && !('nextActionAt' in patch)) patch = { ...patch, nextActionAt: null };
    return transitionRow(this.repo, id, from, patch, now);
  }

  /**
   * Removes instances deleted (their resource group gone) before `cutoff` (epoch ms, HISTORY_RETENTION_DAYS),
   * in batches of PURGE_BATCH, at most 20 batches a call: they hold no slot and no session needs them (a
   * session reads its own region and kind; an ended session whose instance row is gone stays ended).
   * @returns how many rows it removed.
   */
  async purgeDeletedBefore(cutoff: number): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < 20; batch++) {
      const r = await this.db.atomic(function* (): TxBody<StatementResult> {
        return (yield sql(
          `DELETE FROM "pool_instance" WHERE "id" IN (SELECT "id" FROM "pool_instance" WHERE "state" = 'deleted' AND "deletedAt" < ? LIMIT ${PURGE_BATCH})`,
          [cutoff],
        ));
      });
      total += r.affected;
      if (r.affected < PURGE_BATCH) break;
    }
    return total;
  }

  /** Marks an instance deleted and frees its slot (one statement). */
  async markDeleted(id: string, now: number): Promise<boolean> {
    return this.transition(id, ['deleting'], { state: 'deleted', slot: null, deletedAt: now }, now);
  }

  /**
   * Live (not deleted) instances of an offer counted by region, kind, state and whether a session holds them:
   * one GROUP BY (issue 14: the capacity view, which the leader's escalation pass reads every 15 s, loaded and
   * hydrated every live instance of every offer: with 1,280 instances, bursts of 8-10 scavenges every 15 s while idle).
   */
  async liveCounts(offerId: string): Promise<LiveCount[]> {
    const held = 'CASE WHEN "i"."sessionId" IS NULL THEN 0 ELSE 1 END';
    const rows = await this.repo
      .createQueryBuilder('i')
      .select('"i"."region"', 'region')
      .addSelect('"i"."kind"', 'kind')
      .addSelect('"i"."state"', 'state')
      .addSelect(held, 'held')
      .addSelect('COUNT(*)', 'n')
      .where('"i"."offerId" = :offerId', { offerId })
      .andWhere('"i"."state" IN (:...states)', { states: LIVE_STATES })
      .groupBy('"i"."region"')
      .addGroupBy('"i"."kind"')
      .addGroupBy('"i"."state"')
      .addGroupBy(held)
      .getRawMany<{ region: string; kind: LiveCount['kind']; state: InstanceState; held: number | string; n: number | string }>();
    return rows.map((r) => ({ region: r.region, kind: r.kind, state: r.state, held: Number(r.held) === 1, n: Number(r.n) }));
  }

  /** Live (not deleted) instances of an offer, or of every offer. */
  listLive(offerId?: string): Promise<PoolInstanceEntity[]> {
    return this.repo.find({ where: { ...(offerId ? { offerId } : {}), state: In(LIVE_STATES) }, order: { createdAt: 'ASC' } });
  }

  /**
   * The instances a reconcile pass has a step for (issue 14: a pass reads its due work, not the fleet):
   * states with work of their own (pending, deploying, parking, starting, failed, deleting) whose retry
   * pause `nextActionAt` is over (epoch ms), oldest first, at most `limit`. Ready and assigned instances
   * need no step; an assigned one whose session is over is found by listAssignedWithSessionOver().
   * Index IX_pool_instance_due (state, nextActionAt).
   */
  listDue(now: number, limit = 2000): Promise<PoolInstanceEntity[]> {
    return this.repo
      .createQueryBuilder('i')
      .where('i.state IN (:...states)', { states: STEP_STATES })
      .andWhere('(i.nextActionAt IS NULL OR i.nextActionAt <= :now)', { now })
      .orderBy('i.createdAt', 'ASC')
      .take(limit)
      .getMany();
  }

  /**
   * Deploying instances of `offerIds` without a session whose next read is paused past `now` by the read
   * pacing (deploymentPollPauseMs, shorter than `stepRetryMs`), not by a failed step (STEP_RETRY_MS or
   * ARM's Retry-After, at least `stepRetryMs`): what a reconcile pass reads at once when a request of the
   * offer is queued.
   */
  listPausedDeployments(offerIds: string[], now: number, stepRetryMs: number): Promise<PoolInstanceEntity[]> {
    if (!offerIds.length) return Promise.resolve([]);
    return this.repo
      .createQueryBuilder('i')
      .where('i.state = :state', { state: 'deploying' })
      .andWhere('i.nextActionAt > :now', { now })
      .andWhere('i.nextActionAt - i.updatedAt < :stepRetryMs', { stepRetryMs })
      .andWhere('i.sessionId IS NULL')
      .andWhere('i.offerId IN (:...offerIds)', { offerIds })
      .getMany();
  }

  /**
   * When the next listDue() has work (epoch ms): the earliest `nextActionAt` of an instance in a state
   * with a step of its own (0 when one has no pause), or null when there is none. One indexed MIN.
   */
  async nextStepAt(): Promise<number | null> {
    const r = await this.repo
      .createQueryBuilder('i')
      .select('MIN(COALESCE(i.nextActionAt, 0))', 'at')
      .where('i.state IN (:...states)', { states: STEP_STATES })
      .getRawOne<{ at: string | number | null }>();
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  }

  /**
   * Assigned instances whose session is over (ending, ended, failed) or gone: the backstop of the
   * session's own teardown (endSession sends the instance to deletion). One set-based query.
   */
  listAssignedWithSessionOver(limit = 1000): Promise<PoolInstanceEntity[]> {
    return this.repo
      .createQueryBuilder('i')
      .leftJoin('session', 's', 's.id = i.sessionId')
      .where("i.state = 'assigned'")
      .andWhere("(s.id IS NULL OR s.state IN ('ending', 'ended', 'failed'))")
      .take(limit)
      .getMany();
  }

  /**
   * Ready hot instances of no session that hold encrypted outputs, each with the first 72 characters of
   * its `outputsEnc` (`v1:<keyVersion>:...`: enough for the data key version, DataProtector.keyVersionOf)
   * rather than the whole value: what the unreadable-outputs sweep reads. Warm instances are left out:
   * their start reads the outputs again from the deployment (ArmInstanceDriver.startWarm).
   */
  listReadyHotOutputKeys(): Promise<Array<{ id: string; prefix: string }>> {
    return this.repo
      .createQueryBuilder('i')
      .select('i.id', 'id')
      .addSelect('SUBSTR(i.outputsEnc, 1, 72)', 'prefix')
      .where("i.state = 'ready' AND i.kind = 'hot' AND i.sessionId IS NULL AND i.outputsEnc IS NOT NULL")
      .getRawMany<{ id: string; prefix: string }>();
  }

  /**
   * Live instances of an offer that belong to no session (candidates for removal when no longer wanted),
   * oldest first: only the columns the pool decisions read (issue 14: not the encrypted outputs and
   * failures of every ready instance on every pass).
   */
  listUnassignedLive(offerId: string): Promise<UnassignedInstance[]> {
    return this.repo.find({
      select: { id: true, region: true, kind: true, slot: true, state: true, revisionId: true, readyAt: true, createdAt: true },
      where: { offerId, sessionId: IsNull(), state: In(LIVE_STATES) },
      order: { createdAt: 'ASC' },
    });
  }

  /**
   * Slots held in offer's region/kind pools below `target(region, kind)`: counted by the database
   * (GROUP BY over the slot index) unless a pool holds slots at or above its target (the target was
   * lowered), which is then counted exactly. Issue 14: no instance rows are read for this.
   */
  async heldSlots(offerId: string, target: (region: string, kind: string) => number): Promise<Map<string, number>> {
    const rows = await this.repo
      .createQueryBuilder('i')
      .select('i.region', 'region')
      .addSelect('i.kind', 'kind')
      .addSelect('COUNT(*)', 'n')
      .addSelect('MAX(i.slot)', 'top')
      .where('i.offerId = :offerId AND i.slot IS NOT NULL', { offerId })
      .groupBy('i.region')
      .addGroupBy('i.kind')
      .getRawMany<{ region: string; kind: string; n: string | number; top: string | number }>();
    const out = new Map<string, number>();
    for (const r of rows) {
      const t = target(r.region, r.kind);
      const held = Number(r.top) < t ? Number(r.n) : await this.repo.count({ where: { offerId, region: r.region, kind: r.kind as PoolInstanceEntity['kind'], slot: LessThan(t) } });
      out.set(`${r.region}|${r.kind}`, held);
    }
    return out;
  }

  /**
   * Issue 15: how long the offer's latest hot deployments in `region` took, ms (reservation to ready,
   * the lead time a hot pool must plan for), newest first, at most `limit`.
   */
  async recentHotDeploymentDurations(offerId: string, region: string, limit = 20): Promise<number[]> {
    const rows = await this.repo.find({ select: { createdAt: true, readyAt: true }, where: { offerId, region, kind: 'hot', readyAt: Not(IsNull()) }, order: { readyAt: 'DESC' }, take: limit });
    return rows.map((r) => Number(r.readyAt) - Number(r.createdAt)).filter((ms) => ms >= 0);
  }

  /** Issue 15: lifetimes (epoch ms; `to` null while alive) of the offer's hot instances in `region` alive at or after `since`. */
  async hotLifetimesSince(offerId: string, region: string, since: number): Promise<Array<{ from: number; to: number | null }>> {
    const rows = await this.repo
      .createQueryBuilder('i')
      .select(['i.createdAt', 'i.deletedAt'])
      .where("i.offerId = :offerId AND i.region = :region AND i.kind = 'hot'", { offerId, region })
      .andWhere('(i.deletedAt IS NULL OR i.deletedAt >= :since)', { since })
      .getMany();
    return rows.map((r) => ({ from: Number(r.createdAt), to: r.deletedAt === null ? null : Number(r.deletedAt) }));
  }

  /** How many instances of an offer are not deleted yet. */
  countLive(offerId: string): Promise<number> {
    return this.repo.count({ where: { offerId, state: In(LIVE_STATES) } });
  }

  /** The instances with these ids (one query; unknown ids are left out). */
  findByIds(ids: string[]): Promise<PoolInstanceEntity[]> {
    return ids.length ? this.repo.find({ where: { id: In(ids) } }) : Promise.resolve([]);
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
  /**
   * Health rows of every region of an offer (one query; issue 14: GET /capacity and escalation read an
   * offer's regions together). A region without a row is healthy (no failures, no backoff).
   */
  async regionStates(offerId: string): Promise<Map<string, PoolRegionEntity>> {
    const rows = await this.regions.findBy({ offerId });
    return new Map(rows.map((r) => [r.region, r]));
  }

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
      .set({ consecutiveFailures: () => '"consecutiveFailures" + 1', lastFailure: { ...failure, at: now } })
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

/** Rows of one INSERT in reserveSlotsTx (23 columns: 4,600 parameters, within both databases' limits). */
const RESERVE_ROWS_PER_INSERT = 200;

/** A new pending instance row of `n` in `slot`. */
function newInstanceRow(n: NewInstance, slot: number, now: number): PoolInstanceEntity {
  const id = randomUUID();
  return {
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
    submittedAt: null,
    readyAt: null,
    assignedAt: n.sessionId ? now : null,
    deletedAt: null,
    // A cold instance's resource group is created with its session tag already.
    sessionTaggedAt: n.sessionId ? now : null,
    updatedAt: now,
  };
}

/**
 * UPDATE of session `sessionId` provisioning -> ready with `outputsEnc`, expiring its `durationHours`
 * test drive hours (`hourMs` each) from `now`; optionally also setting its instance.
 */
function sessionReadyStatement(sessionId: string, outputsEnc: string | null, now: number, hourMs: number, instanceId?: string, kind?: string) {
  return sql(
    `UPDATE "session" SET "state" = 'ready', "outputsEnc" = ?, "readyAt" = ?, "expiresAt" = CAST(? AS BIGINT) + "durationHours" * CAST(? AS BIGINT), "updatedAt" = ?${instanceId ? ', "instanceId" = ?, "instanceKind" = ?' : ''}
      WHERE "id" = ? AND "state" = 'provisioning'`,
    [outputsEnc, now, now, hourMs, now, ...(instanceId ? [instanceId, kind] : []), sessionId],
  );
}

/** Partner Center: one new resource group per instance, named CloudTry_<guid without dashes>. */
export function resourceGroupNameFor(instanceId: string): string {
  return `CloudTry_${instanceId.replace(/-/g, '')}`;
}
