import { httpsJson } from '../remote/http';
import type { Role } from './roles';

/** A client application created in the emulator (POST /_emulator/clients). */
export interface EmulatorClient {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Creates a client (app registration + secret) holding `roles` in the running emulator at
 * `emulatorUrl` (trusting `caPem`): `POST /_emulator/clients {tenantId?, newTenant?, roles}`.
 * Default tenant: the emulator's service tenant.
 * @throws Error when the emulator refuses or cannot be reached.
 */
export async function createEmulatorClient(emulatorUrl: string, caPem: string, opts: { roles: readonly Role[] | readonly string[]; tenantId?: string; newTenant?: boolean }): Promise<EmulatorClient> {
  const r = await httpsJson(`${emulatorUrl}/_emulator/clients`, {
    method: 'POST',
    extraCaPem: caPem,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ roles: opts.roles, tenantId: opts.tenantId, newTenant: opts.newTenant, keyVaultAccess: false }),
  });
  const c = r.json as Partial<EmulatorClient> | undefined;
  if (r.status !== 201 || !c?.clientId || !c.clientSecret || !c.tenantId) throw new Error(`POST /_emulator/clients answered ${r.status}: ${JSON.stringify(r.json)?.slice(0, 300)}`);
  return { tenantId: c.tenantId, clientId: c.clientId, clientSecret: c.clientSecret };
}

/**
 * Client-credentials token for `audience` (scope `{audience}/.default`) from the authority at
 * `authorityUrl` (the emulator, or login.microsoftonline.com): `POST /{tenant}/oauth2/v2.0/token`.
 * @returns the access token (a JWT; a secret: never log it).
 * @throws Error naming the AADSTS error when refused.
 */
export async function requestAccessToken(authorityUrl: string, caPem: string | undefined, client: EmulatorClient, audience: string): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: `${audience.replace(/\/+$/, '')}/.default` });
  const r = await httpsJson(`${authorityUrl.replace(/\/+$/, '')}/${client.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    extraCaPem: caPem,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  const t = r.json as { access_token?: string; error?: string; error_codes?: number[] } | undefined;
  if (r.status !== 200 || !t?.access_token) throw new Error(`token request answered ${r.status} ${t?.error ?? ''} ${t?.error_codes?.join(',') ?? ''}`.trim());
  return t.access_token;
}
