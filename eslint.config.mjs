// ESLint 9 flat config (issue 9): typescript-eslint's type-checked recommended rules over every TypeScript
// source (src/, modules/, emulator/src/, scripts/, test/, bench/). `npm test` runs it (`npm run lint`).
// Rules turned off below are noise in this codebase, each with its reason; everything else of
// recommendedTypeChecked is on (no-floating-promises, no-misused-promises, await-thenable, no-unused-vars...).
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/** Rules about values typed `any`: off where the code handles JSON it did not type (see each block). */
const UNSAFE_ANY_RULES = {
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
};

export default tseslint.config(
  {
    ignores: ['dist/**', '**/node_modules/**', 'data/**', 'test/fixtures/**', 'templates/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Methods of the shared interfaces (TestDriveType, repositories) are async by contract even when an
      // implementation has nothing to await (Power BI, fakes); a sync body behind an async signature is intended.
      '@typescript-eslint/require-await': 'off',
      // `_`-prefixed names are deliberately unused (destructuring to drop a field, unused callback parameters).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // The emulator parses request bodies and ARM template / Logic app workflow JSON of any shape (typed `any`
    // on purpose, validated field by field) and stringifies their fields; throwing an HTTP reply object is
    // its control flow for answering errors.
    files: ['emulator/**/*.ts'],
    rules: {
      ...UNSAFE_ANY_RULES,
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  {
    // Tests and benchmarks read response bodies (supertest's `body` is `any`) and pass jest mocks around:
    // the any-rules and unbound-method (expect(mock.method)) would flag every assertion. They reject with
    // plain objects on purpose (what Azure SDKs throw) and require() lazily what a test only sometimes needs.
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.spec.ts', 'scripts/**/*.ts'],
    rules: {
      ...UNSAFE_ANY_RULES,
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Modules reach core tables through the core's repository classes (SessionsRepository, OffersRepository...;
    // add a method there when one is missing), never through TypeORM directly (issue 9). A module's own
    // repository classes (*.repository.ts, e.g. PoolInstanceRepository) may use TypeORM on its own entities.
    files: ['modules/**/*.ts'],
    ignores: ['**/*.repository.ts', '**/*.spec.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='repo']:not([object.type='ThisExpression'])",
          message: "Use the repository's methods (add one to the core repository if needed), not its TypeORM repository (.repo).",
        },
        {
          selector: "CallExpression[callee.property.name='getRepository']",
          message: 'No raw getRepository() in a module: use a repository class (the core\'s for core entities, or a *.repository.ts of the module for its own).',
        },
        {
          selector: "CallExpression[callee.name='InjectRepository'] > Identifier[name=/^(Offer|Session|StartRequest|AuditEvent|SchedulerLease)Entity$/]",
          message: 'Core entities are reached through the core repositories (OffersRepository, SessionsRepository...), not @InjectRepository.',
        },
      ],
    },
  },
  {
    // Import boundaries (issue 9, eslint-plugin-boundaries). Elements by folder (the first descriptor that
    // matches a file wins):
    //  tests     test/**, bench/**, and unit specs (*.spec.ts, a file category): may import anything
    //  module    modules/<name>/**: one element per test drive type (name captured)
    //  registry  what is left of modules/ (modules/index.ts, modules/entities.ts): the composition root,
    //            imports every module
    //  embedded  src/embedded/**: the embedded bootstrap, the one product part that starts the emulator
    //  core      src/**
    //  emulator  emulator/**: imports only itself (and npm packages)
    //  scripts   scripts/**: tooling, may import anything
    files: ['**/*.ts'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { node: { extensions: ['.ts', '.js', '.json'] } },
      'boundaries/include': ['src/**/*.ts', 'modules/**/*.ts', 'emulator/**/*.ts', 'scripts/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
      // Unit specs next to the code are tests too (they may start the emulator's TLS helper, fakes...).
      'boundaries/files': [{ category: 'spec', pattern: '**/*.spec.ts' }],
      'boundaries/elements': [
        { type: 'tests', pattern: ['test/**', 'bench/**'], partialMatch: false },
        { type: 'module', pattern: 'modules/*', partialMatch: false, capture: ['name'] },
        { type: 'registry', pattern: 'modules', partialMatch: false },
        { type: 'embedded', pattern: 'src/embedded/**', partialMatch: false },
        { type: 'core', pattern: 'src/**', partialMatch: false },
        { type: 'emulator', pattern: 'emulator/**', partialMatch: false },
        { type: 'scripts', pattern: 'scripts/**', partialMatch: false },
      ],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          policies: [
            // A test drive module: the core's shared interface and services, and its own files; never another module.
            { from: { element: { type: 'module' } }, allow: { to: { element: { type: 'core' } } } },
            { from: { element: { type: 'module' } }, allow: { to: { element: { type: 'module', captured: { name: '{{ from.element.captured.name }}' } } } } },
            // The core reaches modules only through the registry (never a module's internals), and the emulator
            // only through the embedded bootstrap (src/main.ts starts it when no Azure is configured).
            { from: { element: { type: 'core' } }, allow: { to: { element: { types: { anyOf: ['core', 'registry', 'embedded'] } } } } },
            { from: { element: { type: 'registry' } }, allow: { to: { element: { types: { anyOf: ['module', 'core'] } } } } },
            // The embedded bootstrap is core that may also start the emulator.
            { from: { element: { type: 'embedded' } }, allow: { to: { element: { types: { anyOf: ['core', 'registry', 'embedded', 'emulator'] } } } } },
            { from: { element: { type: 'emulator' } }, allow: { to: { element: { type: 'emulator' } } } },
            { from: { element: { types: { anyOf: ['tests', 'scripts'] } } }, allow: { to: { element: { type: '*' } } } },
            { from: { file: { categories: 'spec' } }, allow: { to: { element: { type: '*' } } } },
          ],
        },
      ],
    },
  },
);
