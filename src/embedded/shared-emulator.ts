import * as fs from 'node:fs';
import * as path from 'node:path';
import { AzureRuntime, ServiceIdentity } from '../azure/azure-runtime';
import { requestAccessToken } from '../auth/emulator-tokens';
import { AppConfig, ConfigError } from '../config/app-config';
import { emulatedRuntime } from './embedded-azure';

/**
 * File the emulator CLI (`npm run emulator`) writes next to its CA certificate: what every replica of
 * the service needs to share that emulator, as `KEY='value'` lines (a shell can `set -a; . replica.env`).
 * Holds the shared service identity's secret: mode 0600, local development only.
 */
export const REPLICA_ENV_FILE = 'replica.env';

/** Key Vault's token audience (the vault checks it; the emulator's vault too). */
const VAULT_AUDIENCE = 'https://vault.azure.net';

/** Variables a replica sharing an emulator needs (besides DATABASE_URL and PORT). */
export type SharedEmulatorEnv = {
  AZURE_EMULATOR_URL: string;
  AZURE_CA_CERT_PATH: string;
  AZURE_TENANT_ID: string;
  AZURE_CLIENT_ID: string;
  AZURE_CLIENT_SECRET: string;
  AZURE_STORAGE_CONNECTION_STRING?: string;
};

/** `KEY='value'` lines, one per variable (values never contain a single quote: GUIDs, URLs, emulator secrets). */
export function formatEnvLines(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}='${v.replace(/'/g, `'\\''`)}'`);
}

