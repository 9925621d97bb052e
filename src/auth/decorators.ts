import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiResponse, DECORATORS } from '@nestjs/swagger';
import type { HeadersObject } from '@nestjs/swagger';
import { ErrorBodySchema, RETRY_AFTER_HEADER, schemaRef } from '../common/openapi';
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
 * and the answers of the guard in OpenAPI (401, 403, 429, 503, with the error body), unless the route
 * documents that status itself.
 */
export function Roles(...roles: Role[]): ClassDecorator & MethodDecorator {
  return applyDecorators(
    SetMetadata(ROLES_KEY, roles),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension('x-required-roles', roles),
    guardResponse(401, 'AuthenticationRequired, InvalidToken or TokenExpired: no token, or an invalid one (WWW-Authenticate: Bearer, error names the reason).', {
      'WWW-Authenticate': { description: 'Bearer realm="<audience>", authorization_uri="…" (RFC 6750; error="invalid_token" when a token was sent).', schema: { type: 'string' } },
    }),
    guardResponse(403, `Forbidden: the token holds none of the app roles ${roles.join(', ')} (or the role is not honoured from its tenant / client).`),
    guardResponse(429, 'TooManyRequests: the per-client rate limit; see Retry-After (seconds).', RETRY_AFTER_HEADER),
    guardResponse(503, 'AuthenticationUnavailable: tokens cannot be validated right now (the identity provider is unreachable); DependencyUnavailable: an Azure service this request needs is unavailable. Retry after Retry-After seconds.', RETRY_AFTER_HEADER),
  );
}

/**
 * An answer of the guard, with the error body. A route's own documentation of the status wins: @Roles
 * sits above a route's response decorators, so it runs after them and sees what they documented.
 */
function guardResponse(status: number, description: string, headers?: HeadersObject): MethodDecorator & ClassDecorator {
  const add = ApiResponse({ status, description, schema: schemaRef(ErrorBodySchema), ...(headers ? { headers } : {}) });
  return ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    const holder = (descriptor ? descriptor.value : target) as object;
    const documented = Reflect.getMetadata(DECORATORS.API_RESPONSE, holder) as Record<string, unknown> | undefined;
    if (documented?.[status]) return descriptor ?? target;
    return (add as (t: object, k?: string | symbol, d?: PropertyDescriptor) => unknown)(target, key, descriptor);
  }) as MethodDecorator & ClassDecorator;
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
