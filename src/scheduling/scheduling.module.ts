import { MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { EscalationModule } from '../escalation/escalation.module';
import { MetricsHttpModule } from '../metrics/metrics-http.module';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { LeaseService } from './lease.service';
import { ReconcileService } from './reconcile.service';
import { ChangeMarkMiddleware, ChangeWatch } from './change-watch';

/** The reconcile loop and the lease that keeps it to one replica. */
@Module({ imports: [SessionsModule, EscalationModule, MetricsHttpModule, CallbacksModule], providers: [LeaseService, ReconcileService, ChangeWatch], exports: [ReconcileService, LeaseService] })
export class SchedulingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    // path-to-regexp v8 syntax (Nest 11): '*' made a LegacyRouteConverter warning on every start.
    consumer.apply(ChangeMarkMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
