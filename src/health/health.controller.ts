import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { z } from 'zod';
import { Public } from '../auth/decorators';
import { apiComponent, ApiErrorResponse, ApiZodResponse } from '../common/openapi';

/** What one indicator reports (terminus: `{ status: 'up' | 'down', ...details }`). */
const indicatorsSchema = z.record(z.string(), z.looseObject({ status: z.string() }));

/** Body of GET /health (terminus HealthCheckResult). */
export const healthCheckResultSchema = apiComponent(
  'HealthCheckResult',
  z
    .object({
      status: z.enum(['ok', 'error', 'shutting_down']),
      info: indicatorsSchema.optional().meta({ description: 'Indicators that are up.' }),
      error: indicatorsSchema.optional().meta({ description: 'Indicators that are down.' }),
      details: indicatorsSchema.meta({ description: 'Every indicator.' }),
    })
    .meta({ description: 'Readiness: each indicator (database).', example: { status: 'ok', info: { database: { status: 'up' } }, error: {}, details: { database: { status: 'up' } } } }),
);

/** Body of GET /health/live. */
export const healthLiveSchema = apiComponent('HealthLive', z.object({ status: z.literal('ok') }).meta({ description: 'The process answers.', example: { status: 'ok' } }));

/** Liveness (/health/live) and readiness with a database check (/health). Public, outside /api/v1. */
@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
  ) {}

  @Get()
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness (database reachable)' })
  @ApiZodResponse(200, healthCheckResultSchema, 'Ready.')
  @ApiErrorResponse(503, 'Not ready (the database does not answer): the error filter turns the check result into the error body (code Http503).')
  check() {
    return this.health.check([() => this.db.pingCheck('database', { timeout: 3000 })]);
  }

  @Get('live')
  @ApiOperation({ summary: 'Liveness' })
  @ApiZodResponse(200, healthLiveSchema, 'Alive.')
  live() {
    return { status: 'ok' };
  }
}
