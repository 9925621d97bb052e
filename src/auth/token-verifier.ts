import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { JWTPayload, JWTHeaderParameters, FlattenedJWSInput } from 'jose';
import { AppConfig, APP_CONFIG, DEFAULT_AUTH_AUTHORITY_HOST } from '../config/app-config';
import { AzureRuntime } from '../azure/azure-runtime';
import { MAX_AUTHORITY_RESPONSE_BYTES, RemoteHttp, trustedCas } from '../remote/http';
import { Caller } from './caller';
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

/** Fetching the keys: one attempt at most this long (ms). */
export const JWKS_FETCH_TIMEOUT_MS = 5000;
/** Verified access tokens kept (TokenVerifier.remember): a few thousand callers' current tokens. */
export const VERIFIED_TOKENS_MAX = 2000;

/** What discovery told us about the authority, and jose's remote key set built from its jwks_uri. */
interface AuthorityKeys {
  /** Discovery `issuer`, e.g. https://login.microsoftonline.com/{tenantid}/v2.0. */
  issuerTemplate: string;
  /** jose.createRemoteJWKSet over `jwks_uri`: cache, cooldown and refetch on unknown kid are jose's. */
  keys: ReturnType<typeof jose.createRemoteJWKSet>;
}

/** jose errors that mean "no key for this token" (not "the keys could not be fetched"). */
const NO_KEY_CODES = new Set(['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS', 'ERR_JOSE_NOT_SUPPORTED']);

/**
 * Validates Entra ID access tokens of the service's API with `jose` (RS256 only):
 * - signature against the authority's JWKS (`jwks_uri` from `{authority}/{AUTH_TENANT_ID}/v2.0/.well-known/openid-configuration`,
 *   read once): `jose.createRemoteJWKSet` keeps the keys JWKS_MAX_AGE_MS (1 h) and refetches at once when a token names an
 *   unknown `kid` (at most every JWKS_REFRESH_COOLDOWN_MS, 1 s), through the service's HTTP client (src/remote/http.ts:
 *   its own undici dispatcher trusting AzureRuntime's CA list, 5 s timeouts, answers of at most 512 KB);
 *   keys that cannot be fetched: the last key set jose loaded is used if there is one, else AuthorityUnavailableError (503);
 * - `iss` = the discovery issuer with `{tenantid}` replaced by the token's own `tid` (multi-tenant), i.e. `{authority}/{tid}/v2.0`;
 *   with a tenant GUID as AUTH_TENANT_ID, `tid` must be that tenant; AUTH_ALLOWED_TENANTS narrows further;
 * - `aud` = AUTH_AUDIENCE (application ID URI) or AUTH_CLIENT_ID;
 * - `exp` (required) and `nbf` with AUTH_CLOCK_SKEW_SECONDS tolerance, real time (not the injected Clock);
 * - `tid` and `azp`/`appid` present;
 * - app roles honoured per role-trust.ts: Operator and Marketplace only from trusted tenants / clients.
 * Authority: AUTH_AUTHORITY_HOST, else the emulator when the Azure endpoints are emulated, else login.microsoftonline.com.
 */
