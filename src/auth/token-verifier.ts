import { Inject, Injectable, Logger } from '@nestjs/common';
import type { JWTPayload, JSONWebKeySet } from 'jose';
import { AppConfig, APP_CONFIG, DEFAULT_AUTH_AUTHORITY_HOST } from '../config/app-config';
import { AzureRuntime } from '../azure/azure-runtime';
import { Caller } from './caller';
import { httpsJson } from './https-json';
import { jose } from './jose';
import { applyTrust, trustPolicy, TrustPolicy } from './role-trust';

/** Why a request is not authenticated; `code` goes into the 401 body, `description` into WWW-Authenticate. */
export class AuthenticationError extends Error {
  constructor(
    /** AuthenticationRequired (no/unusable header), InvalidToken, TokenExpired. */
    readonly code: 'AuthenticationRequired' | 'InvalidToken' | 'TokenExpired',
    message: string,
  ) {
    super(message);
  }
}

/** The authority's keys could not be obtained (discovery or JWKS unreachable): 503, not the caller's fault. */
export class AuthorityUnavailableError extends Error {}

/** Longest bearer token accepted (characters); Entra access tokens are a few KB. */
export const MAX_TOKEN_LENGTH = 16 * 1024;
/** The JWKS is refetched at least this often (ms). */
export const JWKS_MAX_AGE_MS = 60 * 60 * 1000;
/** A token with an unknown `kid` triggers a JWKS refetch at most this often (ms): a rotated key is picked up at once. */
export const JWKS_REFRESH_COOLDOWN_MS = 1000;

interface KeyState {
  fetchedAt: number;
  issuerTemplate: string;
  getKey: ReturnType<typeof jose.createLocalJWKSet>;
  kids: Set<string>;
}

/**
 * Validates Entra ID access tokens of the service's API with `jose` (RS256 only):
 * - signature against the authority's JWKS (`jwks_uri` from `{authority}/{AUTH_TENANT_ID}/v2.0/.well-known/openid-configuration`,
 *   fetched over HTTPS trusting AzureRuntime's extra CA; refetched hourly and at once — cooldown 1 s — when a token names an unknown `kid`);
 * - `iss` = the discovery issuer with `{tenantid}` replaced by the token's own `tid` (multi-tenant), i.e. `{authority}/{tid}/v2.0`;
 *   with a tenant GUID as AUTH_TENANT_ID, `tid` must be that tenant; AUTH_ALLOWED_TENANTS narrows further;
 * - `aud` = AUTH_AUDIENCE (application ID URI) or AUTH_CLIENT_ID;
 * - `exp` (required) and `nbf` with AUTH_CLOCK_SKEW_SECONDS tolerance, real time (not the injected Clock);
 * - `tid` and `azp`/`appid` present;
 * - app roles honoured per role-trust.ts: Operator and Marketplace only from trusted tenants / clients.
 * Authority: AUTH_AUTHORITY_HOST, else the emulator when the Azure endpoints are emulated, else login.microsoftonline.com.
 */
