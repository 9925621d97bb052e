import * as fs from 'node:fs';
import * as os from 'node:os';
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

/**
 * The vm-simple-linux quickstart (test/fixtures/arm, SOURCES.md) as a test drive package in a new temp
 * folder: its admin user name and password become the service-filled parameters (metadata types username
 * / password). One virtual machine: warm instances and quota checks use it.
 */
export function vmPackageDir(): string {
  const t = JSON.parse(fs.readFileSync(path.join(ARM_FIXTURES, 'vm-simple-linux', 'azuredeploy.json'), 'utf8')) as { parameters: Record<string, { metadata?: Record<string, unknown> }> };
  t.parameters.adminUsername.metadata = { ...t.parameters.adminUsername.metadata, type: 'username' };
  t.parameters.adminPasswordOrKey.metadata = { ...t.parameters.adminPasswordOrKey.metadata, type: 'password' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-vm-pkg-'));
  fs.writeFileSync(path.join(dir, 'main-template.json'), JSON.stringify(t, null, 2));
  return dir;
}
