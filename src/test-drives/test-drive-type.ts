import { z } from 'zod';
import { ErrorDetail } from '../common/api-error';
import { OfferDeployment, OfferEntity, OfferHealth } from '../offers/offer.entity';
export type { OfferHealth } from '../offers/offer.entity';
import { SessionEntity } from '../sessions/session.entity';
import type { OutboundUrl } from '../security/outbound-url';
import type { Statement, TxBody } from '../persistence/database';

/** What a type's validator returns for the `testDrive` and `deployment` sections of PUT /offers/{id}. */
export interface ValidatedTestDriveConfig {
  /** Normalised type-specific settings, stored as offer.testDrive (never a secret). */
  testDrive: Record<string, unknown>;
  /** Deployment details without the client secret. */
  deployment: OfferDeployment;
  /** Whether this type needs a client secret (all but Power BI). */
  needsClientSecret: boolean;
}

/** One row of GET /capacity for an offer (ARM: one per region). */
export interface CapacityRow {
  region: string | null;
  hotTarget: number;
  hotReady: number;
  deploying: number;
  assigned: number;
  failed: number;
  /** Most sessions this offer/region can hold at once. */
  limit: number;
  [extra: string]: unknown;
}

/**
 * Writes a new session inside a type's claim transaction (see TestDriveType.claimsAtomically): inserts
 * the session row with `patch` applied (state, region, instance, outputs, times) and completes the
 * Idempotency-Key record of the request, so the claim, the session and the answer a retry gets are
 * one atomic fact. Use inside Database.atomic(): `yield* commit.persist({...})`.
 */
export interface SessionCommit {
  persist(patch: Partial<SessionEntity>): TxBody<void>;
  /**
   * PostgreSQL only; undefined on SQLite, where a transaction costs no round trips (use persist). Issue 14:
   * the type's claim and the start's writes (session, lead, Idempotency-Key record, audit event) as ONE
   * autocommitted statement (afterClaim): no BEGIN/COMMIT round trips, no row lock held between round trips.
   * `claim(guard)` gives the type's claim: one UPDATE … RETURNING of at most one row, with `guard` (a boolean
   * SQL expression with its parameters: the offer is still the version the start was decided on) ANDed
   * into its WHERE. The session is written with `patch`, and with the columns of `fromClaim` (session column
   * → column the claim returns) taken from the claimed row, only when a row was claimed.
   * @returns the claimed row; null when nothing was claimed (nothing was written).
   * @throws OfferChangedError when the offer changed (nothing was written).
   */
  claimAndPersist?(
    claim: (guard: Statement) => Statement,
    patch: Partial<SessionEntity>,
    fromClaim: Partial<Record<keyof SessionEntity, string>>,
  ): Promise<Record<string, unknown> | null>;
}

/** A customer's request to start a test drive (POST /offers/{id}/sessions body, validated). */
export interface StartSessionRequest {
  region?: string;
}

/**
 * The zod schemas a type validates its PUT /offers/{id} sections with (the very instances validateConfig
 * parses with, not copies), and the shapes of the fields it adds to responses. The core builds the API
 * description from them (issue 9): the PUT body is a union over the registered types discriminated by
 * `testDrive.type`, the offer view's `testDrive` likewise (src/offers/offer.dto.ts, offerApiComponents).
 * Field descriptions and examples are zod metadata (`.meta({ description, example })`) on these schemas;
 * an example at the top of `testDrive` / `deployment` becomes the type's example body.
 */
export interface TestDriveSchemas {
  /** The `testDrive` section: an object whose `type` is the literal wire name of the type. */
  readonly testDrive: z.ZodObject;
  /** The `deployment` section; absent when the type takes none (a non-empty one is refused). */
  readonly deployment?: z.ZodType;
  /** Fields the type adds to the offer view (offerViewExtras), e.g. ARM's `packageRevision`. */
  readonly offerView?: Record<string, z.ZodType>;
  /** Fields the type adds to its capacity rows, beyond CapacityRow's. */
  readonly capacityRow?: Record<string, z.ZodType>;
}

/**
 * Capacity fields of a type whose sessions hold slots bounded by `maxConcurrent` (Dynamics 365, Logic
 * app): a module spreads them into its `capacityRow` so both describe them the same way.
 */
export const SLOT_CAPACITY_FIELDS: Record<string, z.ZodType> = {
  ending: z.number().int().meta({ description: 'Dynamics 365, Logic app: sessions being ended.' }),
  inUse: z.number().int().meta({ description: 'Dynamics 365, Logic app: session slots held.' }),
  maxConcurrent: z.number().int().meta({ description: 'Dynamics 365, Logic app: the configured maxConcurrent.' }),
};

