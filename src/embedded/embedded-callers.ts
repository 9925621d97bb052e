import * as fs from 'node:fs';
import * as path from 'node:path';
import { httpsJson } from '../remote/http';
import { createEmulatorClient } from '../auth/emulator-tokens';
import { ALL_ROLES, ROLE_BY_NAME } from '../auth/roles';

/** Short role names of the ready-made callers. */
export type RoleName = keyof typeof ROLE_BY_NAME;

/** Where the embedded default remembers its callers' client ids (never a secret): DATA_DIR/emulator/embedded-clients.json. */
export function embeddedClientsFile(dataDir: string): string {
  return path.join(dataDir, 'emulator', 'embedded-clients.json');
}

/**
 * Ensures the API registration `audience` with the service's app roles exists in the emulator
 * (POST /_emulator/applications; the default api://test-drive-orchestrator exists from the first start).
 * @throws Error when the emulator refuses.
 */
export async function registerServiceApi(emulatorUrl: string, caPem: string, audience: string): Promise<void> {
  const r = await httpsJson(`${emulatorUrl}/_emulator/applications`, {
    method: 'POST',
    extraCaPem: caPem,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identifierUri: audience, appRoles: ALL_ROLES, displayName: 'Test drive orchestrator' }),
  });
  if (r.status !== 201) throw new Error(`POST /_emulator/applications answered ${r.status}`);
}

/**
 * An access token for an existing emulator client, minted by the emulator's control API without the
 * client's secret (POST /_emulator/tokens). Undefined when the emulator does not know the client.
 * @throws Error on other failures.
 */
export async function mintEmulatorToken(emulatorUrl: string, caPem: string, clientId: string, audience: string): Promise<string | undefined> {
  const r = await httpsJson(`${emulatorUrl}/_emulator/tokens`, {
    method: 'POST',
    extraCaPem: caPem,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clientId, audience }),
  });
  if (r.status === 404) return undefined;
  const token = (r.json as { access_token?: string } | undefined)?.access_token;
  if (r.status !== 200 || !token) throw new Error(`POST /_emulator/tokens answered ${r.status}`);
  return token;
}

/**
 * The embedded default's ready-made callers, one client per app role (marketplace, publisher,
 * operator), stable across restarts: their client ids are kept in embeddedClientsFile (secrets are
 * discarded at creation; tokens come from POST /_emulator/tokens). The publisher owns the sample offer.
 * @returns per role: client id, tenant id, and a fresh access token (1 h).
 */
export async function embeddedCallers(emulatorUrl: string, caPem: string, dataDir: string, audience: string): Promise<Record<RoleName, { tenantId: string; clientId: string; token: string }>> {
  const file = embeddedClientsFile(dataDir);
  let saved: Partial<Record<RoleName, { tenantId: string; clientId: string }>> = {};
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof saved;
  } catch {
    saved = {};
  }
  const out = {} as Record<RoleName, { tenantId: string; clientId: string; token: string }>;
  let changed = false;
  for (const name of Object.keys(ROLE_BY_NAME) as RoleName[]) {
    let entry = saved[name];
    let token = entry ? await mintEmulatorToken(emulatorUrl, caPem, entry.clientId, audience) : undefined;
    if (!entry || !token) {
      const c = await createEmulatorClient(emulatorUrl, caPem, { roles: [ROLE_BY_NAME[name]] });
      entry = { tenantId: c.tenantId, clientId: c.clientId };
      saved[name] = entry;
      changed = true;
      token = await mintEmulatorToken(emulatorUrl, caPem, entry.clientId, audience);
      if (!token) throw new Error(`the emulator does not know the client it just created for ${name}`);
    }
    out[name] = { ...entry, token };
  }
  if (changed) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(saved, null, 2)}\n`);
  }
  return out;
}
