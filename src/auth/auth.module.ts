import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { ApiGuard } from './api.guard';
import { ClientThrottlerGuard } from './client-throttler.guard';
import { TokenVerifier } from './token-verifier';

/**
 * Authentication (Entra ID access tokens), authorization (app roles) and the per-client rate limit,
 * as one global guard (ApiGuard). RATE_LIMIT_PER_MINUTE requests per 60 s window per client.
 */
@Module({})
export class AuthModule {
  static forRoot(config: AppConfig): DynamicModule {
    const limit = Math.max(1, config.rateLimitPerMinute);
    return {
      module: AuthModule,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'default', ttl: 60_000, limit }],
          errorMessage: `Too many requests: at most ${limit} per minute per client. Retry after the number of seconds in Retry-After.`,
        }),
      ],
      providers: [TokenVerifier, ClientThrottlerGuard, { provide: APP_GUARD, useClass: ApiGuard }],
      exports: [TokenVerifier],
    };
  }
}