@Injectable()
export class TokenVerifier implements OnApplicationShutdown {
  private readonly logger = new Logger(TokenVerifier.name);
  /** Verified tokens -> their Caller and `exp` (seconds), until they expire (remember()). */
  private readonly verified = new Map<string, { exp: number; caller: Caller }>();
  /** Discovery of the authority (kept once it succeeded; a failure is forgotten so the next request tries again). */
  private discovery: Promise<AuthorityKeys> | undefined;
  /** HTTP client of the authority (discovery and keys). */
  private readonly http: RemoteHttp;
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
    // An AUTH_AUTHORITY_HOST set explicitly may be a real authority even next to emulated Azure endpoints.
    const ca = trustedCas(config.auth.authorityHost ? { ...runtime.endpoints, emulated: false } : runtime.endpoints);
    this.http = new RemoteHttp({ service: 'authority', ca, connectTimeoutMs: JWKS_FETCH_TIMEOUT_MS, headersTimeoutMs: JWKS_FETCH_TIMEOUT_MS, bodyTimeoutMs: JWKS_FETCH_TIMEOUT_MS, connections: 4, maxResponseBytes: MAX_AUTHORITY_RESPONSE_BYTES });
  }

  /** Closes the authority's connections. */
  async onApplicationShutdown(): Promise<void> {
    await this.http.close();
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
    const known = this.verified.get(token);
    if (known && known.exp > Date.now() / 1000 - this.config.auth.clockSkewSeconds) return known.caller;
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
    const authority = await this.authorityKeys();
    let payload: JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, (h: JWTHeaderParameters, t: FlattenedJWSInput) => this.keyFor(authority, h, t), {
        algorithms: ['RS256'],
        audience: this.audiences,
        clockTolerance: this.config.auth.clockSkewSeconds,
        requiredClaims: ['exp', 'iss', 'aud', 'tid'],
      }));
    } catch (e) {
      if (e instanceof AuthorityUnavailableError) throw e;
      throw this.explain(e);
    }
    const tid = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : '';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tid)) throw new AuthenticationError('InvalidToken', 'The token has no valid tenant id (tid).');
    const expectedIssuer = authority.issuerTemplate.replace('{tenantid}', tid);
    if (payload.iss?.toLowerCase() !== expectedIssuer.toLowerCase()) throw new AuthenticationError('InvalidToken', `The token was not issued by ${expectedIssuer}.`);
    const tenant = this.config.auth.tenantId;
    if (!['organizations', 'common'].includes(tenant) && tid !== tenant) throw new AuthenticationError('InvalidToken', 'The token belongs to a tenant this service does not accept.');
    if (this.config.auth.allowedTenants && !this.config.auth.allowedTenants.includes(tid)) throw new AuthenticationError('InvalidToken', 'The token belongs to a tenant this service does not accept.');
    const clientId = (typeof payload.azp === 'string' ? payload.azp : typeof payload.appid === 'string' ? payload.appid : '').toLowerCase();
    if (!clientId || clientId.length > 64) throw new AuthenticationError('InvalidToken', 'The token names no client application (azp / appid).');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const oid = typeof payload.oid === 'string' ? payload.oid : undefined;
    const { honoured, refused } = applyTrust(this.trust, tid, clientId, roles);
    if (refused.length) this.logger.debug({ tenantId: tid, clientId, refused }, 'app roles from an untrusted tenant or client ignored');
    const caller = new Caller(tid, clientId, oid, honoured, false, refused);
    this.remember(token, payload.exp!, caller);
    return caller;
  }

  /**
   * Keeps a verified token's Caller until the token expires (issue 14: a marketplace sends one access
   * token for up to an hour; verifying its RS256 signature and claims again on every request is most of
   * what authentication costs). The same token bytes only: any other token is verified in full. A key
   * the authority stops publishing does not shorten a cached token's life (as with jose's own key-set
   * cache, JWKS_MAX_AGE_MS). At most VERIFIED_TOKENS_MAX entries, the oldest dropped first.
   */
  private remember(token: string, exp: number, caller: Caller): void {
    if (this.verified.size >= VERIFIED_TOKENS_MAX) {
      const now = Date.now() / 1000 - this.config.auth.clockSkewSeconds;
      for (const [k, v] of this.verified) if (v.exp <= now) this.verified.delete(k);
      if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, { exp, caller });
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

  /**
   * The key for a token's header from jose's remote key set. When the set cannot be fetched (network,
   * timeout, not 200, not a key set), the last set jose loaded is used (a warning is logged); without one
   * the authority is unavailable.
   * @throws jose's ERR_JWKS_NO_MATCHING_KEY (unknown kid, also within the refetch cooldown); AuthorityUnavailableError.
   */
  private async keyFor(authority: AuthorityKeys, header: JWTHeaderParameters, token: FlattenedJWSInput): ReturnType<AuthorityKeys['keys']> {
    try {
      return await authority.keys(header, token);
    } catch (e) {
      if (NO_KEY_CODES.has(String((e as { code?: unknown }).code))) throw e;
      const last = authority.keys.jwks();
      if (last) {
        this.logger.warn(`JWKS refresh failed, using the keys loaded before: ${(e as Error).message}`);
        return jose.createLocalJWKSet(last)(header, token);
      }
      throw new AuthorityUnavailableError(`The token issuer's signing keys could not be fetched: ${(e as Error).message}`);
    }
  }

  /**
   * Discovery of the authority (`{authority}/{AUTH_TENANT_ID}/v2.0/.well-known/openid-configuration`:
   * `issuer` and `jwks_uri`), once; concurrent callers share the attempt, a failed attempt is not kept.
   * @throws AuthorityUnavailableError when discovery does not answer 200 with both fields.
   */
  private authorityKeys(): Promise<AuthorityKeys> {
    this.discovery ??= this.discover().catch((e: unknown) => {
      this.discovery = undefined;
      throw new AuthorityUnavailableError(`The token issuer's signing keys could not be fetched: ${(e as Error).message}`);
    });
    return this.discovery;
  }

  private async discover(): Promise<AuthorityKeys> {
    const discoveryUrl = `${this.authority}/${this.config.auth.tenantId}/v2.0/.well-known/openid-configuration`;
    const d = await this.http.send('GET', discoveryUrl);
    const doc = d.body as { jwks_uri?: unknown; issuer?: unknown } | undefined;
    if (d.status !== 200 || typeof doc?.jwks_uri !== 'string' || typeof doc.issuer !== 'string') throw new Error(`${discoveryUrl} answered ${d.status} without jwks_uri/issuer`);
    const jwksUri = doc.jwks_uri;
    const keys = jose.createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: JWKS_FETCH_TIMEOUT_MS,
      cooldownDuration: JWKS_REFRESH_COOLDOWN_MS,
      cacheMaxAge: JWKS_MAX_AGE_MS,
      [jose.customFetch]: (url: string, init: Record<string, unknown>) => {
        this.logger.debug(`fetching the signing keys of ${this.authority}`);
        return this.http.fetch(url, init);
      },
    });
    this.logger.log(`Authority ${this.authority} discovered (keys at ${jwksUri}).`);
    return { issuerTemplate: doc.issuer, keys };
  }
}