/** Parses what formatEnvLines wrote (also plain `KEY=value`, `export KEY=...`, comments and blank lines). */
export function parseEnvLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) v = v.slice(1, -1).replace(/'\\''/g, "'");
    else if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

/** What prepareSharedEmulator needs of a running emulator (the EmulatorHandle of emulator/src). */
export interface EmulatorForReplicas {
  url: string;
  caCertPem: string;
  caCertPath: string;
  serviceTenantId: string;
  createClient(opts?: object): Promise<{ tenantId: string; clientId: string; clientSecret: string }>;
}

/**
 * Emulator CLI side: the ONE service identity every replica uses (a client of the emulator's service
 * tenant with Key Vault access: the data protection key and the publishers' secrets live in the vault,
 * so all replicas must read the same one). Reuses the identity of `dataDir`/replica.env when the
 * emulator still accepts it (a token for Key Vault is issued), registers a new one otherwise, and
 * (re)writes replica.env (mode 0600).
 * @param storageConnectionString blob storage shared by the replicas (the CLI's Azurite), if any.
 * @returns the variables a replica needs (also written to the file), and the file's path.
 * @throws Error when the emulator cannot create the client or the file cannot be written.
 */
export async function prepareSharedEmulator(
  emulator: EmulatorForReplicas,
  dataDir: string,
  storageConnectionString?: string,
): Promise<{ env: SharedEmulatorEnv; file: string; reused: boolean }> {
  const file = path.join(dataDir, REPLICA_ENV_FILE);
  let identity: ServiceIdentity | undefined;
  let reused = false;
  try {
    const old = parseEnvLines(fs.readFileSync(file, 'utf8'));
    if (old.AZURE_TENANT_ID === emulator.serviceTenantId && old.AZURE_CLIENT_ID && old.AZURE_CLIENT_SECRET) {
      const candidate = { tenantId: old.AZURE_TENANT_ID, clientId: old.AZURE_CLIENT_ID, clientSecret: old.AZURE_CLIENT_SECRET };
      await requestAccessToken(emulator.url, emulator.caCertPem, candidate, VAULT_AUDIENCE);
      identity = candidate;
      reused = true;
    }
  } catch {
    identity = undefined; // no file, or the emulator no longer knows that client (state reset)
  }
  if (!identity) {
    const c = await emulator.createClient({ keyVaultAccess: true });
    identity = { tenantId: c.tenantId, clientId: c.clientId, clientSecret: c.clientSecret };
  }
  const env: SharedEmulatorEnv = {
    AZURE_EMULATOR_URL: emulator.url,
    AZURE_CA_CERT_PATH: path.resolve(emulator.caCertPath),
    AZURE_TENANT_ID: identity.tenantId,
    AZURE_CLIENT_ID: identity.clientId,
    AZURE_CLIENT_SECRET: identity.clientSecret,
    AZURE_STORAGE_CONNECTION_STRING: storageConnectionString,
  };
  const header = [
    '# Written by `npm run emulator`: what every replica of the service needs to share this emulator',
    '# (docs/operations.md, "Running several replicas"). Local development only: it holds a client secret.',
  ];
  fs.writeFileSync(file, `${[...header, ...formatEnvLines(env)].join('\n')}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { env, file, reused };
}

/**
 * Service side, AZURE_EMULATOR_URL set: an AzureRuntime pointing every client at that emulator (Entra
 * ID, ARM, Key Vault at its URL) with emulated trust (`emulated: true`: its CA alone is the trust list,
 * no instance discovery, Key Vault challenge resource not verified), the emulator's CA, blob storage,
 * and the shared service identity. Each of CA, identity and storage comes from its variable when set
 * (AZURE_CA_CERT_PATH; AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET;
 * AZURE_STORAGE_CONNECTION_STRING), otherwise from what the emulator CLI wrote: `ca.crt` and
 * replica.env in DATA_DIR/emulator (or in the directory of AZURE_CA_CERT_PATH).
 * @throws ConfigError naming the variables when the CA, the identity or the storage cannot be found.
 */
export function sharedEmulatorRuntime(config: AppConfig): AzureRuntime {
  const a = config.azure;
  const url = a.emulatorUrl;
  if (!url) throw new ConfigError(['AZURE_EMULATOR_URL: not set']);
  const caPath = a.caCertPath ?? path.join(config.dataDir, 'emulator', 'ca.crt');
  let caPem: string;
  try {
    caPem = fs.readFileSync(caPath, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `AZURE_CA_CERT_PATH: the emulator's CA certificate ${caPath} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
        'set AZURE_CA_CERT_PATH to the ca.crt that `npm run emulator` prints, or DATA_DIR to the directory holding its emulator/ folder',
    ]);
  }
  const envFile = path.join(path.dirname(caPath), REPLICA_ENV_FILE);
  let saved: Record<string, string> = {};
  try {
    saved = parseEnvLines(fs.readFileSync(envFile, 'utf8'));
  } catch {
    saved = {};
  }
  const fromEnv = a.tenantId && a.clientId && a.clientSecret;
  const identity: Partial<ServiceIdentity> = fromEnv
    ? { tenantId: a.tenantId, clientId: a.clientId, clientSecret: a.clientSecret }
    : { tenantId: saved.AZURE_TENANT_ID, clientId: saved.AZURE_CLIENT_ID, clientSecret: saved.AZURE_CLIENT_SECRET };
  const storage = a.storageConnectionString ?? saved.AZURE_STORAGE_CONNECTION_STRING;
  const problems: string[] = [];
  if (!identity.tenantId || !identity.clientId || !identity.clientSecret) {
    problems.push(
      `AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET: the shared service identity is needed with AZURE_EMULATOR_URL; set all three (\`npm run emulator\` prints them) or keep ${envFile} (written by \`npm run emulator\`) beside the CA`,
    );
  }
  if (!storage) {
    problems.push(`AZURE_STORAGE_CONNECTION_STRING: blob storage shared by the replicas is needed with AZURE_EMULATOR_URL; set it (\`npm run emulator\` starts Azurite and prints it) or keep ${envFile} beside the CA`);
  }
  if (problems.length) throw new ConfigError(problems);
  return emulatedRuntime({ url: url.replace(/\/+$/, ''), caCertPem: caPem }, storage, identity as ServiceIdentity);
}
