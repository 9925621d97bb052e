import { DataSource } from 'typeorm';
import { openDataSource } from './data-source';
import { afterClaim, Database, insertRowFrom, insertRows, sql, StatementResult, together, TxBody } from './database';
import { POSTGRES_ADMIN_URL, describeEachDb, recordPostgresQueries } from '../../test/support/postgres';

const targets: Record<'sqlite' | 'postgres', Parameters<typeof openDataSource>[0]> = {
  sqlite: { kind: 'sqlite', file: ':memory:' },
  postgres: { kind: 'postgres', url: POSTGRES_ADMIN_URL },
};

const turn = () => new Promise((r) => setImmediate(r));

describeEachDb('Database.atomic on %s', (name) => {
  let ds: DataSource;
  let db: Database;
  const table = `atomic_${Date.now()}`;
  beforeAll(async () => {
    ds = await openDataSource(targets[name]);
    db = new Database(ds);
    await ds.query(`CREATE TABLE "${table}" ("id" varchar(20) PRIMARY KEY, "n" integer NOT NULL)`);
  });
  afterAll(async () => {
    await ds.query(`DROP TABLE "${table}"`);
    await ds.destroy();
  });

  it('bodies started together each commit or roll back on their own', async () => {
    // The second body collides with a row written before, not with the first body's: on PostgreSQL the bodies
    // run on connections of their own, and which of two racing INSERTs of one key wins is not defined
    // (defect of this test, seen once in CI on Node 24: the second body won 'a').
    await ds.query(`INSERT INTO "${table}" ("id", "n") VALUES ('z', 0)`);
    const results = await Promise.allSettled([
      db.atomic(function* () {
        yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['a', 1]);
        return 'a';
      }),
      db.atomic(function* () {
        yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['b', 1]);
        yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['z', 2]); // unique violation: b goes too
        return 'b';
      }),
      db.atomic(function* () {
        const r = yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?) RETURNING "n"`, ['c', 3]);
        return r.rows[0];
      }),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'a' });
    expect(results[1].status).toBe('rejected');
    expect(results[2]).toEqual({ status: 'fulfilled', value: { n: 3 } });
    const rows = await ds.query(`SELECT "id", "n" FROM "${table}" ORDER BY "id"`);
    expect(rows.map((r: { id: string; n: number }) => [r.id, Number(r.n)])).toEqual([['a', 1], ['c', 3], ['z', 0]]);
    await ds.query(`DELETE FROM "${table}" WHERE "id" = 'z'`);
  });

  it('insertRows: several rows in one INSERT, all or none (a unique violation in one row writes none)', async () => {
    const affected = await db.atomic(function* () {
      const r = yield insertRows(table, [{ id: 'm1', n: 1 }, { id: 'm2', n: 2 }, { id: 'm3', n: 3 }]);
      return r.affected;
    });
    expect(affected).toBe(3);
    // The rejection is read as a message, not with rejects.toThrow(): better-sqlite3's native part keeps the
    // SqliteError class of the first test file its Jest worker loaded it for, an Error of another realm.
    const refused = await db
      .atomic(function* () {
        yield insertRows(table, [{ id: 'm4', n: 4 }, { id: 'm1', n: 5 }]);
      })
      .then(() => 'written', (err: { message?: string }) => String(err?.message));
    expect(refused).toMatch(/unique|duplicate/i);
    const rows = await ds.query(`SELECT "id", "n" FROM "${table}" WHERE "id" LIKE 'm%' ORDER BY "id"`);
    expect(rows.map((r: { id: string; n: number }) => [r.id, Number(r.n)])).toEqual([['m1', 1], ['m2', 2], ['m3', 3]]);
    expect(() => insertRows(table, [])).toThrow('no rows');
  });

  it('gives its connection back after a failed body (more failures than the pool has connections)', async () => {
    for (let i = 0; i < 25; i++) {
      await expect(
        db.atomic(function* () {
          yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, [`f${i}`, i]);
          throw new Error('body failed');
        }),
      ).rejects.toThrow('body failed');
    }
    const n = await db.atomic(function* () {
      const r = yield sql(`SELECT COUNT(*) AS "n" FROM "${table}" WHERE "id" LIKE ?`, ['f%']);
      return Number(r.rows[0].n);
    });
    expect(n).toBe(0);
  });

  it('together: several statements as one (PostgreSQL: one round trip), the last one\'s rows, all or nothing with the transaction', async () => {
    const child = `${table}_child`;
    await ds.query(`CREATE TABLE "${child}" ("id" varchar(20) PRIMARY KEY, "parent" varchar(20) NOT NULL REFERENCES "${table}" ("id"))`);
    // Count what Database sends over the wire (TypeORM's own checkouts pass through).
    const wire = name === 'postgres' ? recordPostgresQueries(ds) : undefined;
    try {
      const r = await db.atomic(function* (): TxBody<StatementResult> {
        return yield together(
          sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['p1', 7]),
          sql(`INSERT INTO "${child}" ("id", "parent") VALUES (?, ?)`, ['c1', 'p1']), // references the row inserted beside it
          sql(`UPDATE "${table}" SET "n" = "n" + 1 WHERE "id" = ?`, ['a']),
          sql(`SELECT "n" FROM "${table}" WHERE "id" = ?`, ['c']),
        );
      });
      expect(r.rows.map((x) => Number(x.n))).toEqual([3]);
      if (wire) expect(wire.sent().filter((q) => !/^(BEGIN|COMMIT|ROLLBACK)$/.test(q))).toHaveLength(1);
      const rows = await ds.query(`SELECT "id", "n" FROM "${table}" WHERE "id" IN ('a', 'p1') ORDER BY "id"`);
      expect(rows.map((x: { id: string; n: number }) => [x.id, Number(x.n)])).toEqual([['a', 2], ['p1', 7]]);

      // A part that fails (a duplicate key) takes the others and the rest of the body with it.
      await expect(
        db.atomic(function* () {
          yield together(sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['p2', 1]), sql(`INSERT INTO "${child}" ("id", "parent") VALUES (?, ?)`, ['c1', 'p2']));
        }),
        // Not toThrow(): better-sqlite3's SqliteError comes from the realm of the first test file that loaded
        // the addon in this jest worker, so it is not an Error of this file's realm.
      ).rejects.toHaveProperty('message', expect.stringMatching(/UNIQUE constraint failed|duplicate key/));
      expect(await ds.query(`SELECT "id" FROM "${table}" WHERE "id" = 'p2'`)).toEqual([]);
    } finally {
      jest.restoreAllMocks();
      await ds.query(`DROP TABLE "${child}"`);
    }
  });

  if (name === 'postgres') {
    it('afterClaim + once: a claim and its writes in ONE autocommitted prepared statement (no BEGIN/COMMIT), written only when a row was claimed, all or nothing', async () => {
      const pool = `${table}_pool`;
      const child = `${table}_claim`;
      await ds.query(`CREATE TABLE "${pool}" ("id" varchar(20) PRIMARY KEY, "owner" varchar(20), "secret" text)`);
      await ds.query(`CREATE TABLE "${child}" ("id" varchar(20) PRIMARY KEY, "item" varchar(20) NOT NULL REFERENCES "${pool}" ("id"), "n" bigint, "meta" text, "secret" text)`);
      await ds.query(`INSERT INTO "${pool}" ("id", "secret") VALUES ('i1', 's1'), ('i2', 's2')`);
      const wire = recordPostgresQueries(ds);
      const claim = (owner: string, guard: boolean) =>
        sql(`UPDATE "${pool}" SET "owner" = ? WHERE "id" = (SELECT "id" FROM "${pool}" WHERE "owner" IS NULL ORDER BY "id" LIMIT 1 FOR UPDATE SKIP LOCKED) AND ${guard ? 'TRUE' : 'FALSE'} RETURNING "id", "secret"`, [owner]);
      const start = (id: string, guard = true) =>
        db.once(afterClaim(claim(id, guard), [insertRowFrom(child, { id, item: null, n: 1_764_000_000_000, meta: { a: [1] }, secret: null }, { item: 'id', secret: 'secret' })], sql(`SELECT COUNT(*) FROM "${child}"`)));
      try {
        const first = await start('x1');
        expect(wire.sent()).toHaveLength(1); // no BEGIN, no COMMIT
        expect(wire.sent()[0]).toMatch(/^prepared td_[0-9a-f]{32}: WITH "claimed"/); // parsed and planned once per connection
        expect(first.rows).toEqual([{ id: 'i1', secret: 's1', probe: '0' }]); // the probe reads the snapshot before the statement's writes
        expect(await ds.query(`SELECT * FROM "${child}"`)).toEqual([{ id: 'x1', item: 'i1', n: '1764000000000', meta: '{"a":[1]}', secret: 's1' }]);
        // The guard is false: nothing claimed, nothing written.
        expect((await start('x2', false)).rows).toEqual([{ id: null, secret: null, probe: '1' }]);
        // A write that fails (x1 again: duplicate key) undoes the claim.
        await expect(start('x1')).rejects.toHaveProperty('message', expect.stringMatching(/duplicate key/));
        expect(await ds.query(`SELECT "id" FROM "${pool}" WHERE "owner" IS NULL ORDER BY "id"`)).toEqual([{ id: 'i2' }]);
        // DATABASE_PREPARED_STATEMENTS=false (a pooler that cannot keep prepared statements): the same statement, unnamed.
        wire.checkouts.length = 0;
        const unprepared = new Database(ds, { database: { kind: 'postgres', url: POSTGRES_ADMIN_URL, preparedStatements: false } });
        await unprepared.once(afterClaim(claim('x3', true), [insertRowFrom(child, { id: 'x3', item: null, n: 1, meta: null, secret: null }, { item: 'id', secret: 'secret' })], sql('SELECT 1')));
        expect(wire.sent()).toHaveLength(1);
        expect(wire.sent()[0]).toMatch(/^WITH "claimed"/);
        // Nothing left to claim: nothing written.
        expect((await start('x4')).rows).toEqual([{ id: null, secret: null, probe: '2' }]);
        expect((await ds.query(`SELECT "id", "item" FROM "${child}" ORDER BY "id"`)).map((r: { id: string; item: string }) => `${r.id}:${r.item}`)).toEqual(['x1:i1', 'x3:i2']);
      } finally {
        jest.restoreAllMocks();
        await ds.query(`DROP TABLE "${child}"`);
        await ds.query(`DROP TABLE "${pool}"`);
      }
    });
  }

  if (name === 'sqlite') {
    it('commits the bodies of one event loop turn in one transaction (one fsync for a burst of starts)', async () => {
      const before = { ...db.groupCommits };
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          db.atomic(function* () {
            yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, [`g${i}`, i]);
          }),
        ),
      );
      expect(db.groupCommits.transactions - before.transactions).toBe(1);
      expect(db.groupCommits.bodies - before.bodies).toBe(20);
    });

    it('never joins a TypeORM transaction left open on the shared connection: it waits for its end', async () => {
      const runner = ds.createQueryRunner();
      await runner.startTransaction();
      await runner.query(`INSERT INTO "${table}" ("id", "n") VALUES ('outer', 0)`);
      let settled = false;
      const mine = db
        .atomic(function* () {
          yield sql(`INSERT INTO "${table}" ("id", "n") VALUES (?, ?)`, ['mine', 1]);
        })
        .then(() => (settled = true));
      for (let i = 0; i < 5; i++) await turn();
      expect(settled).toBe(false);
      // Before: the body became a savepoint of this transaction, "committed", then vanished with its rollback.
      await runner.rollbackTransaction();
      await runner.release();
      await mine;
      const rows = await ds.query(`SELECT "id" FROM "${table}" WHERE "id" IN ('outer', 'mine')`);
      expect(rows).toEqual([{ id: 'mine' }]);
    });
  }
});
