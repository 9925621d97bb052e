import { Global, Module } from '@nestjs/common';
import { TestDriveTypeRegistry } from './test-drive-type.registry';

/** Holds the registry of test drive types; global so every type module can register itself. */
@Global()
@Module({ providers: [TestDriveTypeRegistry], exports: [TestDriveTypeRegistry] })
export class TestDrivesModule {}
