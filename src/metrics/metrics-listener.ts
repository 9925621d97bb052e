import * as http from 'node:http';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { Metrics } from './metrics';
import { MetricsCollector } from './metrics.collector';
import { PROMETHEUS_CONTENT_TYPE, scrapeText } from './metrics.controller';

/**
 * With METRICS_PORT set: a second, plain-HTTP listener on HOST:METRICS_PORT that answers GET /metrics
 * without auth (for a private network where Prometheus scrapes without tokens); anything else is 404.
 * The port must not be reachable from the internet (docs/operations.md "Metrics").
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('MetricsListener');
  private server: http.Server | null = null;

  constructor(
    private readonly metrics: Metrics,
    private readonly collector: MetricsCollector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The bound port (tests use METRICS_PORT 0 … not allowed by config; they read this). */
  get port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.metricsPort === undefined) return;
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: GET /metrics\n');
        return;
      }
      scrapeText(this.metrics, this.collector).then(
        (text) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(text),
        (err: Error) => {
          this.logger.warn(`metrics scrape failed: ${err.message}`);
          res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.metricsPort, this.config.host, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics without auth on http://${this.config.host}:${this.port}/metrics (METRICS_PORT)`);
  }

  async onApplicationShutdown(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
