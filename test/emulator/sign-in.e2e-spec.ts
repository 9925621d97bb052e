import * as tls from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import type * as OpenIdClient from 'openid-client';
import { jose } from '../../emulator/src/jose';
import type { ClientInfo, EmulatorHandle, UserInfo } from '../../emulator/src';
import { control, start } from './helpers';

/**
 * Interactive sign-in against the emulator's Entra ID (authorization code flow with PKCE, refresh tokens,
 * SSO cookie, sign-out), driven by the real openid-client v6 — discovery, buildAuthorizationUrl,
 * authorizationCodeGrant, refreshTokenGrant, buildEndSessionUrl — with the browser part (sign-in form)
 * played by plain fetch.
 */

/** openid-client is ESM-only: loaded with Node's own require (bypassing Jest's registry), as src/auth/jose.ts loads jose. */
function loadOpenIdClient(): typeof OpenIdClient {
  const getBuiltin = (process as unknown as { getBuiltinModule: (id: string) => unknown }).getBuiltinModule;
  return (getBuiltin('node:module') as typeof import('node:module')).createRequire(__filename)('openid-client') as typeof OpenIdClient;
}
const oidc = loadOpenIdClient();

const REDIRECT = 'https://localhost:3443/auth/callback';
const OTHER_REDIRECT = 'https://localhost:3443/auth/other-callback';
const LOGGED_OUT = 'https://localhost:3443/signed-out';
const API_SCOPE = 'api://test-drive-orchestrator/.default';

interface BrowserResult {
  status: number;
  location?: string;
  html?: string;
  setCookie: string[];
}

function unescapeHtml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

