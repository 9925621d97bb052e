import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The steering repository's shared/ folder (real public fixtures and reference docs), which sits beside
 * this repository's clone (`../shared`). TESTDRIVE_SHARED_DIR overrides it.
 * @throws Error at import when it cannot be found: the fixture tests must not silently pass without it.
 */
export const SHARED_DIR = (() => {
  const dir = process.env.TESTDRIVE_SHARED_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared');
  if (!fs.existsSync(path.join(dir, 'fixtures'))) {
    throw new Error(`shared fixtures not found at ${dir} (expected ../shared beside the repository, or set TESTDRIVE_SHARED_DIR)`);
  }
  return dir;
})();

/** ../shared/fixtures/arm */
export const ARM_FIXTURES = path.join(SHARED_DIR, 'fixtures', 'arm');
/** ../shared/fixtures/logicapp */
export const LOGIC_FIXTURES = path.join(SHARED_DIR, 'fixtures', 'logicapp');
