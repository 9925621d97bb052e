import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** PostgreSQL server the tests use (CI has one at 127.0.0.1:5432, trust auth). */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * True when the PostgreSQL server answers (and TEST_POSTGRES=0 does not turn its tests off).
 * @throws Error when it does not answer and TEST_REQUIRE_POSTGRES=1 (CI): a skipped half is a failure there.
 */
export async function postgresAvailable(): Promise<boolean> {
  if (process.env.TEST_POSTGRES === '0') return false;
  const c = new Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch (err) {
    if (process.env.TEST_REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL required but not reachable at ${POSTGRES_ADMIN_URL}: ${(err as Error).message}`);
    process.stderr.write(`PostgreSQL not reachable at ${POSTGRES_ADMIN_URL}: its tests are skipped\n`);
    return false;
  }
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
