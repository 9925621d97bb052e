import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig, APP_CONFIG } from './config/app-config';
import { Clock, SystemClock } from './common/clock';
import { AzureRuntime } from './azure/azure-runtime';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './persistence/data-source';
import { withMigrationLock } from './persistence/migration-lock';
import { Database } from './persistence/database';

/** What the process resolved before Nest starts: settings, Azure endpoints, and the clock. */
export interface AppOptions {
  config: AppConfig;
  azure: AzureRuntime;
  /** Injected clock; defaults to the system clock. Tests pass a ManualClock. */
  clock?: Clock;
  /** Where logs go (default stdout). Tests capture them to check that no secret is ever logged. */
  logStream?: NodeJS.WritableStream;
}

/**
 * Global providers every feature uses: APP_CONFIG (AppConfig), AzureRuntime, Clock, and the TypeORM
 * connection (migrations applied at start, never synchronize).
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(opts: AppOptions): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        // Migrations run under the PostgreSQL migration lock (replicas starting together take turns).
        TypeOrmModule.forRootAsync({
          useFactory: () => dataSourceOptions(opts.config.database),
          dataSourceFactory: (options) => withMigrationLock(opts.config.database, () => new DataSource(options!).initialize()),
        }),
      ],
      providers: [
        { provide: APP_CONFIG, useValue: opts.config },
        { provide: AzureRuntime, useValue: opts.azure },
        { provide: Clock, useValue: opts.clock ?? new SystemClock() },
        Database,
      ],
      exports: [APP_CONFIG, AzureRuntime, Clock, TypeOrmModule, Database],
    };
  }
}
