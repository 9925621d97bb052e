import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { jose } from './jose';
import type { Ctx } from './http';
import { controlRequest, send } from './http';
import { audienceFor, clientSecretExpired, findApplication, findTenant, hashSecret, MULTI_TENANT_SEGMENTS, sendAadError, sendExpiredSecret, TOKEN_LIFETIME_SECONDS, tokenTimeClaims, type SigningKeys } from './entra';
import { DirectoryError, redirectUriMatches, setRedirectUris } from './directory';
import { createUser, deleteUser, findUser, listUsers, updateUser, type CreateUserOptions, type UpdateUserOptions } from './users';
import type { ApiApplication, AppClient, EmulatorState, SignInUser, StateStore, Tenant } from './state';

/**
 * Interactive sign-in for users, as login.microsoftonline.com v2.0 does it: the authorization code flow
 * (with PKCE), refresh tokens, single sign-on through a session cookie, and sign-out.
 *
 * - `GET|POST /{tenant}/oauth2/v2.0/authorize` validates the request, then signs the user in silently
 *   (SSO cookie) or shows a sign-in form; the form posts back to the same URL. Success: a redirect to
 *   `redirect_uri` with `code` and `state`.
 * - `POST /{tenant}/oauth2/v2.0/token` with `grant_type=authorization_code|refresh_token` (entra.ts hands
 *   those grants to SignInService.tokenGrant).
 * - `GET|POST /{tenant}/oauth2/v2.0/logout` ends the SSO session and revokes its refresh tokens.
 *
 * Codes, SSO sessions and refresh tokens live in memory only: an emulator restart signs everybody out
 * (users, clients and their redirect URIs persist with the state). Only SHA-256 hashes of refresh tokens
 * are kept; codes are single-use.
 */

/** Lifetimes of the sign-in artefacts (live: changing a field affects existing codes and tokens at once). */
export interface SignInSettings {
  /** Seconds an authorization code can be redeemed (Entra: "about 10 minutes"). Default 600. */
  codeLifetimeSeconds: number;
  /**
   * Seconds a refresh token stays valid without being used (Entra's default inactivity limit: 90 days).
   * Each redemption returns a new refresh token with a fresh allowance. Default 7,776,000.
   */
  refreshTokenMaxInactiveSeconds: number;
  /**
   * Seconds a refresh token keeps working after its first redemption (two replicas refreshing at once
   * both succeed); afterwards it is refused with invalid_grant AADSTS70000. Real Entra does not revoke
   * a redeemed refresh token; the emulator does, to catch clients that keep using stale ones. Default 60.
   */
  refreshTokenReuseSeconds: number;
  /** Seconds an SSO session (the ESTSAUTH cookie) lasts. Default 86,400 (24 h). */
  sessionLifetimeSeconds: number;
}

/** Defaults of SignInSettings. */
export const DEFAULT_SIGN_IN_SETTINGS: Readonly<SignInSettings> = Object.freeze({
  codeLifetimeSeconds: 600,
  refreshTokenMaxInactiveSeconds: 90 * 86400,
  refreshTokenReuseSeconds: 60,
  sessionLifetimeSeconds: 86400,
});

/** Name of the SSO cookie (Entra's own session cookie is called ESTSAUTH too). */
export const SSO_COOKIE = 'ESTSAUTH';
/** OpenID Connect scopes (not resources). */
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
/** The Graph resource bare scope names (e.g. "User.Read") and OIDC-only requests are for. */
const GRAPH = 'https://graph.microsoft.com';
/** Upper bounds of what is kept in memory (oldest dropped first). */
const MAX_CODES = 10_000;
const MAX_SESSIONS = 10_000;
const MAX_REFRESH_TOKENS = 100_000;

/** An SSO session behind the cookie. */
interface SsoSession {
  /** Public session id (`sid` claim, `session_state`); the cookie value is a different, secret one. */
  sid: string;
  userId: string;
  createdAtMs: number;
}

/** An issued authorization code. */
interface CodeGrant {
  clientId: string;
  redirectUri: string;
  codeChallenge?: string;
  nonce?: string;
  scope: string;
  userId: string;
  /** The user's tenant (codes are redeemed at that tenant or at organizations/common). */
  tenantId: string;
  sid: string;
  expiresAtMs: number;
  redeemedAtMs?: number;
}

/** An issued refresh token (kept by the SHA-256 of its value). */
interface RefreshGrant {
  clientId: string;
  userId: string;
  tenantId: string;
  /** Everything granted at sign-in (scopes of the resource, OIDC scopes). */
  scope: string;
  sid: string;
  issuedAtMs: number;
  /** When it was first exchanged for a new one. */
  replacedAtMs?: number;
  revoked?: { atMs: number; reason: 'sign-out' | 'password-change' | 'user-deleted' };
}

/** A validated authorization request. */
interface AuthRequest {
  tenant?: Tenant;
  client: AppClient;
  redirectUri: string;
  responseMode: 'query' | 'fragment' | 'form_post';
  state?: string;
  nonce?: string;
  scope: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  prompt: string[];
  loginHint?: string;
}

/** What a token request is for, derived from its scopes. */
type Target =
  | { kind: 'api'; api: ApiApplication; scp: string[]; oidc: string[] }
  | { kind: 'v1'; resource: string; aud: string; scp: string[]; oidc: string[] };

/** Parameters of the authorization request carried by the sign-in form (hidden fields). */
const CARRIED = ['client_id', 'response_type', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'response_mode'];

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

