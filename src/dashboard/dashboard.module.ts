import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CapacityModule } from '../capacity/capacity.module';
import { EscalationModule } from '../escalation/escalation.module';
import { OffersModule } from '../offers/offers.module';
import { SessionsModule } from '../sessions/sessions.module';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';

/** The signed-in web dashboard at / (issue 11). */
@Module({ imports: [AuditModule, CapacityModule, EscalationModule, OffersModule, SessionsModule], controllers: [DashboardController], providers: [DashboardService] })
export class DashboardModule {}
