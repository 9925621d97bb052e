import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import type { Db } from './harness';

/** Default of TEST_POSTGRES_URL. */
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** PostgreSQL server the tests use (CI has one at 127.0.0.1:5432, trust auth). */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? DEFAULT_POSTGRES_URL;

/** How long the probe waits for the server to accept a connection, in milliseconds. */
export const POSTGRES_PROBE_TIMEOUT_MS = 2000;

/**
 * Decides, once per jest run and before any test is collected, whether the PostgreSQL tests run.
 * Rules (env): TEST_POSTGRES=0 turns them off without probing; otherwise they run when a server
 * answers at TEST_POSTGRES_URL (connect + `SELECT 1` within {@link POSTGRES_PROBE_TIMEOUT_MS}).
 * TEST_REQUIRE_POSTGRES=1 (CI, `.ci/run`) makes a skipped half a failure.
 * @returns available: whether they run; reason: why not (for the note printed by the global setup).
 * @throws Error when TEST_REQUIRE_POSTGRES=1 and the server does not answer, or TEST_POSTGRES=0 is also set.
 */
export async function decidePostgres(env: NodeJS.ProcessEnv = process.env): Promise<{ available: boolean; reason?: string }> {
  const url = env.TEST_POSTGRES_URL ?? DEFAULT_POSTGRES_URL;
  const required = env.TEST_REQUIRE_POSTGRES === '1';
  if (env.TEST_POSTGRES === '0') {
    if (required) throw new Error('TEST_POSTGRES=0 and TEST_REQUIRE_POSTGRES=1 contradict each other: unset one of them');
    return { available: false, reason: 'TEST_POSTGRES=0' };
  }
  const c = new Client({ connectionString: url, connectionTimeoutMillis: POSTGRES_PROBE_TIMEOUT_MS });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return { available: true };
  } catch (err) {
    const reason = `PostgreSQL not reachable at ${url}: ${(err as Error).message}`;
    if (required) throw new Error(`PostgreSQL required (TEST_REQUIRE_POSTGRES=1) but not reachable at ${url}: ${(err as Error).message}`);
    return { available: false, reason };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Whether this run's PostgreSQL tests run: the decision the jest global setup
 * (test/support/postgres-global-setup.ts, registered in jest.config.js and bench/jest.config.js) stored in
 * TEST_POSTGRES_AVAILABLE ('1' | '0'); workers inherit it.
 * @throws Error when TEST_POSTGRES_AVAILABLE is unset: the run did not go through that global setup.
 */
export function postgresEnabled(): boolean {
  const v = process.env.TEST_POSTGRES_AVAILABLE;
  if (v !== '1' && v !== '0') {
    throw new Error('TEST_POSTGRES_AVAILABLE is not set: run the tests through jest.config.js (its globalSetup test/support/postgres-global-setup.ts probes PostgreSQL)');
  }
  return v === '1';
}

/** The databases every database test covers, in the order they run. */
export const DATABASES: readonly Db[] = ['sqlite', 'postgres'];

/** `describe`, or `describe.skip` for PostgreSQL when this run has none (jest then reports its tests as skipped). */
export function describeOn(db: Db): jest.Describe {
  return db === 'postgres' && !postgresEnabled() ? describe.skip : describe;
}

/** `it`, or `it.skip` for PostgreSQL when this run has none (reported as skipped). */
export function itOn(db: Db): jest.It {
  return db === 'postgres' && !postgresEnabled() ? it.skip : it;
}

/**
 * `describe.each(['sqlite', 'postgres'])(title, fn)` where the PostgreSQL block is `describe.skip` when this
 * run has no PostgreSQL: its tests show as skipped instead of passing without running.
 * @param title block title; `%s` is replaced by the database name, as describe.each does.
 */
export function describeEachDb(title: string, fn: (db: Db) => void): void {
  for (const db of DATABASES) describeOn(db)(title.replace('%s', db), () => fn(db));
}

/** `describe` for a PostgreSQL-only block, `describe.skip` when this run has no PostgreSQL. */
export function describeWithPostgres(title: string, fn: () => void): void {
  describeOn('postgres')(title, fn);
}

/** `it` for a PostgreSQL-only test, `it.skip` when this run has no PostgreSQL. `timeout` in milliseconds. */
export function itWithPostgres(title: string, fn: () => Promise<unknown>, timeout?: number): void {
  itOn('postgres')(title, fn, timeout);
}

/** Creates a throwaway database; returns its URL and a drop() that removes it. */
export async function createTempDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `td_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(POSTGRES_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Records what Database sends to PostgreSQL through `ds`'s pool: one list of query texts per checkout
 * (Database checks clients out promise-style; TypeORM's callback-style checkouts pass through unrecorded).
 * A prepared statement is recorded as `prepared <name>: <text>`. `sent()` is every checkout's queries in
 * order; `restore()` (or jest.restoreAllMocks) stops recording.
 */
export function recordPostgresQueries(ds: DataSource): { checkouts: string[][]; sent(): string[]; restore(): void } {
  const master = (ds.driver as unknown as { master: { connect(...a: unknown[]): Promise<{ query(...a: unknown[]): unknown }> } }).master;
  const connect = master.connect.bind(master);
  const checkouts: string[][] = [];
  const spy = jest.spyOn(master, 'connect').mockImplementation((...a: unknown[]) => {
    if (a.length) return connect(...a);
    const sent: string[] = [];
    checkouts.push(sent);
    return connect().then((c) => {
      const query = c.query.bind(c);
      const text = (q: unknown) => (typeof q === 'string' ? q : `prepared ${(q as { name: string }).name}: ${(q as { text: string }).text}`);
      return Object.assign(Object.create(c) as typeof c, { query: (...q: unknown[]) => (sent.push(text(q[0])), query(...q)) });
    });
  });
  return { checkouts, sent: () => checkouts.flat(), restore: () => spy.mockRestore() };
}
