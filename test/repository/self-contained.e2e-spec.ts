/**
 * The README's test command passes on a fresh clone with nothing beside it (issue 8):
 * - no code reaches outside the repository for test data (the former shared folder beside the clone, or its
 *   environment override);
 * - every fixture folder the tests load is committed under test/fixtures, with its source and licence in
 *   test/fixtures/SOURCES.md;
 * - a PostgreSQL test that cannot run is reported as skipped (describeEachDb / itWithPostgres from
 *   test/support/postgres.ts), not returned from early and counted as passed.
 * Reads git-tracked files (`git ls-files`), or the file tree when this is not a git checkout.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARM_FIXTURES, FIXTURES_DIR, LOGIC_FIXTURES } from '../support/fixtures-dir';

const ROOT = path.resolve(__dirname, '..', '..');
const SELF = path.relative(ROOT, __filename).split(path.sep).join('/');
const CODE_DIRS = ['src', 'modules', 'emulator', 'test', 'bench', 'scripts'];
const ROOT_CONFIG = ['jest.config.js', 'package.json', 'tsconfig.json', 'tsconfig.spec.json', 'tsconfig.build.json'];
const CODE_FILE = /\.(ts|js|mjs|cjs)$/;

/** Repository-relative paths ('/'-separated) of the files under `dirs`: git-tracked ones, or all on disk outside a git checkout. */
function repoFiles(dirs: string[]): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--', ...dirs], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\0').filter(Boolean);
  } catch {
    const walk = (rel: string): string[] => {
      const abs = path.join(ROOT, rel);
      if (!fs.existsSync(abs)) return [];
      if (!fs.statSync(abs).isDirectory()) return [rel];
      return fs.readdirSync(abs).filter((n) => n !== 'node_modules' && n !== 'dist').flatMap((n) => walk(path.posix.join(rel, n)));
    };
    return dirs.flatMap(walk);
  }
}

