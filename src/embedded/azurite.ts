import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A running Azurite blob service (the real Azure Storage emulator, from npm), and its table service when asked for. */
export interface AzuriteHandle {
  /** e.g. http://127.0.0.1:10000/devstoreaccount1 */
  blobEndpoint: string;
  /** Port of the blob service. */
  port: number;
  /** Table endpoint, e.g. http://127.0.0.1:10002/devstoreaccount1 (only with the `table` option). */
  tableEndpoint?: string;
  /** Port of the table service (only with the `table` option). */
  tablePort?: number;
  /**
   * Connection string (Azurite's well-known development account) for @azure/storage-blob; with the `table`
   * option it also carries `TableEndpoint=` (for @azure/data-tables' TableClient.fromConnectionString, which needs
   * `{ allowInsecureConnection: true }` since Azurite speaks http).
   */
  connectionString: string;
  /** Stops the blob service and the table service (if started). */
  stop(): Promise<void>;
}

/** Options of startAzurite. */
export interface AzuriteOptions {
  /** Data folder (created if missing): blob data, and the table service's LokiJS database with `table`. */
  location: string;
  /** Blob service port; 0 = any free port. Default 10000. */
  port?: number;
  /** Interface both services bind. Default 127.0.0.1. */
  host?: string;
  /** How long each service may take to listen, in ms. Default 60000 (a loaded 2-core machine starts Azurite slowly). */
  timeoutMs?: number;
  /**
   * Also start Azurite's table service (azurite/dist/src/table/main.js, its own child process and port):
   * `true` = port 10002 (Azurite's default), `{ port: 0 }` = any free port. Default: no table service.
   */
  table?: boolean | { port?: number };
}

/** Azurite's published development account (not a secret: identical in every Azurite install). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** Azurite's default table port. */
export const AZURITE_TABLE_PORT = 10002;

/** A started Azurite service child process. */
interface AzuriteChild {
  child: ChildProcess;
  port: number;
}

/**
 * Spawns one Azurite service entry point (`main`) behind the stdin-pipe guard and resolves with the port it
 * listens on (read from its stdout: the blob service prints it; for the table service the guard prints the
 * port its HTTP server actually bound, since Azurite prints the configured one, "0" for a random port).
 */
async function spawnService(main: string, args: string[], cwd: string, timeoutMs: number, name: string, announcePort: boolean): Promise<AzuriteChild> {
  // Azurite runs behind a one-line guard: its stdin is a pipe from this process, which the kernel closes when
  // this process ends in any way (SIGKILL included), and the guard then exits: Azurite never outlives us.
  const announce = announcePort
    ? `const net=require('net');const l=net.Server.prototype.listen;net.Server.prototype.listen=function(...a){this.once('listening',()=>{const ad=this.address();if(ad&&typeof ad==='object')console.log('Azurite service listens on http://host:'+ad.port);});return l.apply(this,a);};`
    : '';
  const guard = `process.stdin.on('end',()=>process.exit(0));process.stdin.on('error',()=>process.exit(0));process.stdin.resume();${announce}process.argv.splice(1,0,${JSON.stringify(main)});require(${JSON.stringify(main)});`;
  const child: ChildProcess = spawn(process.execPath, ['-e', guard, '--', ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd, env: { ...process.env, AZURITE_ACCOUNTS: undefined } });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite ${name} did not start within ${timeoutMs} ms: ${out.slice(-500)}`));
    }, timeoutMs);
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
      reject(new Error(`Azurite ${name} exited with code ${code}: ${out.slice(-500)}`));
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
  return { child, port };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/**
 * Starts Azurite's blob service as a child process on `port` (0 = any free port), keeping its data in
 * `location`, and with `table` its table service as a second child process. Resolves once they listen.
 * @throws Error when Azurite exits or does not listen within `timeoutMs` (a started blob service is then stopped).
 */
export async function startAzurite(opts: AzuriteOptions): Promise<AzuriteHandle> {
  fs.mkdirSync(opts.location, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 60000;
  const blob = await spawnService(
    require.resolve('azurite/dist/src/blob/main.js'),
    ['--blobHost', host, '--blobPort', String(opts.port ?? 10000), '--location', opts.location, '--silent', '--skipApiVersionCheck', '--loose', '--disableProductStyleUrl'],
    opts.location,
    timeoutMs,
    'blob service',
    false,
  );
  const blobEndpoint = `http://${host}:${blob.port}/${DEV_ACCOUNT}`;
  let table: AzuriteChild | undefined;
  if (opts.table) {
    const tablePort = typeof opts.table === 'object' && opts.table.port !== undefined ? opts.table.port : AZURITE_TABLE_PORT;
    try {
      table = await spawnService(
        require.resolve('azurite/dist/src/table/main.js'),
        ['--tableHost', host, '--tablePort', String(tablePort), '--location', opts.location, '--silent', '--skipApiVersionCheck', '--loose', '--disableProductStyleUrl', '--disableTelemetry'],
        opts.location,
        timeoutMs,
        'table service',
        true,
      );
    } catch (e) {
      await stopChild(blob.child);
      throw e;
    }
  }
  const tableEndpoint = table ? `http://${host}:${table.port}/${DEV_ACCOUNT}` : undefined;
  return {
    blobEndpoint,
    port: blob.port,
    ...(table ? { tableEndpoint, tablePort: table.port } : {}),
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};${tableEndpoint ? `TableEndpoint=${tableEndpoint};` : ''}`,
    stop: async () => {
      await Promise.all([stopChild(blob.child), ...(table ? [stopChild(table.child)] : [])]);
    },
  };
}

/** Folder for Azurite's data under the service's data dir. */
export const azuriteLocation = (dataDir: string) => path.join(dataDir, 'azurite');
