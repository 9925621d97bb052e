import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ArmGateway } from './arm-gateway';
import { ArmWriteBudget } from './provisioning/write-budget';
import { OffersModule } from '../../src/offers/offers.module';
import { PoolsModule } from './pools/pools.module';
import { SessionsModule } from '../../src/sessions/sessions.module';
import { ArmTestDriveType } from './arm-test-drive.type';
import { PackageRevisionEntity } from './packages/package-revision.entity';
import { PackagesController } from './packages/packages.controller';
import { PackageService } from './packages/package.service';
import { PackageStorage } from './packages/package-storage';
import { ArmInstanceDriver } from './provisioning/arm-instance.driver';
import { ArmHealthChecker } from './health/arm-health';

/**
 * Azure Resource Manager test drives: the publisher's ARM template package deployed into a new
 * resource group per instance; hot instances kept deployed per region, cold ones on request.
 * - packages/: upload, validation and storage of template package revisions (blob containers);
 * - provisioning/: the instance driver (resource group + deployment lifecycle);
 * - arm-test-drive.type.ts: the TestDriveType (claims, pools per region, reconcile, capacity).
 */
@Module({
  imports: [OffersModule, PoolsModule, SessionsModule, TypeOrmModule.forFeature([PackageRevisionEntity])],
  controllers: [PackagesController],
  providers: [ArmGateway, ArmWriteBudget, PackageService, PackageStorage, ArmInstanceDriver, ArmHealthChecker, ArmTestDriveType],
  exports: [PackageService, PackageStorage],
})
export class AzureResourceManagerModule {}
