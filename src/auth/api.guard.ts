import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from '../common/api-error';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { AuthenticatedRequest, IS_PUBLIC_KEY, ROLES_KEY } from './decorators';
import { ClientThrottlerGuard } from './client-throttler.guard';
import { AuthenticationError, AuthorityUnavailableError, TokenVerifier } from './token-verifier';
import type { Role } from './roles';

/** Quotes a value for an RFC 6750 WWW-Authenticate parameter (no quotes or backslashes inside). */
function q(v: string): string {
  return `"${v.replace(/["\\\r\n]/g, "'")}"`;
}

/**
 * The one global guard (APP_GUARD) of the API, in this order:
 * 1. @Public() routes (health) pass; Swagger UI is not a Nest route and is public too.
 * 2. Authentication: the Bearer token is validated (TokenVerifier); the Caller is put on the request.
 * 3. Rate limit per client (ClientThrottlerGuard), also for failed authentications (keyed by IP): 429 + Retry-After.
 * 4. No valid token: 401 `{error:{code: AuthenticationRequired|InvalidToken|TokenExpired, message}}` with
 *    `WWW-Authenticate: Bearer realm=…, error="invalid_token", error_description=…` (RFC 6750; no error for a missing token).
 * 5. Authorization: the route's @Roles(...) (any one suffices); none declared = refused to everyone.
 *    Missing role: 403 `{error:{code:'Forbidden', message}}` naming the roles needed.
 * The keys being unreachable is a 503 AuthenticationUnavailable with Retry-After: 5.
 */
@Injectable()
export class ApiGuard implements CanActivate {
  private readonly logger = new Logger(ApiGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    private readonly throttler: ClientThrottlerGuard,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const req = context.switchToHttp().getRequest<Request & AuthenticatedRequest>();
    let failure: AuthenticationError | undefined;
    try {
      req.caller = await this.verifier.authenticate(req.headers.authorization);
      this.logger.debug({ tenantId: req.caller.tenantId, clientId: req.caller.clientId, roles: req.caller.roles }, 'caller authenticated');
    } catch (e) {
      if (e instanceof AuthorityUnavailableError) {
        throw new ApiError(503, 'AuthenticationUnavailable', 'Tokens cannot be validated right now (the identity provider is unreachable); retry later.', undefined, undefined, { 'Retry-After': '5' });
      }
      if (!(e instanceof AuthenticationError)) throw e;
      failure = e;
      this.logger.debug({ reason: e.code, detail: e.message }, 'authentication refused');
    }
    if (this.config.rateLimitPerMinute > 0) await this.throttler.canActivate(context);
    if (failure || !req.caller) {
      const f = failure ?? new AuthenticationError('AuthenticationRequired', 'Authentication required.');
      const params = [`realm=${q(this.config.auth.audience)}`, `authorization_uri=${q(`${this.verifier.authority}/${this.config.auth.tenantId}/oauth2/v2.0/authorize`)}`];
      if (f.code !== 'AuthenticationRequired') params.push('error="invalid_token"', `error_description=${q(f.message)}`);
      throw new ApiError(401, f.code, f.message, 'Authorization', undefined, { 'WWW-Authenticate': `Bearer ${params.join(', ')}` });
    }
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (!roles?.length) throw new ApiError(403, 'Forbidden', 'This operation is not open to any app role.');
    if (!roles.some((r) => req.caller!.has(r))) {
      const held = req.caller.roles;
      const refused = req.caller.refusedRoles.filter((r) => roles.includes(r));
      const why = refused.length ? ` ${refused.join(', ')} is not honoured from tenant ${req.caller.tenantId} / client ${req.caller.clientId} (docs/security.md: trust per role).` : '';
      throw new ApiError(403, 'Forbidden', `This operation needs the app role ${roles.join(' or ')}; the token holds ${held.length ? held.join(', ') : 'no role of this API'}.${why}`);
    }
    return true;
  }
}
