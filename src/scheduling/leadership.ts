import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { isUniqueViolation } from '../persistence/data-source';
import { ADVISORY_LOCK_KEYS } from '../persistence/migration-lock';
import { SchedulerLeaseEntity } from './scheduler-lease.entity';

/** Where leadership events go (the Nest logger in the service, anything in tests). */
export interface LeadershipLog {
  log(msg: string): void;
  warn(msg: string): void;
}

/**
 * Which replica runs the reconcile loop. `ensure()` is called once per tick by every replica: the
 * leader confirms it still leads, the others try to become leader.
 */
export interface Leadership {
  /** 'advisory-lock' (PostgreSQL) or 'row-lease' (SQLite). */
  readonly kind: 'advisory-lock' | 'row-lease';
  /** This replica's identity in logs (and the lease row): `<host>/<pid>/<random>`. */
  readonly owner: string;
  /** Last known state, without a database round trip; turns false as soon as the loss is noticed. */
  readonly held: boolean;
  /** Acquires or confirms leadership. @returns true when this replica leads now. @throws on database errors (then not leader). */
  ensure(): Promise<boolean>;
  /** Gives leadership up (shutdown) so another replica takes over on its next tick. Never throws. */
  release(): Promise<void>;
}

/** Owner ids of the leaderships alive in this process (tells a previous incarnation with our pid from a sibling). */
const LIVE_OWNERS = new Set<string>();

