import { Client } from 'pg';
import { DatabaseSettings } from '../config/app-config';

/**
 * PostgreSQL advisory lock keys of the service (one namespace per database; arbitrary constants that
 * nothing else on the same database may use). Session-level locks: held until unlocked or until the
 * connection that took them ends, whatever way it ends.
 */
export const ADVISORY_LOCK_KEYS = {
  /** Held around TypeORM's migration run at start (withMigrationLock). */
  migrations: '7364200001',
  /** Held by the replica that runs the reconcile loop, for as long as its dedicated connection lives (src/scheduling). */
  reconcileLeader: '7364200002',
} as const;

/** How long a starting replica waits for another one's migration run before giving up (ms). */
export const MIGRATION_LOCK_TIMEOUT_MS = 5 * 60_000;

/**
 * Runs `fn` (which opens a DataSource, so TypeORM runs the pending migrations) while this process holds
 * the migration advisory lock (`pg_advisory_lock`, ADVISORY_LOCK_KEYS.migrations) on a dedicated
 * connection of its own, so replicas starting together on one PostgreSQL database take turns: the first
 * migrates, the others then find nothing pending. Without it two of them both create the `migrations`
 * table or the first migration's tables (`duplicate key value violates unique constraint
 * "pg_type_typname_nsp_index"`). The lock is released when `fn` settles (and by the server if this
 * process dies: the connection ends). SQLite (one process per database file) runs `fn` directly.
 * @throws Error when the lock is not obtained within `timeoutMs` (default MIGRATION_LOCK_TIMEOUT_MS;
 *   PostgreSQL's lock_timeout), or what connecting or `fn` throws.
 */
export async function withMigrationLock<T>(db: DatabaseSettings, fn: () => Promise<T>, timeoutMs = MIGRATION_LOCK_TIMEOUT_MS): Promise<T> {
  if (db.kind !== 'postgres') return fn();
  const client = new Client({ connectionString: db.url, application_name: 'testdrive-migrations' });
  client.on('error', () => undefined); // a dropped lock connection surfaces as the unlock failing, below
  await client.connect();
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    try {
      await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEYS.migrations]);
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') {
        throw new Error(`another process has held the migration lock of this database for more than ${Math.round(timeoutMs / 1000)} s; is a migration stuck?`);
      }
      throw err;
    }
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEYS.migrations]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
