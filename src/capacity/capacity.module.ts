import { Module } from '@nestjs/common';
import { LeadsModule } from '../leads/leads.module';
import { OffersModule } from '../offers/offers.module';
import { SessionsModule } from '../sessions/sessions.module';
import { CapacityController } from './capacity.controller';
import { CapacityService } from './capacity.service';

/** GET /capacity across every offer and type. */
@Module({ imports: [OffersModule, LeadsModule, SessionsModule], controllers: [CapacityController], providers: [CapacityService], exports: [CapacityService] })
export class CapacityModule {}
