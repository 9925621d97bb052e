import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { ApiError, ErrorDetail } from '../common/api-error';
import { Clock, iso } from '../common/clock';
import { zodIssuesToDetails } from '../common/validation';
import { isUniqueViolation } from '../persistence/data-source';
import { SecretStore } from '../azure/secret-store';
import { IncidentEntity } from '../escalation/incident.entity';
import { DEPROVISIONING_UNACKNOWLEDGED, LIVE_SESSION_STATES, SessionEntity } from '../sessions/session.entity';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { TestDriveType, ValidatedTestDriveConfig } from '../test-drives/test-drive-type';
import { OfferEntity, OfferHealth } from './offer.entity';
import { OffersRepository } from './offers.repository';
import { OfferCredentials } from './offer-credentials';
import { clientSecretNameFor, OFFER_ID_PATTERN, OfferView, putOfferBodySchema } from './offer.dto';
import { checkOfferPreconditions, offerChangedError, OfferPreconditions } from './offer-preconditions';
import { Caller } from '../auth/caller';
import { checkOfferAccess, mayAccessOffer } from '../auth/offer-access';
import { AuditService } from '../audit/audit.service';
import { LeadsService } from '../leads/leads.service';
import { leadsView } from '../leads/lead-destination';
import { escalationView, prepareEscalationConfig } from '../escalation/escalation-config';
import { AzureRuntime } from '../azure/azure-runtime';
import { checkOutboundUrls, outboundPolicyFor, PUBLISHER_RECEIVER_ENDPOINTS, STRICT_OUTBOUND_POLICY } from '../security/outbound-url';

/** Session states that still hold (or are about to release) a customer's test drive. */

/**
 * The publisher API's logic: create/update offers (common rules + the type's validator), keep the
 * client secret in Key Vault, publish / unpublish, delete.
 */
@Injectable()
export class OffersService {
  private readonly logger = new Logger(OffersService.name);
  /** Endpoints of the runtime: the outbound URL rule exempts the emulator when emulated (issue 8). */
  @Inject(AzureRuntime) private readonly outboundRuntime?: AzureRuntime;

  constructor(
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
    private readonly secrets: SecretStore,
    private readonly credentials: OfferCredentials,
    private readonly clock: Clock,
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    private readonly audit: AuditService,
    private readonly leads: LeadsService,
  ) {}

