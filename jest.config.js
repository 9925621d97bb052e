/** Two projects: unit specs next to the code, e2e tests under test/ (real SDKs against emulator/). */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json', diagnostics: false }] };
/** Decides once, before tests are collected, whether the PostgreSQL tests run (TEST_POSTGRES_AVAILABLE); they are skipped, not passed, without it. */
const globalSetup = '<rootDir>/test/support/postgres-global-setup.ts';
module.exports = {
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/src', '<rootDir>/modules', '<rootDir>/emulator'],
      testMatch: ['**/*.spec.ts'],
      transform,
      globalSetup,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      transform,
      globalSetup,
    },
  ],
};
