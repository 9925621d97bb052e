#!/usr/bin/env node
/**
 * Runs a compiled entry point from dist/ (`node scripts/run.js src/main [args...]`), building first only
 * when a TypeScript source or a tsconfig is newer than the last build (dist/.build-stamp). On a built tree
 * `npm run token` and `npm start` start at once instead of recompiling the whole project (issue 9: 25-34 s
 * per script before). Build output goes to stderr, so a script's stdout (e.g. a token) stays clean.
 * Exits with tsc's status when the build fails.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.build-stamp');
const SOURCES = ['src', 'modules', 'emulator/src', 'scripts'];
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** Newest modification time (ms) of the .ts files under `dir` (0 when there are none). */
function newestTs(dir) {
  let newest = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function builtAt() {
  try {
    return fs.statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run.js <entry without .ts, e.g. src/main> [args...]\n');
  process.exit(2);
}
const target = path.join(dist, `${entry.replace(/\.(ts|js)$/, '')}.js`);
const sourcesAt = Math.max(...SOURCES.map((d) => newestTs(path.join(root, d))), ...CONFIGS.map((f) => fs.statSync(path.join(root, f)).mtimeMs));
if (!fs.existsSync(target) || builtAt() < sourcesAt) {
  const started = Date.now();
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  fs.mkdirSync(dist, { recursive: true });
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.stderr.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
process.argv = [process.argv[0], target, ...args];
require(target);
