import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AzureModule } from '../azure/azure.module';
import { OffersPersistenceModule } from '../offers/offers-persistence.module';
import { LeadSender } from './lead-sender';
import { LeadsController } from './leads.controller';
import { LeadsRepository } from './leads.repository';
import { LeadsService } from './leads.service';

/** Lead management (issue 10): capture (with the session), the delivery outbox, the publisher API. */
@Module({
  imports: [AuditModule, AzureModule, OffersPersistenceModule],
  controllers: [LeadsController],
  providers: [LeadsRepository, LeadsService, LeadSender],
  exports: [LeadsRepository, LeadsService],
})
export class LeadsModule {}
