import { createHash, randomBytes } from 'node:crypto';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import { jose } from '../auth/jose';
import type { PendingSignIn, SignedInUser } from './oidc';

/** Name of the dashboard session cookie. */
export const SESSION_COOKIE = 'td_session';
/** Name of the cookie that carries a sign-in in progress (state, nonce, PKCE verifier) for 10 minutes. */
export const PENDING_COOKIE = 'td_signin';
/** How long a dashboard sign-in lasts (seconds): 8 hours. */
export const SESSION_SECONDS = 8 * 3600;
const PENDING_SECONDS = 600;

/** A dashboard session: the user, the roles the dashboard honours, and the CSRF token of its forms. */
export interface DashboardSession extends SignedInUser {
  /** Honoured app roles (after the trust rules of docs/security.md). */
  honouredRoles: string[];
  /** Synchronizer token every form POST must carry (field `csrf`). */
  csrf: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

/**
 * Signs and reads the dashboard cookies: HS256 JWTs (jose) with a key derived from
 * DASHBOARD_SESSION_SECRET (random per process when unset), set HttpOnly, SameSite=Lax (the sign-in
 * callback is a top-level GET from Entra ID), Secure unless the dashboard is served over plain http
 * on localhost, Path=/.
 */
export class SessionCookies {
  private readonly key: Uint8Array;

  constructor(
    secret: string | undefined,
    private readonly secure: boolean,
  ) {
    this.key = createHash('sha256').update(`td-dashboard-session|${secret ?? randomBytes(32).toString('hex')}`).digest();
  }

  /** Set-Cookie value of a new session for `user` (expires in SESSION_SECONDS). */
  async issue(user: SignedInUser, honouredRoles: string[], nowSeconds: number): Promise<{ cookie: string; session: DashboardSession }> {
    const session: DashboardSession = { ...user, honouredRoles, csrf: randomBytes(24).toString('base64url'), exp: nowSeconds + SESSION_SECONDS };
    return { cookie: await this.signed(SESSION_COOKIE, { ...session }, nowSeconds, SESSION_SECONDS), session };
  }

  /** The session of a request's Cookie header, or null (none, tampered or expired). */
  read(cookieHeader: string | undefined, nowSeconds: number): Promise<DashboardSession | null> {
    return this.verified<DashboardSession>(SESSION_COOKIE, cookieHeader, nowSeconds);
  }

  /** Set-Cookie value of a pending sign-in (PENDING_SECONDS). */
  pending(p: PendingSignIn, nowSeconds: number): Promise<string> {
    return this.signed(PENDING_COOKIE, { ...p }, nowSeconds, PENDING_SECONDS);
  }

  /** The pending sign-in of a request, or null. */
  readPending(cookieHeader: string | undefined, nowSeconds: number): Promise<PendingSignIn | null> {
    return this.verified<PendingSignIn>(PENDING_COOKIE, cookieHeader, nowSeconds);
  }

  /** Set-Cookie value of cookie `name` holding `claims` as an HS256 JWT valid `ttlSeconds`. */
  private async signed(name: string, claims: Record<string, unknown>, nowSeconds: number, ttlSeconds: number): Promise<string> {
    const jwt = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(nowSeconds).setExpirationTime(nowSeconds + ttlSeconds).sign(this.key);
    return this.serialize(name, jwt, ttlSeconds);
  }

  /** The claims of cookie `name` when its signature and expiry hold, else null. */
  private async verified<T>(name: string, cookieHeader: string | undefined, nowSeconds: number): Promise<T | null> {
    const v = parseCookie(cookieHeader ?? '')[name];
    if (!v) return null;
    try {
      const { payload } = await jose.jwtVerify(v, this.key, { algorithms: ['HS256'], currentDate: new Date(nowSeconds * 1000) });
      return payload as unknown as T;
    } catch {
      return null;
    }
  }

  /** Set-Cookie value that removes cookie `name`. */
  clear(name: string): string {
    return this.serialize(name, '', 0);
  }

  private serialize(name: string, value: string, maxAge: number): string {
    return serializeCookie(name, value, { httpOnly: true, sameSite: 'lax', secure: this.secure, path: '/', maxAge });
  }
}