function sameHash(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HTML-escapes text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Entra's "2024-05-01 10:11:12Z" timestamp format. */
function aadTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A .NET TimeSpan-like duration ("90.00:00:05"), as Entra's AADSTS700082 message prints it. */
function timespan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${d ? `${d}.` : ''}${hh}:${mm}:${ss}`;
}

/** Per-application subject: Entra's `sub` is unique per user and application (pairwise). */
function pairwiseSub(userObjectId: string, appId: string): string {
  return createHash('sha256').update(`${userObjectId}|${appId.toLowerCase()}`).digest('base64url').slice(0, 43);
}

function dropOldest<K, V>(m: Map<K, V>, max: number): void {
  while (m.size > max) m.delete(m.keys().next().value as K);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/**
 * Sign-in state of a running emulator (codes, SSO sessions, refresh tokens) and its endpoints.
 * `log` gets ids and outcomes, never passwords, codes or tokens.
 */
export class SignInService {
  private readonly codes = new Map<string, CodeGrant>();
  /** Key: the cookie value. */
  private readonly sessions = new Map<string, SsoSession>();
  /** Key: SHA-256 (hex) of the refresh token. */
  private readonly refreshTokens = new Map<string, RefreshGrant>();

  constructor(
    private readonly state: EmulatorState,
    private readonly store: StateStore,
    private readonly keys: SigningKeys,
    /** Live settings (the handle exposes the same object). */
    readonly settings: SignInSettings,
    private readonly log: (msg: string, extra?: object) => void,
  ) {}

  // ---------------------------------------------------------------- authorization endpoint

  /**
   * `GET|POST /{tenant}/oauth2/v2.0/authorize`. Errors before the redirect URI is known to be registered
   * (unknown tenant AADSTS90002, missing/unknown client AADSTS900144/700016, missing or unregistered
   * redirect_uri AADSTS900971/50011) are shown as an error page (HTTP 200, as Entra's pages are) and never
   * redirect. Later errors redirect to the redirect URI with `error`, `error_description` and `state`:
   * `unsupported_response_type` (AADSTS70005 / 700054 for id_token or token), `invalid_request`
   * (response_mode AADSTS70007; code_challenge_method other than S256, a challenge without method, a
   * public client without PKCE, bad prompt: AADSTS90023 / 9002325), `invalid_scope` (AADSTS900144 missing,
   * AADSTS700022 several resources), `invalid_resource` (AADSTS500011), `login_required` (prompt=none
   * without a session, AADSTS50058). A form POST with `login` + `passwd` signs in: unknown user AADSTS50034
   * or wrong password AADSTS50126 shows the form again (200) with the message.
   */
  handleAuthorize(ctx: Ctx, tenantSeg: string): void {
    if (ctx.method !== 'GET' && ctx.method !== 'POST') return this.errorPage(ctx, 900561, `The endpoint only accepts GET, POST requests. Received a ${ctx.method.slice(0, 20)} request.`);
    let params = ctx.query;
    if (ctx.method === 'POST') {
      const ct = String(ctx.req.headers['content-type'] ?? '').toLowerCase();
      if (!ct.includes('application/x-www-form-urlencoded')) return this.errorPage(ctx, 900144, "The request body must contain the following parameter: 'client_id'.");
      params = new URLSearchParams(ctx.body.toString('utf8'));
    }
    const req = this.validateRequest(ctx, tenantSeg, params);
    if (!req) return;
    const isSubmit = ctx.method === 'POST' && params.has('login');
    if (isSubmit) return this.submitCredentials(ctx, req, params.get('login') ?? '', params.get('passwd') ?? '');
    const session = this.currentSession(ctx, req.tenant);
    const user = session ? this.state.users?.[session.userId] : undefined;
    const hintOk = !req.loginHint || (user && user.userPrincipalName.toLowerCase() === req.loginHint.toLowerCase());
    if (req.prompt.includes('none')) {
      if (session && user && hintOk) return this.issueCode(ctx, req, user, session);
      return this.redirectError(ctx, req, 'login_required', 50058, "A silent sign-in request was sent but no user is signed in. The cookies used to represent the user's session were not sent in the request to Azure AD. This can happen if the user is using Internet Explorer or Edge, and the web app sending the silent sign-in request is in different IE security zone than the Azure AD endpoint (login.microsoftonline.com).");
    }
    if (session && user && hintOk && !req.prompt.includes('login') && !req.prompt.includes('select_account')) return this.issueCode(ctx, req, user, session);
    this.signInPage(ctx, req, req.loginHint ?? '', undefined);
  }

  /** Validates an authorization request; sends the error (page or redirect) and returns undefined when invalid. */
  private validateRequest(ctx: Ctx, tenantSeg: string, p: URLSearchParams): AuthRequest | undefined {
    const seg = tenantSeg.toLowerCase();
    const tenant = findTenant(this.state, tenantSeg);
    if (!tenant && (seg === 'consumers' || !MULTI_TENANT_SEGMENTS.includes(seg))) {
      this.errorPage(ctx, 90002, `Tenant '${tenantSeg.slice(0, 100)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
      return undefined;
    }
    const clientId = (p.get('client_id') ?? '').trim();
    if (!clientId) {
      this.errorPage(ctx, 900144, "The request body must contain the following parameter: 'client_id'.");
      return undefined;
    }
    const client = this.state.clients[clientId.toLowerCase()];
    if (!client || (tenant && client.tenantId !== tenant.id && client.signInAudience !== 'AzureADMultipleOrgs')) {
      const dir = tenant?.name ?? seg;
      this.errorPage(ctx, 700016, `Application with identifier '${clientId.slice(0, 100)}' was not found in the directory '${dir}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
      return undefined;
    }
    const redirectUri = p.get('redirect_uri') ?? '';
    if (!redirectUri) {
      this.errorPage(ctx, 900971, 'No reply address provided.', client);
      return undefined;
    }
    if (!redirectUriMatches(client.redirectUris ?? [], redirectUri)) {
      this.errorPage(ctx, 50011, `The redirect URI '${redirectUri.slice(0, 300)}' specified in the request does not match the redirect URIs configured for the application '${client.clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`, client);
      return undefined;
    }
    const modeParam = p.get('response_mode');
    const req: AuthRequest = {
      tenant,
      client,
      redirectUri,
      responseMode: modeParam === 'fragment' || modeParam === 'form_post' ? modeParam : 'query',
      state: p.get('state') ?? undefined,
      nonce: p.get('nonce') ?? undefined,
      scope: (p.get('scope') ?? '').trim(),
      codeChallenge: p.get('code_challenge') ?? undefined,
      codeChallengeMethod: p.get('code_challenge_method') ?? undefined,
      prompt: (p.get('prompt') ?? '').split(/\s+/).filter(Boolean),
      loginHint: p.get('login_hint') ?? undefined,
    };
    const fail = (error: string, code: number, message: string): undefined => {
      this.redirectError(ctx, req, error, code, message);
      return undefined;
    };
    if (modeParam !== null && !['query', 'fragment', 'form_post'].includes(modeParam)) return fail('invalid_request', 70007, `The response_mode '${modeParam.slice(0, 40)}' is not supported. Use query, fragment or form_post.`);
    const responseType = (p.get('response_type') ?? '').trim();
    if (!responseType) return fail('invalid_request', 900144, "The request body must contain the following parameter: 'response_type'.");
    if (responseType !== 'code') {
      const types = responseType.split(/\s+/);
      if (types.includes('id_token')) return fail('unsupported_response_type', 700054, "response_type 'id_token' is not enabled for the application.");
      if (types.includes('token')) return fail('unsupported_response_type', 700051, "response_type 'token' is not enabled for the application.");
      return fail('unsupported_response_type', 70005, `The response_type '${responseType.slice(0, 40)}' is not supported: the emulator implements the authorization code flow (response_type=code).`);
    }
    const badPrompt = req.prompt.find((x) => !['login', 'none', 'consent', 'select_account'].includes(x));
    if (badPrompt) return fail('invalid_request', 90023, `Invalid prompt value '${badPrompt.slice(0, 40)}'. Supported values: login, none, consent, select_account.`);
    if (req.codeChallengeMethod !== undefined && req.codeChallengeMethod !== 'S256') return fail('invalid_request', 90023, `The code_challenge_method '${req.codeChallengeMethod.slice(0, 40)}' is not supported; use S256.`);
    if (req.codeChallenge !== undefined) {
      if (req.codeChallengeMethod === undefined) return fail('invalid_request', 90023, 'A code_challenge needs code_challenge_method=S256 (the plain method is not supported).');
      if (!/^[A-Za-z0-9_-]{43}$/.test(req.codeChallenge)) return fail('invalid_request', 501491, 'Invalid size of Code_Challenge parameter.');
    } else if (req.codeChallengeMethod !== undefined) {
      return fail('invalid_request', 50147, 'The code_challenge parameter is missing.');
    } else if (client.publicClient) {
      return fail('invalid_request', 9002325, 'Proof Key for Code Exchange is required for public clients: send code_challenge and code_challenge_method=S256.');
    }
    if (!req.scope) return fail('invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
    const target = this.resolveScope(req.scope, req.tenant ?? this.state.tenants[client.tenantId]);
    if ('error' in target) return fail(target.error, target.code, target.message);
    return req;
  }

  private submitCredentials(ctx: Ctx, req: AuthRequest, login: string, passwd: string): void {
    const upn = login.trim();
    const user = upn ? Object.values(this.state.users ?? {}).find((u) => u.userPrincipalName.toLowerCase() === upn.toLowerCase() && (!req.tenant || u.tenantId === req.tenant.id)) : undefined;
    if (!user) {
      this.log('sign-in: unknown user', { clientId: req.client.clientId });
      const dir = req.tenant?.name ?? 'organizations';
      return this.signInPage(ctx, req, upn, { code: 50034, text: "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.", detail: `The user account ${upn.slice(0, 100) || '(empty)'} does not exist in the '${dir}' directory. To sign into this application, the account must be added to the directory.` });
    }
    if (!sameHash(hashSecret(passwd), user.passwordSha256)) {
      this.log('sign-in: wrong password', { userId: user.objectId, clientId: req.client.clientId });
      return this.signInPage(ctx, req, upn, { code: 50126, text: "Your account or password is incorrect. If you don't remember your password, reset it now.", detail: 'Error validating credentials due to invalid username or password.' });
    }
    const cookie = randomBytes(32).toString('base64url');
    const session: SsoSession = { sid: randomUUID(), userId: user.objectId, createdAtMs: Date.now() };
    this.sessions.set(cookie, session);
    dropOldest(this.sessions, MAX_SESSIONS);
    ctx.res.setHeader('Set-Cookie', `${SSO_COOKIE}=${cookie}; Path=/; Secure; HttpOnly; SameSite=None`);
    this.log('sign-in: user signed in', { userId: user.objectId, clientId: req.client.clientId });
    this.issueCode(ctx, req, user, session);
  }

  /** The valid SSO session of the request's cookie whose user may sign in to `tenant` (any tenant when undefined). */
  private currentSession(ctx: Ctx, tenant: Tenant | undefined): SsoSession | undefined {
    const cookie = parseCookies(ctx.req.headers.cookie)[SSO_COOKIE];
    const session = cookie ? this.sessions.get(cookie) : undefined;
    if (!session) return undefined;
    const user = this.state.users?.[session.userId];
    if (!user || Date.now() > session.createdAtMs + this.settings.sessionLifetimeSeconds * 1000) {
      this.sessions.delete(cookie);
      return undefined;
    }
    if (tenant && user.tenantId !== tenant.id) return undefined;
    return session;
  }

  private issueCode(ctx: Ctx, req: AuthRequest, user: SignInUser, session: SsoSession): void {
    const code = `1.A${randomBytes(48).toString('base64url')}`;
    this.codes.set(code, {
      clientId: req.client.clientId,
      redirectUri: req.redirectUri,
      codeChallenge: req.codeChallenge,
      nonce: req.nonce,
      scope: req.scope,
      userId: user.objectId,
      tenantId: user.tenantId,
      sid: session.sid,
      expiresAtMs: Date.now() + this.settings.codeLifetimeSeconds * 1000,
    });
    dropOldest(this.codes, MAX_CODES);
    const params: Array<[string, string]> = [['code', code]];
    if (req.state !== undefined) params.push(['state', req.state]);
    params.push(['session_state', session.sid]);
    this.respond(ctx, req, params);
  }

  private redirectError(ctx: Ctx, req: AuthRequest, error: string, code: number, message: string): void {
    const ts = aadTime(Date.now());
    const params: Array<[string, string]> = [
      ['error', error],
      ['error_description', `AADSTS${code}: ${message} Trace ID: ${randomUUID()} Correlation ID: ${ctx.correlationId} Timestamp: ${ts}`],
      ['error_uri', `${ctx.baseUrl}/error?code=${code}`],
    ];
    if (req.state !== undefined) params.push(['state', req.state]);
    this.log('authorize: error redirect', { clientId: req.client.clientId, error, code });
    this.respond(ctx, req, params);
  }

  /** Sends the authorization response to the redirect URI in the request's response mode. */
  private respond(ctx: Ctx, req: AuthRequest, params: Array<[string, string]>): void {
    const qs = new URLSearchParams(params).toString();
    if (req.responseMode === 'form_post') {
      const nonce = randomBytes(16).toString('base64');
      const fields = params.map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
      const body = `<form method="post" action="${escapeHtml(req.redirectUri)}">${fields}<noscript><p>Script is disabled. Press Continue to go back to the application.</p><button type="submit">Continue</button></noscript></form><script nonce="${nonce}">document.forms[0].submit();</script>`;
      return this.sendHtml(ctx, 200, page('Working...', body), { 'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'` });
    }
    const location = req.responseMode === 'fragment' ? `${req.redirectUri.split('#')[0]}#${qs}` : `${req.redirectUri}${req.redirectUri.includes('?') ? '&' : '?'}${qs}`;
    send(ctx, 302, undefined, { Location: location, 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' });
  }

  private signInPage(ctx: Ctx, req: AuthRequest, login: string, error: { code: number; text: string; detail: string } | undefined): void {
    const carried = new URLSearchParams();
    const values: Record<string, string | undefined> = {
      client_id: req.client.clientId,
      response_type: 'code',
      redirect_uri: req.redirectUri,
      scope: req.scope,
      state: req.state,
      nonce: req.nonce,
      code_challenge: req.codeChallenge,
      code_challenge_method: req.codeChallengeMethod,
      response_mode: req.responseMode,
    };
    for (const k of CARRIED) if (values[k] !== undefined) carried.set(k, values[k]);
    const hidden = [...carried.entries()].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('\n      ');
    const describedBy = error ? ' aria-describedby="error" aria-invalid="true"' : '';
    const errorHtml = error ? `\n    <div id="error" class="error" role="alert"><p>${escapeHtml(error.text)}</p><p class="code">AADSTS${error.code}: ${escapeHtml(error.detail)}</p></div>` : '';
    const tenantLine = req.tenant ? `<p class="tenant">Organization: ${escapeHtml(req.tenant.name)}</p>` : '';
    const body = `<main aria-labelledby="title">
    <p class="brand">Local Azure emulator &middot; Microsoft Entra ID</p>
    <h1 id="title">Sign in</h1>
    <p>to continue to <strong id="app-name">${escapeHtml(req.client.displayName)}</strong></p>
    ${tenantLine}${errorHtml}
    <form method="post" action="${escapeHtml(ctx.path)}">
      ${hidden}
      <label for="login">Email or username</label>
      <input id="login" name="login" type="text" inputmode="email" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${escapeHtml(login)}"${describedBy}>
      <label for="passwd">Password</label>
      <input id="passwd" name="passwd" type="password" autocomplete="current-password" required${describedBy}>
      <button type="submit">Sign in</button>
    </form>
  </main>`;
    this.sendHtml(ctx, 200, page('Sign in to your account', body));
  }

  private errorPage(ctx: Ctx, code: number, message: string, client?: AppClient): void {
    const ts = aadTime(Date.now());
    const body = `<main aria-labelledby="title">
    <p class="brand">Local Azure emulator &middot; Microsoft Entra ID</p>
    <h1 id="title">Sign in</h1>
    <div class="error" role="alert"><p>Sorry, but we're having trouble signing you in.</p>
    <p class="code" id="aadsts">AADSTS${code}: ${escapeHtml(message)}</p></div>
    <dl><dt>Request Id</dt><dd>${escapeHtml(ctx.requestId)}</dd><dt>Correlation Id</dt><dd>${escapeHtml(ctx.correlationId)}</dd><dt>Timestamp</dt><dd>${ts}</dd>${client ? `<dt>App name</dt><dd>${escapeHtml(client.displayName)}</dd><dt>App id</dt><dd>${escapeHtml(client.clientId)}</dd>` : ''}</dl>
  </main>`;
    this.log('authorize: error page', { code });
    this.sendHtml(ctx, 200, page('Sign in to your account', body), { 'x-ms-ests-error': `AADSTS${code}` });
  }

  private sendHtml(ctx: Ctx, status: number, html: string, headers: Record<string, string> = {}): void {
    const { res } = ctx;
    if (res.headersSent || res.writableEnded) return;
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store, no-cache');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Length', Buffer.byteLength(html));
    res.end(ctx.method === 'HEAD' ? undefined : html);
  }

  // ---------------------------------------------------------------- sign-out

  /**
   * `GET|POST /{tenant}/oauth2/v2.0/logout[?post_logout_redirect_uri&state&id_token_hint&client_id]`: ends the
   * SSO session of the cookie (or the one named by `sid` in a valid `id_token_hint`), revokes the refresh
   * tokens issued in that session (later use: invalid_grant AADSTS50173), clears the cookie, and redirects
   * to `post_logout_redirect_uri` (with `state`) when it is a registered redirect URI — of `client_id` (or
   * the hint's `aud`) when given, else of any app; otherwise shows a "You signed out" page.
   */
  async handleLogout(ctx: Ctx): Promise<void> {
    let p = ctx.query;
    if (ctx.method === 'POST' && String(ctx.req.headers['content-type'] ?? '').toLowerCase().includes('application/x-www-form-urlencoded')) p = new URLSearchParams(ctx.body.toString('utf8'));
    else if (ctx.method !== 'GET' && ctx.method !== 'POST') return this.errorPage(ctx, 900561, `The endpoint only accepts GET, POST requests. Received a ${ctx.method.slice(0, 20)} request.`);
    let clientId = p.get('client_id')?.toLowerCase();
    let sid: string | undefined;
    const hint = p.get('id_token_hint');
    if (hint) {
      try {
        const kid = jose.decodeProtectedHeader(hint).kid;
        const key = !kid || kid === this.keys.kid ? this.keys.publicKey : this.keys.previous.find((k) => k.kid === kid)?.publicKey;
        // An expired ID token is still a valid hint (Entra accepts it): only the signature is checked.
        const payload = key ? (JSON.parse(Buffer.from((await jose.compactVerify(hint, key)).payload).toString('utf8')) as Record<string, unknown>) : {};
        if (typeof payload.sid === 'string') sid = payload.sid;
        if (!clientId && typeof payload.aud === 'string') clientId = payload.aud.toLowerCase();
      } catch {
        // a malformed hint is ignored, like an absent one
      }
    }
    const cookie = parseCookies(ctx.req.headers.cookie)[SSO_COOKIE];
    const ended = new Set<string>();
    for (const [k, s] of this.sessions) {
      if (k === cookie || (sid && s.sid === sid)) {
        this.sessions.delete(k);
        ended.add(s.sid);
      }
    }
    let revoked = 0;
    const now = Date.now();
    for (const rt of this.refreshTokens.values()) {
      if (ended.has(rt.sid) && !rt.revoked) {
        rt.revoked = { atMs: now, reason: 'sign-out' };
        revoked++;
      }
    }
    this.log('sign-out', { sessions: ended.size, refreshTokensRevoked: revoked });
    ctx.res.setHeader('Set-Cookie', `${SSO_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; HttpOnly; SameSite=None`);
    const target = p.get('post_logout_redirect_uri');
    if (target) {
      const apps = clientId ? [this.state.clients[clientId]].filter(Boolean) : Object.values(this.state.clients);
      if (apps.some((a) => redirectUriMatches(a.redirectUris ?? [], target))) {
        const state = p.get('state');
        const location = state === null ? target : `${target}${target.includes('?') ? '&' : '?'}${new URLSearchParams({ state }).toString()}`;
        return send(ctx, 302, undefined, { Location: location, 'Cache-Control': 'no-store, no-cache' });
      }
    }
    const body = `<main aria-labelledby="title">
    <p class="brand">Local Azure emulator &middot; Microsoft Entra ID</p>
    <h1 id="title">You signed out of your account</h1>
    <p role="status">It's a good idea to close all browser windows.</p>
  </main>`;
    this.sendHtml(ctx, 200, page('Sign out', body));
  }

  // ---------------------------------------------------------------- token endpoint

  /**
   * The token endpoint's user grants (called by entra.ts for `grant_type=authorization_code|refresh_token`).
   * Client authentication: `client_secret` (post or basic) — required unless the app is a public client
   * (then 401 invalid_client AADSTS7000218 without it); a wrong one 401 AADSTS7000215.
   * authorization_code: `code`, `redirect_uri` (equal to the authorize request's, else invalid_grant
   * AADSTS500112), `code_verifier` (S256 of it = the challenge, else invalid_grant AADSTS50148). Unknown code
   * AADSTS70000, expired AADSTS70008, already redeemed AADSTS54005, another tenant's AADSTS700005; a failed
   * attempt does not spend the code. refresh_token: unknown or another client's AADSTS70000, inactive for
   * longer than refreshTokenMaxInactiveSeconds AADSTS700082, revoked (sign-out, password change, user
   * deleted) AADSTS50173, replaced more than refreshTokenReuseSeconds ago AADSTS70000.
   * Success: `{token_type: 'Bearer', scope, expires_in, ext_expires_in, access_token, id_token?, refresh_token?}`.
   */
  async tokenGrant(ctx: Ctx, form: URLSearchParams, grantType: 'authorization_code' | 'refresh_token', clientId: string, clientSecret: string, tenantSeg: string, tenant: Tenant | undefined): Promise<void> {
    const seg = tenantSeg.toLowerCase();
    if (!tenant && (seg === 'consumers' || !MULTI_TENANT_SEGMENTS.includes(seg))) {
      return sendAadError(ctx, 400, 'invalid_request', 90002, `Tenant '${tenantSeg.slice(0, 100)}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
    }
    if (!clientId) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const client = this.state.clients[clientId.toLowerCase()];
    if (!client) {
      return sendAadError(ctx, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId.slice(0, 100)}' was not found in the directory '${tenant?.name ?? seg}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    if (!clientSecret && !client.publicClient) return sendAadError(ctx, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (clientSecret && !sameHash(hashSecret(clientSecret), client.secretSha256)) {
      this.log('token: invalid client secret', { clientId: client.clientId, grantType });
      return sendAadError(ctx, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`);
    }
    if (clientSecret && clientSecretExpired(client)) {
      this.log('token: client secret expired', { clientId: client.clientId, grantType });
      return sendExpiredSecret(ctx, client);
    }
    const confidential = !!clientSecret;
    const invalidGrant = (code: number, message: string): void => sendAadError(ctx, 400, 'invalid_grant', code, message);
    const now = Date.now();
    if (grantType === 'authorization_code') {
      const code = form.get('code') ?? '';
      if (!code) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
      const grant = this.codes.get(code);
      if (!grant || grant.clientId !== client.clientId) return invalidGrant(70000, 'Provided grant is invalid or malformed.');
      if (tenant && tenant.id !== grant.tenantId) return invalidGrant(700005, 'Provided Authorization Code is intended to use against other tenant, thus rejected.');
      if (grant.redeemedAtMs !== undefined) return invalidGrant(54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
      if (now > grant.expiresAtMs) return invalidGrant(70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
      const redirectUri = form.get('redirect_uri');
      if (!redirectUri) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'redirect_uri'.");
      if (redirectUri !== grant.redirectUri) return invalidGrant(500112, `The reply address '${redirectUri.slice(0, 300)}' does not match the reply address '${grant.redirectUri}' provided when requesting Authorization code.`);
      const verifier = form.get('code_verifier');
      const pkceMismatch = grant.codeChallenge !== undefined
        ? !verifier || createHash('sha256').update(verifier, 'ascii').digest('base64url') !== grant.codeChallenge
        : verifier !== null;
      if (pkceMismatch) return invalidGrant(50148, 'The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.');
      const user = this.state.users?.[grant.userId];
      if (!user) return invalidGrant(50034, 'The user account does not exist in the directory. To sign into this application, the account must be added to the directory.');
      const scope = form.get('scope')?.trim() || grant.scope;
      grant.redeemedAtMs = now;
      return this.issueTokens(ctx, client, user, { grantScope: grant.scope, requestScope: scope, nonce: grant.nonce, sid: grant.sid, confidential, grantType });
    }
    const token = form.get('refresh_token') ?? '';
    if (!token) return sendAadError(ctx, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'refresh_token'.");
    const rt = this.refreshTokens.get(sha256(token));
    if (!rt || rt.clientId !== client.clientId) return invalidGrant(70000, 'Provided grant is invalid or malformed.');
    if (rt.revoked) {
      return invalidGrant(50173, `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${aadTime(rt.issuedAtMs)}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${aadTime(rt.revoked.atMs)}'.`);
    }
    if (now > rt.issuedAtMs + this.settings.refreshTokenMaxInactiveSeconds * 1000) {
      return invalidGrant(700082, `The refresh token has expired due to inactivity. The token was issued on ${new Date(rt.issuedAtMs).toISOString()} and was inactive for ${timespan(this.settings.refreshTokenMaxInactiveSeconds * 1000)}.`);
    }
    if (rt.replacedAtMs !== undefined && now > rt.replacedAtMs + this.settings.refreshTokenReuseSeconds * 1000) {
      return invalidGrant(70000, `Provided grant is invalid or malformed. (Local emulator: this refresh token was exchanged for a new one on ${new Date(rt.replacedAtMs).toISOString()}; a replaced refresh token stops working ${this.settings.refreshTokenReuseSeconds} s after that.)`);
    }
    if (tenant && tenant.id !== rt.tenantId) return invalidGrant(700005, 'Provided grant is intended to use against other tenant, thus rejected.');
    const user = this.state.users?.[rt.userId];
    if (!user) return invalidGrant(50173, 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user account no longer exists.');
    const scope = form.get('scope')?.trim() || rt.scope;
    rt.replacedAtMs ??= now;
    return this.issueTokens(ctx, client, user, { grantScope: rt.scope, requestScope: scope, sid: rt.sid, confidential, grantType });
  }

  private async issueTokens(ctx: Ctx, client: AppClient, user: SignInUser, g: { grantScope: string; requestScope: string; nonce?: string; sid: string; confidential: boolean; grantType: string }): Promise<void> {
    const target = this.resolveScope(g.requestScope, this.state.tenants[user.tenantId]);
    if ('error' in target) return sendAadError(ctx, 400, target.error, target.code, target.message);
    const now = Math.floor(Date.now() / 1000);
    const accessToken = await this.signUserAccessToken(ctx.baseUrl, client, user, target, g.confidential, now);
    const body: Record<string, unknown> = {
      token_type: 'Bearer',
      scope: this.grantedScope(target, g.requestScope),
      expires_in: TOKEN_LIFETIME_SECONDS,
      ext_expires_in: TOKEN_LIFETIME_SECONDS,
      access_token: accessToken,
    };
    const requested = g.requestScope.split(/\s+/);
    const granted = g.grantScope.split(/\s+/);
    if (granted.includes('offline_access')) {
      const refresh = `0.A${randomBytes(96).toString('base64url')}`;
      this.refreshTokens.set(sha256(refresh), { clientId: client.clientId, userId: user.objectId, tenantId: user.tenantId, scope: g.grantScope, sid: g.sid, issuedAtMs: Date.now() });
      dropOldest(this.refreshTokens, MAX_REFRESH_TOKENS);
      body.refresh_token = refresh;
    }
    if (requested.includes('openid')) {
      body.id_token = await this.signIdToken(ctx.baseUrl, client, user, { nonce: g.nonce, sid: g.sid, email: requested.includes('email') }, now);
    }
    this.log('token issued (user)', { clientId: client.clientId, userId: user.objectId, grantType: g.grantType, aud: target.kind === 'api' ? target.api.identifierUri : target.aud });
    send(ctx, 200, body, { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' });
  }

  /**
   * What a scope string asks for: OIDC scopes plus at most one resource (`<resource>/<scope>` or
   * `<resource>/.default`; bare names such as `User.Read` are Microsoft Graph's; only OIDC scopes = Graph).
   * An `api://` resource must be a registered API (else invalid_resource AADSTS500011).
   */
  private resolveScope(scope: string, tenant: Tenant | undefined): Target | { error: string; code: number; message: string } {
    const parts = scope.split(/\s+/).filter(Boolean);
    const oidc = parts.filter((x) => OIDC_SCOPES.includes(x.toLowerCase())).map((x) => x.toLowerCase());
    const resources = new Map<string, string[]>();
    for (const x of parts.filter((y) => !OIDC_SCOPES.includes(y.toLowerCase()))) {
      let resource: string;
      let name: string;
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(x)) [resource, name] = [x.replace(/\/$/, ''), '.default'];
      else if (x.includes('/')) [resource, name] = [x.slice(0, x.lastIndexOf('/')), x.slice(x.lastIndexOf('/') + 1) || '.default'];
      else [resource, name] = [GRAPH, x];
      const key = resource.toLowerCase().replace(/\/+$/, '');
      resources.set(key, [...(resources.get(key) ?? []), name]);
    }
    if (resources.size > 1) return { error: 'invalid_scope', code: 700022, message: `The provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope.slice(0, 300)} is not valid.` };
    if (resources.size === 0) return { kind: 'v1', resource: GRAPH, aud: GRAPH, scp: [...oidc.filter((x) => x !== 'offline_access'), 'User.Read'], oidc };
    const [[key, names]] = [...resources.entries()];
    const api = findApplication(this.state, key);
    const wantsDefault = names.includes('.default');
    if (api) return { kind: 'api', api, scp: wantsDefault ? ['user_impersonation'] : [...new Set(names)], oidc };
    if (key.startsWith('api://') || !/^https:\/\//.test(key)) {
      return { error: 'invalid_resource', code: 500011, message: `The resource principal named ${key.slice(0, 200)} was not found in the tenant named ${tenant?.name ?? 'organizations'}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.` };
    }
    const isGraph = key === GRAPH;
    return { kind: 'v1', resource: key, aud: audienceFor(key), scp: wantsDefault ? [isGraph ? 'User.Read' : 'user_impersonation'] : [...new Set(names)], oidc };
  }

  /** The `scope` of a token response: the granted resource scopes (Graph's bare) plus the OIDC scopes asked for. */
  private grantedScope(t: Target, requestScope: string): string {
    const res = t.kind === 'api' ? t.scp.map((n) => `${t.api.identifierUri}/${n}`) : t.resource === GRAPH ? t.scp.filter((n) => !OIDC_SCOPES.includes(n)) : t.scp.map((n) => `${t.resource}/${n}`);
    const oidc = requestScope.split(/\s+/).filter((x) => OIDC_SCOPES.includes(x.toLowerCase()));
    return [...new Set([...res, ...oidc])].join(' ');
  }

  /**
   * A delegated (user) access token. For a registered API: Entra v2 (`iss {baseUrl}/{tid}/v2.0`, `ver 2.0`,
   * `aud` = identifier URI, `azp`, `azpacr`, `scp`, `roles` = the user's roles (omitted when none), `oid`,
   * `name`, `preferred_username`). For other resources (Graph, ARM...): Entra v1 (`iss
   * https://sts.windows.net/{tid}/`, `appid`, `appidacr`, `upn`, `unique_name`, `scp`, `idtyp: user`).
   * `sub` is pairwise (per user and audience). Lifetime TOKEN_LIFETIME_SECONDS.
   */
  private async signUserAccessToken(baseUrl: string, client: AppClient, user: SignInUser, t: Target, confidential: boolean, now: number): Promise<string> {
    const common = { ...tokenTimeClaims(now), name: user.displayName, oid: user.objectId, tid: user.tenantId, scp: t.scp.join(' '), uti: randomBytes(16).toString('base64url') };
    let claims: Record<string, unknown>;
    if (t.kind === 'api') {
      claims = { aud: t.api.identifierUri, iss: `${baseUrl}/${user.tenantId}/v2.0`, ...common, azp: client.clientId, azpacr: confidential ? '1' : '0', preferred_username: user.userPrincipalName, sub: pairwiseSub(user.objectId, t.api.appId), ver: '2.0' };
      if (user.roles.length) claims.roles = [...user.roles];
    } else {
      const iss = `https://sts.windows.net/${user.tenantId}/`;
      claims = { aud: t.aud, iss, ...common, acr: '1', amr: ['pwd'], appid: client.clientId, appidacr: confidential ? '1' : '0', idp: iss, idtyp: 'user', sub: pairwiseSub(user.objectId, t.aud), unique_name: user.userPrincipalName, upn: user.userPrincipalName, ver: '1.0' };
    }
    return new jose.SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: this.keys.kid }).sign(this.keys.privateKey);
  }

  /**
   * The ID token (Entra v2): `iss {baseUrl}/{tid}/v2.0`, `aud` = client id, `nonce` (when the authorize request
   * had one), `oid`, pairwise `sub`, `tid`, `sid`, `name`, `preferred_username`, `email` (with the email scope),
   * `roles` (omitted when none), `iat/nbf/exp` (1 h), `ver 2.0`; RS256 with the emulator's signing key.
   */
  private async signIdToken(baseUrl: string, client: AppClient, user: SignInUser, o: { nonce?: string; sid: string; email: boolean }, now: number): Promise<string> {
    const claims: Record<string, unknown> = {
      aud: client.clientId,
      iss: `${baseUrl}/${user.tenantId}/v2.0`,
      ...tokenTimeClaims(now),
      name: user.displayName,
      oid: user.objectId,
      preferred_username: user.userPrincipalName,
      sid: o.sid,
      sub: pairwiseSub(user.objectId, client.clientId),
      tid: user.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    };
    if (o.nonce !== undefined) claims.nonce = o.nonce;
    if (o.email) claims.email = user.userPrincipalName;
    if (user.roles.length) claims.roles = [...user.roles];
    return new jose.SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: this.keys.kid }).sign(this.keys.privateKey);
  }

  // ---------------------------------------------------------------- users and revocation

  /** Ends every SSO session of a user and revokes its refresh tokens; returns how many tokens were revoked. */
  revokeUser(userId: string, reason: 'password-change' | 'user-deleted'): number {
    for (const [k, s] of this.sessions) if (s.userId === userId) this.sessions.delete(k);
    let n = 0;
    const now = Date.now();
    for (const rt of this.refreshTokens.values()) {
      if (rt.userId === userId && !rt.revoked) {
        rt.revoked = { atMs: now, reason };
        n++;
      }
    }
    return n;
  }

  /** Same as createUser (users.ts). */
  createUser(opts: CreateUserOptions): ReturnType<typeof createUser> {
    return createUser(this.state, this.store, opts);
  }

  /** updateUser (users.ts); a password change also ends the user's sessions and refresh tokens. */
  updateUser(idOrUpn: string, opts: UpdateUserOptions): ReturnType<typeof updateUser> {
    const view = updateUser(this.state, this.store, idOrUpn, opts);
    if (opts.password !== undefined) this.revokeUser(view.objectId, 'password-change');
    return view;
  }

  /** deleteUser (users.ts), ending its sessions and refresh tokens; false when unknown. */
  deleteUser(idOrUpn: string): boolean {
    const user = findUser(this.state, idOrUpn);
    if (!user) return false;
    this.revokeUser(user.objectId, 'user-deleted');
    return deleteUser(this.state, this.store, user.objectId);
  }

  /**
   * Control API (returns false when the route is not one of these):
   * - `POST /_emulator/users` `{tenantId?, userPrincipalName?, displayName?, password?, roles?}` → 201
   *   `{tenantId, objectId, userPrincipalName, displayName, password, roles}` (the password only here);
   * - `GET /_emulator/users[?tenantId=]` → `{value: [{tenantId, objectId, userPrincipalName, displayName, roles, createdAt}]}`;
   * - `GET|PATCH|DELETE /_emulator/users/{objectId|upn}` (PATCH `{displayName?, password?, roles?}`; a new
   *   password or DELETE ends the user's sessions and refresh tokens) → 200 / 204;
   * - `PUT /_emulator/clients/{clientId}/redirect-uris` `{redirectUris: [...]}` → 200 `{clientId, redirectUris}`.
   * Errors `{error: {code, message}}`: 400 InvalidRequestContent / InvalidUserPrincipalName / InvalidPassword /
   * InvalidRoles / InvalidDisplayName / InvalidRedirectUri, 404 TenantNotFound / UserNotFound / ClientNotFound,
   * 409 UserPrincipalNameInUse.
   */
  handleControl(ctx: Ctx): boolean {
    const s = ctx.segments.slice(1).filter((x) => x !== '');
    const isUsers = s[0] === 'users' && s.length <= 2;
    const isRedirects = s[0] === 'clients' && s.length === 3 && s[2] === 'redirect-uris';
    if (!isUsers && !isRedirects) return false;
    const m = ctx.method;
    const req = controlRequest(ctx);
    if (!req) return true;
    const { fail, body: obj } = req;
    try {
      if (isRedirects) {
        if (m !== 'PUT') return fail(405, 'MethodNotAllowed', 'Use PUT with {"redirectUris": [...]}.');
        send(ctx, 200, setRedirectUris(this.state, this.store, s[1], obj.redirectUris));
        return true;
      }
      if (s.length === 1 && m === 'POST') {
        send(ctx, 201, this.createUser(obj));
        return true;
      }
      if (s.length === 1 && m === 'GET') {
        send(ctx, 200, { value: listUsers(this.state, ctx.query.get('tenantId') ?? undefined) });
        return true;
      }
      if (s.length === 2) {
        const user = findUser(this.state, s[1]);
        if (!user) return fail(404, 'UserNotFound', `User '${s[1].slice(0, 100)}' does not exist.`);
        if (m === 'GET') return send(ctx, 200, listUsers(this.state).find((u) => u.objectId === user.objectId)), true;
        if (m === 'PATCH') return send(ctx, 200, this.updateUser(user.objectId, obj)), true;
        if (m === 'DELETE') return this.deleteUser(user.objectId), send(ctx, 204), true;
      }
      return fail(404, 'NotFound', `No control operation ${m} /_emulator/${s.join('/').slice(0, 200)}.`);
    } catch (e) {
      if (e instanceof DirectoryError) return fail(e.status, e.code, e.message);
      throw e;
    }
  }
}

/** A complete, small HTML page (Entra-like layout, no external resources). */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex, nofollow">
  <title>${escapeHtml(title)}</title>
  <style>
    body { font-family: "Segoe UI", system-ui, sans-serif; background: #f2f2f2; margin: 0; color: #1b1b1b; }
    main { max-width: 440px; margin: 8vh auto; background: #fff; padding: 44px; box-shadow: 0 2px 6px rgba(0,0,0,.2); }
    .brand { font-size: .8rem; color: #5e5e5e; margin: 0 0 16px; }
    h1 { font-size: 1.5rem; font-weight: 600; margin: 0 0 8px; }
    label { display: block; margin-top: 16px; font-weight: 600; }
    input[type=text], input[type=password] { display: block; width: 100%; box-sizing: border-box; padding: 8px; margin-top: 4px; font-size: 1rem; border: 1px solid #666; }
    input:focus, button:focus { outline: 2px solid #0067b8; outline-offset: 2px; }
    button { margin-top: 24px; padding: 8px 24px; font-size: 1rem; color: #fff; background: #0067b8; border: 0; cursor: pointer; }
    .error { color: #a4262c; }
    .code { font-size: .85rem; }
    dl { font-size: .8rem; color: #5e5e5e; } dt { font-weight: 600; }
  </style>
</head>
<body>
  ${body}
</body>
</html>
`;
}