const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** Fixture folders on disk: 'arm/<name>' and 'logicapp/<name>'. */
function fixtureFolders(): string[] {
  return [ARM_FIXTURES, LOGIC_FIXTURES].flatMap((dir) =>
    fs.existsSync(dir)
      ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${path.basename(dir)}/${e.name}`)
      : [],
  );
}

/** The sections of test/fixtures/SOURCES.md headed `### arm/<name>` or `### logicapp/<name>`, by folder. */
function sourcesEntries(): Map<string, string> {
  const file = path.join(FIXTURES_DIR, 'SOURCES.md');
  const entries = new Map<string, string>();
  if (!fs.existsSync(file)) return entries;
  const parts = fs.readFileSync(file, 'utf8').split(/^### /m).slice(1);
  for (const part of parts) {
    const heading = part.split('\n', 1)[0].trim();
    if (/^(arm|logicapp)\/[\w.-]+$/.test(heading)) entries.set(heading, part.split(/^##? /m)[0]);
  }
  return entries;
}

/**
 * Fixture folder names the test sources load, read from the files that use the fixture directories:
 * `'<folder>/<file>.json'` literals, `join(<FIXTURES|ARM|LOGIC>, '<folder>'...)` and the first argument
 * of the fixture helpers (`request`, `readParams`, `parametersFile`, `fetchFrom`, `upload`).
 */
function namesLoadedByTests(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  const add = (name: string, file: string) => names.set(name, [...(names.get(name) ?? []), file]);
  for (const file of repoFiles(CODE_DIRS).filter((f) => CODE_FILE.test(f) && f !== SELF)) {
    const text = read(file);
    if (!/fixtures-dir'|\bFIXTURES\b/.test(text)) continue;
    const patterns = [
      /['"`]([a-z0-9]+(?:-[a-z0-9]+)+)\/[\w./-]+\.json['"`]/g,
      /\b(?:\w*FIXTURES|ARM|LOGIC|fixtures),\s*['"`]([a-z0-9]+(?:-[a-z0-9]+)+)['"`/]/g,
      /\b(?:request|readParams|parametersFile|fetchFrom|upload)\(\s*['"`]([a-z0-9]+(?:-[a-z0-9]+)+)['"`]/g,
    ];
    for (const re of patterns) for (const m of text.matchAll(re)) add(m[1], file);
  }
  return names;
}

describe('the repository is self-contained for its tests', () => {
  it('no code refers to a folder beside the clone for test data, or to its environment override', () => {
    const outside = ['..', 'shared'].join('/');
    const override = ['TESTDRIVE', 'SHARED', 'DIR'].join('_');
    const segments = /['"]\.\.['"]\s*,\s*['"]shared['"]/;
    const files = [...repoFiles(CODE_DIRS).filter((f) => CODE_FILE.test(f)), ...ROOT_CONFIG.filter((f) => fs.existsSync(path.join(ROOT, f)))];
    expect(files.length).toBeGreaterThan(50);
    const offenders = files
      .filter((f) => f !== SELF)
      .flatMap((f) =>
        read(f)
          .split('\n')
          .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
          .filter(({ line }) => line.includes(outside) || line.includes(override) || segments.test(line))
          .map(({ where, line }) => `${where}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });

  it('the fixture directories are inside the repository', () => {
    for (const dir of [FIXTURES_DIR, ARM_FIXTURES, LOGIC_FIXTURES]) {
      expect(path.relative(ROOT, dir).startsWith('..')).toBe(false);
      expect(fs.existsSync(dir)).toBe(true);
    }
  });

  it('every fixture folder is committed and has a source URL and a licence in test/fixtures/SOURCES.md', () => {
    const folders = fixtureFolders();
    expect(folders.length).toBeGreaterThan(0);
    const entries = sourcesEntries();
    const tracked = new Set(repoFiles(['test/fixtures']));
    const problems: string[] = [];
    for (const folder of folders) {
      const files = repoFiles([`test/fixtures/${folder}`]);
      if (files.length === 0) problems.push(`${folder}: no committed file`);
      const onDisk = (function walk(rel: string): string[] {
        return fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${rel}/${e.name}`) : [`${rel}/${e.name}`]));
      })(`test/fixtures/${folder}`);
      for (const f of onDisk) if (!tracked.has(f)) problems.push(`${f}: not committed (a fresh clone would not have it)`);
      const entry = entries.get(folder);
      if (!entry) problems.push(`${folder}: no "### ${folder}" entry in test/fixtures/SOURCES.md`);
      else {
        if (!/^- Source: .*https:\/\/github\.com\/\S+/m.test(entry)) problems.push(`${folder}: its SOURCES.md entry has no "- Source:" line with a https://github.com/ URL`);
        if (!/^- Licence: \S+/m.test(entry)) problems.push(`${folder}: its SOURCES.md entry has no "- Licence:" line`);
      }
    }
    for (const name of entries.keys()) if (!folders.includes(name)) problems.push(`SOURCES.md describes ${name}, which is not in test/fixtures`);
    expect(problems).toEqual([]);
  });

  it('every fixture folder the tests load exists in test/fixtures', () => {
    const folders = new Set(fixtureFolders().map((f) => f.split('/')[1]));
    const loaded = namesLoadedByTests();
    // The fixture specs name these; finding none means the scan no longer sees them.
    expect([...loaded.keys()]).toEqual(expect.arrayContaining(['td-contoso-simple', 'td-winvm-linked', 'logic-app-create', 'mslearn-calculate-area']));
    const missing = [...loaded].filter(([name]) => !folders.has(name)).map(([name, files]) => `${name} (loaded by ${[...new Set(files)].join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('no test decides to skip PostgreSQL inside its body (the former postgresAvailable() then return): jest must report it skipped', () => {
    const callers = repoFiles(CODE_DIRS)
      .filter((f) => CODE_FILE.test(f) && f !== SELF)
      .filter((f) => /\bpostgresAvailable\s*\(/.test(read(f)));
    expect(callers).toEqual([]);
  });
});
