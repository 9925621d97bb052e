import type * as OidcNs from 'openid-client';
import { AzureRuntime } from '../azure/azure-runtime';
import { RemoteHttp, trustedCas } from '../remote/http';
import { loadEsm } from '../common/esm';

/** The openid-client library (OpenID Connect relying party: discovery, PKCE, code grant, ID token checks; ESM-only, loaded with loadEsm). */
export const oidc: typeof OidcNs = loadEsm<typeof OidcNs>('openid-client');

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the sign-in keeps between the redirect to Entra ID and the callback (in a short-lived signed cookie). */
export interface PendingSignIn {
  tenant: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Dashboard path to return to after sign-in ("/" by default; only local paths). */
  returnTo: string;
}

/** The signed-in user, from the ID token. */
export interface SignedInUser {
  /** Object id (`oid`). */
  oid: string;
  /** Tenant (`tid`, lower-case GUID). */
  tid: string;
  name: string;
  username: string;
  /** App roles of the `roles` claim (trust rules are applied by the caller). */
  roles: string[];
}

/**
 * Entra ID sign-in of the dashboard (authorization code flow with PKCE, issue 11) with openid-client:
 * discovery per tenant (`{authority}/{tenant}/v2.0`), the service's own trust (the emulator's CA in
 * emulated mode) through an undici dispatcher, a confidential client (client secret). Configurations
 * are cached per tenant for an hour.
 */
export class DashboardSignIn {
  private readonly http: RemoteHttp;
  private readonly configs = new Map<string, { at: number; value: Promise<OidcNs.Configuration> }>();

  constructor(
    runtime: AzureRuntime,
    private readonly authorityHost: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {
    this.http = new RemoteHttp({ service: 'authority', ca: trustedCas(runtime.endpoints), connections: 4, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000, maxResponseBytes: 512 * 1024 });
  }

  /**
   * The tenant's configuration (discovery document, JWKS), cached. A domain name is first resolved to
   * its tenant GUID (its discovery document's issuer): Entra's issuer names the GUID, and the ID token's
   * issuer is checked against it. @throws when discovery fails.
   */
  config(tenant: string): Promise<OidcNs.Configuration> {
    const hit = this.configs.get(tenant);
    if (hit && Date.now() - hit.at < 3_600_000) return hit.value;
    const value = (async () => {
      const id = GUID.test(tenant) ? tenant : await this.tenantIdOf(tenant);
      return oidc.discovery(new URL(`${this.authorityHost}/${id}/v2.0`), this.clientId, { client_secret: this.clientSecret }, oidc.ClientSecretPost(this.clientSecret), {
        [oidc.customFetch]: (url, init) => this.http.fetch(url, init as unknown as Record<string, unknown>),
      });
    })();
    this.configs.set(tenant, { at: Date.now(), value });
    value.catch(() => this.configs.delete(tenant));
    return value;
  }

  /** The tenant GUID of a domain name, from the issuer of its discovery document. @throws when unknown. */
  private async tenantIdOf(domain: string): Promise<string> {
    const a = await this.http.send('GET', `${this.authorityHost}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`);
    const issuer = (a.body as { issuer?: unknown } | undefined)?.issuer;
    const id = typeof issuer === 'string' ? /\/([0-9a-f-]{36})\/v2\.0$/i.exec(issuer)?.[1] : undefined;
    if (a.status !== 200 || !id) throw new Error(`tenant '${domain}' not found (HTTP ${a.status})`);
    return id.toLowerCase();
  }

  /** Starts a sign-in: the authorization URL to redirect to, and what the callback must check. */
  async begin(tenant: string, redirectUri: string, returnTo: string, loginHint?: string): Promise<{ url: string; pending: PendingSignIn }> {
    const config = await this.config(tenant);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending: PendingSignIn = { tenant, state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, returnTo };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      response_type: 'code',
      response_mode: 'query',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...(loginHint ? { login_hint: loginHint } : {}),
    });
    return { url: url.href, pending };
  }

  /**
   * Completes a sign-in at the callback URL: exchanges the code (PKCE verifier), checks the ID token
   * (signature, issuer, audience, nonce, expiry) and returns the user.
   * @throws openid-client errors (error/error_description of Entra ID, state or nonce mismatch).
   */
  async complete(callbackUrl: URL, pending: PendingSignIn): Promise<SignedInUser> {
    const config = await this.config(pending.tenant);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
    const c = tokens.claims();
    if (!c) throw new Error('no ID token');
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    return {
      oid: str(c.oid) || c.sub,
      tid: str(c.tid).toLowerCase(),
      name: str(c.name) || str(c.preferred_username) || c.sub,
      username: str(c.preferred_username),
      roles: Array.isArray(c.roles) ? c.roles.filter((r): r is string => typeof r === 'string') : [],
    };
  }

  /** Entra ID's end-session URL of `tenant` that returns to `postLogoutRedirectUri`. */
  async endSessionUrl(tenant: string, postLogoutRedirectUri: string): Promise<string> {
    const config = await this.config(tenant);
    return oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: postLogoutRedirectUri }).href;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
