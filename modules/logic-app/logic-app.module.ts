import { Module } from '@nestjs/common';
import { OffersModule } from '../../src/offers/offers.module';
import { SessionsModule } from '../../src/sessions/sessions.module';
import { LogicAppGateway } from './logic-app.gateway';
import { LOGIC_APP_SETTINGS, loadLogicAppSettings } from './logic-app-settings';
import { LogicAppTestDriveType } from './logic-app-test-drive.type';
import { LogicAppSessionDriver } from './provisioning/session-driver';

/**
 * Logic app test drives: the publisher's provisioning / deprovisioning Logic Apps (already deployed)
 * called through their Request triggers' callback URLs (contract: docs/logic-app-contract.md).
 * - logic-app-config.ts: validation of the offer's settings;
 * - contract.ts: payloads and output mapping; logic-app.gateway.ts: @azure/arm-logic + callback HTTPS;
 * - provisioning/: the resumable per-session step machine;
 * - logic-app-test-drive.type.ts: the TestDriveType (slots, preflight, reconcile, capacity).
 * Settings: LOGIC_APP_* environment variables (logic-app-settings.ts), validated when the module starts.
 */
@Module({
  imports: [OffersModule, SessionsModule],
  providers: [{ provide: LOGIC_APP_SETTINGS, useFactory: () => loadLogicAppSettings(process.env) }, LogicAppGateway, LogicAppSessionDriver, LogicAppTestDriveType],
})
export class LogicAppModule {}
