/** Entities owned by test drive type modules (kept apart from modules/index.ts so persistence does not load Nest modules). */
import { PackageRevisionEntity } from './azure-resource-manager/packages/package-revision.entity';
import { PoolInstanceEntity } from './azure-resource-manager/pools/pool-instance.entity';
import { PoolRegionEntity } from './azure-resource-manager/pools/pool-region.entity';

export const TEST_DRIVE_ENTITIES = [PackageRevisionEntity, PoolInstanceEntity, PoolRegionEntity];
