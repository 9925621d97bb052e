import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAzurite as startAzuriteProcess } from '../../src/embedded/azurite';

/** A throwaway Azurite blob service for one test file. */
export interface TestAzurite {
  /** Connection string of Azurite's development account (for BlobServiceClient.fromConnectionString). */
  connectionString: string;
  /** e.g. http://127.0.0.1:41234/devstoreaccount1 */
  blobEndpoint: string;
  /** Stops the process and removes its data folder. */
  stop(): Promise<void>;
}

/**
 * Starts Azurite's blob service (the real Azure Storage emulator, child process) on a free port with
 * its data in a new temp folder. Resolves once it listens.
 */
export async function startAzurite(): Promise<TestAzurite> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-azurite-'));
  const handle = await startAzuriteProcess({ location: dir, port: 0 });
  return {
    connectionString: handle.connectionString,
    blobEndpoint: handle.blobEndpoint,
    stop: async () => {
      await handle.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
