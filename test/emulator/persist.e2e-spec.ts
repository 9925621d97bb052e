jest.setTimeout(60_000);
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../emulator/src';
import { armClients, secretClient, fastPoll, pollFor } from './helpers';

const template = { $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#', contentVersion: '1.0.0.0', parameters: {}, resources: [], outputs: { x: { type: 'string', value: 'hello' } } };

describe('emulator: persistence', () => {
  it('keeps state, CA, credentials and running deployments across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'azemu-persist-'));
    try {
      const h1 = await startEmulator({ port: 0, dataDir, deploymentSeconds: 1, persist: true });
      const pub = await h1.createPublisher();
      const client = await h1.createClient();
      const { rm, dep } = armClients(h1, pub, pub.subscriptionId);
      await rm.resourceGroups.createOrUpdate('kept', { location: 'westeurope', tags: { a: '1' } });
      await secretClient(h1, client).setSecret('kept-secret', 's3cr3t');
      const abort = new AbortController();
      const poller = dep.deployments.createOrUpdate('kept', 'running', { properties: { mode: 'Incremental', template } }, { ...fastPoll, abortSignal: abort.signal });
      await poller.submitted();
      poller.catch(() => undefined);
      abort.abort(); // this process's poller would otherwise keep retrying the closed port
      const ca1 = h1.caCertPem;
      await h1.close();
      expect(existsSync(join(dataDir, 'state.json'))).toBe(true);

      const h2 = await startEmulator({ port: 0, dataDir, deploymentSeconds: 0.2, persist: true });
      try {
        expect(h2.caCertPem).toBe(ca1);
        const c2 = armClients(h2, pub, pub.subscriptionId);
        expect((await c2.rm.resourceGroups.get('kept')).tags).toEqual({ a: '1' });
        expect((await secretClient(h2, client).getSecret('kept-secret')).value).toBe('s3cr3t');
        // The deployment accepted before the restart still finishes (its 1 s timer resumes).
        const state = await pollFor(async () => (await c2.dep.deployments.get('kept', 'running')).properties?.provisioningState ?? '', 'Succeeded');
        expect(state).toBe('Succeeded');
      } finally {
        await h2.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
