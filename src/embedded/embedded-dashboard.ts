import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { startEmulator } from '../../emulator/src';
import { Role } from '../auth/roles';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

/** One sign-in user of the embedded default. */
export interface EmbeddedUser {
  userPrincipalName: string;
  password: string;
}

/** What the embedded default sets up for the dashboard (issue 11). */
export interface EmbeddedDashboard {
  clientId: string;
  clientSecret: string;
  operator: EmbeddedUser;
  publisher: EmbeddedUser;
}

/** Where the embedded default keeps its dashboard app and users (local emulator credentials only): DATA_DIR/emulator/dashboard.json, mode 0600. */
export function embeddedDashboardFile(dataDir: string): string {
  return path.join(dataDir, 'emulator', 'dashboard.json');
}

/** A password that meets Entra's policy (length, 3 of 4 character classes). */
function newPassword(): string {
  return `Td-${randomBytes(9).toString('base64url')}7a`;
}

/**
 * The embedded default's dashboard sign-in, stable across restarts: a web app registration in the
 * emulator's service tenant whose redirect URI is `<baseUrl>/auth/callback`, and two sign-in users of
 * that tenant: one with the Operator role (sees every offer) and one with the Publisher role (sees the
 * offers of its tenant, among them the sample offer). Created on the first start, reused afterwards (a
 * user or app the emulator no longer knows is made again).
 */
export async function embeddedDashboard(emulator: Emulator, dataDir: string, baseUrl: string): Promise<EmbeddedDashboard> {
  const file = embeddedDashboardFile(dataDir);
  let saved: Partial<EmbeddedDashboard> = {};
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<EmbeddedDashboard>;
  } catch {
    saved = {};
  }
  const redirectUris = [`${baseUrl}/auth/callback`, `${baseUrl}/`];
  let app = saved.clientId && saved.clientSecret ? { clientId: saved.clientId, clientSecret: saved.clientSecret } : undefined;
  if (app) {
    try {
      emulator.setRedirectUris(app.clientId, redirectUris);
    } catch {
      app = undefined;
    }
  }
  if (!app) {
    const c = await emulator.createClient({ redirectUris, displayName: 'Test drive dashboard', keyVaultAccess: false, signInAudience: 'AzureADMultipleOrgs' });
    app = { clientId: c.clientId, clientSecret: c.clientSecret };
  }
  const user = async (kind: 'operator' | 'publisher', role: Role, prev: EmbeddedUser | undefined): Promise<EmbeddedUser> => {
    const known = prev && emulator.listUsers().find((u) => u.userPrincipalName === prev.userPrincipalName);
    if (prev && known) {
      emulator.updateUser(prev.userPrincipalName, { roles: [role] });
      return prev;
    }
    const password = newPassword();
    const displayName = `${kind === 'operator' ? 'Operator' : 'Publisher'} (local)`;
    // operator@<service tenant domain> when the name is free; otherwise the emulator picks one.
    const domain = prev?.userPrincipalName.split('@')[1] ?? (await emulator.createUser({ password: newPassword() }).then((probe) => {
      emulator.deleteUser(probe.objectId);
      return probe.userPrincipalName.split('@')[1];
    }));
    const u = await emulator
      .createUser({ roles: [role], password, displayName, userPrincipalName: `${kind}@${domain}` })
      .catch(() => emulator.createUser({ roles: [role], password, displayName }));
    return { userPrincipalName: u.userPrincipalName, password };
  };
  const out: EmbeddedDashboard = { ...app, operator: await user('operator', Role.Operator, saved.operator), publisher: await user('publisher', Role.Publisher, saved.publisher) };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
  return out;
}
