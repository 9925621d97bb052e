import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A running Azurite blob service (the real Azure Storage emulator, from npm). */
export interface AzuriteHandle {
  /** e.g. http://127.0.0.1:10000/devstoreaccount1 */
  blobEndpoint: string;
  port: number;
  /** Connection string for @azure/storage-blob (Azurite's well-known development account). */
  connectionString: string;
  stop(): Promise<void>;
}

/** Azurite's published development account (not a secret: identical in every Azurite install). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Starts Azurite's blob service as a child process on `port` (0 = any free port), keeping its data in
 * `location`. Resolves once it listens.
 * @throws Error when Azurite exits or does not listen within `timeoutMs`.
 */
export async function startAzurite(opts: { location: string; port?: number; host?: string; timeoutMs?: number }): Promise<AzuriteHandle> {
  fs.mkdirSync(opts.location, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const main = require.resolve('azurite/dist/src/blob/main.js');
  // Azurite runs behind a one-line guard: its stdin is a pipe from this process, which the kernel closes when
  // this process ends in any way (SIGKILL included), and the guard then exits: Azurite never outlives us.
  const guard = `process.stdin.on('end',()=>process.exit(0));process.stdin.on('error',()=>process.exit(0));process.stdin.resume();process.argv.splice(1,0,${JSON.stringify(main)});require(${JSON.stringify(main)});`;
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', guard, '--', '--blobHost', host, '--blobPort', String(opts.port ?? 10000), '--location', opts.location, '--silent', '--skipApiVersionCheck', '--loose', '--disableProductStyleUrl'],
    { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.location, env: { ...process.env, AZURITE_ACCOUNTS: undefined } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within ${opts.timeoutMs ?? 20000} ms: ${out.slice(-500)}`));
    }, opts.timeoutMs ?? 20000);
    const onData = (buf: Buffer) => {
      out += buf.toString();
      const m = /listens on https?:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}: ${out.slice(-500)}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  // Never outlive the parent, however it ends (signal, crash, process.exit).
  const killOnExit = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const blobEndpoint = `http://${host}:${port}/${DEV_ACCOUNT}`;
  return {
    blobEndpoint,
    port,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** Folder for Azurite's data under the service's data dir. */
export const azuriteLocation = (dataDir: string) => path.join(dataDir, 'azurite');
