import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OfferEntity } from '../offers/offer.entity';
import { AuditModule } from '../audit/audit.module';
import { AzureModule } from '../azure/azure.module';
import { OffersRepository } from '../offers/offers.repository';
import { LeadSender } from './lead-sender';
import { LeadsController } from './leads.controller';
import { LeadsRepository } from './leads.repository';
import { LeadsService } from './leads.service';

/** Lead management (issue 10): capture (with the session), the delivery outbox, the publisher API. */
@Module({
  imports: [AuditModule, AzureModule, TypeOrmModule.forFeature([OfferEntity])],
  controllers: [LeadsController],
  providers: [LeadsRepository, LeadsService, LeadSender, OffersRepository],
  exports: [LeadsRepository, LeadsService],
})
export class LeadsModule {}