  /**
   * Creates or updates an offer (PUT /offers/{id}). Every problem (offer id, alias, unknown fields,
   * type-specific settings, a type change, a missing client secret on create) is collected into one
   * error. A given client secret is written to Key Vault as a new version of
   * `offer-<id>-client-secret`; the offer then references that version.
   * A new offer belongs to `caller` (tenant + client id); an existing one can only be changed by its
   * owner (`caller` undefined = internal, unrestricted).
   * An update is a conditional write on the version read (OffersRepository.update), so a concurrent
   * change or delete is never overwritten nor re-created; `pre` are the request's If-Match /
   * If-None-Match (offer-preconditions.ts).
   * @returns the offer and whether it was created.
   * @throws ApiError 400 ValidationFailed listing each field path and rule; 404 OfferNotFound when the
   *   offer ID is taken by another publisher (offer IDs are global; to them it "does not exist");
   *   412 PreconditionFailed (If-Match / If-None-Match not met, or lost a race with If-Match);
   *   409 OfferChanged (the offer changed or was deleted while this request ran); 409 OfferIdRetired (a new
   *   offer with the ID of a deleted one that left sessions or incidents: IDs are not reused).
   */
  async put(offerId: string, body: unknown, caller?: Caller, pre: OfferPreconditions = {}): Promise<{ offer: OfferEntity; created: boolean }> {
    const problems: ErrorDetail[] = [];
    if (!OFFER_ID_PATTERN.test(offerId)) {
      problems.push({
        code: 'InvalidOfferId',
        target: 'offerId',
        message: 'Offer ID must be 1-50 characters from lowercase letters, digits, "-" and "_" (Partner Center rule; no whitespace).',
      });
    }
    const parsed = putOfferBodySchema.safeParse(body);
    if (!parsed.success) problems.push(...zodIssuesToDetails(parsed.error.issues));
    const raw = isRecord(body) ? body : {};
    const testDrive = isRecord(raw.testDrive) ? raw.testDrive : undefined;
    const deployment = isRecord(raw.deployment) ? raw.deployment : undefined;
    const typeName = typeof testDrive?.type === 'string' ? testDrive.type : undefined;

    const existing = problems.some((p) => p.target === 'offerId') ? null : await this.offers.findById(offerId);
    if (existing) checkOfferAccess(caller, existing, offerId, 'manage');
    if (OFFER_ID_PATTERN.test(offerId)) checkOfferPreconditions(offerId, existing, pre);
    if (!existing && OFFER_ID_PATTERN.test(offerId) && (await this.hasHistory(offerId))) {
      throw ApiError.conflict(
        'OfferIdRetired',
        `Offer ID '${offerId}' belonged to a deleted offer whose sessions, leads and incidents are kept under it: offer IDs are not reused, so they never show to the next owner. Choose another ID.`,
        'offerId',
      );
    }
    let validated: ValidatedTestDriveConfig | undefined;
    if (typeName !== undefined && testDrive) {
      if (existing && existing.type !== typeName) {
        problems.push({
          code: 'TestDriveTypeCannotChange',
          target: 'testDrive.type',
          message: `The test drive type of an existing offer cannot change (it is '${existing.type}'). Delete the offer and create a new one.`,
        });
      } else {
        const type = this.typeOrProblems(typeName, problems);
        if (type) {
          const r = type.validateConfig(testDrive, deployment);
          if (Array.isArray(r)) problems.push(...r);
          else validated = r;
        }
      }
    }
    const secret = typeof deployment?.clientSecret === 'string' ? deployment.clientSecret : undefined;
    if (validated?.needsClientSecret && !secret && !existing?.clientSecretVersion) {
      problems.push({ code: 'InvalidField', target: 'deployment.clientSecret', message: 'Required: a new offer needs the app registration\'s client secret.' });
    }
    if (problems.length || !parsed.success || !validated || !typeName) {
      if (!problems.length) problems.push({ code: 'InvalidField', target: 'testDrive.type', message: 'Required.' });
      throw ApiError.validation(dedupe(problems));
    }
    // Issue 8 (outbound URL rule): URLs the type will call with the publisher's credentials must resolve to public addresses only.
    const outbound = this.registry.get(typeName).outboundUrls?.(validated.testDrive) ?? [];
    if (outbound.length) {
      const refused = await checkOutboundUrls(outbound, this.outboundRuntime ? outboundPolicyFor(this.outboundRuntime.endpoints) : STRICT_OUTBOUND_POLICY);
      if (refused.length) throw ApiError.validation(refused);
    }

    // Issue 10: the lead destination (its secret to Key Vault), validated before anything is written.
    let leadsChange: Awaited<ReturnType<LeadsService['prepareConfig']>> | undefined;
    if (parsed.data.leads !== undefined) {
      leadsChange = await this.leads.prepareConfig(offerId, parsed.data.leads, existing?.leads);
      if (leadsChange.problems.length) throw ApiError.validation(leadsChange.problems);
    }

    // Issue 11: escalation e-mails and webhook (its signing secret to Key Vault), validated before anything is written.
    let escalationChange: Awaited<ReturnType<typeof prepareEscalationConfig>> | undefined;
    if (parsed.data.escalation !== undefined) {
      const policy = this.outboundRuntime ? outboundPolicyFor(this.outboundRuntime.endpoints) : STRICT_OUTBOUND_POLICY;
      escalationChange = await prepareEscalationConfig(offerId, parsed.data.escalation, existing?.escalation, {
        setSecret: (name, value, tags) => this.secrets.set(name, value, tags),
        checkWebhookUrl: (url) => checkOutboundUrls([{ target: 'escalation.webhookUrl', url, kind: PUBLISHER_RECEIVER_ENDPOINTS }], policy),
      });
      if (escalationChange.problems.length) throw ApiError.validation(escalationChange.problems);
    }

    const now = this.clock.now();
    let secretRef: { name: string; version: string } | undefined;
    if (secret && validated.needsClientSecret) {
      secretRef = await this.secrets.set(clientSecretNameFor(offerId), secret, { offerId, purpose: 'client-secret' });
    }
    if (existing) {
      const readVersion = existing.version;
      existing.alias = parsed.data.alias;
      existing.testDrive = validated.testDrive;
      existing.deployment = validated.deployment;
      if (secretRef) {
        existing.clientSecretName = secretRef.name;
        existing.clientSecretVersion = secretRef.version;
      }
      if (leadsChange?.stored) existing.leads = leadsChange.stored;
      if (escalationChange && escalationChange.stored !== undefined) existing.escalation = escalationChange.stored;
      existing.updatedAt = now;
      if (!(await this.offers.update(existing, readVersion))) throw await this.lostRace(offerId, pre);
      await this.audit.record(caller, 'offer.updated', { type: 'offer', id: offerId }, { alias: existing.alias, clientSecretVersion: secretRef?.version ?? null });
      if (leadsChange?.changed) await this.leadDestinationChanged(existing, caller);
      return { offer: existing, created: false };
    }
    const offer = Object.assign(new OfferEntity(), {
      id: offerId,
      alias: parsed.data.alias,
      type: typeName,
      state: 'draft',
      testDrive: validated.testDrive,
      deployment: validated.deployment,
      clientSecretName: secretRef?.name ?? null,
      clientSecretVersion: secretRef?.version ?? null,
      ownerTenantId: caller && !caller.isSystem ? caller.tenantId : null,
      ownerClientId: caller && !caller.isSystem ? caller.clientId : null,
      currentRevisionId: null,
      leads: leadsChange?.stored ?? null,
      escalation: escalationChange?.stored ?? null,
      publishedAt: null,
      createdAt: now,
      updatedAt: now,
    } satisfies Omit<OfferEntity, 'version'>);
    try {
      const inserted = await this.offers.insert(offer);
      await this.audit.record(caller, 'offer.created', { type: 'offer', id: offerId }, { alias: inserted.alias, type: inserted.type, clientSecretVersion: secretRef?.version ?? null });
      if (leadsChange?.changed) await this.leadDestinationChanged(inserted, caller);
      return { offer: inserted, created: true };
    } catch (err) {
      if (isUniqueViolation(err) && pre.ifNoneMatch) checkOfferPreconditions(offerId, await this.offers.findById(offerId), pre);
      if (isUniqueViolation(err)) throw ApiError.conflict('OfferConflict', `Offer '${offerId}' was created concurrently; retry the request.`, 'offerId');
      throw err;
    }
  }

