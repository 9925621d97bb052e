import * as path from 'node:path';
import { ConfigError, loadConfig, PROJECT_ROOT } from './app-config';

describe('WORKERS (issue 14)', () => {
  const pg = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', AZURE_EMULATOR_URL: 'https://localhost:8443' };

  it('defaults to 1 on the embedded default (SQLite, embedded emulator)', () => {
    expect(loadConfig({}).workers).toBe(1);
  });

  it('defaults to the available cores with PostgreSQL and a shared Azure; an explicit value wins', () => {
    expect(loadConfig(pg).workers).toBeGreaterThanOrEqual(1);
    expect(loadConfig({ ...pg, WORKERS: '3' }).workers).toBe(3);
  });

  it('refuses more than one worker on SQLite or with the embedded emulator, naming the setting and the rule', () => {
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ WORKERS: '2' })).toThrow(/WORKERS: 2 workers need PostgreSQL/);
    expect(() => loadConfig({ DATABASE_URL: pg.DATABASE_URL, WORKERS: '2' })).toThrow(/shared Azure/);
    expect(() => loadConfig({ ...pg, WORKERS: '0' })).toThrow(/WORKERS must be >= 1/);
  });
});

describe('DATABASE_PREPARED_STATEMENTS (issue 14)', () => {
  const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

  it('defaults to true on PostgreSQL; false turns the prepared hot-start statement off', () => {
    expect(loadConfig({ DATABASE_URL }).database).toEqual({ kind: 'postgres', url: DATABASE_URL, preparedStatements: true });
    expect(loadConfig({ DATABASE_URL, DATABASE_PREPARED_STATEMENTS: 'false' }).database).toMatchObject({ preparedStatements: false });
  });

  it('refuses anything but true or false, naming the setting and when to use false', () => {
    expect(() => loadConfig({ DATABASE_URL, DATABASE_PREPARED_STATEMENTS: 'no' })).toThrow(/DATABASE_PREPARED_STATEMENTS must be true or false \(false behind a PgBouncer/);
  });
});

describe('DATABASE_URL and DATA_DIR', () => {
  // Found by trying it: `DATA_DIR=/tmp/x npm start` kept its emulator state (Key Vault keys) in /tmp/x but its
  // database in ./data, shared with every other DATA_DIR; a start there then answered 500 (a data protection
  // key version of another emulator's state).
  it('keeps the default SQLite file in DATA_DIR, beside the embedded emulator state', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/td-elsewhere' }).database).toEqual({ kind: 'sqlite', file: '/tmp/td-elsewhere/testdrive.sqlite' });
  });

  it('without DATA_DIR: data/testdrive.sqlite under the project (config/defaults.json); an explicit DATABASE_URL wins', () => {
    expect(loadConfig({}).database).toEqual({ kind: 'sqlite', file: path.join(PROJECT_ROOT, 'data', 'testdrive.sqlite') });
    expect(loadConfig({ DATA_DIR: '/tmp/td-elsewhere', DATABASE_URL: 'sqlite:/tmp/other.sqlite' }).database).toEqual({ kind: 'sqlite', file: '/tmp/other.sqlite' });
  });

  it('refuses a DATABASE_URL of another kind, naming the rule', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL must be sqlite:<file path>/);
  });
});

describe('HISTORY_RETENTION_DAYS', () => {
  it('defaults to 30 days; whole days 1-3650, refused otherwise naming the setting and the rule', () => {
    expect(loadConfig({}).historyRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ HISTORY_RETENTION_DAYS: '7' }).historyRetentionMs).toBe(7 * 86_400_000);
    expect(() => loadConfig({ HISTORY_RETENTION_DAYS: '0' })).toThrow(/HISTORY_RETENTION_DAYS must be 1-3650/);
    expect(() => loadConfig({ HISTORY_RETENTION_DAYS: '1.5' })).toThrow(/HISTORY_RETENTION_DAYS must be a whole number of days/);
  });
});
