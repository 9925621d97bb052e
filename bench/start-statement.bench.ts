/**
 * The hot start's database work on PostgreSQL, three ways, measured side by side in one run on one temporary
 * database with the project's schema (migrations), issue 14:
 *  - `transaction`: BEGIN, the claim, the session/lead/audit inserts and the offer's version read as one
 *    statement (together()), COMMIT: Database.atomic, the form before the one-statement start (the baseline);
 *  - `statement`: the claim and the inserts as ONE autocommitted statement (afterClaim), sent unnamed, so
 *    PostgreSQL parses and plans it every time;
 *  - `prepared`: the same statement as Database.once sends it (named: parsed and planned once per connection).
 * The statements are built by the service's own builders (claimHotStatement, insertRow, insertRowFrom,
 * together, afterClaim) from rows shaped like a real start's.
 *
 * Run: `npm run bench -- start-statement` (needs TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test).
 * BENCH_STATEMENT_N starts per way and concurrency (default 2000), BENCH_STATEMENT_CONCURRENCY (default 1,8).
 * Prints per start: wall time, this process's CPU (user+system, the pg driver and the socket writes),
 * PostgreSQL's CPU (its backends, read from /proc: the database must run on this machine), and the ratios to
 * `transaction`. Not a test: nothing is asserted beyond every claim succeeding.
 */
import * as fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openDataSource } from '../src/persistence/data-source';
import { afterClaim, Database, insertRow, insertRowFrom, sql, together, TxBody, StatementResult } from '../src/persistence/database';
import { PoolInstanceRepository } from '../modules/azure-resource-manager/pools/pool-instance.repository';
import { createTempDatabase } from '../test/support/postgres';
import { itOn } from '../test/support/postgres';

const N = Number(process.env.BENCH_STATEMENT_N ?? 2000);
const CONCURRENCY = (process.env.BENCH_STATEMENT_CONCURRENCY ?? '1,8').split(',').map(Number);
const WAYS = ['transaction', 'statement', 'prepared'] as const;
type Way = (typeof WAYS)[number];

/** CPU ms of PostgreSQL's backends on this machine (utime + stime of each pid, /proc, 10 ms ticks). */
async function postgresCpuMs(ds: DataSource): Promise<number> {
  const pids = (await ds.query<Array<{ pid: number }>>('SELECT "pid" FROM pg_stat_activity WHERE "datname" = current_database()')).map((r) => r.pid);
  let ms = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      // a backend that ended meanwhile
    }
  }
  return ms;
}