  /**
   * Publishes the offer: new sessions may start, the pools fill. Idempotent: on a published offer it runs
   * the health checks again (checkAgain) and changes nothing else. The remote checks run on
   * the offer as read; the state is then written only if the offer's version is still the one read
   * (OffersRepository.update), so a PUT, unpublish, package upload or delete made meanwhile wins.
   * @throws ApiError 404 OfferNotFound; 409 OfferIncomplete with one detail per missing thing
   *   (the type's preflight, e.g. no package; a missing client secret; stored settings now invalid);
   *   412 PreconditionFailed (If-Match not met, or lost a race with If-Match); 409 OfferChanged (the
   *   offer changed or was deleted while the checks ran).
   */
  async publish(offerId: string, caller?: Caller, pre: OfferPreconditions = {}): Promise<OfferEntity> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'manage');
    checkOfferPreconditions(offerId, offer, pre);
    if (offer.state === 'published') return this.checkAgain(offer, pre);
    const readVersion = offer.version;
    const type = this.registry.get(offer.type);
    const problems: ErrorDetail[] = [];
    const check = type.validateConfig({ ...offer.testDrive, type: offer.type }, { ...offer.deployment });
    if (Array.isArray(check)) problems.push(...check);
    else if (check.needsClientSecret && !offer.clientSecretVersion) {
      problems.push({ code: 'ClientSecretMissing', target: 'deployment.clientSecret', message: 'The offer has no client secret: PUT the offer with deployment.clientSecret.' });
    }
    // Types with checkHealth (Dynamics 365) check the publisher's environment; its warnings travel with the offer (offer.health).
    let health: OfferHealth | undefined;
    if (!type.checkHealth) problems.push(...(await type.publishPreflight(offer)));
    else if (!problems.length) {
      health = await type.checkHealth(offer);
      problems.push(...health.problems);
    }
    if (problems.length) {
      throw new ApiError(409, 'OfferIncomplete', `Offer '${offerId}' cannot be published: ${problems.map((p) => p.target ?? p.code).join(', ')}.`, undefined, problems);
    }
    // Issue 10: a test lead (MSFT_TEST_) goes to the lead destination; a refusal is a warning, not a blocker.
    const leadWarning = await this.leads.sendTestLead(offer).catch((err: Error) => ({ code: 'LeadDestinationRefused', message: `The test lead could not be sent: ${err.message.slice(0, 200)}` }));
    const now = this.clock.now();
    offer.state = 'published';
    offer.publishedAt = now;
    offer.updatedAt = now;
    if (health) offer.health = health;
    if (offer.leads?.destination) offer.leads = { ...offer.leads, lastTestLead: { at: now, delivered: !leadWarning, ...(leadWarning ? { message: leadWarning.message } : {}) } };
    if (!(await this.offers.update(offer, readVersion))) throw await this.lostRace(offerId, pre);
    await this.audit.record(caller, 'offer.published', { type: 'offer', id: offerId }, { packageRevisionId: offer.currentRevisionId });
    this.publishWarnings.set(offer, leadWarning ? [leadWarning] : []);
    return offer;
  }

  /**
   * Publish of a published offer: its health checks (TestDriveType.checkHealth) run again now and the result
   * is stored, so a problem the publisher fixed clears at once instead of at the next periodic check. The offer
   * stays published whatever the result (its problems are in `health`); types without checkHealth answer the
   * offer as it is. The result is stored only if the offer did not change meanwhile (OffersRepository.updateHealth).
   * @throws ApiError 412 PreconditionFailed / 409 OfferChanged when the offer changed while the checks ran.
   */
  private async checkAgain(offer: OfferEntity, pre: OfferPreconditions): Promise<OfferEntity> {
    const type = this.registry.get(offer.type);
    if (!type.checkHealth) return offer;
    const health = await type.checkHealth(offer);
    if (!(await this.offers.updateHealth(offer.id, health, offer.version))) throw await this.lostRace(offer.id, pre);
    offer.version += 1; // updateHealth bumped it
    offer.health = health;
    return offer;
  }

  /** Warnings of the last publish of an offer object (the lead test), for the publish answer. */
  readonly publishWarnings = new WeakMap<OfferEntity, ErrorDetail[]>();

  /**
   * The lead destination of `offer` was set or changed: audited, a test lead is sent (its outcome is kept
   * on the offer: leads.lastTestLead), and leads waiting for a destination become due now.
   */
  private async leadDestinationChanged(offer: OfferEntity, caller?: Caller): Promise<void> {
    await this.audit.record(caller, 'leads.destination-changed', { type: 'offer', id: offer.id }, { type: offer.leads?.destination?.type ?? null, secretVersion: offer.leads?.secretVersion ?? null });
    if (!offer.leads?.destination) return;
    await this.leads.repo.dueNow(offer.id, this.clock.now());
    const warning = await this.leads.sendTestLead(offer).catch((err: Error) => ({ code: 'LeadDestinationRefused', message: `The test lead could not be sent: ${err.message.slice(0, 200)}` }));
    const readVersion = offer.version;
    offer.leads = { ...offer.leads, lastTestLead: { at: this.clock.now(), delivered: !warning, ...(warning ? { message: warning.message } : {}) } };
    if (await this.offers.update(offer, readVersion)) return;
    // A concurrent change won; the test lead's outcome is only informative.
    this.logger.warn(`Offer '${offer.id}': test lead outcome not recorded (the offer changed meanwhile).`);
  }

  /**
   * Stops new sessions (Partner Center: disabling a test drive stops new sessions; running ones go on
   * until they expire). The pool reconciler removes unassigned instances. Idempotent. A conditional
   * write on the version read (OffersRepository.update).
   * @throws ApiError 404 OfferNotFound; 412 PreconditionFailed (If-Match not met, or lost a race with
   *   If-Match); 409 OfferChanged (the offer changed or was deleted meanwhile).
   */
  async unpublish(offerId: string, caller?: Caller, pre: OfferPreconditions = {}): Promise<OfferEntity> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'unpublish');
    checkOfferPreconditions(offerId, offer, pre);
    if (offer.state !== 'published') return offer;
    const readVersion = offer.version;
    offer.state = 'unpublished';
    offer.updatedAt = this.clock.now();
    if (!(await this.offers.update(offer, readVersion))) throw await this.lostRace(offerId, pre);
    await this.audit.record(caller, 'offer.unpublished', { type: 'offer', id: offerId });
    return offer;
  }

  /**
   * Deletes an offer that is not published and has no live sessions and nothing its type still holds
   * (TestDriveType.deleteBlockers; ARM: pool instances), and its client secret in Key Vault.
   * Only its owner may delete it (`caller` undefined = internal). The row is deleted only if its
   * version is still the one these checks read (a publish made meanwhile is never deleted unseen).
   * @throws ApiError 404 OfferNotFound (also when a concurrent delete won); 409 OfferPublished /
   *   OfferHasSessions / OfferHasDeprovisioningFailures (not acknowledged) / OfferHasInstances; 412 PreconditionFailed (If-Match not met, or lost a race
   *   with If-Match); 409 OfferChanged (the offer changed meanwhile).
   */
  async delete(offerId: string, caller?: Caller, pre: OfferPreconditions = {}): Promise<void> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'manage');
    checkOfferPreconditions(offerId, offer, pre);
    if (offer.state === 'published') {
      throw ApiError.conflict('OfferPublished', `Offer '${offerId}' is published: unpublish it first.`);
    }
    const live = await this.sessions.count({ where: { offerId, state: In(LIVE_SESSION_STATES) } });
    if (live > 0) {
      throw ApiError.conflict('OfferHasSessions', `Offer '${offerId}' has ${live} running session(s); delete it after they end.`);
    }
    // A teardown that gave up left resources behind: the offer's incident holds until each session is acknowledged.
    const leftBehind = await this.sessions.count({ where: { offerId, ...DEPROVISIONING_UNACKNOWLEDGED } });
    if (leftBehind > 0) {
      throw ApiError.conflict(
        'OfferHasDeprovisioningFailures',
        `Offer '${offerId}' has ${leftBehind} session(s) whose deprovisioning gave up (resources may be left behind): clean up, acknowledge each (POST /api/v1/sessions/{id}/acknowledge-deprovisioning; GET /api/v1/capacity lists them), then delete the offer.`,
      );
    }
    // What the type still holds (ARM: pool instances being removed), asked through the shared interface.
    const type = this.registry.has(offer.type) ? this.registry.get(offer.type) : undefined;
    const [blocker] = (await type?.deleteBlockers?.(offer)) ?? [];
    if (blocker) throw ApiError.conflict(blocker.code, blocker.message, blocker.target);
    if (!(await this.offers.delete(offerId, offer.version))) {
      if (!(await this.offers.findById(offerId))) throw ApiError.notFound('Offer', offerId); // a concurrent delete won
      throw offerChangedError(offerId, false, pre);
    }
    await this.audit.record(caller, 'offer.deleted', { type: 'offer', id: offerId });
    if (offer.clientSecretName) {
      this.credentials.forget(offer.clientSecretName);
      try {
        await this.secrets.delete(offer.clientSecretName);
      } catch (err) {
        this.logger.warn(`Offer '${offerId}' deleted but its Key Vault secret '${offer.clientSecretName}' could not be deleted: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Whether sessions or incidents are kept under `offerId` (a lead always has its session): the history of
   * a deleted offer, which a new offer with that ID would otherwise show to its owner, customers' contact
   * details included (defect found by trying the product, stop 30).
   */
  private async hasHistory(offerId: string): Promise<boolean> {
    if (await this.sessions.exists({ where: { offerId } })) return true;
    return this.sessions.manager.getRepository(IncidentEntity).exists({ where: { offerId } });
  }

  /** Response shape of one offer. */
  async view(offer: OfferEntity): Promise<OfferView> {
    return (await this.views([offer]))[0];
  }

  /** Views of `offers`, with each type's own fields (TestDriveType.offerViewExtras), one batch per type. */
  private async views(offers: OfferEntity[]): Promise<OfferView[]> {
    const extras = new Map<string, Record<string, unknown>>();
    for (const typeName of new Set(offers.map((o) => o.type))) {
      const type = this.registry.has(typeName) ? this.registry.get(typeName) : undefined;
      if (!type?.offerViewExtras) continue;
      for (const [id, fields] of await type.offerViewExtras(offers.filter((o) => o.type === typeName))) extras.set(id, fields);
    }
    return offers.map((o) => toView(o, extras.get(o.id)));
  }

  /**
   * The offer if `caller` may read it (owner or operator; `caller` undefined = internal).
   * @throws ApiError 404 OfferNotFound otherwise.
   */
  async getVisible(offerId: string, caller?: Caller): Promise<OfferEntity> {
    return checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'read');
  }

  /**
   * One page of the offers `caller` may read (a publisher: its own, selected in the database; an operator:
   * all), by offer ID: after `after`, at most `limit`. `nextAfter`: the last ID when the page is full.
   */
  async list(caller: Caller, page: { after?: string; limit: number }): Promise<{ value: OfferView[]; nextAfter: string | null }> {
    const owner = caller.isOperator || caller.isSystem ? undefined : { tenantId: caller.tenantId, clientId: caller.clientId };
    const rows = (await this.offers.page({ owner, ...page })).filter((o) => mayAccessOffer(caller, o, 'read'));
    return { value: await this.views(rows), nextAfter: rows.length === page.limit ? rows[rows.length - 1].id : null };
  }

  /** The error of a lost conditional write; re-reads the offer to say whether it changed or was deleted. */
  private async lostRace(offerId: string, pre: OfferPreconditions): Promise<ApiError> {
    return offerChangedError(offerId, !(await this.offers.findById(offerId)), pre);
  }

  private typeOrProblems(name: string, problems: ErrorDetail[]): TestDriveType | undefined {
    try {
      return this.registry.get(name);
    } catch (err) {
      if (err instanceof ApiError && err.details) {
        problems.push(...err.details);
        return undefined;
      }
      throw err;
    }
  }
}

/**
 * Offer entity -> response JSON (ISO times, secret never included). `extras` are the type's own fields
 * (TestDriveType.offerViewExtras); `packageRevision` is null unless the type supplies one.
 */
export function toView(offer: OfferEntity, extras: Record<string, unknown> = {}): OfferView {
  const { clientSecret: _drop, ...deployment } = offer.deployment as unknown as Record<string, unknown>;
  void _drop;
  return {
    id: offer.id,
    alias: offer.alias,
    state: offer.state,
    testDrive: { ...offer.testDrive, type: offer.type },
    deployment: { ...deployment, clientSecretSet: !!offer.clientSecretVersion },
    packageRevision: null,
    ...(extras as Partial<OfferView>),
    publishedAt: iso(offer.publishedAt),
    createdAt: iso(offer.createdAt)!,
    updatedAt: iso(offer.updatedAt)!,
    leads: leadsView(offer.leads) as OfferView['leads'],
    escalation: escalationView(offer.escalation),
    ...(offer.health ? { health: offer.health } : {}),
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dedupe(problems: ErrorDetail[]): ErrorDetail[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.target}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
