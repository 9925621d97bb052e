import { Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';

/** The Prometheus registry and instruments (Metrics), global so any feature can count what it does. */
@Global()
@Module({ providers: [Metrics], exports: [Metrics] })
export class MetricsModule {}
