import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module';
import { LeadsModule } from '../leads/leads.module';
import { AzureModule } from '../azure/azure.module';
import { OffersModule } from '../offers/offers.module';
import { EscalationService } from './escalation.service';
import { IncidentsController } from './incidents.controller';
import { IncidentsRepository } from './incidents.repository';

/** Escalation (issue 11): incidents, their e-mails and webhooks, GET /incidents. */
@Module({
  imports: [CapacityModule, LeadsModule, AzureModule, OffersModule],
  controllers: [IncidentsController],
  providers: [IncidentsRepository, EscalationService],
  exports: [IncidentsRepository, EscalationService],
})
export class EscalationModule {}