@Injectable()
export class TokenVerifier {
  private readonly logger = new Logger(TokenVerifier.name);
  private keys: KeyState | undefined;
  private loading: Promise<KeyState> | undefined;
  /** Cooldown between JWKS refetches triggered by unknown kids (ms). */
  refreshCooldownMs = JWKS_REFRESH_COOLDOWN_MS;
  /** The authority host in use, e.g. https://login.microsoftonline.com. */
  readonly authority: string;
  /** Where Operator and Marketplace are honoured (role-trust.ts). */
  readonly trust: TrustPolicy;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runtime: AzureRuntime,
  ) {
    this.trust = trustPolicy(config.auth, runtime.serviceIdentity.tenantId);
    this.authority = config.auth.authorityHost ?? (runtime.endpoints.emulated ? runtime.endpoints.authorityHost.replace(/\/+$/, '') : DEFAULT_AUTH_AUTHORITY_HOST);
  }

  /** Audiences accepted: the application ID URI, and the app's client id when configured. */
  get audiences(): string[] {
    return [this.config.auth.audience, ...(this.config.auth.clientId ? [this.config.auth.clientId] : [])];
  }

  /**
   * Authenticates an Authorization header value.
   * @returns the Caller (tid, azp|appid, oid, roles).
   * @throws AuthenticationError (missing header, not "Bearer <JWT>", bad signature / unknown key, wrong
   *   issuer / audience / tenant, expired, not yet valid); AuthorityUnavailableError when keys cannot be fetched.
   */
  async authenticate(authorization: string | string[] | undefined): Promise<Caller> {
    if (authorization === undefined || authorization === '') throw new AuthenticationError('AuthenticationRequired', 'Send an Entra ID access token: Authorization: Bearer <token>.');
    if (Array.isArray(authorization)) throw new AuthenticationError('InvalidToken', 'Send exactly one Authorization header.');
    const m = /^Bearer[ ]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[ ]*$/i.exec(authorization.slice(0, MAX_TOKEN_LENGTH + 20));
    if (!m || m[1].length > MAX_TOKEN_LENGTH) throw new AuthenticationError('InvalidToken', 'The Authorization header must be "Bearer <JWT>" (a compact JWS of at most 16 KB).');
    const token = m[1];
    let kid: string | undefined;
    try {
      const header = jose.decodeProtectedHeader(token);
      kid = header.kid;
      if (header.alg !== 'RS256') throw new AuthenticationError('InvalidToken', `The token is signed with '${String(header.alg).slice(0, 20)}'; only RS256 is accepted.`);
    } catch (e) {
      if (e instanceof AuthenticationError) throw e;
      throw new AuthenticationError('InvalidToken', 'The token is not a well-formed JWT.');
    }
    if (!kid) throw new AuthenticationError('InvalidToken', 'The token header has no key id (kid).');
    let keys = await this.currentKeys();
    if (!keys.kids.has(kid) && Date.now() - keys.fetchedAt >= this.refreshCooldownMs) keys = await this.currentKeys(true);
    if (!keys.kids.has(kid)) throw new AuthenticationError('InvalidToken', 'The token is signed by a key the authority does not publish.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, keys.getKey, {
        algorithms: ['RS256'],
        audience: this.audiences,
        clockTolerance: this.config.auth.clockSkewSeconds,
        requiredClaims: ['exp', 'iss', 'aud', 'tid'],
      }));
    } catch (e) {
      throw this.explain(e);
    }
    const tid = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : '';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tid)) throw new AuthenticationError('InvalidToken', 'The token has no valid tenant id (tid).');
    const expectedIssuer = keys.issuerTemplate.replace('{tenantid}', tid);
    if (payload.iss?.toLowerCase() !== expectedIssuer.toLowerCase()) throw new AuthenticationError('InvalidToken', `The token was not issued by ${expectedIssuer}.`);
    const tenant = this.config.auth.tenantId;
    if (!['organizations', 'common'].includes(tenant) && tid !== tenant) throw new AuthenticationError('InvalidToken', 'The token belongs to a tenant this service does not accept.');
    if (this.config.auth.allowedTenants && !this.config.auth.allowedTenants.includes(tid)) throw new AuthenticationError('InvalidToken', 'The token belongs to a tenant this service does not accept.');
    const clientId = String(payload.azp ?? payload.appid ?? '').toLowerCase();
    if (!clientId || clientId.length > 64) throw new AuthenticationError('InvalidToken', 'The token names no client application (azp / appid).');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const oid = typeof payload.oid === 'string' ? payload.oid : undefined;
    const { honoured, refused } = applyTrust(this.trust, tid, clientId, roles);
    if (refused.length) this.logger.debug({ tenantId: tid, clientId, refused }, 'app roles from an untrusted tenant or client ignored');
    return new Caller(tid, clientId, oid, honoured, false, refused);
  }

  private explain(e: unknown): AuthenticationError {
    const err = e as { code?: string; claim?: string };
    switch (err.code) {
      case 'ERR_JWT_EXPIRED':
        return new AuthenticationError('TokenExpired', 'The token has expired.');
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        if (err.claim === 'nbf') return new AuthenticationError('InvalidToken', 'The token is not valid yet (nbf).');
        if (err.claim === 'aud') return new AuthenticationError('InvalidToken', `The token is for another audience; this API is ${this.config.auth.audience}.`);
        return new AuthenticationError('InvalidToken', `The token's ${String(err.claim ?? 'claims').slice(0, 20)} claim is missing or invalid.`);
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return new AuthenticationError('InvalidToken', 'The token signature is invalid.');
      case 'ERR_JWKS_NO_MATCHING_KEY':
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return new AuthenticationError('InvalidToken', 'The token is signed by a key the authority does not publish.');
      default:
        return new AuthenticationError('InvalidToken', 'The token is not a valid access token.');
    }
  }

  /** The cached key set; fetched when missing, older than JWKS_MAX_AGE_MS, or `force`d (deduplicated). */
  private async currentKeys(force = false): Promise<KeyState> {
    const k = this.keys;
    if (k && !force && Date.now() - k.fetchedAt < JWKS_MAX_AGE_MS) return k;
    if (!this.loading) {
      this.loading = this.fetchKeys().finally(() => (this.loading = undefined));
    }
    try {
      this.keys = await this.loading;
      return this.keys;
    } catch (e) {
      if (k) {
        this.logger.warn(`JWKS refresh failed, keeping the cached keys: ${(e as Error).message}`);
        return k;
      }
      throw new AuthorityUnavailableError(`The token issuer's signing keys could not be fetched: ${(e as Error).message}`);
    }
  }

  private async fetchKeys(): Promise<KeyState> {
    const ca = this.runtime.endpoints.extraCaPem;
    const discoveryUrl = `${this.authority}/${this.config.auth.tenantId}/v2.0/.well-known/openid-configuration`;
    const d = await httpsJson(discoveryUrl, { extraCaPem: ca });
    const doc = d.json as { jwks_uri?: unknown; issuer?: unknown } | undefined;
    if (d.status !== 200 || typeof doc?.jwks_uri !== 'string' || typeof doc.issuer !== 'string') throw new Error(`${discoveryUrl} answered ${d.status} without jwks_uri/issuer`);
    const j = await httpsJson(doc.jwks_uri, { extraCaPem: ca });
    const set = j.json as JSONWebKeySet | undefined;
    if (j.status !== 200 || !Array.isArray(set?.keys)) throw new Error(`${doc.jwks_uri} answered ${j.status} without keys`);
    const kids = new Set(set.keys.map((k) => k.kid).filter((x): x is string => typeof x === 'string'));
    this.logger.log(`Signing keys of ${this.authority} loaded (${kids.size}).`);
    return { fetchedAt: Date.now(), issuerTemplate: doc.issuer, getKey: jose.createLocalJWKSet(set), kids };
  }
}
