import { ValueTransformer } from 'typeorm';

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
