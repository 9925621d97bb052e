import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ClientSecretCredential } from '@azure/identity';
import { ResourceManagementClient } from '@azure/arm-resources';
import { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import { SecretClient } from '@azure/keyvault-secrets';
import { startEmulator, type EmulatorHandle, type EmulatorOptions } from '../../emulator/src';
import { httpsRequest } from '../support/emulator-client';

/** Starts an emulator on a random port with a temp data dir (deploymentSeconds 0.2 unless given). */
export async function start(opts: Partial<EmulatorOptions> = {}): Promise<{ h: EmulatorHandle; dataDir: string; cleanup: () => Promise<void> }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'azemu-'));
  const h = await startEmulator({ port: 0, deploymentSeconds: 0.2, ...opts, dataDir });
  return {
    h,
    dataDir,
    cleanup: async () => {
      await h.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** TLS options trusting the public roots plus the emulator CA. */
export function tlsOptions(h: EmulatorHandle): { ca: string[] } {
  return { ca: [...tls.rootCertificates, h.caCertPem] };
}

/** A real ClientSecretCredential pointed at the emulator. */
export function credential(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }): ClientSecretCredential {
  return new ClientSecretCredential(c.tenantId, c.clientId, c.clientSecret, {
    authorityHost: h.url,
    disableInstanceDiscovery: true,
    tlsOptions: tlsOptions(h),
  });
}

/** Real ARM clients (ResourceManagementClient + DeploymentsClient) against the emulator. */
export function armClients(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, subscriptionId: string): { rm: ResourceManagementClient; dep: DeploymentsClient } {
  const cred = credential(h, c);
  return {
    rm: new ResourceManagementClient(cred, subscriptionId, { endpoint: h.url, credentialScopes: ['https://management.azure.com/.default'], tlsOptions: tlsOptions(h) }),
    dep: new DeploymentsClient(cred, subscriptionId, { endpoint: h.url, tlsOptions: tlsOptions(h) }),
  };
}

/** A real SecretClient against the emulator's vault. */
export function secretClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }): SecretClient {
  return new SecretClient(h.url, credential(h, c), { disableChallengeResourceVerification: true, tlsOptions: tlsOptions(h) });
}

/** Calls the control API (plain HTTPS JSON, trusting the emulator CA). */
export async function control(h: EmulatorHandle, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const r = await httpsRequest(`${h.url}${path}`, h.caCertPem, method, data, data ? { 'content-type': 'application/json', 'content-length': data.length } : {});
  return { status: r.status, body: r.text ? JSON.parse(r.text) : undefined };
}

/** LRO options that poll quickly (the emulator's Retry-After is 0 for sub-second operations). */
export const fastPoll = { updateIntervalInMs: 50 };

/**
 * Reads `read()` every 100 ms until it returns `want` or `ms` milliseconds pass; returns the last value read
 * (the caller asserts on it, so a timeout shows what was there instead).
 */
export async function pollFor<T>(read: () => Promise<T>, want: T, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await read();
  while (last !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await read();
  }
  return last;
}

/**
 * Starts an emulator before the enclosing describe's tests (beforeAll), hands it to `started`, and closes
 * it afterwards (afterAll): `let h: EmulatorHandle; emulatorPerSuite((x) => (h = x));`.
 */
export function emulatorPerSuite(started: (h: EmulatorHandle) => void, opts: Partial<EmulatorOptions> = {}): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const s = await start(opts);
    cleanup = s.cleanup;
    started(s.h);
  });
  afterAll(async () => cleanup?.());
}
