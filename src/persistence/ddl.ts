import { TableColumn, TableColumnOptions } from 'typeorm';

const COLUMN = /^([A-Za-z_][A-Za-z0-9_]*)\s+(varchar\((\d+)\)|text|bigint|integer)((?:\s+(?:null|primary|default\s+-?\d+))*)$/;

/**
 * One column from its SQL-like description `name type [null] [primary] [default N]`, where type is
 * `varchar(n)`, `text`, `bigint` or `integer`; NOT NULL unless `null` is written. TypeORM turns the
 * options into the right DDL for SQLite and PostgreSQL.
 * @throws Error naming the text when it does not parse (a typo in a migration fails its first test run).
 */
export function columnOptions(spec: string): TableColumnOptions {
  const m = COLUMN.exec(spec.trim());
  if (!m) throw new Error(`migration column "${spec.trim()}" is not "name type [null] [primary] [default N]"`);
  const [, name, typeText, length, flags] = m;
  const words = flags.trim().split(/\s+/);
  const def = /default\s+(-?\d+)/.exec(flags);
  return {
    name,
    type: length ? 'varchar' : typeText,
    ...(length ? { length } : {}),
    isNullable: words.includes('null'),
    ...(words.includes('primary') ? { isPrimary: true } : {}),
    ...(def ? { default: Number(def[1]) } : {}),
  };
}

/**
 * A table's columns written as DDL, so a migration reads like the schema it makes:
 * `columns('id varchar(36) primary, offerId varchar(50), details text null, attempts integer default 0')`.
 * Columns are separated by commas or new lines; see {@link columnOptions} for one column.
 */
export function columns(spec: string): TableColumnOptions[] {
  return spec
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map(columnOptions);
}

/** One column for `addColumn`, from the same description as {@link columnOptions}. */
export function column(spec: string): TableColumn {
  return new TableColumn(columnOptions(spec));
}
