import { join, resolve } from 'node:path';
import { startEmulator } from '../emulator/src';
import { startAzurite, type AzuriteHandle } from '../src/embedded/azurite';
import { formatEnvLines, prepareSharedEmulator } from '../src/embedded/shared-emulator';

/**
 * Standalone start: `node dist/scripts/emulator.js` (`npm run emulator`). A script, not part of the emulator
 * package: it also uses the service's embedded pieces (Azurite, shared identity), and the emulator imports
 * no product code (lint boundaries).
 * Env: EMULATOR_PORT (default 8443), EMULATOR_DEPLOYMENT_SECONDS (default 20),
 * EMULATOR_VM_START_SECONDS (how long a VM start runs; default 5), EMULATOR_VM_DEALLOCATE_SECONDS (default: the start value),
 * EMULATOR_DATA_DIR (default data/emulator), EMULATOR_LOG=1 to log requests' effects (never secrets),
 * EMULATOR_AZURITE_PORT (default 10000; 0 = any free port; `off` = no Azurite),
 * EMULATOR_SMTP_PORT (the SMTP sink on 127.0.0.1; default 2525; 0 = any free port; `off` = none),
 * EMULATOR_THROTTLING=off (no ARM request limits: load benchmarks; default: ARM's per-principal limits).
 * State persists in EMULATOR_DATA_DIR/state.json. Stops on SIGINT/SIGTERM.
 *
 * Also what replicas of the service need to share this emulator (docs/operations.md, "Running several
 * replicas"): Azurite (blob storage, data in EMULATOR_DATA_DIR/azurite), one service identity with Key
 * Vault access (kept across restarts), and the variables a replica needs, printed as env lines and
 * written to EMULATOR_DATA_DIR/replica.env.
 */
/** A non-negative number of seconds from the environment variable `name`, or undefined when unset/empty (throws otherwise). */
function optionalSeconds(name: string): number | undefined {
  const raw = (process.env[name] ?? '').trim();
  if (raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number of seconds, got '${raw}'`);
  return v;
}

async function main(): Promise<void> {
  const port = Number(process.env.EMULATOR_PORT ?? 8443);
  const deploymentSeconds = Number(process.env.EMULATOR_DEPLOYMENT_SECONDS ?? 20);
  const vmStartSeconds = optionalSeconds('EMULATOR_VM_START_SECONDS');
  const vmDeallocateSeconds = optionalSeconds('EMULATOR_VM_DEALLOCATE_SECONDS');
  const dataDir = resolve(process.env.EMULATOR_DATA_DIR ?? 'data/emulator');
  const azuritePortSetting = (process.env.EMULATOR_AZURITE_PORT ?? '10000').trim();
  const azuritePort = azuritePortSetting === 'off' ? undefined : Number(azuritePortSetting);
  const smtpPortSetting = (process.env.EMULATOR_SMTP_PORT ?? '2525').trim();
  const smtpPort = smtpPortSetting === 'off' ? undefined : Number(smtpPortSetting);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`EMULATOR_PORT must be a port number, got '${process.env.EMULATOR_PORT}'`);
  if (!Number.isFinite(deploymentSeconds) || deploymentSeconds < 0) throw new Error('EMULATOR_DEPLOYMENT_SECONDS must be a non-negative number');
  if (azuritePort !== undefined && (!Number.isInteger(azuritePort) || azuritePort < 0 || azuritePort > 65535)) {
    throw new Error(`EMULATOR_AZURITE_PORT must be a port number (0 = any free port) or off, got '${azuritePortSetting}'`);
  }
  if (smtpPort !== undefined && (!Number.isInteger(smtpPort) || smtpPort < 0 || smtpPort > 65535)) {
    throw new Error(`EMULATOR_SMTP_PORT must be a port number (0 = any free port) or off, got '${smtpPortSetting}'`);
  }
  const verbose = process.env.EMULATOR_LOG === '1';
  const unlimited = { bucket: 1_000_000_000, perSecond: 1_000_000_000 };
  const throttling = process.env.EMULATOR_THROTTLING === 'off' ? { reads: unlimited, writes: unlimited, deletes: unlimited } : undefined;
  const h = await startEmulator({
    port,
    dataDir,
    deploymentSeconds,
    vmStartSeconds,
    vmDeallocateSeconds,
    persist: true,
    smtpPort,
    ...(throttling ? { limits: { throttling } } : {}),
    logger: verbose ? (msg, extra) => console.log(`[emulator] ${msg}${extra ? ' ' + JSON.stringify(extra) : ''}`) : undefined,
  });
  let azurite: AzuriteHandle | undefined;
  try {
    if (azuritePort !== undefined) azurite = await startAzurite({ location: join(dataDir, 'azurite'), port: azuritePort });
  } catch (e) {
    await h.close();
    throw e;
  }
  const replicas = await prepareSharedEmulator(h, dataDir, azurite?.connectionString);
  console.log(`Local Azure emulator listening on ${h.url}`);
  console.log(`  ARM endpoint / Entra authority host / Key Vault URL: ${h.url}`);
  console.log(`  Service tenant (Key Vault): ${h.serviceTenantId}`);
  console.log(`  CA certificate: ${h.caCertPath}`);
  console.log(`  Trust it:  export NODE_EXTRA_CA_CERTS=${h.caCertPath}   (read when Node starts)`);
  console.log(`  Create a publisher:  curl --cacert ${h.caCertPath} -X POST ${h.url}/_emulator/publishers`);
  console.log(`  Sign-in user:  curl --cacert ${h.caCertPath} -H content-type:application/json -X POST ${h.url}/_emulator/users -d '{"roles":["TestDrive.Operator"]}'`);
  console.log(h.smtpUrl ? `  SMTP sink: ${h.smtpUrl} (no TLS, any AUTH); received mail: ${h.url}/_emulator/mail` : '  SMTP sink: off (EMULATOR_SMTP_PORT=off)');
  console.log(azurite ? `  Azurite (blob storage): ${azurite.blobEndpoint}` : '  Azurite: off (EMULATOR_AZURITE_PORT=off): give replicas AZURE_STORAGE_CONNECTION_STRING yourself');
  console.log('');
  console.log(`Service replicas sharing this emulator need these variables (plus their own PORT and one DATABASE_URL=postgres://...);`);
  console.log(`same identity for all (${replicas.reused ? 'reused' : 'registered now'}); also in ${replicas.file}:`);
  for (const line of formatEnvLines(replicas.env)) console.log(`  ${line}`);
  console.log(`  e.g.  (set -a; . ${replicas.file}; DATABASE_URL=postgres://postgres@127.0.0.1:5432/testdrive PORT=3001 node dist/src/main.js)`);
  const stop = (): void => {
    void (async () => {
      await azurite?.stop().catch(() => undefined);
      await h.close();
      process.exit(0);
    })();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`emulator failed to start: ${(e as Error).message}`);
  process.exit(1);
});
