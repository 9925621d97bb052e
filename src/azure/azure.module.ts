import { Global, Module } from '@nestjs/common';
import { SecretStore } from './secret-store';
import { DataProtector } from './data-protector';

/** Key Vault access for every feature: SecretStore (secrets by name/version) and DataProtector (encryption at rest). */
@Global()
@Module({ providers: [SecretStore, DataProtector], exports: [SecretStore, DataProtector] })
export class AzureModule {}
