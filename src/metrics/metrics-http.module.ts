import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module';
import { EscalationModule } from '../escalation/escalation.module';
import { LeadsModule } from '../leads/leads.module';
import { SessionsModule } from '../sessions/sessions.module';
import { MetricsCollector } from './metrics.collector';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';

/** GET /metrics, the optional METRICS_PORT listener, and the collector of database gauges. */
@Module({
  imports: [CapacityModule, SessionsModule, LeadsModule, EscalationModule],
  controllers: [MetricsController],
  providers: [MetricsCollector, MetricsListener],
  exports: [MetricsCollector],
})
export class MetricsHttpModule {}
