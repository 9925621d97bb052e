import { Module } from '@nestjs/common';
import { OffersModule } from '../offers/offers.module';
import { LeadsModule } from '../leads/leads.module';
import { SessionsController } from './sessions.controller';
import { SessionsRepository } from './sessions.repository';
import { SessionsService } from './sessions.service';
import { StartRequestsRepository } from './start-requests.repository';
import { QueueService } from './queue.service';
import { Estimates } from './estimates';
import { DemandRepository } from './demand.repository';

/** Sessions of every type: marketplace API, lifecycle and expiry. */
@Module({
  imports: [OffersModule, LeadsModule],
  controllers: [SessionsController],
  providers: [SessionsRepository, SessionsService, StartRequestsRepository, QueueService, Estimates, DemandRepository],
  exports: [SessionsRepository, SessionsService, StartRequestsRepository, QueueService, Estimates, DemandRepository],
})
export class SessionsModule {}
