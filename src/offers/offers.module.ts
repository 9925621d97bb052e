import { Module } from '@nestjs/common';
import { LeadsModule } from '../leads/leads.module';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfferEntity } from './offer.entity';
import { SessionEntity } from '../sessions/session.entity';
import { OffersPersistenceModule } from './offers-persistence.module';
import { OffersService } from './offers.service';
import { OffersController } from './offers.controller';
import { OfferCredentials } from './offer-credentials';

/**
 * Publisher API for offers. Exports OffersRepository (persistence), OffersService and OfferCredentials
 * (publishers' app registration credentials from Key Vault). Needs the global TestDrivesModule,
 * AzureModule (SecretStore) and CoreModule.
 */
@Module({
  imports: [LeadsModule, OffersPersistenceModule, TypeOrmModule.forFeature([OfferEntity, SessionEntity])],
  controllers: [OffersController],
  providers: [OffersService, OfferCredentials],
  exports: [OffersPersistenceModule, OffersService, OfferCredentials],
})
export class OffersModule {}
