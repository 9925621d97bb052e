import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { z } from 'zod';

/**
 * Where the next page of a newest-first list starts: rows older than `at` (epoch ms), and, when `id` is
 * set, rows of exactly `at` whose id sorts before `id` too. Lists order by (time DESC, id DESC), so a page
 * that ends inside a run of rows sharing one millisecond (a burst of starts in one group commit, a manual
 * clock) continues with the rest of that run instead of skipping it.
 */
export interface PageCursor {
  /** Epoch ms. */
  at: number;
  /** Id of the last row of the previous page; absent when `before` was a bare date-time. */
  id?: string;
}

const ISO = z.iso.datetime();
/** Ids of rows: uuids and the like (letters, digits, `-`), 1-64 characters. */
const CURSOR = /^(.+)~([0-9A-Za-z-]{1,64})$/;

/**
 * Reads a `before` query value: an ISO 8601 date-time ("older than this") or the `nextBefore` of the
 * previous page (`<ISO date-time>~<id>`, made by nextBeforeOf). Null when it is neither.
 */
export function parsePageCursor(value: string): PageCursor | null {
  const m = CURSOR.exec(value);
  const time = m ? m[1] : value;
  if (!ISO.safeParse(time).success) return null;
  const at = Date.parse(time);
  if (!Number.isFinite(at)) return null;
  return m ? { at, id: m[2] } : { at };
}

/** The `before` query parameter of a newest-first list (see PageCursor), parsed. */
export const beforeQuerySchema = z
  .string()
  .max(200, 'before must be at most 200 characters')
  .transform((v, ctx) => {
    const c = parsePageCursor(v);
    if (!c) ctx.addIssue({ code: 'custom', message: 'before must be the nextBefore of the previous page, or an ISO 8601 date-time (rows older than it)' });
    return c ?? z.NEVER;
  })
  .meta({ description: 'The `nextBefore` of the previous page (`<date-time>~<id>`), or an ISO 8601 date-time: only rows older than it.', example: '2026-12-01T10:00:00.000Z' });

/**
 * `nextBefore` of a page: the cursor after its last row (`<ISO date-time>~<id>`), or null when the page
 * was not full (nothing older is left). `rows`: the page in list order; `time` and `id` read a row.
 */
export function nextBeforeOf<T>(rows: T[], limit: number, time: (row: T) => number, id: (row: T) => string): string | null {
  if (rows.length < limit) return null;
  const last = rows[rows.length - 1];
  return `${new Date(time(last)).toISOString()}~${id(last)}`;
}

/**
 * SQL condition selecting rows after `cursor` in (time DESC, id DESC) order, for a TypeORM query builder:
 * `timeColumn`, `idColumn` as the builder names them (e.g. `l.createdAt`, `l.id`); parameter names are
 * prefixed `cursor`. Null when there is no cursor.
 */
export function cursorCondition(cursor: PageCursor | undefined, timeColumn: string, idColumn: string): { sql: string; params: Record<string, unknown> } | null {
  if (!cursor) return null;
  if (cursor.id === undefined) return { sql: `${timeColumn} < :cursorAt`, params: { cursorAt: cursor.at } };
  return { sql: `(${timeColumn} < :cursorAt OR (${timeColumn} = :cursorAt AND ${idColumn} < :cursorId))`, params: { cursorAt: cursor.at, cursorId: cursor.id } };
}

/**
 * Runs `q` (its filters already set) as one page of a newest-first list: rows after `before` in
 * (`timeColumn` DESC, `idColumn` DESC) order, at most `limit` (TypeORM's take). Columns as the builder
 * names them (e.g. `l.createdAt`, `l.id`).
 */
export function newestFirstPage<T extends ObjectLiteral>(q: SelectQueryBuilder<T>, timeColumn: string, idColumn: string, before: PageCursor | undefined, limit: number): Promise<T[]> {
  const after = cursorCondition(before, timeColumn, idColumn);
  if (after) q.andWhere(after.sql, after.params);
  return q.orderBy(timeColumn, 'DESC').addOrderBy(idColumn, 'DESC').take(limit).getMany();
}