itOn('postgres')(
  'hot start statement on PostgreSQL: transaction vs one statement vs one prepared statement',
  async () => {
    const tmp = await createTempDatabase();
    const ds = await openDataSource({ kind: 'postgres', url: tmp.url });
    const db = new Database(ds);
    // The same statement unnamed, as DATABASE_PREPARED_STATEMENTS=false sends it.
    const unnamed = new Database(ds, { database: { kind: 'postgres', url: tmp.url, preparedStatements: false } });
    const pool = new PoolInstanceRepository(ds, db);
    const offerId = 'bench';
    const region = 'westeurope';
    const total = N * WAYS.length * CONCURRENCY.length;
    const rows: string[] = [];
    try {
      const now = Date.now();
      await ds.query(
        `INSERT INTO "offer" ("id", "alias", "type", "state", "testDrive", "deployment", "createdAt", "updatedAt", "version") VALUES ($1, $1, 'azure-resource-manager', 'published', '{}', '{}', $2, $2, 1)`,
        [offerId, now],
      );
      await ds.query(
        `INSERT INTO "pool_instance" ("id", "offerId", "revisionId", "region", "kind", "slot", "state", "subscriptionId", "resourceGroupName", "deploymentName", "outputsEnc", "attempts", "createdAt", "readyAt", "updatedAt")
         SELECT 'i' || g, $1, 'r1', $2, 'hot', g, 'ready', 'sub', 'CloudTry_' || md5(g::text), 'testdrive', repeat('x', 400), 0, $3::bigint, $3::bigint + g, $3::bigint FROM generate_series(1, $4::int) AS g`,
        [offerId, region, now, total + 100],
      );
      await ds.query('ANALYZE');
      const version = { id: offerId, version: 1 };
      const rowsOf = (t: number) => {
        const sessionId = randomUUID();
        const session = {
          id: sessionId, offerId, type: 'azure-resource-manager', state: 'ready', region, instanceKind: 'hot', instanceId: null, customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' },
          clientTenantId: 't', clientId: 'c', idempotencyKey: null, requestHash: 'h'.repeat(64), durationHours: 1, slot: null, outputsEnc: null, failure: null, endReason: null,
          requestedAt: t, readyAt: t, expiresAt: t + 3_600_000, endedAt: null, progress: null, updatedAt: t,
        };
        const lead = {
          id: randomUUID(), offerId, sessionId, kind: 'lead', publisherId: 't', offerTitle: offerId, source: 'azure-marketplace', action: 'StartTestDrive',
          contact: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' }, state: 'pending', attempts: 0, nextAttemptAt: t, lastError: null, lockedBy: null, lockedUntil: null, deliveredAt: null, createdAt: t, updatedAt: t,
        };
        const audit = { id: randomUUID(), at: t, actorType: 'client', actorTenantId: 't', actorClientId: 'c', actorRoles: 'Marketplace', action: 'session.started', offerId, targetType: 'session', targetId: sessionId, details: { region, instanceKind: 'hot' } };
        return { session, lead, audit };
      };
      const startOnce = async (way: Way): Promise<void> => {
        const t = Date.now();
        const { session, lead, audit } = rowsOf(t);
        if (way === 'transaction') {
          const ok = await db.atomic(function* (): TxBody<boolean> {
            const c = (yield pool.claimHotStatement(offerId, region, session.id, t)) as StatementResult<{ id: string; outputsEnc: string }>;
            if (!c.rows[0]) return false;
            const r = yield together(
              insertRow('session', { ...session, instanceId: c.rows[0].id, outputsEnc: c.rows[0].outputsEnc }),
              insertRow('lead', lead),
              insertRow('audit_event', audit),
              sql('SELECT "version" FROM "offer" WHERE "id" = ?', [offerId]),
            );
            if (Number(r.rows[0].version) !== 1) throw new Error('offer changed');
            return true;
          });
          if (!ok) throw new Error('nothing claimed');
          return;
        }
        const s = afterClaim(
          pool.claimHotStatement(offerId, region, session.id, t, sql('EXISTS (SELECT 1 FROM "offer" WHERE "id" = ? AND "version" = ?)', [version.id, version.version])),
          [insertRowFrom('session', session, { instanceId: 'id', outputsEnc: 'outputsEnc' }), insertRowFrom('lead', lead), insertRowFrom('audit_event', audit)],
          sql('SELECT "version" FROM "offer" WHERE "id" = ?', [offerId]),
        );
        const r = await (way === 'prepared' ? db : unnamed).once(s);
        if (!r.rows[0]?.id) throw new Error('nothing claimed');
      };
      for (const c of CONCURRENCY) {
        for (const way of WAYS) {
          // Warm up connections and (for `prepared`) each connection's prepared statement.
          await Promise.all(Array.from({ length: c }, () => startOnce(way)));
          const cpu0 = process.cpuUsage();
          const pg0 = await postgresCpuMs(ds);
          const t0 = process.hrtime.bigint();
          let next = 0;
          await Promise.all(
            Array.from({ length: c }, async () => {
              while (next++ < N) await startOnce(way);
            }),
          );
          const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
          const cpu = process.cpuUsage(cpu0);
          const pgMs = (await postgresCpuMs(ds)) - pg0;
          rows.push(`${way.padEnd(12)} C=${String(c).padEnd(4)} ${String(N).padStart(6)} ${(wallMs / N).toFixed(3).padStart(9)} ${((cpu.user + cpu.system) / 1000 / N).toFixed(3).padStart(9)} ${(pgMs / N).toFixed(3).padStart(9)} ${((N / wallMs) * 1000).toFixed(0).padStart(8)}`);
        }
      }
      const parse = (line: string) => line.trim().split(/\s+/);
      const ratios = CONCURRENCY.flatMap((c) => {
        const of = (way: Way) => parse(rows.find((r) => r.startsWith(way) && r.includes(`C=${c} `))!);
        const base = of('transaction');
        return (['statement', 'prepared'] as const).map((way) => {
          const x = of(way);
          const ratio = (i: number) => `${((Number(x[i]) / Number(base[i])) * 100).toFixed(0)} %`;
          return `${way.padEnd(12)} C=${String(c).padEnd(4)} wall ${ratio(3).padStart(6)}, service CPU ${ratio(4).padStart(6)}, PostgreSQL CPU ${ratio(5).padStart(6)} of transaction`;
        });
      });
      process.stdout.write(
        [
          '',
          'Hot start database work on PostgreSQL (per start: ms; PostgreSQL CPU of its backends from /proc)',
          'way          C          n   wall/ms  node cpu    pg cpu  starts/s',
          ...rows,
          '',
          ...ratios,
          '',
        ].join('\n'),
      );
    } finally {
      await ds.destroy();
      await tmp.drop();
    }
  },
  900_000,
);
