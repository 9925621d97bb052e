import { resolve } from 'node:path';
import { startEmulator } from './index';

/**
 * Standalone start: `node dist/emulator/src/cli.js`.
 * Env: EMULATOR_PORT (default 8443), EMULATOR_DEPLOYMENT_SECONDS (default 20),
 * EMULATOR_DATA_DIR (default data/emulator), EMULATOR_LOG=1 to log requests' effects (never secrets).
 * State persists in EMULATOR_DATA_DIR/state.json. Stops on SIGINT/SIGTERM.
 */
async function main(): Promise<void> {
  const port = Number(process.env.EMULATOR_PORT ?? 8443);
  const deploymentSeconds = Number(process.env.EMULATOR_DEPLOYMENT_SECONDS ?? 20);
  const dataDir = resolve(process.env.EMULATOR_DATA_DIR ?? 'data/emulator');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`EMULATOR_PORT must be a port number, got '${process.env.EMULATOR_PORT}'`);
  if (!Number.isFinite(deploymentSeconds) || deploymentSeconds < 0) throw new Error('EMULATOR_DEPLOYMENT_SECONDS must be a non-negative number');
  const verbose = process.env.EMULATOR_LOG === '1';
  const h = await startEmulator({
    port,
    dataDir,
    deploymentSeconds,
    persist: true,
    logger: verbose ? (msg, extra) => console.log(`[emulator] ${msg}${extra ? ' ' + JSON.stringify(extra) : ''}`) : undefined,
  });
  console.log(`Local Azure emulator listening on ${h.url}`);
  console.log(`  ARM endpoint / Entra authority host / Key Vault URL: ${h.url}`);
  console.log(`  Service tenant (Key Vault): ${h.serviceTenantId}`);
  console.log(`  CA certificate: ${h.caCertPath}`);
  console.log(`  Trust it:  export NODE_EXTRA_CA_CERTS=${h.caCertPath}   (read when Node starts)`);
  console.log(`  Create a publisher:  curl --cacert ${h.caCertPath} -X POST ${h.url}/_emulator/publishers`);
  const stop = (): void => {
    void h.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`emulator failed to start: ${(e as Error).message}`);
  process.exit(1);
});
