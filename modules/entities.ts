/** Entities owned by test drive type modules (kept apart from modules/index.ts so persistence does not load Nest modules). */
import { PackageRevisionEntity } from './azure-resource-manager/packages/package-revision.entity';

export const TEST_DRIVE_ENTITIES = [PackageRevisionEntity];
