import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_BUFFER_BYTES, LOG_FLUSH_MS, logDestination, pinoParams } from './logging';
import { AppConfig } from '../config/app-config';

describe('pinoParams', () => {
  it('logs to stdout asynchronously: a slow log reader never blocks the event loop', () => {
    const params = pinoParams({ logLevel: 'info' } as AppConfig);
    const [, destination] = params.pinoHttp as [unknown, { fd: number; sync: boolean; minLength: number }];
    expect(destination.fd).toBe(1);
    expect(destination.sync).toBe(false);
    expect(destination.minLength).toBe(LOG_BUFFER_BYTES); // logDestination's batches, tested below
  });

  it(`writes lines in batches: once ${LOG_BUFFER_BYTES} bytes are buffered, or ${LOG_FLUSH_MS} ms later (one write per line cost a thread-pool hand-off per start, issue 14)`, async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    // A file of its own: fs.write is the process's, and destinations other test files of this Jest worker
    // left behind (each app's stdout) flush on their own timers while this test runs.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-'));
    const fd = fs.openSync(path.join(dir, 'out.log'), 'w');
    const writes: string[] = [];
    const realWrite = fs.write;
    const write = jest.spyOn(fs, 'write').mockImplementation((target: number, data: string, ...rest: unknown[]) => {
      if (target !== fd) return (realWrite as (...a: unknown[]) => void)(target, data, ...rest);
      const cb = rest[rest.length - 1] as (err: null, n: number) => void;
      writes.push(data);
      process.nextTick(cb, null, Buffer.byteLength(data));
    });
    const destination = logDestination(fd);
    try {
      destination.write('{"msg":"one"}\n');
      destination.write('{"msg":"two"}\n');
      expect(writes).toEqual([]);
      jest.advanceTimersByTime(LOG_FLUSH_MS);
      expect(writes).toEqual(['{"msg":"one"}\n{"msg":"two"}\n']);
      await settled();
      const big = `{"msg":"${'x'.repeat(LOG_BUFFER_BYTES)}"}\n`;
      destination.write(big);
      expect(writes).toEqual(['{"msg":"one"}\n{"msg":"two"}\n', big]);
    } finally {
      destination.destroy();
      write.mockRestore();
      jest.useRealTimers();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the service on every line, in the base bindings (no child logger per request for it)", () => {
    const [options] = pinoParams({ logLevel: 'info' } as AppConfig).pinoHttp as [{ base?: Record<string, unknown>; customProps?: unknown }];
    expect(options.base).toMatchObject({ service: 'test-drive-orchestrator', pid: process.pid });
    expect(options.customProps).toBeUndefined();
  });
});
