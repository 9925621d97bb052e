import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Holds back the asynchronous rename of a save (as a busy libuv thread pool can) until release() is called. */
const held: Array<() => void> = [];
jest.mock('node:fs/promises', () => {
  const real = jest.requireActual('node:fs/promises');
  return {
    ...real,
    rename: (from: string, to: string) => new Promise<void>((resolve, reject) => held.push(() => real.rename(from, to).then(resolve, reject))),
  };
});

import { emptyState, StateStore } from './state';

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('StateStore', () => {
  it('close() keeps the newest state even when a save\'s rename is still under way (found in CI: a licence assignment lost at shutdown)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emu-state-'));
    try {
      const state = emptyState(1);
      const store = new StateStore(state, dir, true, 0);
      (state as unknown as Record<string, unknown>).marker = 'old';
      store.changed();
      // Until the save has written its file and is renaming it (held back, if it goes through fs/promises), or is done.
      const file = join(dir, 'state.json');
      const saved = () => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).marker === 'old';
      for (let i = 0; i < 200 && !held.length && !saved(); i++) await tick(10);
      expect(held.length === 1 || saved()).toBe(true);
      (state as unknown as Record<string, unknown>).marker = 'new';
      store.close(); // shutdown: writes the new state synchronously
      for (const release of held.splice(0)) release();
      await tick();
      expect(JSON.parse(readFileSync(file, 'utf8')).marker).toBe('new');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
