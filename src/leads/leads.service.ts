import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { freshOutbox } from '../persistence/outbox';
import { SingleFlight } from '../common/single-flight';
import { Metrics } from '../metrics/metrics';
import * as os from 'node:os';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ErrorDetail } from '../common/api-error';
import { Clock } from '../common/clock';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { SECRET_CACHE_ENTRIES, SecretStore } from '../azure/secret-store';
import { LruMap } from '../common/lru-map';
import type { OfferEntity } from '../offers/offer.entity';
import { OffersRepository } from '../offers/offers.repository';
import { AZURE_TABLE_ENDPOINTS, checkOutboundUrls, DYNAMICS_365_ENDPOINTS, outboundPolicyFor, PUBLISHER_RECEIVER_ENDPOINTS } from '../security/outbound-url';
import { AzureRuntime } from '../azure/azure-runtime';
import { LeadContact, LeadRecord, LeadSourceName, shareableContact, START_TEST_DRIVE_ACTION } from './lead-format';
import { checkTableEndpoint, destinationSecret, LeadsConfigInput, leadSecretNameFor, secretTargetOf, StoredLeadsConfig, storedDestination } from './lead-destination';
import { LeadEntity, LeadState } from './lead.entity';
import { LeadSender } from './lead-sender';
import { LeadsRepository } from './leads.repository';
import { PageCursor } from '../common/page-cursor';

/** Leads are retried at least this long (ms of service clock) before they are marked failed (issue 10: 72 hours). */
export const LEAD_RETRY_HORIZON_MS = 72 * 3_600_000;
/** First retry pause (ms); doubles per attempt up to LEAD_MAX_BACKOFF_MS, ±20 % jitter. */
export const LEAD_FIRST_BACKOFF_MS = 5_000;
export const LEAD_MAX_BACKOFF_MS = 3_600_000;
/** How long one replica holds a claimed lead (ms): a replica killed mid-delivery releases it after this. */
export const LEAD_CLAIM_MS = 60_000;
/** Leads claimed per pass, and delivered side by side. */
const BATCH = 50;
/** How soon a delivery pass follows a start (deliverSoon): starts within this window share the pass. */
export const LEAD_SOON_MS = 20;
const PARALLEL = 8;

/** The lead fields of a start request. */
export interface LeadRequest {
  contact: LeadContact;
  source: LeadSourceName;
  consentToShare: boolean;
}

/**
 * Lead management (issue 10): a lead per test drive start (written by the caller in the session's own
 * transaction), a durable outbox delivered at least once on the wire and exactly once at the destination
 * (idempotent keys), retried with exponential backoff and jitter (honouring Retry-After) for at least
 * LEAD_RETRY_HORIZON_MS, stopped early by answers that will not heal; test leads on configuration;
 * listing and manual redelivery. Every replica delivers: the claim in LeadsRepository keeps a lead to one
 * at a time. The loop runs every RECONCILE_INTERVAL_MS (0: tests call deliverDue()).
 */
