import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiResponse } from '@nestjs/swagger';
import { Caller } from './caller';
import { Role } from './roles';

/** Metadata key of @Public(). */
export const IS_PUBLIC_KEY = 'auth:public';
/** Metadata key of @Roles(...). */
export const ROLES_KEY = 'auth:roles';
/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = 'entra';

/** The route needs no token (health, docs). Everything else under /api/v1 needs one. */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(IS_PUBLIC_KEY, true);

/**
 * The route needs a valid token holding at least one of `roles` (else 401 without/with a bad token,
 * 403 with a token lacking the roles). A route without @Roles and without @Public is refused to
 * everyone (403): deny by default. Also documents the bearer scheme, the roles (`x-required-roles`)
 * and the 401/403 answers in OpenAPI.
 */
export function Roles(...roles: Role[]): ClassDecorator & MethodDecorator {
  return applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension('x-required-roles', roles),
    ApiResponse({ status: 401, description: 'No token, or an invalid one (WWW-Authenticate: Bearer, error names the reason).' }),
    ApiResponse({ status: 403, description: `The token holds none of the app roles: ${roles.join(', ')}.` }),
    ApiResponse({ status: 429, description: 'TooManyRequests: the per-client rate limit; see Retry-After (seconds).' }),
  ) as ClassDecorator & MethodDecorator;
}

/** Express request after the API guard: the authenticated caller. */
export interface AuthenticatedRequest {
  caller?: Caller;
}

/**
 * The authenticated Caller of the request (set by ApiGuard). Only on routes with @Roles; on a
 * public route it is undefined.
 */
export const CurrentCaller = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller | undefined => {
  return ctx.switchToHttp().getRequest<AuthenticatedRequest>().caller;
});
