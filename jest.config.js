/** Two projects: unit specs next to the code, e2e tests under test/ (real SDKs against emulator/). */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json', diagnostics: false }] };
/** Decides once, before tests are collected, whether the PostgreSQL tests run (TEST_POSTGRES_AVAILABLE); they are skipped, not passed, without it. */
const globalSetup = '<rootDir>/test/support/postgres-global-setup.ts';
/**
 * Test files run side by side in twice as many workers as cores (at most 8): the e2e files mostly wait on
 * I/O (the emulator's deployments, HTTP, the database), so one worker per core left the cores half idle.
 * Measured on 2 cores (npx jest --maxWorkers=N): 1 worker (Jest's default there) 690 s, 2: 348 s,
 * 4: 210 s, 6: 174 s. At most 8 keeps PostgreSQL within its 100 connections (a test service pools 10).
 */
const maxWorkers = Math.min(8, 2 * require('node:os').availableParallelism());
module.exports = {
  testTimeout: 120000,
  maxWorkers,
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
