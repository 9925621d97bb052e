import { createHash } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, ObjectLiteral, Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

/** One SQL statement of a transaction: `?` placeholders, double-quoted identifiers (same text on both databases). */
export interface Statement {
  sql: string;
  params: unknown[];
  /** The statements `together` made this one of: SQLite runs them one by one (`sql` is PostgreSQL's). */
  parts?: Statement[];
}

/** What a statement gave: the rows (SELECT, or `RETURNING`) and how many rows it changed. */
export interface StatementResult<R = Record<string, unknown>> {
  rows: R[];
  affected: number;
}

/**
 * The body of a transaction, written once for both databases as a generator: it `yield`s each
 * Statement and receives its StatementResult, e.g.
 * `const r: StatementResult = yield sql('UPDATE ... RETURNING "id"', [x]);`.
 * Throwing inside it rolls the transaction back. It must not await anything else.
 */
export type TxBody<T> = Generator<Statement, T, StatementResult>;

/** A Statement (helper to read well at call sites). */
export function sql(text: string, params: unknown[] = []): Statement {
  return { sql: text, params };
}

/**
 * Statements sent as ONE on PostgreSQL (issue 14: each statement of a transaction is a round trip, and on
 * this machine each round trip's socket write costs about 0.1 ms of CPU): all but the last become
 * data-modifying CTEs, `WITH "t1" AS (<first>), "t2" AS (<second>) <last>`, and the result is the last
 * one's. SQLite runs them one after another (no round trips to save).
 * Only for statements that do not depend on each other's effects: PostgreSQL runs the CTEs on one
 * snapshot, in no defined order, and none sees another's rows (foreign keys are checked at the end of
 * the statement, so a lead may reference the session inserted beside it). The first ones must be
 * INSERT, UPDATE or DELETE (or SELECT) without a WITH of their own.
 */
export function together(...parts: Statement[]): Statement {
  if (parts.length === 1) return parts[0];
  const last = parts[parts.length - 1];
  const ctes = parts.slice(0, -1).map((p, i) => `"t${i + 1}" AS (${p.sql})`);
  return { sql: `WITH ${ctes.join(', ')} ${last.sql}`, params: parts.flatMap((p) => p.params), parts };
}

/** The name of the claim's CTE in afterClaim(): the writes that follow from the claim select from it. */
export const CLAIMED = 'claimed';

/**
 * PostgreSQL only (issue 14): a claim and what follows from it as ONE statement, so a start is one
 * autocommitted round trip: no BEGIN/COMMIT, and no row lock held while the client and the database talk.
 * `claim` (an UPDATE … RETURNING of at most one row) becomes the CTE "claimed" (CLAIMED); each of `writes`
 * a further CTE, which must act only when "claimed" has a row (insertRowFrom; or an UPDATE with
 * `AND EXISTS (SELECT 1 FROM "claimed")`); `probe` is a SELECT of one value. The statement answers one row:
 * the claimed row's columns (all NULL when nothing was claimed) and `probe` as column "probe", read on the
 * same snapshot as the claim's conditions. The statement is atomic: a failing write undoes the claim.
 * Run it with Database.once.
 */
export function afterClaim(claim: Statement, writes: Statement[], probe: Statement): Statement {
  const ctes = [`"${CLAIMED}" AS (${claim.sql})`, ...writes.map((w, i) => `"w${i + 1}" AS (${w.sql})`)];
  return sql(
    `WITH ${ctes.join(', ')} SELECT "${CLAIMED}".*, (${probe.sql}) AS "probe" FROM (SELECT 1) AS "one" LEFT JOIN "${CLAIMED}" ON true`,
    [...claim.params, ...writes.flatMap((w) => w.params), ...probe.params],
  );
}

/**
 * PostgreSQL only, inside afterClaim(): INSERT of `row` into `table` only when a row was claimed, with the
 * columns of `fromClaim` (column of `table` → column the claim returns) taken from the claimed row. The
 * other values go as one JSON parameter that PostgreSQL types by the table's columns
 * (jsonb_populate_record), so no parameter needs a cast; values as toDb() gives them.
 */
export function insertRowFrom(table: string, row: Record<string, unknown>, fromClaim: Record<string, string> = {}): Statement {
  const cols = Object.keys(row);
  const values = Object.fromEntries(cols.filter((c) => !fromClaim[c]).map((c) => [c, toDb(row[c])]));
  const select = cols.map((c) => (fromClaim[c] ? `"${CLAIMED}"."${fromClaim[c]}"` : `"r"."${c}"`));
  return sql(
    `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) SELECT ${select.join(', ')} FROM "${CLAIMED}", jsonb_populate_record(NULL::"${table}", ?::jsonb) AS "r"`,
    [JSON.stringify(values)],
  );
}

/**
 * INSERT of one row into `table` from a plain object: every key a column; objects and arrays are stored
 * as JSON text (TypeORM's simple-json), booleans as 0/1, undefined as NULL.
 */
