import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { openDataSource } from '../persistence/data-source';
import { createTempDatabase, describeWithPostgres, POSTGRES_ADMIN_URL } from '../../test/support/postgres';
import { waitFor } from '../../test/support/wait';
import { AdvisoryLockLeadership, isDeadLocalOwner, RowLeaseLeadership } from './leadership';
import { SchedulerLeaseEntity } from './scheduler-lease.entity';

const quiet = { log: () => undefined, warn: () => undefined };
const host = os.hostname().replace(/\//g, '_').slice(0, 40);

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('RowLeaseLeadership (SQLite)', () => {
  let ds: DataSource;
  beforeEach(async () => {
    ds = await openDataSource({ kind: 'sqlite', file: ':memory:' });
  });
  afterEach(async () => {
    await ds.destroy();
  });
  const row = () => ds.getRepository(SchedulerLeaseEntity).findOneByOrFail({ name: 'reconcile' });
  const dbNow = async () => Number((await ds.query<Array<{ now: number }>>(`SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS now`))[0].now);

  it('one holder at a time; the lease expires in database time and is renewed by each ensure()', async () => {
    const a = new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet);
    const b = new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet);
    expect(await a.ensure()).toBe(true);
    expect(await b.ensure()).toBe(false);
    const first = await row();
    expect(first.owner).toBe(a.owner);
    expect(Math.abs(first.expiresAt - (await dbNow()) - 10_000)).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(await a.ensure()).toBe(true);
    expect((await row()).expiresAt).toBeGreaterThan(first.expiresAt);
    // Expired (in database time): the other replica takes it, and the first learns it lost it.
    await ds.getRepository(SchedulerLeaseEntity).update({ name: 'reconcile' }, { expiresAt: (await dbNow()) - 1 });
    expect(await b.ensure()).toBe(true);
    expect(await a.ensure()).toBe(false);
    expect(a.held).toBe(false);
    await b.release();
    expect(await a.ensure()).toBe(true);
  });

  it('a restarted process takes at once a lease whose holder on this host is gone, not one of a live process', async () => {
    const repo = ds.getRepository(SchedulerLeaseEntity);
    const far = (await dbNow()) + 3_600_000;
    await repo.insert({ name: 'reconcile', owner: `${host}/${deadPid()}/deadbeef`, expiresAt: far });
    const me = new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet);
    expect(await me.ensure()).toBe(true);
    await me.release();
    await repo.insert({ name: 'reconcile', owner: `${host}/${process.ppid}/cafebabe`, expiresAt: far });
    expect(await new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet).ensure()).toBe(false);
    await repo.update({ name: 'reconcile' }, { owner: `another-host/${deadPid()}/cafebabe` });
    expect(await new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet).ensure()).toBe(false);
  });

  it('isDeadLocalOwner: only this host, only gone processes, never a leadership of this process', () => {
    const live = new RowLeaseLeadership(ds, 'reconcile', 10_000, quiet);
    expect(isDeadLocalOwner(live.owner)).toBe(false);
    expect(isDeadLocalOwner(`${host}/${process.pid}/00000000`)).toBe(true);
    expect(isDeadLocalOwner(`${host}/${deadPid()}/00000000`)).toBe(true);
    expect(isDeadLocalOwner(`${host}/${process.ppid}/00000000`)).toBe(false);
    expect(isDeadLocalOwner(`elsewhere/${deadPid()}/00000000`)).toBe(false);
    expect(isDeadLocalOwner('garbage')).toBe(false);
  });
});

describeWithPostgres('AdvisoryLockLeadership (PostgreSQL)', () => {
  it('one leader per database for as long as its connection lives; release hands over', async () => {
    const db = await createTempDatabase();
    const opts = { timeoutMs: 5_000, idleSessionTimeoutMs: 30_000 };
    const a = new AdvisoryLockLeadership(db.url, quiet, opts);
    const b = new AdvisoryLockLeadership(db.url, quiet, opts);
    try {
      expect(await a.ensure()).toBe(true);
      expect(await b.ensure()).toBe(false);
      expect(await a.ensure()).toBe(true);
      expect(await b.ensure()).toBe(false);
      expect([a.held, b.held]).toEqual([true, false]);
      await a.release();
      expect(a.held).toBe(false);
      expect(await b.ensure()).toBe(true);
      expect(await a.ensure()).toBe(false);
    } finally {
      await a.release();
      await b.release();
      await db.drop();
    }
  });

  it('a leader whose connection is killed stands down for standDownMs: another replica takes over, the old one does not win the lock back', async () => {
    const db = await createTempDatabase();
    let now = 0;
    const opts = { timeoutMs: 5_000, idleSessionTimeoutMs: 30_000, standDownMs: 500, now: () => now };
    const a = new AdvisoryLockLeadership(db.url, quiet, opts);
    const b = new AdvisoryLockLeadership(db.url, quiet, opts);
    const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    const holders = async () =>
      (
        await admin.query<{ pid: number }>(
          `SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1 AND a.application_name = 'testdrive-leader'`,
          [new URL(db.url).pathname.slice(1)],
        )
      ).rows.map((r) => r.pid);
    try {
      expect(await a.ensure()).toBe(true);
      const [pid] = await holders();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // The server has ended A's session (the lock is free) and A has noticed.
      await waitFor('the lock to be free and A to notice', async () => (await holders()).length === 0 && !a.held, 5_000);
      // A ticks first: it does not reconnect and take the free lock back...
      now += 250;
      expect(await a.ensure()).toBe(false);
      expect(await holders()).toEqual([]);
      // ...so B, ticking next, leads; once A's stand-down is over it finds the lock taken.
      expect(await b.ensure()).toBe(true);
      now += 500;
      expect(await a.ensure()).toBe(false);
      await b.release();
      expect(await a.ensure()).toBe(true);
    } finally {
      await admin.end();
      await a.release();
      await b.release();
      await db.drop();
    }
  });
});
