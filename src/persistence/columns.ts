import { ObjectLiteral, Repository, ValueTransformer } from 'typeorm';

/**
 * Epoch-millisecond timestamps are stored as BIGINT on both SQLite and PostgreSQL: portable, indexable
 * and comparable in plain SQL. node-postgres returns BIGINT as a string; this turns it back to a number.
 */
export const epochMs: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)),
};

/** Column options for an epoch-ms timestamp (nullable unless told otherwise). */
export const timestampColumn = (nullable = true) => ({ type: 'bigint' as const, nullable, transformer: epochMs });

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
