import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LoggerModule } from 'nestjs-pino';
import { CoreModule, AppOptions } from './core.module';
import { pinoParams } from './common/logging';
import { TestDrivesModule } from './test-drives/test-drives.module';
import { TEST_DRIVE_MODULES } from '../modules';
import { OffersModule } from './offers/offers.module';
import { AzureModule } from './azure/azure.module';
import { SessionsModule } from './sessions/sessions.module';
import { SchedulingModule } from './scheduling/scheduling.module';
import { HealthModule } from './health/health.module';
import { CapacityModule } from './capacity/capacity.module';
import { AuthModule } from './auth/auth.module';
import { AuditModule } from './audit/audit.module';
import { MetricsModule } from './metrics/metrics.module';
import { MetricsHttpModule } from './metrics/metrics-http.module';
import { EscalationModule } from './escalation/escalation.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { CallbacksModule } from './callbacks/callbacks.module';

/**
 * Root module: core providers, authentication (global ApiGuard: Entra ID tokens, app roles, per-client
 * rate limit), the audit trail, features, and the test drive type modules listed in modules/index.ts.
 */
@Module({})
export class AppModule {
  static forRoot(opts: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(pinoParams(opts.config, opts.logStream)),
        CoreModule.forRoot(opts),
        MetricsModule,
        AuthModule.forRoot(opts.config),
        AuditModule,
        AzureModule,
        ScheduleModule.forRoot(),
        TestDrivesModule,
        OffersModule,
        SessionsModule,
        SchedulingModule,
        HealthModule,
        CapacityModule,
        EscalationModule,
        MetricsHttpModule,
        DashboardModule,
        CallbacksModule,
        ...TEST_DRIVE_MODULES,
      ],
    };
  }
}
