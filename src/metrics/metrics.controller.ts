import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { ApiErrorResponse } from '../common/openapi';
import { Metrics } from './metrics';
import { MetricsCollector } from './metrics.collector';

/** Content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * GET /metrics (no /api/v1 prefix, like /health): the Prometheus text format for operators (a bearer
 * token with the Operator role: Prometheus' `oauth2` client-credentials scrape config). With
 * METRICS_PORT set, the same text is also served without auth on that port (private network).
 */
@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    private readonly collector: MetricsCollector,
  ) {}

  @Get()
  @Roles(Role.Operator)
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics: pools, sessions, starts, remote calls, reconcile passes, leads, incidents (operators)', description: 'Names and labels: docs/operations.md "Metrics".' })
  @ApiResponse({ status: 200, description: 'Prometheus text exposition format 0.0.4.', content: { [PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string', example: '# HELP testdrive_pool_hot_target Hot instances to keep ready, by offer and region.\n# TYPE testdrive_pool_hot_target gauge\ntestdrive_pool_hot_target{offer="contoso-crm",region="westeurope"} 2\n' } } } })
  @ApiErrorResponse(401, 'Unauthorized: no or invalid bearer token.')
  @ApiErrorResponse(403, 'Forbidden: the token lacks the Operator role.')
  async scrape(): Promise<string> {
    return scrapeText(this.metrics, this.collector);
  }
}

/** Refreshes the database gauges and renders the registry (both listeners). */
export async function scrapeText(metrics: Metrics, collector: MetricsCollector): Promise<string> {
  await collector.refresh();
  return metrics.registry.metrics();
}
