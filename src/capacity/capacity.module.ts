import { Module } from '@nestjs/common';
import { OffersModule } from '../offers/offers.module';
import { CapacityController } from './capacity.controller';

/** GET /capacity across every offer and type. */
@Module({ imports: [OffersModule], controllers: [CapacityController] })
export class CapacityModule {}
