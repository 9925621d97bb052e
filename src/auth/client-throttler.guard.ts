import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthenticatedRequest } from './decorators';

/**
 * Per-client rate limit (@nestjs/throttler, one bucket per client across every route): the key is
 * the caller's tenant + client id once authenticated, else the client IP. Above the limit: 429
 * TooManyRequests with Retry-After (seconds). Invoked by ApiGuard between authentication and
 * authorization (so unauthenticated floods are limited per IP), never registered as a guard itself.
 */
@Injectable()
export class ClientThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const caller = (req as AuthenticatedRequest).caller;
    if (caller) return `client:${caller.id}`;
    return `ip:${String((req as { ip?: string }).ip ?? 'unknown')}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }
}
