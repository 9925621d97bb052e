import { Module } from '@nestjs/common';
import { LeadsModule } from '../leads/leads.module';
import { OffersModule } from '../offers/offers.module';
import { CapacityController } from './capacity.controller';

/** GET /capacity across every offer and type. */
@Module({ imports: [OffersModule, LeadsModule], controllers: [CapacityController] })
export class CapacityModule {}
