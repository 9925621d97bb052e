/**
 * The test drive type modules this service runs, and what each contributes to persistence.
 * Adding a type = adding its module folder, one line here, and its entities in modules/entities.ts.
 */
import { AzureResourceManagerModule } from './azure-resource-manager/azure-resource-manager.module';
import { Dynamics365Module } from './dynamics-365/dynamics-365.module';
import { LogicAppModule } from './logic-app/logic-app.module';
import { PowerBiModule } from './power-bi/power-bi.module';

export const TEST_DRIVE_MODULES = [AzureResourceManagerModule, Dynamics365Module, LogicAppModule, PowerBiModule];

