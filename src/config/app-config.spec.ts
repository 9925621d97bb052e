import { ConfigError, loadConfig } from './app-config';

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
