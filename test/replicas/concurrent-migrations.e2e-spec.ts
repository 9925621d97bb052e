/**
 * Replicas starting together on an empty PostgreSQL database: each opens its DataSource (migrations run
 * at start). Without a lock two of them race TypeORM's migration run (`duplicate key value violates
 * unique constraint "pg_type_typname_nsp_index"`); under the migration advisory lock one migrates and
 * the others find nothing pending.
 */
import { DataSource } from 'typeorm';
import { MIGRATIONS, openDataSource } from '../../src/persistence/data-source';
import { createTempDatabase, itWithPostgres } from '../support/postgres';

describe('replicas starting together on PostgreSQL', () => {
  itWithPostgres('three DataSources opened at once on one fresh database all start, and the schema is complete', async () => {
    for (let round = 0; round < 3; round++) {
      const db = await createTempDatabase();
      const opened: DataSource[] = [];
      try {
        const results = await Promise.allSettled([0, 1, 2].map(() => openDataSource({ kind: 'postgres', url: db.url })));
        for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
        const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error).message));
        expect(errors).toEqual([]);
        const ds = opened[0];
        const executed = await ds.query<Array<{ name: string }>>('SELECT name FROM migrations ORDER BY id');
        expect(executed.map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
        const tables = (await ds.query<Array<{ tablename: string }>>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).map((t) => t.tablename);
        for (const meta of ds.entityMetadatas) expect(tables).toContain(meta.tableName);
      } finally {
        await Promise.all(opened.map((d) => d.destroy()));
        await db.drop();
      }
    }
  });
});
