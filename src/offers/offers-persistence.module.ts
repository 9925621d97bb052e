import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfferEntity } from './offer.entity';
import { OffersRepository } from './offers.repository';

/**
 * OffersRepository alone, for the modules that need offers' rows (OffersModule, LeadsModule) without
 * importing each other. One instance per application: its cache of offers for session starts is dropped
 * by every write through it, whichever module writes.
 */
@Module({
  imports: [TypeOrmModule.forFeature([OfferEntity])],
  providers: [OffersRepository],
  exports: [OffersRepository],
})
export class OffersPersistenceModule {}
