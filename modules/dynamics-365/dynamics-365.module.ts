import { Module } from '@nestjs/common';
import { OffersModule } from '../../src/offers/offers.module';
import { SessionsModule } from '../../src/sessions/sessions.module';
import { DynamicsClients } from './clients/dynamics-clients';
import { DynamicsHealthChecker } from './dynamics-health';
import { DYNAMICS_SETTINGS, loadDynamicsSettings } from './dynamics-settings';
import { DynamicsTestDriveType } from './dynamics-test-drive.type';
import { LicenseLedger } from './licenses';
import { DynamicsSessionDriver } from './provisioning/session-driver';

/**
 * Hosted Dynamics 365 test drives (Customer Engagement, Business Central, Operations): temporary users
 * in the publisher's tenant, license-bounded concurrency, security roles. docs/dynamics-365.md.
 * - clients/: Graph (Graph client), Dataverse, F&O and BC (OData over src/remote/http.ts) — the only remote plumbing;
 * - provisioning/: the resumable per-session step machine;
 * - licenses.ts: slot claims bounded by licenses; dynamics-health.ts: publish preflight / health check.
 * Settings: DYNAMICS_* environment variables (dynamics-settings.ts), validated when the module starts.
 */
@Module({
  imports: [OffersModule, SessionsModule],
  providers: [
    { provide: DYNAMICS_SETTINGS, useFactory: () => loadDynamicsSettings(process.env) },
    DynamicsClients,
    LicenseLedger,
    DynamicsHealthChecker,
    DynamicsSessionDriver,
    DynamicsTestDriveType,
  ],
})
export class Dynamics365Module {}