@Injectable()
export class LeadsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LeadsService');
  /** This process as a lead holder. */
  readonly owner = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private readonly delivery = new SingleFlight(() => this.pass());
  private soon: NodeJS.Timeout | undefined;
  /** When the interval loop runs its next pass by itself (performance.now()). */
  private nextPassAt = 0;
  /** Lead destination secrets by `<name>/<version>`: the versions in use stay, the rest are forgotten (SECRET_CACHE_ENTRIES). */
  private readonly secretCache = new LruMap<string, string>(SECRET_CACHE_ENTRIES);

  constructor(
    readonly repo: LeadsRepository,
    private readonly sender: LeadSender,
    private readonly secrets: SecretStore,
    private readonly runtime: AzureRuntime,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly offers: OffersRepository,
    private readonly metrics: Metrics,
  ) {}

  onApplicationBootstrap(): void {
    const ms = this.config.reconcileIntervalMs;
    if (ms > 0) {
      // Issue 14: a tick runs a pass only when one is due (a full batch left more, or the backstop came);
      // a start in this replica asks for one at once (deliverSoon), retries wait at most the backstop.
      this.timer = setInterval(() => {
        if (performance.now() < this.nextPassAt) return;
        void this.deliverDue().catch((err: Error) => this.logger.warn(`lead delivery pass failed: ${err.message}`));
      }, ms);
      this.timer.unref?.();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.delivery.inFlight?.catch(() => undefined);
  }

  /**
   * The lead of a new session of `offer` (not yet stored: the caller inserts it in the session's
   * transaction). Contact details only when shareable (consent, not .edu).
   */
  leadFor(offer: OfferEntity, sessionId: string, request: LeadRequest, now: number): LeadEntity {
    return {
      id: randomUUID(),
      offerId: offer.id,
      sessionId,
      kind: 'lead',
      publisherId: offer.ownerTenantId ?? 'unknown',
      offerTitle: offer.alias.slice(0, 100),
      source: request.source,
      action: START_TEST_DRIVE_ACTION,
      contact: shareableContact(request.contact, request.consentToShare),
      state: 'pending',
      ...freshOutbox(now),
      deliveredAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  /**
   * The `leads` section of PUT /offers/{id} as stored: the destination without its secret; the secret
   * written to Key Vault as a new version (kept when omitted and the destination type is unchanged).
   * @returns the stored config, or problems naming fields (missing secret, URL refused by the outbound rule).
   */
  async prepareConfig(offerId: string, input: LeadsConfigInput, existing: StoredLeadsConfig | null | undefined): Promise<{ stored?: StoredLeadsConfig; problems: ErrorDetail[]; changed: boolean }> {
    if (input.destination === undefined) {
      return { stored: { ...(existing ?? { destination: null }), ...(input.contactEmail ? { contactEmail: input.contactEmail } : {}) }, problems: [], changed: false };
    }
    if (input.destination === null) return { stored: { destination: null, ...(input.contactEmail ? { contactEmail: input.contactEmail } : {}) }, problems: [], changed: !!existing?.destination };
    const d = input.destination;
    const { secret, target } = destinationSecret(d);
    const problems: ErrorDetail[] = [];
    const sameType = existing?.destination?.type === d.type && !!existing.secretVersion;
    if (!secret && !sameType) problems.push({ code: 'InvalidField', target, message: 'Required: a new lead destination needs its secret.' });
    const policy = outboundPolicyFor(this.runtime.endpoints);
    if (d.type === 'https-endpoint') problems.push(...(await checkOutboundUrls([{ target: 'leads.destination.url', url: d.url, kind: PUBLISHER_RECEIVER_ENDPOINTS }], policy)));
    if (d.type === 'dynamics-365') problems.push(...(await checkOutboundUrls([{ target: 'leads.destination.instanceWebApiUrl', url: d.instanceWebApiUrl, kind: DYNAMICS_365_ENDPOINTS }], policy)));
    if (d.type === 'azure-table') {
      // The outbound URL rule holds for the table endpoint too (it was not checked: a publisher could make the
      // service write to loopback or link-local addresses and read what answered in the test lead's result).
      const table = checkTableEndpoint(d.connectionString, this.runtime.endpoints);
      if ('problem' in table) problems.push({ code: table.code, target, message: `connectionString ${table.problem}.` });
      else if (!table.azurite) problems.push(...(await checkOutboundUrls([{ target, url: table.endpoint, kind: AZURE_TABLE_ENDPOINTS }], policy)));
    }
    if (problems.length) return { problems, changed: false };
    let ref = sameType && !secret ? { name: existing.secretName!, version: existing.secretVersion! } : undefined;
    if (secret) ref = await this.secrets.set(leadSecretNameFor(offerId), secret, { offerId, purpose: 'lead-destination' });
    const stored: StoredLeadsConfig = { destination: storedDestination(d), ...(input.contactEmail ? { contactEmail: input.contactEmail } : {}), secretName: ref!.name, secretVersion: ref!.version };
    const changed = JSON.stringify(stored.destination) !== JSON.stringify(existing?.destination ?? null) || stored.secretVersion !== existing?.secretVersion;
    return { stored, problems: [], changed };
  }

  /**
   * Delivers a test lead (fields prefixed MSFT_TEST_, as Partner Center does) to `offer`'s destination
   * now and records it. Returns null when delivered, else a warning naming the field to fix.
   */
  async sendTestLead(offer: OfferEntity): Promise<ErrorDetail | null> {
    const cfg = offer.leads;
    if (!cfg?.destination || !cfg.secretName || !cfg.secretVersion) return null;
    const now = this.clock.now();
    const lead: LeadEntity = {
      ...this.leadFor(offer, '', { contact: { firstName: 'Test', lastName: 'Lead', email: 'test.lead@example.com', company: 'Contoso', title: 'Tester', country: 'US' }, source: this.config.leads.defaultSource, consentToShare: true }, now),
      sessionId: null,
      kind: 'test',
      attempts: 1,
    };
    const secret = await this.secretFor(cfg.secretName, cfg.secretVersion);
    const outcome = await this.sender.send(cfg.destination, secret, toRecord(lead));
    await this.repo.insert(outcome.ok ? { ...lead, state: 'delivered', deliveredAt: now } : { ...lead, state: 'failed', lastError: { code: outcome.code, message: outcome.message, ...(outcome.status ? { status: outcome.status } : {}), at: now } });
    if (outcome.ok) return null;
    return { code: 'LeadDestinationRefused', target: secretTargetOf(cfg.destination.type), message: `The test lead was not delivered: ${outcome.message}` };
  }

  /**
   * One delivery pass: claims due leads of offers that have a destination and delivers them. The pass
   * starts at or after this call (a lead written before it is seen); calls made while a pass runs share
   * one follow-up pass (SingleFlight). Returns how many that pass delivered.
   */
  deliverDue(): Promise<number> {
    return this.delivery.run();
  }

  /**
   * A delivery pass within LEAD_SOON_MS, off the caller's path: the starts of a burst share one pass
   * instead of each starting (or joining) one (issue 14). Failures are logged; the loop retries anyway.
   */
  deliverSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.deliverDue().catch((err: Error) => this.logger.warn(`lead delivery after start failed: ${err.message}`));
    }, LEAD_SOON_MS);
    this.soon.unref();
  }

  private async pass(): Promise<number> {
    const now = this.clock.now();
    this.nextPassAt = performance.now() + this.config.reconcileBackstopMs;
    const offers = await this.offersWithDestination();
    if (!offers.size) return 0;
    const claimed = await this.repo.claimDue([...offers.keys()], this.owner, now, LEAD_CLAIM_MS, BATCH);
    if (claimed.length >= BATCH) this.nextPassAt = 0; // more are waiting: the next tick goes on
    let delivered = 0;
    for (let i = 0; i < claimed.length; i += PARALLEL) {
      const results = await Promise.all(claimed.slice(i, i + PARALLEL).map((lead) => this.deliverOne(offers.get(lead.offerId)!, lead, now)));
      delivered += results.filter(Boolean).length;
    }
    return delivered;
  }

  private async deliverOne(offer: OfferEntity, lead: LeadEntity, now: number): Promise<boolean> {
    const cfg = offer.leads!;
    let outcome;
    try {
      outcome = await this.sender.send(cfg.destination!, await this.secretFor(cfg.secretName!, cfg.secretVersion!), toRecord(lead));
    } catch (err) {
      outcome = { ok: false as const, code: 'SecretUnavailable', message: `The destination's secret could not be read: ${(err as Error).message.slice(0, 200)}`, permanent: false };
    }
    const destination = cfg.destination!.type;
    if (outcome.ok) {
      this.metrics.leadDeliveries.inc({ destination, outcome: 'delivered' });
      await this.repo.delivered(lead.id, this.owner, this.clock.now());
      this.logger.log({ leadId: lead.id, offerId: lead.offerId, attempts: lead.attempts }, 'lead delivered');
      return true;
    }
    const error = { code: outcome.code, message: outcome.message, ...(outcome.status ? { status: outcome.status } : {}), at: now };
    this.metrics.leadDeliveries.inc({ destination, outcome: outcome.permanent || now - lead.createdAt >= LEAD_RETRY_HORIZON_MS ? 'failed' : 'retry' });
    if (outcome.permanent || now - lead.createdAt >= LEAD_RETRY_HORIZON_MS) {
      await this.repo.failed(lead.id, this.owner, outcome.permanent ? error : { ...error, code: 'RetriesExhausted', message: `No delivery in ${LEAD_RETRY_HORIZON_MS / 3_600_000} hours; last: ${outcome.message}` }, now);
      this.logger.warn({ leadId: lead.id, offerId: lead.offerId, code: outcome.code, attempts: lead.attempts }, 'lead delivery failed for good');
    } else {
      await this.repo.retryLater(lead.id, this.owner, now + backoffMs(lead.attempts, outcome.retryAfterMs), error, now);
      this.logger.warn({ leadId: lead.id, offerId: lead.offerId, code: outcome.code, attempts: lead.attempts }, 'lead delivery failed; will retry');
    }
    return false;
  }

  /** Offers with a destination and a secret, by id (a lead waits, pending, while its offer has none). */
  private async offersWithDestination(): Promise<Map<string, OfferEntity>> {
    const rows = await this.offers.listWithLeads();
    return new Map(rows.filter((o) => o.leads?.destination && o.leads.secretName && o.leads.secretVersion).map((o) => [o.id, o]));
  }

  private async secretFor(name: string, version: string): Promise<string> {
    const key = `${name}/${version}`;
    const hit = this.secretCache.get(key);
    if (hit !== undefined) return hit;
    const v = await this.secrets.get(name, version);
    this.secretCache.set(key, v);
    return v;
  }

  /** A lead back in the queue, due now. @returns false when it does not exist for this offer. */
  async redeliver(offerId: string, leadId: string): Promise<LeadEntity | null> {
    const lead = await this.repo.findById(leadId);
    if (!lead || lead.offerId !== offerId) return null;
    await this.repo.requeue(leadId, this.clock.now());
    void this.deliverDue().catch(() => undefined);
    return this.repo.findById(leadId);
  }

  /** An offer's leads, newest first. */
  list(offerId: string, opts: { state?: LeadState; limit: number; before?: PageCursor }): Promise<LeadEntity[]> {
    return this.repo.list(offerId, opts);
  }
}

/** Pause before attempt `attempts + 1` (ms): 5 s doubling to 1 h, ±20 % jitter, at least Retry-After. */
export function backoffMs(attempts: number, retryAfterMs?: number, random = Math.random): number {
  const base = Math.min(LEAD_MAX_BACKOFF_MS, LEAD_FIRST_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** The outbox row as the format functions take it. */
export function toRecord(l: LeadEntity): LeadRecord {
  return { id: l.id, offerId: l.offerId, publisherId: l.publisherId, offerTitle: l.offerTitle, source: l.source as LeadSourceName, action: l.action, contact: l.contact, createdAt: l.createdAt, test: l.kind === 'test' };
}
