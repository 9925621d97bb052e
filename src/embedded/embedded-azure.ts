import * as path from 'node:path';
import { startEmulator } from '../../emulator/src';
import { AppConfig } from '../config/app-config';
import { AzureRuntime, ServiceIdentity } from '../azure/azure-runtime';
import { azuriteLocation, startAzurite } from './azurite';

/** The embedded default's local Azure: the emulator (Entra ID, ARM, Key Vault) and Azurite (blobs). */
export interface EmbeddedAzure {
  runtime: AzureRuntime;
  emulatorUrl: string;
  caCertPath: string;
  blobEndpoint: string;
  /** Connection string of Azurite with its table service (a lead destination of type azure-table, locally). */
  storageConnectionString: string;
  /** Emulator handle, for the sample seeding (publisher creation). */
  emulator: Awaited<ReturnType<typeof startEmulator>>;
  stop(): Promise<void>;
}

/**
 * An AzureRuntime pointing every SDK client at the emulator (Entra ID, ARM and Key Vault at its URL,
 * trusting its CA) and Azurite (blobs), authenticating as `identity` (a client registered in the emulator).
 */
export function emulatedRuntime(emulator: { url: string; caCertPem: string }, azuriteConnectionString: string, identity: ServiceIdentity): AzureRuntime {
  return new AzureRuntime(
    {
      authorityHost: emulator.url,
      resourceManagerEndpoint: emulator.url,
      resourceManagerAudience: 'https://management.azure.com',
      keyVaultUrl: emulator.url,
      storageConnectionString: azuriteConnectionString,
      extraCaPem: emulator.caCertPem,
      emulated: true,
    },
    identity,
  );
}

/**
 * Starts the emulator on EMULATOR_PORT (state and CA kept under DATA_DIR/emulator; its SMTP sink on
 * EMULATOR_SMTP_PORT) and Azurite on
 * AZURITE_BLOB_PORT, registers a service identity in the emulator for Key Vault, and returns an
 * AzureRuntime pointing every SDK client at them (trusting the emulator's CA).
 */
export async function startEmbeddedAzure(config: AppConfig, opts: { emulatorPort?: number; azuritePort?: number; smtpPort?: number; persist?: boolean } = {}): Promise<EmbeddedAzure> {
  const emulator = await startEmulator({
    port: opts.emulatorPort ?? config.emulatorPort,
    smtpPort: opts.smtpPort ?? config.emulatorSmtpPort,
    dataDir: path.join(config.dataDir, 'emulator'),
    deploymentSeconds: config.emulatorDeploymentSeconds,
    vmStartSeconds: config.emulatorVmStartSeconds,
    persist: opts.persist ?? true,
  });
  let azurite;
  try {
    azurite = await startAzurite({ location: azuriteLocation(config.dataDir), port: opts.azuritePort ?? config.azuriteBlobPort, table: { port: opts.azuritePort === 0 ? 0 : config.azuriteTablePort } });
  } catch (err) {
    await emulator.close();
    throw err;
  }
  const identity = await emulator.createClient({});
  const runtime = emulatedRuntime(emulator, azurite.connectionString, identity);
  return {
    runtime,
    emulatorUrl: emulator.url,
    caCertPath: emulator.caCertPath,
    blobEndpoint: azurite.blobEndpoint,
    storageConnectionString: azurite.connectionString,
    emulator,
    stop: async () => {
      await azurite.stop();
      await emulator.close();
    },
  };
}