export function insertRow(table: string, row: Record<string, unknown>): Statement {
  const cols = Object.keys(row);
  return sql(
    `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    cols.map((c) => toDb(row[c])),
  );
}

/**
 * One INSERT of several rows into `table` (multi-row VALUES): every row has the keys of the first, each key a
 * column, values as insertRow takes them. Callers keep a statement under 1,000 rows (SQLite's and
 * PostgreSQL's parameter limits: 32,766 and 65,535).
 * @throws Error when `rows` is empty.
 */
export function insertRows(table: string, rows: ReadonlyArray<Record<string, unknown>>): Statement {
  if (!rows.length) throw new Error('insertRows: no rows');
  const cols = Object.keys(rows[0]);
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  return sql(
    `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}`,
    rows.flatMap((r) => cols.map((c) => toDb(r[c]))),
  );
}

/** A value as both drivers take it: JSON text for objects, 0/1 for booleans, NULL for undefined. */
export function toDb(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'object' && !(v instanceof Buffer)) return JSON.stringify(v);
  return v;
}

/**
 * The compare-and-set every state machine here uses: one UPDATE that applies `patch` (and updatedAt = now,
 * epoch ms) to row `id` only while its `state` is one of `from`. Atomic on SQLite and PostgreSQL, so two
 * replicas racing on a row never both win.
 * @returns true when this call moved the row, false when it was in another state (or gone).
 */
export async function transitionRow<T extends ObjectLiteral & { state: string }>(
  repo: Repository<T>,
  id: string,
  from: ReadonlyArray<T['state']>,
  patch: Partial<T>,
  now: number,
): Promise<boolean> {
  const r = await repo
    .createQueryBuilder()
    .update()
    .set({ ...patch, updatedAt: now })
    .where('id = :id', { id })
    .andWhere('state IN (:...from)', { from })
    .execute();
  return r.affected === 1;
}

interface BetterSqlite3Db {
  prepare(sql: string): { reader: boolean; all(...p: unknown[]): unknown[]; run(...p: unknown[]): { changes: number } };
  transaction<F extends (...a: never[]) => unknown>(fn: F): F & { immediate: F };
  readonly inTransaction: boolean;
}

/** A transaction body waiting for the next SQLite group commit. */
interface Pending {
  body: () => TxBody<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * Atomic units of work on SQLite and PostgreSQL with one body (issue 8: a claim and the session's
 * transition to ready are one transaction, so no crash can leave one without the other).
 * - PostgreSQL: a TypeORM transaction on a pooled connection; `?` become `$1..$n`.
 * - SQLite (better-sqlite3, one connection shared by the whole process): the body runs synchronously
 *   inside `BEGIN IMMEDIATE … COMMIT`, so nothing else in the process can interleave a statement into it
 *   and another process waits on the write lock (busy_timeout) instead of failing halfway.
 *   Group commit (issue 14): the bodies submitted during one turn of the event loop run together at its
 *   end (setImmediate) in one `BEGIN IMMEDIATE … COMMIT`, each inside its own SAVEPOINT. A body that throws
 *   rolls back to its savepoint only: the others are unaffected, as if each had its own transaction.
 *   Every promise settles after the COMMIT (a caller never answers with data that is not durable), and
 *   a failed COMMIT rejects them all. One fsync (synchronous=FULL, WAL: set in dataSourceOptions) then serves
 *   every start of the turn, instead of one each: the fsync blocks the event loop (0.15-0.25 ms a COMMIT on
 *   the 2026-12-05 machine, against 0.04 ms without it; 0.6-1 ms on earlier ones).
 */
@Injectable()
export class Database {
  readonly postgres: boolean;
  private readonly statements = new Map<string, ReturnType<BetterSqlite3Db['prepare']>>();

  /** Whether once() prepares its statement (DATABASE_PREPARED_STATEMENTS; PostgreSQL). */
  readonly preparedStatements: boolean;

  constructor(@InjectDataSource() private readonly ds: DataSource, @Optional() @Inject(APP_CONFIG) config?: Pick<AppConfig, 'database'>) {
    this.postgres = ds.options.type === 'postgres';
    this.preparedStatements = !(config?.database.kind === 'postgres' && config.database.preparedStatements === false);
  }

  /**
   * Runs `body` in one transaction and returns what it returns.
   * @throws what a statement or the body threw (the transaction is rolled back), e.g. a unique violation.
   */
  async atomic<T>(body: () => TxBody<T>): Promise<T> {
    if (this.postgres) {
      // Straight on a pooled pg client (issue 14): TypeORM's transaction and query wrappers (query runner,
      // broadcaster events, result wrapping) cost more CPU than the statements of a hot start.
      const client = await (this.ds.driver as unknown as { master: PgPool }).master.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const gen = body();
        let step = gen.next();
        while (!step.done) {
          let result: StatementResult;
          try {
            result = await runPostgres(client, step.value);
          } catch (err) {
            step = gen.throw(err);
            continue;
          }
          step = gen.next(result);
        }
        await client.query('COMMIT');
        return step.value;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
        throw err;
      } finally {
        // A client whose ROLLBACK failed is in an unknown state: the pool closes it instead of reusing it.
        client.release(broken instanceof Error ? broken : undefined);
      }
    }
    return new Promise<T>((resolve, reject) => {
      if (!this.pending) {
        this.pending = [];
        setImmediate(() => this.groupCommit());
      }
      this.pending.push({ body, resolve, reject });
    });
  }

  /**
   * Runs one statement on its own: on PostgreSQL autocommitted (atomic as a whole, its CTEs included) on a
   * pooled connection, one round trip, as a named prepared statement (each connection parses and plans it
   * once: `npm run bench -- start-statement` measured half of PostgreSQL's CPU; DATABASE_PREPARED_STATEMENTS=false
   * sends it unnamed, for a pooler that cannot keep prepared statements);
   * on SQLite in the next group commit. Meant for the few statements of the hot path: each distinct text
   * stays prepared on every connection that ran it.
   * @throws what the statement threw (nothing of it was written).
   */
  async once(s: Statement): Promise<StatementResult> {
    if (!this.postgres) {
      return this.atomic(function* (): TxBody<StatementResult> {
        return yield s;
      });
    }
    const client = await (this.ds.driver as unknown as { master: PgPool }).master.connect();
    try {
      return await runPostgres(client, s, this.preparedStatements);
    } finally {
      client.release();
    }
  }

  private pending: Pending[] | null = null;

  /** SQLite group commits so far: transactions committed and the bodies they carried (tests, metrics). */
  readonly groupCommits = { transactions: 0, bodies: 0 };

  /** Runs every pending SQLite body in one transaction (see the class comment), then settles their promises. */
  private groupCommit(): void {
    const db = (this.ds.driver as unknown as { databaseConnection: BetterSqlite3Db }).databaseConnection;
    if (db.inTransaction) {
      // A TypeORM transaction (e.g. repository.save) is open on the shared connection across an await:
      // joining it would make these bodies' fate its fate. Wait until it ends.
      setImmediate(() => this.groupCommit());
      return;
    }
    const batch = this.pending ?? [];
    this.pending = null;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const each = db.transaction((p: Pending) => this.runBodySqlite(db, p.body));
    try {
      db.transaction(() => {
        for (const p of batch) {
          try {
            outcomes.push({ ok: true, value: each(p) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }).immediate();
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    this.groupCommits.transactions++;
    this.groupCommits.bodies += batch.length;
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    });
  }

  /** Drives one body's statements on the (already open) SQLite transaction. */
  private runBodySqlite(db: BetterSqlite3Db, body: () => TxBody<unknown>): unknown {
    const gen = body();
    let step = gen.next();
    while (!step.done) {
      let result: StatementResult;
      try {
        result = this.runSqlite(db, step.value);
      } catch (err) {
        step = gen.throw(err);
        continue;
      }
      step = gen.next(result);
    }
    return step.value;
  }

  private runSqlite(db: BetterSqlite3Db, s: Statement): StatementResult {
    if (s.parts) {
      let last: StatementResult = { rows: [], affected: 0 };
      for (const p of s.parts) last = this.runSqlite(db, p);
      return last;
    }
    let stmt = this.statements.get(s.sql);
    if (!stmt) {
      stmt = db.prepare(s.sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(s.sql, stmt);
    }
    if (stmt.reader) {
      const rows = stmt.all(...s.params) as Record<string, unknown>[];
      return { rows, affected: rows.length };
    }
    return { rows: [], affected: stmt.run(...s.params).changes };
  }
}

/** The part of a pooled `pg` client (pg.PoolClient) used here. */
interface PgClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  release(err?: Error): void;
}

/** The pg.Pool under TypeORM's PostgreSQL driver. */
interface PgPool {
  connect(): Promise<PgClient>;
}

/** Names of the prepared statements once() sends, by text (bounded: the texts are the few of the hot path). */
const preparedNames = new Map<string, string>();

/** A statement's text with its `?` placeholders as PostgreSQL's `$1`, `$2`, ... in order. */
export function postgresText(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

async function runPostgres(client: PgClient, s: Statement, prepare = false): Promise<StatementResult> {
  const text = postgresText(s.sql);
  let name: string | undefined;
  if (prepare) {
    name = preparedNames.get(text);
    if (!name) {
      if (preparedNames.size >= 100) preparedNames.clear();
      name = `td_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
      preparedNames.set(text, name);
    }
  }
  const r = await (name ? client.query({ name, text, values: s.params }) : client.query(text, s.params));
  const rows = r.rows ?? [];
  return { rows, affected: r.rowCount ?? rows.length };
}
