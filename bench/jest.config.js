/** Benchmarks (not tests): `npm run bench`. Jest is only the runner (TypeScript via ts-jest, like the e2e tests). */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/bench'],
  testMatch: ['**/*.bench.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json', diagnostics: false }] },
  globalSetup: '<rootDir>/test/support/postgres-global-setup.ts', // TEST_POSTGRES_AVAILABLE for the PostgreSQL row
  testTimeout: 900000,
  verbose: false,
};
