import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { DataProtector } from '../../src/azure/data-protector';
import { ApiError, ErrorDetail } from '../../src/common/api-error';
import { Clock } from '../../src/common/clock';
import { AppConfig, APP_CONFIG } from '../../src/config/app-config';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OfferChangedError, OffersRepository } from '../../src/offers/offers.repository';
import { Database, sql, TxBody } from '../../src/persistence/database';
import { SessionEntity } from '../../src/sessions/session.entity';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { z } from 'zod';
import { CapacityRow, SessionCommit, StartSessionRequest, TestDriveSchemas, TestDriveType, ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { POWER_BI_TEST_DRIVE_TYPE, powerBiConfigOf, powerBiTestDriveSchema, validatePowerBiConfig } from './power-bi-config';

/** What a Power BI test drive validates and adds to responses (TestDriveSchemas; the API description). No deployment section. */
export const POWER_BI_SCHEMAS: TestDriveSchemas = {
  testDrive: powerBiTestDriveSchema,
  capacityRow: { unlimited: z.boolean().meta({ description: 'Power BI: sessions are not limited (limit is 0 and means nothing).' }) },
};

/**
 * Power BI test drives (TestDriveType): nothing is provisioned; the customer gets the publisher's
 * embedded Power BI link (test drive rules: "an embedded link to a dashboard"). A session is `ready`
 * at once with output `embedUrl` (rendered into the access information), has no capacity limit (no
 * slot), ends by expiry or early end like the others, and is a lead like the others (the core records
 * the customer on every session).
 */
@Injectable()
export class PowerBiTestDriveType implements TestDriveType, OnModuleInit {
  readonly type = POWER_BI_TEST_DRIVE_TYPE;
  readonly schemas = POWER_BI_SCHEMAS;
  /**
   * The session is written `ready` at once, with its lead and audit event (SessionCommit): issue 14, one
   * autocommitted statement on PostgreSQL instead of an insert, an update, an audit insert and a re-read.
   */
  readonly claimsAtomically = true;

  constructor(
    private readonly registry: TestDriveTypeRegistry,
    private readonly offers: OffersRepository,
    private readonly sessions: SessionsRepository,
    private readonly protector: DataProtector,
    private readonly db: Database,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  validateConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
    return validatePowerBiConfig(testDrive, deployment);
  }

  /** Nothing to check remotely (the link is public to the customer's browser, not to us). */
  async publishPreflight(_offer: OfferEntity): Promise<ErrorDetail[]> {
    void _offer;
    return [];
  }

  /**
   * Ready at once: outputs `{embedUrl}` (encrypted at rest like every output), no slot, no region. Nothing is
   * claimed: on PostgreSQL the "claim" of SessionCommit.claimAndPersist is the offer's version guard alone
   * (the session is written only for the offer version the start was decided on, in one statement); on
   * SQLite the session is written in one transaction (SessionCommit.persist).
   * @throws ApiError 400 RegionNotOffered when a region is requested (a Power BI link has none).
   * @throws OfferChangedError when the offer changed since the start was decided (nothing was written).
   */
  async startSession(offer: OfferEntity, session: SessionEntity, request: StartSessionRequest, commit: SessionCommit): Promise<void> {
    if (request.region) {
      throw ApiError.validation([{ code: 'RegionNotOffered', target: 'region', message: 'A Power BI test drive has no region: leave region out.' }]);
    }
    const cfg = powerBiConfigOf(offer.testDrive);
    const now = this.clock.now();
    const ready: Partial<SessionEntity> = {
      state: 'ready',
      region: null,
      outputsEnc: await this.protector.encrypt({ embedUrl: cfg.embedUrl }),
      readyAt: now,
      expiresAt: now + session.durationHours * this.config.testDriveHourSeconds * 1000,
    };
    if (commit.claimAndPersist) {
      const claimed = await commit.claimAndPersist((guard) => sql(`SELECT 1 AS "id" WHERE ${guard.sql}`, guard.params), ready, {});
      if (!claimed) throw new OfferChangedError(offer.id);
      return;
    }
    await this.db.atomic(function* (): TxBody<void> {
      yield* commit.persist(ready);
    });
  }

  /** Nothing to tear down: the session is ended at once. */
  async endSession(session: SessionEntity): Promise<void> {
    await this.sessions.markEnded(session.id, this.clock.now());
  }

  /** Ends Power BI sessions left `ending` (e.g. the process stopped between the two updates). */
  async reconcile(now: number): Promise<void> {
    for (const s of await this.sessions.listByStates(['ending'])) {
      if (s.type === POWER_BI_TEST_DRIVE_TYPE) await this.sessions.markEnded(s.id, now);
    }
  }

  /**
   * One row: `{region: null, limit: 0, unlimited: true, assigned: ready sessions}` — Power BI sessions
   * have no capacity limit (`limit` 0 with `unlimited` true means "no limit", not "no capacity").
   */
  async capacity(offer: OfferEntity): Promise<CapacityRow[]> {
    const assigned = await this.sessions.countInStates(offer.id, ['ready']);
    return [{ region: null, hotTarget: 0, hotReady: 0, deploying: 0, assigned, failed: 0, limit: 0, unlimited: true }];
  }
}