describe('Entra ID interactive sign-in (openid-client)', () => {
  let h: EmulatorHandle;
  let cleanup: () => Promise<void>;
  let agent: Agent;
  let app: ClientInfo;
  let publicApp: ClientInfo;
  let operator: UserInfo;
  let tenantName: string;
  let config: OpenIdClient.Configuration;
  let customFetch: OpenIdClient.CustomFetch;

  /** fetch through an undici Agent trusting the emulator CA, never following redirects (the "browser"). */
  const browser = async (url: string | URL, init: { method?: string; form?: URLSearchParams; cookie?: string } = {}): Promise<BrowserResult> => {
    const headers: Record<string, string> = {};
    if (init.cookie) headers.cookie = init.cookie;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await undiciFetch(url, { method: init.method ?? 'GET', body: init.form?.toString(), headers, redirect: 'manual', dispatcher: agent });
    const text = await r.text();
    return { status: r.status, location: r.headers.get('location') ?? undefined, html: r.headers.get('content-type')?.includes('text/html') ? text : undefined, setCookie: r.headers.getSetCookie() };
  };

  /** The sign-in form's action and fields (hidden ones filled in, login/passwd added). */
  const fillForm = (authorizeUrl: URL, html: string, login: string, passwd: string): { action: URL; form: URLSearchParams } => {
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    expect(action).toBeDefined();
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(unescapeHtml(m[1]), unescapeHtml(m[2]));
    form.set('login', login);
    form.set('passwd', passwd);
    return { action: new URL(unescapeHtml(action!), authorizeUrl), form };
  };

  /** Opens the authorization URL and signs in through the form; returns the final answer (302 to the app) and the SSO cookie. */
  const signIn = async (authorizeUrl: URL, login = operator.userPrincipalName, passwd = operator.password): Promise<{ location: string; cookie: string }> => {
    const page = await browser(authorizeUrl);
    expect(page.status).toBe(200);
    const { action, form } = fillForm(authorizeUrl, page.html!, login, passwd);
    const done = await browser(action, { method: 'POST', form });
    expect(done.status).toBe(302);
    const sso = done.setCookie.find((c) => c.startsWith('ESTSAUTH='));
    expect(sso).toBeDefined();
    return { location: done.location!, cookie: sso!.split(';')[0] };
  };

  const pkce = async (): Promise<{ verifier: string; challenge: string; state: string; nonce: string }> => {
    const verifier = oidc.randomPKCECodeVerifier();
    return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier), state: oidc.randomState(), nonce: oidc.randomNonce() };
  };

  const authUrl = (c: OpenIdClient.Configuration, p: { challenge?: string; state: string; nonce?: string }, extra: Record<string, string> = {}): URL =>
    oidc.buildAuthorizationUrl(c, {
      redirect_uri: REDIRECT,
      scope: `openid profile offline_access ${API_SCOPE}`,
      state: p.state,
      ...(p.nonce ? { nonce: p.nonce } : {}),
      ...(p.challenge ? { code_challenge: p.challenge, code_challenge_method: 'S256' } : {}),
      ...extra,
    });

  const discover = (clientId: string, secret?: string, auth?: OpenIdClient.ClientAuth): Promise<OpenIdClient.Configuration> =>
    oidc.discovery(new URL(`${h.url}/${h.serviceTenantId}/v2.0`), clientId, secret, auth, { [oidc.customFetch]: customFetch });

  const decode = (jwt: string): Record<string, any> => jose.decodeJwt(jwt);

  beforeAll(async () => {
    ({ h, cleanup } = await start());
    agent = new Agent({ connect: { ca: [...tls.rootCertificates, h.caCertPem] } });
    customFetch = (url, options) => undiciFetch(url, { ...options, dispatcher: agent });
    app = await h.createClient({ displayName: 'Test Drive Operator Portal', redirectUris: [REDIRECT, OTHER_REDIRECT, LOGGED_OUT], keyVaultAccess: false });
    publicApp = await h.createClient({ displayName: 'Test Drive CLI', publicClient: true, redirectUris: ['http://localhost/callback'], keyVaultAccess: false });
    const st = await control(h, 'GET', '/_emulator/state');
    tenantName = st.body.tenants.find((t: { id: string }) => t.id === h.serviceTenantId).name;
    const created = await control(h, 'POST', '/_emulator/users', { userPrincipalName: `operator@${tenantName}`, displayName: 'Olivia Operator', roles: ['TestDrive.Operator'] });
    expect(created.status).toBe(201);
    operator = created.body;
    config = await discover(app.clientId, app.clientSecret);
  });

  afterAll(async () => {
    await agent?.close();
    await cleanup?.();
  });

  it('creates users through the control API and the handle, and lists them without secrets', async () => {
    expect(operator).toMatchObject({ tenantId: h.serviceTenantId, userPrincipalName: `operator@${tenantName}`, displayName: 'Olivia Operator', roles: ['TestDrive.Operator'] });
    expect(operator.password.length).toBeGreaterThanOrEqual(8);
    const viaHandle = await h.createUser({ roles: [] });
    expect(viaHandle.userPrincipalName.endsWith(`@${tenantName}`)).toBe(true);
    const list = await control(h, 'GET', '/_emulator/users');
    expect(list.status).toBe(200);
    expect(list.body.value.map((u: { objectId: string }) => u.objectId)).toEqual(expect.arrayContaining([operator.objectId, viaHandle.objectId]));
    expect(JSON.stringify(list.body)).not.toMatch(/password/i);
    expect(h.listUsers().length).toBe(list.body.value.length);
    // UPN outside the tenant's domain, duplicate UPN, weak password
    expect((await control(h, 'POST', '/_emulator/users', { userPrincipalName: 'x@example.com' })).body.error.code).toBe('InvalidUserPrincipalName');
    expect((await control(h, 'POST', '/_emulator/users', { userPrincipalName: `OPERATOR@${tenantName}` })).status).toBe(409);
    expect((await control(h, 'POST', '/_emulator/users', { password: 'short' })).body.error.code).toBe('InvalidPassword');
  });

  it('sets redirect URIs through the control API and refuses ones Entra refuses', async () => {
    const c = await h.createClient({ keyVaultAccess: false });
    const ok = await control(h, 'PUT', `/_emulator/clients/${c.clientId}/redirect-uris`, { redirectUris: ['https://app.example.com/cb', 'http://localhost:8080/cb'] });
    expect(ok).toEqual({ status: 200, body: { clientId: c.clientId, redirectUris: ['https://app.example.com/cb', 'http://localhost:8080/cb'] } });
    for (const bad of ['http://app.example.com/cb', 'https://app.example.com/cb#x', 'https://*.example.com/cb', 'myapp://auth', 'not a uri']) {
      const r = await control(h, 'PUT', `/_emulator/clients/${c.clientId}/redirect-uris`, { redirectUris: [bad] });
      expect([r.status, r.body.error.code, bad]).toEqual([400, 'InvalidRedirectUri', bad]);
    }
    expect((await control(h, 'PUT', '/_emulator/clients/00000000-0000-0000-0000-000000000000/redirect-uris', { redirectUris: [] })).status).toBe(404);
    expect(h.setRedirectUris(c.clientId, ['https://other.example.com/cb']).redirectUris).toEqual(['https://other.example.com/cb']);
  });

  it('advertises the flow in the discovery document', () => {
    const md = config.serverMetadata();
    expect(md.issuer).toBe(`${h.url}/${h.serviceTenantId}/v2.0`);
    expect(md.authorization_endpoint).toBe(`${h.url}/${h.serviceTenantId}/oauth2/v2.0/authorize`);
    expect(md.end_session_endpoint).toBe(`${h.url}/${h.serviceTenantId}/oauth2/v2.0/logout`);
    expect(md.code_challenge_methods_supported).toEqual(['S256']);
    expect(md.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(md.supportsPKCE()).toBe(true);
  });

  it('signs a user in with PKCE: accessible form, wrong password, code, tokens, single-use code', async () => {
    const p = await pkce();
    const url = authUrl(config, p);
    const page = await browser(url);
    expect(page.status).toBe(200);
    const html = page.html!;
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<label for="login">');
    expect(html).toContain('<label for="passwd">');
    expect(html).toMatch(/<input id="login" name="login" type="text"[^>]*autocomplete="username"/);
    expect(html).toMatch(/<input id="passwd" name="passwd" type="password"[^>]*autocomplete="current-password"/);
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).toContain('Test Drive Operator Portal');
    expect(html).toContain(`name="code_challenge" value="${p.challenge}"`);

    // wrong password: the form again (200), with Entra's message and no redirect
    const wrong = fillForm(url, html, operator.userPrincipalName, 'Wrong-Passw0rd!');
    const again = await browser(wrong.action, { method: 'POST', form: wrong.form });
    expect(again.status).toBe(200);
    expect(again.location).toBeUndefined();
    expect(again.html).toContain('role="alert"');
    expect(again.html).toContain('AADSTS50126');
    expect(again.html).toContain('Your account or password is incorrect.');
    expect(again.html).toContain('aria-invalid="true"');
    // unknown user
    const unknown = fillForm(url, html, `nobody@${tenantName}`, operator.password);
    expect((await browser(unknown.action, { method: 'POST', form: unknown.form })).html).toContain('AADSTS50034');

    // right password: 302 to the redirect URI with code + state, and the SSO cookie
    const right = fillForm(url, html, operator.userPrincipalName, operator.password);
    const done = await browser(right.action, { method: 'POST', form: right.form });
    expect(done.status).toBe(302);
    const cb = new URL(done.location!);
    expect(`${cb.origin}${cb.pathname}`).toBe(REDIRECT);
    expect(cb.searchParams.get('state')).toBe(p.state);
    expect(cb.searchParams.get('code')).toBeTruthy();
    const sso = done.setCookie.find((c) => c.startsWith('ESTSAUTH='))!;
    expect(sso).toMatch(/; HttpOnly/);
    expect(sso).toMatch(/; Secure/);
    expect(sso).toMatch(/; SameSite=None/);

    const tokens = await oidc.authorizationCodeGrant(config, cb, { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce, idTokenExpected: true });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope).toContain('api://test-drive-orchestrator/user_impersonation');

    const idClaims = tokens.claims()!;
    expect(idClaims).toMatchObject({
      iss: `${h.url}/${h.serviceTenantId}/v2.0`,
      aud: app.clientId,
      nonce: p.nonce,
      oid: operator.objectId,
      tid: h.serviceTenantId,
      name: 'Olivia Operator',
      preferred_username: operator.userPrincipalName,
      roles: ['TestDrive.Operator'],
      ver: '2.0',
    });
    expect(typeof idClaims.sub).toBe('string');
    expect(idClaims.exp - idClaims.iat).toBe(3600);
    // ID token signed with the key published at jwks_uri
    const jwks = await (await undiciFetch(config.serverMetadata().jwks_uri!, { dispatcher: agent })).json();
    await expect(jose.jwtVerify(tokens.id_token!, jose.createLocalJWKSet(jwks as never), { issuer: idClaims.iss, audience: app.clientId })).resolves.toBeDefined();
    expect(jose.decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');

    // delegated v2 access token for the API: scp, the user's roles and oid
    const at = decode(tokens.access_token);
    expect(at).toMatchObject({ aud: 'api://test-drive-orchestrator', iss: `${h.url}/${h.serviceTenantId}/v2.0`, ver: '2.0', azp: app.clientId, azpacr: '1', scp: 'user_impersonation', roles: ['TestDrive.Operator'], oid: operator.objectId, tid: h.serviceTenantId });
    await expect(jose.jwtVerify(tokens.access_token, jose.createLocalJWKSet(jwks as never))).resolves.toBeDefined();

    // the code is single-use
    await expect(oidc.authorizationCodeGrant(config, cb, { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce })).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('AADSTS54005'),
    });
  });

  it('rotates refresh tokens; a replaced one works briefly, then not; expired and unknown ones are refused', async () => {
    const p = await pkce();
    const { location } = await signIn(authUrl(config, p));
    const first = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce });
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.claims()).toMatchObject({ oid: operator.objectId, aud: app.clientId, roles: ['TestDrive.Operator'] });
    expect(second.claims()!.nonce).toBeUndefined();
    expect(decode(second.access_token)).toMatchObject({ aud: 'api://test-drive-orchestrator', oid: operator.objectId });
    // within refreshTokenReuseSeconds (60 s) the replaced token still works (concurrent refreshes)
    const third = await oidc.refreshTokenGrant(config, first.refresh_token!);
    expect(third.access_token).toBeTruthy();
    // another resource with the same refresh token: Graph, v1 token
    const graph = await oidc.refreshTokenGrant(config, third.refresh_token!, { scope: 'https://graph.microsoft.com/User.Read' });
    expect(decode(graph.access_token)).toMatchObject({ aud: 'https://graph.microsoft.com', scp: 'User.Read', ver: '1.0', upn: operator.userPrincipalName });
    const saved = { ...h.signIn };
    try {
      h.signIn.refreshTokenReuseSeconds = 0;
      await new Promise((r) => setTimeout(r, 5));
      await expect(oidc.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('AADSTS70000') });
      h.signIn.refreshTokenMaxInactiveSeconds = 0;
      await new Promise((r) => setTimeout(r, 5));
      await expect(oidc.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('AADSTS700082') });
    } finally {
      Object.assign(h.signIn, saved);
    }
    await expect(oidc.refreshTokenGrant(config, '0.Anot-a-real-token')).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('AADSTS70000') });
    // another client's refresh token
    const other = await discover(publicApp.clientId, undefined, oidc.None());
    await expect(oidc.refreshTokenGrant(other, graph.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('signs in silently with the SSO cookie unless prompt=login; prompt=none without a session fails', async () => {
    const p1 = await pkce();
    const { cookie } = await signIn(authUrl(config, p1));
    const p2 = await pkce();
    const silent = await browser(authUrl(config, p2), { cookie });
    expect(silent.status).toBe(302);
    const cb = new URL(silent.location!);
    expect(cb.searchParams.get('state')).toBe(p2.state);
    const tokens = await oidc.authorizationCodeGrant(config, cb, { pkceCodeVerifier: p2.verifier, expectedState: p2.state, expectedNonce: p2.nonce });
    expect(tokens.claims()!.oid).toBe(operator.objectId);

    const forced = await browser(authUrl(config, await pkce(), { prompt: 'login' }), { cookie });
    expect(forced.status).toBe(200);
    expect(forced.html).toContain('<label for="passwd">');

    const p3 = await pkce();
    const none = await browser(authUrl(config, p3, { prompt: 'none' }));
    expect(none.status).toBe(302);
    const err = new URL(none.location!);
    expect(err.searchParams.get('error')).toBe('login_required');
    expect(err.searchParams.get('error_description')).toContain('AADSTS50058');
    expect(err.searchParams.get('state')).toBe(p3.state);
    expect((await browser(authUrl(config, await pkce(), { prompt: 'none' }), { cookie })).status).toBe(302);
  });

  it('refuses bad authorization requests like Entra: error pages before the redirect URI is trusted, error redirects after', async () => {
    const md = config.serverMetadata();
    const base = (q: Record<string, string>): URL => {
      const u = new URL(md.authorization_endpoint!);
      for (const [k, v] of Object.entries({ client_id: app.clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', state: 's1', ...q })) u.searchParams.set(k, v);
      return u;
    };
    const unknownClient = await browser(base({ client_id: '11111111-2222-3333-4444-555555555555' }));
    expect([unknownClient.status, unknownClient.location]).toEqual([200, undefined]);
    expect(unknownClient.html).toContain('AADSTS700016');

    const unregistered = await browser(base({ redirect_uri: 'https://evil.example.com/cb' }));
    expect([unregistered.status, unregistered.location]).toEqual([200, undefined]);
    expect(unregistered.html).toContain('AADSTS50011');
    expect(unregistered.html).toContain('https://evil.example.com/cb');

    const token = await browser(base({ response_type: 'token' }));
    expect(token.status).toBe(302);
    const t = new URL(token.location!);
    expect(`${t.origin}${t.pathname}`).toBe(REDIRECT);
    expect(t.searchParams.get('error')).toBe('unsupported_response_type');
    expect(t.searchParams.get('state')).toBe('s1');

    const plain = new URL((await browser(base({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }))).location!);
    expect(plain.searchParams.get('error')).toBe('invalid_request');
    const badScope = new URL((await browser(base({ scope: 'openid api://nope/.default' }))).location!);
    expect(badScope.searchParams.get('error')).toBe('invalid_resource');
    expect(badScope.searchParams.get('error_description')).toContain('AADSTS500011');

    // a public client must use PKCE; its http://localhost redirect URI matches on any port
    const pub = await discover(publicApp.clientId, undefined, oidc.None());
    const noPkce = oidc.buildAuthorizationUrl(pub, { redirect_uri: 'http://localhost:51234/callback', scope: 'openid', state: 's2' });
    const pubErr = new URL((await browser(noPkce)).location!);
    expect(pubErr.port).toBe('51234');
    expect(pubErr.searchParams.get('error')).toBe('invalid_request');
    const withPkce = await pkce();
    const pubOk = oidc.buildAuthorizationUrl(pub, { redirect_uri: 'http://localhost:51234/callback', scope: 'openid offline_access', state: withPkce.state, code_challenge: withPkce.challenge, code_challenge_method: 'S256' });
    const pubSignIn = await signIn(pubOk);
    const pubTokens = await oidc.authorizationCodeGrant(pub, new URL(pubSignIn.location), { pkceCodeVerifier: withPkce.verifier, expectedState: withPkce.state });
    expect(decode(pubTokens.access_token)).toMatchObject({ aud: 'https://graph.microsoft.com', appidacr: '0' });
  });

  it('refuses bad code redemptions: PKCE mismatch (code not spent), other redirect URI, no secret; PKCE-less works for a confidential client', async () => {
    const p = await pkce();
    const { location } = await signIn(authUrl(config, p));
    await expect(oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: p.state, expectedNonce: p.nonce })).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('AADSTS50148'),
    });
    const elsewhere = new URL(location.replace(REDIRECT, OTHER_REDIRECT));
    await expect(oidc.authorizationCodeGrant(config, elsewhere, { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce })).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringContaining('AADSTS500112'),
    });
    const noSecret = await discover(app.clientId, undefined, oidc.None());
    await expect(oidc.authorizationCodeGrant(noSecret, new URL(location), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce })).rejects.toMatchObject({
      error: 'invalid_client',
      status: 401,
      error_description: expect.stringContaining('AADSTS7000218'),
    });
    const basic = await discover(app.clientId, app.clientSecret, oidc.ClientSecretBasic(app.clientSecret));
    const ok = await oidc.authorizationCodeGrant(basic, new URL(location), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce });
    expect(ok.access_token).toBeTruthy();

    // confidential client without PKCE (Entra allows it)
    const state = oidc.randomState();
    const plain = await signIn(authUrl(config, { state }));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(plain.location), { expectedState: state });
    expect(tokens.claims()!.nonce).toBeUndefined();
  });

  it('signs out: clears the cookie, revokes the session refresh tokens, returns to a registered URI', async () => {
    const p = await pkce();
    const { location, cookie } = await signIn(authUrl(config, p));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce });
    const logoutUrl = oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: LOGGED_OUT, state: 'bye', id_token_hint: tokens.id_token! });
    const out = await browser(logoutUrl, { cookie });
    expect(out.status).toBe(302);
    expect(out.location).toBe(`${LOGGED_OUT}?state=bye`);
    expect(out.setCookie.find((c) => c.startsWith('ESTSAUTH=;'))).toMatch(/Max-Age=0/);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('AADSTS50173') });
    // the old cookie no longer signs in silently
    expect((await browser(authUrl(config, await pkce()), { cookie })).status).toBe(200);
    // an unregistered post-logout URI: the signed-out page, no redirect
    const page = await browser(oidc.buildEndSessionUrl(config, { post_logout_redirect_uri: 'https://evil.example.com/' }));
    expect(page.status).toBe(200);
    expect(page.location).toBeUndefined();
    expect(page.html).toContain('You signed out of your account');
  });

  it('a password change or a deleted user ends sessions and refresh tokens', async () => {
    const user = await h.createUser({ roles: ['TestDrive.Publisher'] });
    const p = await pkce();
    const { location } = await signIn(authUrl(config, p), user.userPrincipalName, user.password);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(location), { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce });
    expect(tokens.claims()!.roles).toEqual(['TestDrive.Publisher']);
    const patched = await control(h, 'PATCH', `/_emulator/users/${user.objectId}`, { password: 'N3w-Passw0rd!' });
    expect(patched.status).toBe(200);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('AADSTS50173') });
    expect((await control(h, 'DELETE', `/_emulator/users/${user.userPrincipalName}`)).status).toBe(204);
    expect((await control(h, 'GET', `/_emulator/users/${user.objectId}`)).status).toBe(404);
  });
});
