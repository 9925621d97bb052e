import { Module } from '@nestjs/common';
import { AzureModule } from '../azure/azure.module';
import { SessionsModule } from '../sessions/sessions.module';
import { CallbacksController } from './callbacks.controller';
import { CallbacksService } from './callbacks.service';

/** Marketplace callbacks (issue 12): PUT/GET/DELETE /api/v1/notifications and the event outbox. */
@Module({ imports: [AzureModule, SessionsModule], controllers: [CallbacksController], providers: [CallbacksService], exports: [CallbacksService] })
export class CallbacksModule {}
