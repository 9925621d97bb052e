import { decidePostgres } from './postgres';

const CACHE = Symbol.for('testdrive.test.postgresDecision');
type Cache = { [CACHE]?: Promise<{ available: boolean; reason?: string }> };

/**
 * Jest globalSetup (both projects in jest.config.js, and bench/jest.config.js): decides once, before any
 * test file is collected, whether the PostgreSQL tests run, and stores it in
 * process.env.TEST_POSTGRES_AVAILABLE ('1' | '0'), which the workers inherit. Tests then use
 * describeEachDb / describeOn / itOn (test/support/postgres.ts), so without PostgreSQL jest reports them
 * as skipped. Rules: see decidePostgres. The probe runs once per process even when several projects
 * register this setup.
 * @throws Error (the run fails) when TEST_REQUIRE_POSTGRES=1 and no server answers, or TEST_POSTGRES=0 is also set.
 */
export default async function postgresGlobalSetup(): Promise<void> {
  const cache = globalThis as Cache;
  const first = !cache[CACHE];
  cache[CACHE] ??= decidePostgres(process.env);
  const { available, reason } = await cache[CACHE];
  process.env.TEST_POSTGRES_AVAILABLE = available ? '1' : '0';
  if (!available && first) process.stderr.write(`\n${reason}: the PostgreSQL tests are reported as skipped\n`);
}
