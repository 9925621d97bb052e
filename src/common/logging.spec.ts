import { pinoParams } from './logging';
import { AppConfig } from '../config/app-config';

describe('pinoParams', () => {
  it('logs to stdout asynchronously: a slow log reader never blocks the event loop', () => {
    const params = pinoParams({ logLevel: 'info' } as AppConfig);
    const [, destination] = params.pinoHttp as [unknown, { fd: number; sync: boolean }];
    expect(destination.fd).toBe(1);
    expect(destination.sync).toBe(false);
  });

  it("names the service on every line, in the base bindings (no child logger per request for it)", () => {
    const [options] = pinoParams({ logLevel: 'info' } as AppConfig).pinoHttp as [{ base?: Record<string, unknown>; customProps?: unknown }];
    expect(options.base).toMatchObject({ service: 'test-drive-orchestrator', pid: process.pid });
    expect(options.customProps).toBeUndefined();
  });
});