/**
 * The one interface between the core (offers, sessions, scheduling) and a test drive type module
 * (modules/<type>/). A module implements it and registers itself with TestDriveTypeRegistry; the core
 * never imports a module's internals.
 *
 * Errors: methods throw ApiError for anything the caller should see (400 validation, 409 NoCapacity...).
 */
export interface TestDriveType {
  /** Wire name of the type, e.g. "azure-resource-manager" (PUT /offers body testDrive.type). */
  readonly type: string;

  /** Optional: the zod schemas validateConfig uses, for the API description (see TestDriveSchemas). */
  readonly schemas?: TestDriveSchemas;

  /**
   * Validates the type-specific `testDrive` and `deployment` sections. Field paths in errors are full
   * JSON paths ("testDrive.regions[0].hot"). Returns normalised settings, or a list of problems.
   */
  validateConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[];

  /** Problems that forbid publishing now (e.g. no package uploaded); empty when the offer may be published. */
  publishPreflight(offer: OfferEntity): Promise<ErrorDetail[]>;

  /**
   * Optional: what of this type still holds an unpublished offer without live sessions (ARM: pool
   * instances not deleted yet). DELETE /offers/{id} answers 409 with the first one's code and message
   * (e.g. OfferHasInstances) while any is left. Types without it hold nothing beyond sessions.
   */
  deleteBlockers?(offer: OfferEntity): Promise<ErrorDetail[]>;

  /**
   * Optional: checks the offer against the publisher's environment (credentials, roles, licenses...).
   * When a type has it, publish runs it instead of publishPreflight (problems refuse the publish,
   * warnings are returned with the published offer) and stores the result as offer.health; the type
   * may run it again periodically (reconcile) so an expired secret shows up as `degraded`.
   * Never throws: failures are problems. Types without it (ARM) are unaffected.
   */
  checkHealth?(offer: OfferEntity): Promise<OfferHealth>;

  /**
   * Optional: type-specific fields merged into the offer view of GET/PUT /offers (ARM: its current
   * `packageRevision`), for a batch of this type's offers at once. Returns offer id -> fields.
   */
  offerViewExtras?(offers: OfferEntity[]): Promise<Map<string, Record<string, unknown>>>;

  /**
   * Optional: the URLs of a validated `testDrive` (validateConfig's output) that the service will call
   * with the publisher's credentials (Dynamics 365: instance and API URLs), each with its field path and
   * endpoint kind. PUT /offers/{id} refuses the offer (400, OutboundUrlRefused naming the field) unless
   * each passes the outbound URL rule, DNS included (src/security/outbound-url.ts, issue 8). The type
   * itself keeps checking them when it calls (DNS rebinding). Synchronous and pure.
   */
  outboundUrls?(testDrive: Record<string, unknown>): OutboundUrl[];

  /**
   * When true, the type writes the session row itself, in the same transaction as its claim, through
   * `commit.persist()` (ARM: claim of a hot instance + session ready, or slot reservation + session
   * provisioning; issue 8: no crash can leave one without the other). When false or absent, the core
   * inserts the session row (state provisioning) before startSession and deletes it on a refusal.
   */
  readonly claimsAtomically?: boolean;
  /**
   * Claims capacity for a new session (atomically) and starts provisioning. On return the session is
   * either `ready` (e.g. a hot instance was claimed) or `provisioning` (work continues in reconcile()).
   * Without claimsAtomically the session row exists already (state provisioning) and implementations
   * update it; with it, `commit` writes it inside the type's claim transaction.
   * @throws ApiError 409 NoCapacity when nothing can be claimed (nothing of the session is left).
   */
  startSession(offer: OfferEntity, session: SessionEntity, request: StartSessionRequest, commit: SessionCommit): Promise<void>;

  /**
   * Starts ending a session (expired, ended early, failed). Idempotent. The session is already in
   * state `ending`; the type tears down what it made and the reconcile loop marks it `ended`.
   */
  endSession(session: SessionEntity): Promise<void>;

  /**
   * One pass of the type's level-triggered reconcile loop: read desired and actual state and converge
   * (deploy hot instances, follow deployments, delete what is no longer needed, finish ending
   * sessions). Idempotent and safe to run after a crash. `now` is epoch ms from the injected clock.
   *
   * Returns when the next pass is due although nothing changes (epoch ms, service clock): `now` while
   * work is in flight (a session being provisioned, an instance to step), a later time for a periodic
   * check or a retry pause. `undefined`: nothing is due; the scheduled loop runs the type again when
   * sessions or offers change, and at the latest after its backstop (ReconcileService, issue 14: a pass
   * costs its due work, not the fleet). reconcileOnce() (tests) ignores it and always runs every type.
   */
  reconcile(now: number): Promise<number | undefined | void>;

  /** Capacity rows of one offer for GET /capacity. */
  capacity(offer: OfferEntity): Promise<CapacityRow[]>;
}
