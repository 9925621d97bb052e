import * as path from 'node:path';

/**
 * The repository's own test fixtures: real public ARM templates and Logic Apps workflow files, kept
 * byte for byte as published (BOM, CRLF). Where each came from and its licence: test/fixtures/SOURCES.md.
 * They are committed with the tests, so a fresh clone needs nothing beside it.
 */
export const FIXTURES_DIR = path.resolve(__dirname, '..', 'fixtures');
/** test/fixtures/arm: one folder per ARM template (entry `azuredeploy.json` or `main-template.json`, linked templates at their relative paths). */
export const ARM_FIXTURES = path.join(FIXTURES_DIR, 'arm');
/** test/fixtures/logicapp: one folder per Logic Apps workflow (`azuredeploy.json` or `workflow.json`, plus its parameters file). */
export const LOGIC_FIXTURES = path.join(FIXTURES_DIR, 'logicapp');