/** Host part of owner ids (the lease's owner column holds 64 characters). */
const HOST = os.hostname().replace(/\//g, '_').slice(0, 40);

function newOwner(): string {
  const owner = `${HOST}/${process.pid}/${randomUUID().slice(0, 8)}`;
  LIVE_OWNERS.add(owner);
  return owner;
}

/**
 * True when `owner` (`<host>/<pid>/<random>`) was a process of this host that no longer runs: another
 * pid that signal 0 says is gone (ESRCH), or our own pid but not a leadership of this process (a
 * container restarted with the same hostname and pid).
 */
export function isDeadLocalOwner(owner: string): boolean {
  const m = /^(.*)\/(\d+)\/[^/]+$/.exec(owner);
  if (!m || m[1] !== HOST || LIVE_OWNERS.has(owner)) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * PostgreSQL: leadership is a session-level advisory lock (`pg_try_advisory_lock`,
 * ADVISORY_LOCK_KEYS.reconcileLeader) taken on a dedicated connection of its own (a `pg.Client`, not
 * one of TypeORM's pooled connections), as immich does for its jobs. The replica holding it leads for
 * as long as that connection lives, however long a pass takes: there is no TTL and no replica clock
 * involved. Each ensure() the leader checks its connection (`SELECT 1`); on any error, or as soon as
 * the client reports the connection gone, it is no longer leader and reconnects. A non-leader tries
 * the lock on every ensure(), so when a leader dies (the server ends its session when the socket
 * closes) another replica leads within one tick.
 *
 * A leader that vanishes without closing its socket (host down, network partition) is cut off by
 * the server after `idleSessionTimeoutMs` without a check (`idle_session_timeout`, PostgreSQL 14+;
 * ignored by older servers, where TCP keepalive settles it).
 *
 * A replica that loses leadership (its connection failed or was ended) stands down for `standDownMs`
 * before it tries the lock again. The lock is free the moment the server ends the old session, and
 * without the stand-down the old leader, reconnecting on its next tick, races every other replica for
 * it: the replica whose connection just failed would often win it back, and a flaky link would make
 * leadership flap. With it, a healthy replica takes over on its next tick; a lone replica leads again
 * after the stand-down.
 */
export class AdvisoryLockLeadership implements Leadership {
  readonly kind = 'advisory-lock' as const;
  readonly owner = newOwner();
  private client: Client | null = null;
  private leading = false;
  /** Monotonic ms before which this replica does not try the lock (set when leadership is lost). */
  private standDownUntil = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  /**
   * @param url PostgreSQL URL (DATABASE_URL).
   * @param opts timeoutMs: connect and check timeout (ms); idleSessionTimeoutMs: see the class doc (ms);
   *   standDownMs: how long a replica that lost leadership waits before trying again (ms, default 0);
   *   now: monotonic time in ms (default `performance.now`; tests move it).
   */
  constructor(
    private readonly url: string,
    private readonly log: LeadershipLog,
    private readonly opts: { timeoutMs: number; idleSessionTimeoutMs: number; standDownMs?: number; now?: () => number },
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  get held(): boolean {
    return this.leading && this.client !== null;
  }

  async ensure(): Promise<boolean> {
    try {
      if (this.client && this.leading) {
        await this.client.query('SELECT 1');
        return true;
      }
      if (this.now() < this.standDownUntil) return false;
      const client = this.client ?? (await this.connect());
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [ADVISORY_LOCK_KEYS.reconcileLeader]);
      if (r.rows[0]?.ok === true && this.client === client) {
        this.leading = true;
        this.log.log(`leader of the reconcile loop (${this.owner}, PostgreSQL advisory lock)`);
      }
      return this.held;
    } catch (err) {
      this.drop(`leader connection failed: ${(err as Error).message}`);
      throw err;
    }
  }

  async release(): Promise<void> {
    const c = this.client;
    this.client = null;
    const was = this.leading;
    this.leading = false;
    LIVE_OWNERS.delete(this.owner);
    if (!c) return;
    if (was) await c.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEYS.reconcileLeader]).catch(() => undefined);
    await c.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    const c = new Client({
      connectionString: this.url,
      application_name: 'testdrive-leader',
      keepAlive: true,
      connectionTimeoutMillis: this.opts.timeoutMs,
      query_timeout: this.opts.timeoutMs,
    });
    const gone = (why: string) => {
      if (this.client === c) this.drop(why);
    };
    c.on('error', (err) => gone(`leader connection lost: ${err.message}`));
    c.on('end', () => gone('leader connection closed'));
    this.client = c;
    await c.connect();
    await c.query(`SET idle_session_timeout = ${Math.round(this.opts.idleSessionTimeoutMs)}`).catch(() => undefined);
    return c;
  }

  /** Forgets the connection (the server releases the lock when it ends) and leadership. */
  private drop(why: string): void {
    const c = this.client;
    this.client = null;
    if (this.leading) {
      const standDownMs = this.opts.standDownMs ?? 0;
      this.standDownUntil = this.now() + standDownMs;
      this.log.warn(`no longer leader of the reconcile loop (${this.owner}): ${why}; not trying again for ${Math.round(standDownMs)} ms`);
    }
    this.leading = false;
    if (c) void c.end().catch(() => undefined);
  }
}

/** Database time in epoch ms, as SQL (never a replica's clock: replicas' clocks differ, the database's is one). */
function dbNowSql(ds: DataSource): string {
  return ds.options.type === 'postgres'
    ? '(CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT))'
    : "(CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))";
}

/**
 * SQLite (one process per database file is the supported deployment): leadership is a row lease in
 * `scheduler_lease`, its expiry computed in database time. ensure() renews it every tick (the tick runs
 * independently of passes, so a long pass keeps its lease: that is the heartbeat). A replica may take
 * the lease when it has expired, or at once when its holder was a process of this host that is gone (a
 * restart does not wait out the TTL). Released on shutdown.
 */
export class RowLeaseLeadership implements Leadership {
  readonly kind = 'row-lease' as const;
  readonly owner = newOwner();
  private leading = false;

  /** @param ttlMs how long the lease lasts without renewal (ms of database time). */
  constructor(
    private readonly ds: DataSource,
    private readonly name: string,
    private readonly ttlMs: number,
    private readonly log: LeadershipLog,
  ) {}

  get held(): boolean {
    return this.leading;
  }

  async ensure(): Promise<boolean> {
    try {
      const now = dbNowSql(this.ds);
      const repo = this.ds.getRepository(SchedulerLeaseEntity);
      const row = await repo
        .createQueryBuilder('l')
        .select('l.owner', 'owner')
        .addSelect('l.expiresAt', 'expiresAt')
        .addSelect(now, 'now')
        .where('l.name = :name', { name: this.name })
        .getRawOne<{ owner: string; expiresAt: string | number; now: string | number }>();
      let got: boolean;
      if (!row) {
        got = await repo
          .createQueryBuilder()
          .insert()
          .values({ name: this.name, owner: this.owner, expiresAt: () => `${now} + ${Math.round(this.ttlMs)}` })
          .execute()
          .then(
            () => true,
            (err: unknown) => {
              if (isUniqueViolation(err)) return false;
              throw err;
            },
          );
      } else if (row.owner === this.owner || Number(row.expiresAt) <= Number(row.now) || isDeadLocalOwner(row.owner)) {
        // Compare-and-set on the owner read above: of two replicas taking an expired lease, one wins.
        const r = await repo
          .createQueryBuilder()
          .update(SchedulerLeaseEntity)
          .set({ owner: this.owner, expiresAt: () => `${now} + ${Math.round(this.ttlMs)}` })
          .where('name = :name AND owner = :prev', { name: this.name, prev: row.owner })
          .execute();
        got = r.affected === 1;
        if (got && row.owner !== this.owner) this.log.log(`took the reconcile lease from ${row.owner} (${Number(row.expiresAt) <= Number(row.now) ? 'expired' : 'its process is gone'})`);
      } else {
        got = false;
      }
      if (got && !this.leading) this.log.log(`leader of the reconcile loop (${this.owner}, lease in the database)`);
      if (!got && this.leading) this.log.warn(`no longer leader of the reconcile loop (${this.owner}): the lease is held by another owner`);
      this.leading = got;
      return got;
    } catch (err) {
      if (this.leading) this.log.warn(`no longer leader of the reconcile loop (${this.owner}): ${(err as Error).message}`);
      this.leading = false;
      throw err;
    }
  }

  async release(): Promise<void> {
    this.leading = false;
    LIVE_OWNERS.delete(this.owner);
    await this.ds
      .getRepository(SchedulerLeaseEntity)
      .delete({ name: this.name, owner: this.owner })
      .catch(() => undefined);
  }
}
