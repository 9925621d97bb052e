import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { DatabaseSettings } from '../config/app-config';
import { withMigrationLock } from './migration-lock';
import { OfferEntity } from '../offers/offer.entity';
import { TEST_DRIVE_ENTITIES } from '../../modules/entities';
import { AlertNotificationEntity, IncidentEntity } from '../escalation/incident.entity';
import { CallbackEventEntity, CallbackSubscriptionEntity } from '../callbacks/callback.entity';
import { SessionEntity } from '../sessions/session.entity';
import { SchedulerLeaseEntity } from '../scheduling/scheduler-lease.entity';
import { InitialSchema1795000000000 } from './migrations/1795000000000-initial-schema';
import { SessionProgress1795000000001 } from './migrations/1795000000001-session-progress';
import { Audit1795000000100 } from './migrations/1795000000100-audit';
import { OfferHealth1795000000200 } from './migrations/1795000000200-offer-health';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { StartRequestEntity } from '../sessions/start-request.entity';
import { LeadEntity } from '../leads/lead.entity';
import { Leads1795000000400 } from './migrations/1795000000400-leads';
import { Escalation1795000000500 } from './migrations/1795000000500-escalation';
import { QueueAndCallbacks1795000000600 } from './migrations/1795000000600-queue-and-callbacks';
import { WarmInstances1795000000700 } from './migrations/1795000000700-warm-instances';
import { DueWork1795000000800 } from './migrations/1795000000800-due-work';
import { DemandHistory1795000000900 } from './migrations/1795000000900-demand-history';
import { ChangeWatch1795000001000 } from './migrations/1795000001000-change-watch';
import { ClaimIndex1795000001100 } from './migrations/1795000001100-claim-index';
import { DeploymentSubmitted1795000001200 } from './migrations/1795000001200-deployment-submitted';
import { CallbackSecretRotation1795000001300 } from './migrations/1795000001300-callback-secret-rotation';
import { DeprovisioningFailed1795000001400 } from './migrations/1795000001400-deprovisioning-failed';
import { CustomerShared1795000001500 } from './migrations/1795000001500-customer-shared';
import { StartRequests1795000000300 } from './migrations/1795000000300-start-requests';

/** Every entity: the core's, and the test drive type modules' (registered in modules/entities.ts). */
export const ENTITIES = [OfferEntity, ...TEST_DRIVE_ENTITIES, SessionEntity, SchedulerLeaseEntity, AuditEventEntity, StartRequestEntity, LeadEntity, IncidentEntity, AlertNotificationEntity, CallbackSubscriptionEntity, CallbackEventEntity];

/** Every migration, in order. The schema only ever changes through these (no synchronize). */
export const MIGRATIONS = [InitialSchema1795000000000, SessionProgress1795000000001, Audit1795000000100, OfferHealth1795000000200, StartRequests1795000000300, Leads1795000000400, Escalation1795000000500, QueueAndCallbacks1795000000600, WarmInstances1795000000700, DueWork1795000000800, DemandHistory1795000000900, ChangeWatch1795000001000, ClaimIndex1795000001100, DeploymentSubmitted1795000001200, CallbackSecretRotation1795000001300, DeprovisioningFailed1795000001400, CustomerShared1795000001500];

/**
 * TypeORM options for SQLite (better-sqlite3, WAL with synchronous=FULL, busy timeout) or PostgreSQL, with migrations run at
 * start. Same entities and migrations on both.
 */
export function dataSourceOptions(db: DatabaseSettings): DataSourceOptions {
  if (db.kind === 'sqlite') {
    if (db.file !== ':memory:') fs.mkdirSync(path.dirname(db.file), { recursive: true });
    return {
      type: 'better-sqlite3',
      database: db.file,
      entities: ENTITIES,
      migrations: MIGRATIONS,
      migrationsRun: true,
      synchronize: false,
      enableWAL: db.file !== ':memory:',
      prepareDatabase: (conn: { pragma: (s: string) => unknown }) => {
        // Before TypeORM switches to WAL: every COMMIT fsyncs, so what the service answered survives a power
        // loss. Left unset, better-sqlite3's build (SQLITE_DEFAULT_WAL_SYNCHRONOUS=1) commits WAL without an
        // fsync (NORMAL), and a claimed instance could come back ready after a crash of the machine.
        conn.pragma('synchronous = FULL');
        conn.pragma('busy_timeout = 10000');
        conn.pragma('foreign_keys = ON');
      },
      logging: false,
    };
  }
  return {
    type: 'postgres',
    url: db.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    synchronize: false,
    extra: { max: 10 },
    logging: false,
  };
}

/**
 * A DataSource, initialised (migrations applied). On PostgreSQL the migration run happens under the
 * migration advisory lock (withMigrationLock), so replicas starting together on one database take turns.
 */
export async function openDataSource(db: DatabaseSettings): Promise<DataSource> {
  return withMigrationLock(db, async () => {
    const ds = new DataSource(dataSourceOptions(db));
    await ds.initialize();
    return ds;
  });
}

/** True when `err` is a unique-constraint violation (SQLite or PostgreSQL). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string }; message?: string };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(e?.message ?? '');
}
