/**
 * The test drive type modules this service runs (the composition root: the one place of product code,
 * with modules/entities.ts, that imports modules; the lint's boundary rules keep the core out of them).
 * Adding a type = adding its module folder, one line here, its entities in modules/entities.ts, and the
 * routes that take a raw (non-JSON) body, if any, below.
 */
import type { RawBodyRoute } from '../src/common/body-policy';
import { AzureResourceManagerModule } from './azure-resource-manager/azure-resource-manager.module';
import { Dynamics365Module } from './dynamics-365/dynamics-365.module';
import { LogicAppModule } from './logic-app/logic-app.module';
import { PowerBiModule } from './power-bi/power-bi.module';
import { PACKAGE_UPLOAD_ROUTE } from './azure-resource-manager/packages/package-limits';

export const TEST_DRIVE_MODULES = [AzureResourceManagerModule, Dynamics365Module, LogicAppModule, PowerBiModule];

/** Routes of the modules whose body is raw bytes (the core's body policy refuses every other non-JSON body). */
export const TEST_DRIVE_RAW_BODY_ROUTES: RawBodyRoute[] = [PACKAGE_UPLOAD_ROUTE];
